"""What several test modules share: skipping or failing on a missing broker, probes, one round trip."""

from __future__ import annotations

import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_helpers import BrokerHandle, Inbox, close_client, connect_client, subscribe
from mqtt_helpers._brokers.mosquitto import mosquitto_binary
from mqtt_helpers._brokers.ports import accepts as accepts  # the package's probe, for the tests too
from mqtt_helpers.handle import BrokerStartError
from mqtt_helpers.waiting import DEFAULT_TIMEOUT
from tests.nb_requirements import unavailable


def require(kind: str) -> None:
    """Skip (locally) or fail (CI) when ``kind`` cannot run here: a green CI run means both brokers were tested."""
    if kind != "mosquitto":
        return
    try:
        mosquitto_binary()
    except BrokerStartError as exc:  # the message says how to install it
        unavailable(str(exc), must="test on mosquitto")


OTHER_LOOPBACK = "127.0.0.2"


def other_loopback() -> str:
    """127.0.0.2, another address of this machine, once shown to reach a socket listening on every interface.

    A broker bound to 127.0.0.1 only must not answer there. Linux routes all of 127.0.0.0/8 to the loopback
    interface; macOS configures 127.0.0.1 alone: there the test skips with the reason (the project claims no
    more than 127.0.0.1, so CI=true does not make it fail).
    """
    with socket.socket() as everywhere:
        everywhere.bind(("0.0.0.0", 0))
        everywhere.listen()
        if not accepts(OTHER_LOOPBACK, everywhere.getsockname()[1]):
            pytest.skip(f"{OTHER_LOOPBACK} does not reach this machine here; it cannot show a 127.0.0.1-only bind")
    return OTHER_LOOPBACK


def round_trip(broker: BrokerHandle, **connect: Any) -> str:
    """Subscribe, publish "ping" at QoS 1 and return the payload that came back."""
    inbox = Inbox()
    client = connect_client(broker, inbox=inbox, **connect)
    try:
        subscribe(client, "check/#", qos=1)
        client.publish("check/it", "ping", qos=1).wait_for_publish(5)
        return inbox.wait(1, topic="check/#")[0].payload.decode()
    finally:
        close_client(client)


def new_client(client_id: str = "") -> mqtt.Client:
    """A plain paho 2 client, not connected."""
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id)


@dataclass(frozen=True)
class Received:
    """A message with its payload as text, for the conformance tests' compact assertions."""

    topic: str
    payload: bytes
    qos: int
    retain: bool

    @property
    def text(self) -> str:
        return self.payload.decode()


class TextInbox:
    """An Inbox whose messages are :class:`Received` (with ``.text``)."""

    def __init__(self) -> None:
        self._inbox = Inbox()
        self.on_message = self._inbox.on_message

    def wait(self, count: int = 1, *, topic: str = "#", timeout: float = DEFAULT_TIMEOUT) -> list[Received]:
        return [_received(m) for m in self._inbox.wait(count, topic=topic, timeout=timeout)]

    def drain(self, topic: str = "#") -> list[Received]:
        return [_received(m) for m in self._inbox.drain(topic)]


def _received(message: mqtt.MQTTMessage) -> Received:
    return Received(message.topic, bytes(message.payload), message.qos, bool(message.retain))


class OutputLines:
    """The lines a child process writes to ``stream``, read by a thread, so a caller can wait for one with a timeout
    (a plain ``readline()`` could block for ever). ``lines`` holds every line taken so far."""

    def __init__(self, stream: IO[str], name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()  # None: the stream ended
        self._ended = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._new.put(line.rstrip("\n"))
        self._new.put(None)

    def expect(self, text: str, timeout: float) -> str:
        """The next line containing ``text``; TimeoutError or EOFError (naming the output so far) if none comes."""
        deadline = time.monotonic() + timeout
        while (line := self._next(deadline, f"a line containing {text!r}", timeout)) is not None:
            if text in line:
                return line
        raise EOFError(f"{self.name} ended with no line containing {text!r}; output: {self.lines}")

    def rest(self, timeout: float) -> list[str]:
        """Every line up to the end of the stream (the process exited), within ``timeout`` seconds."""
        deadline, start = time.monotonic() + timeout, len(self.lines)
        while self._next(deadline, "the end of its output", timeout) is not None:
            pass
        return self.lines[start:]

    def _next(self, deadline: float, what: str, timeout: float) -> str | None:
        if self._ended:
            return None
        try:
            line = self._new.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"{self.name}: nothing ({what}) within {timeout:g} s; output: {self.lines}") from None
        if line is None:
            self._ended = True
        else:
            self.lines.append(line)
        return line
