"""No broker outlives the Python process that started it, even when that process dies abruptly."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mqtt_helpers import start_broker
from tests.conftest import require

# The parent prints its broker's child pid, then dies without any clean-up (os._exit skips atexit).
PARENT = """
import os, sys
import mqtt_helpers
broker = mqtt_helpers.start_broker({kind!r}{extra})
print(broker._process.pid, flush=True)
os._exit(0)
"""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)  # polling another process's state; there is no event to wait on
    return False


@pytest.mark.parametrize(("kind", "extra"), [("amqtt", ", process=True"), ("mosquitto", "")])
def test_broker_child_dies_with_its_parent(kind: str, extra: str) -> None:
    require(kind)
    parent = subprocess.run(
        [sys.executable, "-c", PARENT.format(kind=kind, extra=extra)], capture_output=True, text=True, timeout=30
    )
    pid = int(parent.stdout.strip())
    assert wait_gone(pid), f"the {kind} child process {pid} outlived its parent"


def test_amqtt_process_mode_round_trip_and_clean_stop() -> None:
    from tests.test_broker import accepts, round_trip

    broker = start_broker("amqtt", process=True, tls=True)
    try:
        assert round_trip(broker) == "ping"
        assert round_trip(broker, tls=True) == "ping"
    finally:
        broker.stop()
        broker.stop()
    assert broker._process.returncode == 0  # type: ignore[attr-defined]
    assert not accepts(broker.host, broker.port)
    assert not broker.ca_file.exists()  # type: ignore[union-attr]
