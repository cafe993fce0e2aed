"""Checked connections forwarded over TCP to a Mosquitto child process: the classroom's ``--broker mosquitto``.

The front (:mod:`.front`) reads, checks, admits and rewrites each learner's
connection exactly as it does for the embedded broker; :func:`forward` then
sends the result over a TCP connection of its own to Mosquitto, and passes
what Mosquitto answers back through the same rewriter. Mosquitto is the
broker: sessions, retained messages, wills, keep-alive and its own bounded
queues (``max_queued_messages``).

Mosquitto listens on 127.0.0.1 only and admits only the classroom's own user
name with a generated password, which :class:`Upstream` writes into every
CONNECT the front admitted: nobody reaches it but through a front. Two
differences of Mosquitto's are evened out here, so both backends behave alike:

- a client PUBLISH (or will) to a ``$`` topic closes the connection, as the
  embedded broker does ([MQTT-4.7.2-1]: the server SHOULD keep clients from
  exchanging messages on ``$`` topics; Mosquitto only drops ``$SYS`` ones);
- Mosquitto drops every client publish to ``$SYS``, so the classroom's
  presence messages live under ``$classroom-sys`` inside it: ``$SYS`` filters
  are mapped there on the way in, and topics back on the way out. Mosquitto's
  own ``$SYS`` statistics are off (``sys_interval 0``): they count the class.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field

from amqtt.adapters import ReaderAdapter, WriterAdapter

from mqtt_helpers._brokers import mqtt311
from mqtt_helpers._brokers.front import Rewriter
from mqtt_helpers._brokers.mqtt311 import Connect, MalformedPacket, Packet

SYS, SYS_INSIDE = b"$SYS", b"$classroom-sys"
CHUNK = 1 << 16
CLOSE_TIMEOUT = 5.0  # seconds to hand a closing learner what Mosquitto sent last


def sys_inside(name: bytes) -> bytes:
    """A ``$SYS`` topic or filter as Mosquitto stores it (any other name unchanged)."""
    if name == SYS or name.startswith(SYS + b"/"):
        return SYS_INSIDE + name[len(SYS) :]
    return name


@dataclass
class Upstream:
    """Wraps a connection's rewriter (a namespace, the teacher's rules) for Mosquitto: login, ``$`` rules."""

    inner: Rewriter
    username: bytes
    password: bytes

    def connect(self, connect: Connect) -> Connect:
        connect = self.inner.connect(connect)
        if connect.will is not None and connect.will.topic.startswith(b"$"):
            raise MalformedPacket("a will to a $ topic")  # could forge the presence topics
        will = connect.will
        return Connect(connect.client_id, connect.clean_session, connect.keep_alive, will, self.username, self.password)

    def inbound(self, pkt: Packet) -> bytes:
        if pkt.kind == mqtt311.PUBLISH and pkt.body[2:3] == b"$":  # the topic's first byte, after its length
            raise MalformedPacket("a PUBLISH to a $ topic")  # [MQTT-4.7.2-1], closed as the embedded broker does
        whole = self.inner.inbound(pkt)
        if pkt.kind in (mqtt311.SUBSCRIBE, mqtt311.UNSUBSCRIBE) and SYS in pkt.body:
            split = mqtt311.split(whole)
            assert split is not None, "a rewriter returns whole packets"
            inside = Packet(pkt.kind, pkt.flags, split[1])
            _, pairs = mqtt311.subscriptions(inside)
            whole = mqtt311.encode_subscriptions(inside, [sys_inside(f) for f, _ in pairs])
        return whole

    def outbound(self, whole: bytes) -> bytes:
        if whole[0] >> 4 == mqtt311.PUBLISH and SYS_INSIDE in whole[: len(SYS_INSIDE) + 7]:
            split = mqtt311.split(whole)
            assert split is not None, "the writer hands over whole packets"
            pkt = Packet(mqtt311.PUBLISH, whole[0] & 0x0F, split[1])
            topic, _ = mqtt311.publish_topic(pkt)
            if topic.startswith(SYS_INSIDE):
                whole = mqtt311.encode_publish(pkt, SYS + topic[len(SYS_INSIDE) :])
        return self.inner.outbound(whole)


async def forward(reader: ReaderAdapter, writer: WriterAdapter, address: tuple[str, int]) -> None:
    """Relay one admitted connection to the broker at ``address`` until either side ends it.

    The learner's end closes Mosquitto's connection (after what was read, a
    DISCONNECT included, is written: no DISCONNECT means the will is
    published); Mosquitto's end (a take-over, a keep-alive expiry) closes the
    learner's, after what Mosquitto sent last was handed on.
    """
    up_reader, up_writer = await asyncio.open_connection(*address)
    inbound = asyncio.ensure_future(_inbound(reader, up_writer))
    outbound = asyncio.ensure_future(_outbound(up_reader, writer))
    try:
        await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (inbound, outbound):
            task.cancel()
        await asyncio.gather(inbound, outbound, return_exceptions=True)
        up_writer.close()  # flushes what was written first
        if outbound.done() and not outbound.cancelled() and outbound.exception() is None:
            with contextlib.suppress(Exception):  # Mosquitto ended it: let the learner have its last packets
                await asyncio.wait_for(writer.close(), CLOSE_TIMEOUT)


async def _inbound(reader: ReaderAdapter, up_writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while True:
            up_writer.write(await reader.read(-1))  # whole checked packets, the CONNECT first
            await up_writer.drain()


async def _outbound(up_reader: asyncio.StreamReader, writer: WriterAdapter) -> None:
    while data := await up_reader.read(CHUNK):
        writer.write(data)  # the rewriting writer cuts it into packets
        await writer.drain()


@dataclass
class Announcer:
    """The classroom's own connection to Mosquitto: retained QoS 0 publishes (presence), in order.

    ``lost`` is set when Mosquitto ends it: the broker has gone.
    """

    address: tuple[str, int]
    username: bytes
    password: bytes
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    _writer: asyncio.StreamWriter | None = None
    _reading: asyncio.Future[None] | None = None

    async def open(self) -> None:
        reader, self._writer = await asyncio.open_connection(*self.address)
        client_id = f"classroom-presence-{secrets.token_hex(6)}".encode()
        login = Connect(client_id, True, 0, None, self.username, self.password)  # keep-alive 0: never idle-closed
        self._writer.write(mqtt311.encode_connect(login))
        answer = await asyncio.wait_for(reader.readexactly(4), 10)
        if answer != mqtt311.connack(0):
            raise ConnectionRefusedError(f"mosquitto at {self.address[0]}:{self.address[1]} answered {answer!r}")
        self._reading = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(CHUNK):
                pass  # nothing is subscribed: only PINGRESPs could come
        self.lost.set()

    def publish(self, topic: bytes, payload: bytes) -> None:
        """A retained QoS 0 PUBLISH of ``topic`` (a ``$SYS`` one is stored where ``Upstream`` finds it)."""
        if self._writer is not None:
            self._writer.write(mqtt311.packet(mqtt311.PUBLISH, 0b0001, mqtt311.string(sys_inside(topic)) + payload))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.write(mqtt311.packet(mqtt311.DISCONNECT, 0, b""))
            self._writer.close()
        if self._reading is not None:
            self._reading.cancel()
