"""What several test modules share: skipping or failing on a missing broker, probes, one round trip."""

from __future__ import annotations

import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import IO, Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_helpers import BrokerHandle, Inbox, close_client, connect_client, subscribe, wait_for
from mqtt_helpers._brokers.mosquitto import mosquitto_binary
from mqtt_helpers._brokers.mqtt311 import encode_length
from mqtt_helpers._brokers.ports import accepts as accepts  # the package's probe, for the tests too
from mqtt_helpers.client import set_nodelay
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


def string(value: bytes) -> bytes:
    """An MQTT UTF-8 string field: two length bytes, then the bytes."""
    return len(value).to_bytes(2, "big") + value


def connect_packet(client_id: bytes, *, flags: int = 0x02, extra: bytes = b"", tail: bytes = b"") -> bytes:
    """A CONNECT (keep-alive 60); ``extra`` follows the client id (will, user name...), ``tail`` is junk after it."""
    body = string(b"MQTT") + bytes([4, flags]) + b"\x00\x3c" + string(client_id) + extra + tail
    return bytes([0x10]) + encode_length(len(body)) + body


def raw_socket(host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> socket.socket:
    """A plain TCP connection for writing MQTT bytes by hand (malformed packets included)."""
    sock = socket.create_connection((host, port), timeout)
    sock.settimeout(timeout)  # a guard only: tests wait for an answer or the close, never for silence
    return sock


def read_packet(sock: socket.socket) -> bytes:
    """The next whole packet the broker sends (fixed header included), read byte-exact so nothing after it is lost."""

    def read(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data

    header = read(1)
    length, shift = 0, 0
    while True:
        byte = read(1)
        header += byte
        length += (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            return header + read(length)


def until_closed(sock: socket.socket) -> bytes:
    """Everything the broker sends until it closes the connection (the close is the event waited on)."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


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


class TestClient:
    """One test client wrapper: a paho VERSION2 client that records, waits with timeouts and proves absence.

    Connected on construction (``connected`` set, or WaitTimeout naming the broker). It never reconnects by
    itself, so a client the broker dropped stays dropped (``disconnected`` is set). ``inbox`` collects
    every message but the markers of ``sync()``, which round-trips a marker through the broker: whatever was
    routed here before it has arrived once it returns, so ``received()`` then lists everything there is.
    """

    __test__ = False  # not a test class, despite its name

    def __init__(
        self,
        broker: BrokerHandle,
        client_id: str = "",
        *,
        clean_session: bool = True,
        keepalive: int = 60,
        will: tuple[str, str, int, bool] | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        inbox: Any = None,
    ) -> None:
        self.timeout = timeout
        self.inbox: Any = inbox if inbox is not None else Inbox()  # anything with on_message, wait, drain
        self.connected, self.disconnected = threading.Event(), threading.Event()
        self.connect_flags: Any = None
        self.connect_reason: Any = None
        self.disconnect_reason: Any = None
        self._markers = Inbox()
        self._sync_topic = f"sync/{uuid.uuid4().hex[:12]}"
        self._synced_once = False
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id, clean_session=clean_session, reconnect_on_failure=False
        )
        if username is not None:
            self.paho.username_pw_set(username, password)
        if will is not None:
            self.paho.will_set(*will)
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_message = self._on_message  # in place before queued messages arrive after CONNACK
        self.paho.connect(broker.host, broker.port, keepalive)
        set_nodelay(self.paho)
        self.paho.loop_start()
        wait_for(
            lambda: self.connected.is_set() or self.disconnected.is_set(), timeout, what=f"CONNACK from {broker!r}"
        )
        if not self.connected.is_set() or getattr(self.connect_reason, "is_failure", True):
            self.paho.loop_stop()
            raise ConnectionRefusedError(f"{broker!r} refused {client_id!r}: {self.connect_reason}")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connect_flags, self.connect_reason = flags, reason
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.disconnect_reason = reason
        self.disconnected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        target = self._markers if message.topic == self._sync_topic else self.inbox
        target.on_message(client, userdata, message)

    @property
    def session_present(self) -> bool:
        return bool(self.connect_flags.session_present)

    @property
    def dropped(self) -> threading.Event:
        """Set once the broker ended the connection (or the client did)."""
        return self.disconnected

    def subscribe(self, *filters: str, qos: int = 1) -> list[int]:
        """Subscribe (waiting for the SUBACK) and return the granted QoS of each filter."""
        granted = subscribe(self.paho, [(f, qos) for f in filters], timeout=self.timeout)
        return [g.value for g in granted]  # a ReasonCode's value is the granted QoS (or 0x80, refused)

    def publish(self, topic: str, payload: str | bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until the QoS handshake with the broker completed."""
        info = self.paho.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(self.timeout)
        if not info.is_published():
            raise TimeoutError(f"timed out after {self.timeout}s publishing to {topic!r} at QoS {qos}")

    def sync(self) -> None:
        """Round-trip a marker: every message the broker routed here before it has now arrived."""
        if not self._synced_once:
            self.subscribe(self._sync_topic)
            self._synced_once = True
        marker = uuid.uuid4().hex
        self.publish(self._sync_topic, marker)
        got = self._markers.wait(1, timeout=self.timeout)
        assert got[0].payload == marker.encode()

    def received(self) -> list[tuple[str, bytes]]:
        """After sync(): every message received and not yet taken, as (topic, payload)."""
        return [(m.topic, bytes(m.payload)) for m in self.inbox.drain("#") + self.inbox.drain("$SYS/#")]

    def drop(self) -> None:
        """End the connection without DISCONNECT, so the broker publishes the will."""
        sock = self.paho.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)
        wait_for(self.disconnected, self.timeout, what="the dropped connection to be noticed")
        self.paho.loop_stop()

    def disconnect(self) -> None:
        """Clean disconnect (DISCONNECT packet, so no will), waiting until paho saw it."""
        self.paho.disconnect()
        wait_for(self.disconnected, self.timeout, what="the clean disconnect")
        self.paho.loop_stop()

    def go_silent(self) -> None:
        """Stop the network loop: no more packets, not even PINGREQ; the socket stays open."""
        self.paho.loop_stop()

    def close(self) -> None:
        """Disconnect cleanly (no will) if still connected, and stop the network loop."""
        self.paho.on_disconnect = None
        close_client(self.paho)

    def release(self) -> None:
        """Close, and break paho's reference cycle to this object now (tests making hundreds of clients would
        otherwise pile up file descriptors past what paho's select() loop can watch)."""
        self.close()
        self.paho.on_connect = self.paho.on_subscribe = self.paho.on_message = None


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
