"""Brokers that run as child processes: one way to stop them, and none left at exit.

Both mosquitto and amqtt's process mode are children of the notebook's
process. ``ChildBroker.stop()`` asks the child to exit, kills it if it does
not, and cleans up after it; an ``atexit`` hook stops whatever is still
running when Python exits normally.
"""

from __future__ import annotations

import atexit
import subprocess
from typing import Any

from mqtt_helpers.broker import START_TIMEOUT, BrokerHandle

_RUNNING: set[ChildBroker] = set()


class ChildBroker(BrokerHandle):
    """A broker handle that owns a child process."""

    _process: subprocess.Popen[Any]
    _stopped: bool = True

    def adopt(self, process: subprocess.Popen[Any]) -> None:
        """Take charge of ``process``: ``stop()`` and interpreter exit will end it."""
        self._process, self._stopped = process, False
        _RUNNING.add(self)

    def stop(self) -> None:
        """End the child (politely, then by force) and clean up; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        _RUNNING.discard(self)
        self._ask_to_exit()
        try:
            self._process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=START_TIMEOUT)
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
        self._cleanup()

    def _ask_to_exit(self) -> None:
        """Ask the child to shut down; by default, SIGTERM."""
        if self._process.poll() is None:
            self._process.terminate()

    def _cleanup(self) -> None:
        """Remove what the child left behind (its folder, say)."""

    def __hash__(self) -> int:
        return id(self)


@atexit.register
def _stop_all() -> None:
    for broker in list(_RUNNING):
        broker.stop()
