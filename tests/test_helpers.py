"""The test helpers that other tests and scripts lean on: reading a child process's lines without hanging."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scripts.shared_broker_check import alice_url
from tests.helpers import OutputLines


def child(code: str, name: str = "child") -> tuple[subprocess.Popen[str], OutputLines]:
    """A Python child running ``code``, and its stdout's lines."""
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, OutputLines(process.stdout, name)


def test_expect_returns_the_first_line_containing_the_text_and_keeps_the_rest() -> None:
    process, lines = child("print('one'); print('alice mqtt://127.0.0.1:1883 x'); print('three')")
    assert alice_url(lines) == "mqtt://127.0.0.1:1883"
    assert lines.rest(10) == ["three"]
    assert lines.lines == ["one", "alice mqtt://127.0.0.1:1883 x", "three"]
    process.wait(10)


def test_a_line_that_never_comes_is_an_error_naming_the_output() -> None:
    process, lines = child("import time; print('hello', flush=True); time.sleep(30)")
    try:
        expected = r"child: nothing \(a line containing 'alice'\) within 0\.3 s; output: \['hello'\]"
        with pytest.raises(TimeoutError, match=expected):
            lines.expect("alice", 0.3)
    finally:
        process.kill()
        process.wait(10)


def test_an_ended_stream_is_an_error_not_a_wait() -> None:
    process, lines = child("print('bye')", "the classroom broker")
    with pytest.raises(SystemExit, match=r"the classroom broker ended with no line containing 'alice mqtt://'"):
        alice_url(lines)
    process.wait(10)
