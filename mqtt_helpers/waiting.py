"""Waiting for MQTT events without sleeping, and collecting messages safely.

paho runs callbacks on its network thread. A cell that sleeps "long enough" is slow when the guess is high and flaky
when it is low; a cell that prints from a callback has its output land in whatever cell runs next. So callbacks only
record, and the cell waits on a condition with a timeout and prints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from paho.mqtt.client import Client, MQTTMessage, topic_matches_sub

DEFAULT_TIMEOUT = 5.0
Messages = list[MQTTMessage]


class WaitTimeout(TimeoutError):
    """A wait ran out of time; the message names what was awaited."""


def wait_for(
    condition: threading.Event | Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, *, what: str = "the condition"
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


def show(message: MQTTMessage) -> str:
    """One line for a received message: ``house/bulb1 b'ON' qos=1 retain=0``.

    A paho message prints as ``<paho.mqtt.client.MQTTMessage object at 0x...>``;
    this names what matters. The payload stays bytes, as MQTT carries it.
    """
    return f"{message.topic} {bytes(message.payload)!r} qos={message.qos} retain={int(message.retain)}"


class Inbox:
    """A thread-safe mailbox that paho's ``on_message`` fills and a cell waits on.

    It hands back paho's own ``MQTTMessage`` objects, exactly what an
    ``on_message`` callback of your own receives::

        inbox = Inbox()
        client.on_message = inbox.on_message
        [m.payload.decode() for m in inbox.wait(2, topic="house/#")]
    """

    def __init__(self) -> None:
        self._messages: Messages = []
        self._changed = threading.Condition()
        self._source = "the broker"

    def on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        """paho VERSION2 ``on_message`` callback: record the message, wake waiters."""
        with self._changed:
            self._source = f"{client.host}:{client.port}"  # for the timeout message
            self._messages.append(message)
            self._changed.notify_all()

    def wait(self, count: int = 1, *, topic: str = "#", timeout: float = DEFAULT_TIMEOUT) -> Messages:
        """Take the first ``count`` messages matching the filter ``topic`` out of the inbox, in arrival order."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._matching(topic)) >= count, timeout):
                got = self._matching(topic)
                raise WaitTimeout(
                    f"timed out after {timeout:g} s waiting for {count} message(s) on {topic!r} "
                    f"from {self._source}; got {len(got)}: {[show(m) for m in got]}"
                )
            taken = self._matching(topic)[:count]
            self._remove(taken)
        return taken

    def drain(self, topic: str = "#") -> Messages:
        """Take every message matching ``topic`` that has arrived so far, without waiting."""
        with self._changed:
            taken = self._matching(topic)
            self._remove(taken)
        return taken

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages)

    def _matching(self, topic: str) -> Messages:
        return [m for m in self._messages if topic_matches_sub(topic, m.topic)]

    def _remove(self, taken: Messages) -> None:
        # By identity: paho's MQTTMessage compares equal by mid alone (every QoS 0 message has mid 0).
        gone = {id(m) for m in taken}
        self._messages = [m for m in self._messages if id(m) not in gone]
