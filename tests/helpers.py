"""What several test modules share: skipping or failing on a missing broker, probes, one round trip."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_helpers import BrokerHandle, Inbox, close_client, connect_client, subscribe
from mqtt_helpers._brokers.mosquitto import mosquitto_binary
from mqtt_helpers.waiting import DEFAULT_TIMEOUT


def require(kind: str) -> None:
    """Skip (locally) or fail (CI) when ``kind`` cannot run here: a green CI run means both brokers were tested."""
    if kind != "mosquitto":
        return
    try:
        mosquitto_binary()
    except Exception as exc:  # noqa: BLE001 - the message says how to install it
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must test on mosquitto, but: {exc}")
        pytest.skip(str(exc))


def accepts(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


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
