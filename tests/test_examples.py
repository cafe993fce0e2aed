"""examples/sensor.py and examples/dashboard.py run as real processes against each broker.

Every wait is on a line the program prints (never a fixed sleep), with a deadline
that names what was awaited.
"""

from __future__ import annotations

import ast
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqtt_helpers import BrokerHandle

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 10.0


class Program:
    """A running example whose stdout lines are collected by a thread, so a test can wait on them."""

    def __init__(self, script: str, *args: object) -> None:
        self.name = script
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / script), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._new.put(line.rstrip("\n"))
        self._new.put(None)  # end of output

    def expect(self, text: str, timeout: float = TIMEOUT) -> str:
        """Wait for a stdout line containing ``text``; fail naming it and the output so far."""
        try:
            while (line := self._new.get(timeout=timeout)) is not None:
                self.lines.append(line)
                if text in line:
                    return line
        except queue.Empty:
            pass
        pytest.fail(f"{self.name}: no line containing {text!r} within {timeout:g} s; output: {self.lines}")

    def finish(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        """Wait for the exit; return the exit code and stderr (and collect the rest of stdout)."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"{self.name} did not exit within {timeout:g} s; output: {self.lines}")
        assert self.process.stderr is not None
        err = self.process.stderr.read()  # a few lines at most: they fit in the pipe until exit
        while (line := self._new.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return self.process.returncode, err

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def programs() -> Iterator[list[Program]]:
    """Programs started by a test; any still running at the end are killed."""
    started: list[Program] = []
    yield started
    for program in started:
        program.stop()


def start(programs: list[Program], script: str, broker: BrokerHandle, *args: object) -> Program:
    program = Program(script, "--host", broker.host, "--port", broker.port, *args)
    programs.append(program)
    return program


def test_count_stops_both_programs(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker, "--count", 3)
    dashboard.expect("subscribed")
    sensor = start(programs, "sensor.py", broker, "--id", "s-count", "--count", 3, "--interval", 0)
    assert sensor.finish() == (0, "")
    assert dashboard.finish() == (0, "")
    assert [line.split(":")[:2] for line in dashboard.lines[1:]] == [
        ["s-count", " online"],
        ["s-count", " reading 1"],
        ["s-count", " reading 2"],
        ["s-count", " reading 3"],
    ]
    assert sensor.lines[-1] == "s-count: offline"


def test_killed_sensor_shows_up_offline(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker)
    dashboard.expect("subscribed")
    sensor = start(programs, "sensor.py", broker, "--id", "s-kill", "--interval", 0.05)
    dashboard.expect("s-kill: reading 1")
    sensor.process.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker publishes the will
    assert dashboard.expect("s-kill: offline") == "s-kill: offline"
    late = start(programs, "dashboard.py", broker)  # the will was retained: a newcomer sees it too
    late.expect("subscribed")
    assert late.expect("s-kill:") == "s-kill: offline (retained)"


def test_ctrl_c_stops_the_dashboard_cleanly(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker)
    dashboard.expect("subscribed")
    dashboard.process.send_signal(signal.SIGINT)
    code, err = dashboard.finish()
    assert (code, err) == (0, "")
    assert dashboard.lines[-1] == "dashboard: stopped"


def test_ctrl_c_stops_the_sensor_with_a_goodbye(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker)
    dashboard.expect("subscribed")
    sensor = start(programs, "sensor.py", broker, "--id", "s-int", "--interval", 0.05)
    dashboard.expect("s-int: reading 1")
    sensor.process.send_signal(signal.SIGINT)
    assert sensor.finish() == (0, "")
    assert dashboard.expect("s-int: offline") == "s-int: offline"


@pytest.mark.parametrize("script", ["sensor.py", "dashboard.py"])
def test_no_broker_is_a_one_line_error(script: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / script), "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"cannot reach an MQTT broker at 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("script", ["sensor.py", "dashboard.py"])
def test_examples_stand_alone(script: str) -> None:
    source = (EXAMPLES / script).read_text()
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        str(node.module).split(".")[0] for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
    }
    assert imported - set(sys.stdlib_module_names) == {"paho"}
    assert len(source.splitlines()) <= 85
