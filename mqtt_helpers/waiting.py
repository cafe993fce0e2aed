"""Waiting for MQTT events without sleeping, and collecting messages safely.

paho runs callbacks on its network thread. A cell that sleeps "long enough"
is slow when the guess is high and flaky when it is low; a cell that prints
from a callback has its output land in whatever cell runs next. So callbacks
only record, and the cell waits on a condition with a timeout and prints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paho.mqtt.client import MQTTMessage, topic_matches_sub

DEFAULT_TIMEOUT = 5.0


class WaitTimeout(TimeoutError):
    """A wait ran out of time; the message names what was awaited."""


def wait_for(
    condition: threading.Event | Callable[[], Any],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    what: str = "the condition",
) -> Any:
    """Wait until ``condition`` holds, or raise WaitTimeout naming ``what``.

    ``condition`` is a ``threading.Event`` (set by a callback) or a function
    returning something truthy; that value is returned.
    """
    if isinstance(condition, threading.Event):
        if condition.wait(timeout):
            return True
        raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}")
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(pause)  # re-check a plain function; grows to 20 ms
        pause = min(pause * 2, 0.02)


@dataclass(frozen=True)
class Received:
    """One received message, copied out of paho's MQTTMessage."""

    topic: str
    payload: bytes
    qos: int
    retain: bool

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8 (MQTT payloads are bytes)."""
        return self.payload.decode("utf-8", errors="replace")

    def __str__(self) -> str:
        return f"{self.topic} {self.text!r} qos={self.qos} retain={int(self.retain)}"

    @classmethod
    def from_paho(cls, message: MQTTMessage) -> Received:
        return cls(message.topic, bytes(message.payload), int(message.qos), bool(message.retain))


class Inbox:
    """A thread-safe mailbox that paho's ``on_message`` fills and a cell waits on.

    >>> inbox = Inbox()
    >>> client.on_message = inbox.on_message        # doctest: +SKIP
    >>> [m.text for m in inbox.wait(2, topic="house/#")]  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._messages: list[Received] = []
        self._changed = threading.Condition()
        self._source = "the broker"

    def on_message(self, client: Any, userdata: Any, message: MQTTMessage) -> None:
        """paho VERSION2 ``on_message`` callback: record the message, wake waiters."""
        with self._changed:
            self._source = _address(client)
            self._messages.append(Received.from_paho(message))
            self._changed.notify_all()

    def wait(
        self,
        count: int = 1,
        *,
        topic: str = "#",
        timeout: float = DEFAULT_TIMEOUT,
        sort: bool = False,
    ) -> list[Received]:
        """Take the first ``count`` messages matching the filter ``topic`` out of the inbox.

        Messages come in arrival order, which MQTT fixes per publisher and
        topic; ``sort=True`` orders them by (topic, payload) for output that
        stays the same when several publishers race.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._matching(topic)) >= count, timeout):
                got = self._matching(topic)
                raise WaitTimeout(
                    f"timed out after {timeout:g} s waiting for {count} message(s) on {topic!r} "
                    f"from {self._source}; got {len(got)}: {[str(m) for m in got]}"
                )
            taken = self._matching(topic)[:count]
            for message in taken:
                self._messages.remove(message)
        return sorted(taken, key=lambda m: (m.topic, m.payload)) if sort else taken

    def drain(self, topic: str = "#") -> list[Received]:
        """Take every message matching ``topic`` that has arrived so far, without waiting."""
        with self._changed:
            taken = self._matching(topic)
            self._messages = [m for m in self._messages if m not in taken]
        return taken

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages)

    def _matching(self, topic: str) -> list[Received]:
        return [m for m in self._messages if topic_matches_sub(topic, m.topic)]


def _address(client: Any) -> str:
    host, port = getattr(client, "host", ""), getattr(client, "port", "")
    return f"{host}:{port}" if host else "the broker"
