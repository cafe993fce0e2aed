"""No mosquitto outlives the Python process that started it, even when that process dies abruptly.

Linux only: the parent-death signal that makes this work is a Linux feature
(see mqtt_helpers/_brokers/mosquitto.py); the test also reads /proc.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.helpers import require

# The parent prints its broker's pid, then dies without any clean-up (os._exit skips atexit).
PARENT = """
import os
import mqtt_helpers
broker = mqtt_helpers.start_broker("mosquitto")
print(broker.process.pid, flush=True)
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


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux-only")
def test_mosquitto_dies_with_its_parent() -> None:
    require("mosquitto")
    parent = subprocess.run([sys.executable, "-c", PARENT], capture_output=True, text=True, timeout=30)
    pid = int(parent.stdout.strip())
    assert wait_gone(pid), f"the mosquitto process {pid} outlived its parent"
