"""The front door of every listener: sockets, limits, a strict reader and credentials, before amqtt sees a byte.

amqtt parses packets field by field, never checks that a packet was used up,
and handles the session before it authenticates. So no listener is amqtt's
own: a :class:`Front` accepts each connection (TCP, TLS or websockets) and

- caps the connections per listener, and gives each one ``connect_timeout``
  seconds to send its CONNECT (amqtt would wait for ever);
- reads every packet whole, refusing one that announces more than
  ``max_packet_size`` bytes before buffering it, and checks it completely with
  :mod:`.mqtt311` (a violation closes the connection, [MQTT-4.8.0-1]);
- decides the CONNECT's credentials itself: a refusal is a CONNACK with
  session-present 0 ([MQTT-3.2.2-4]) and a close, with amqtt never involved, so
  it touches no session and kicks nobody; repeated refusals from one address
  are answered ever more slowly;
- only then hands the connection to amqtt through its public
  ``external_connected()``, each packet re-encoded from its checked fields by
  the listener's :class:`Rewriter` (the classroom's namespaces; unchanged
  elsewhere), so amqtt parses only well-formed packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import websockets
from amqtt.adapters import ReaderAdapter, StreamWriterAdapter, WebSocketsReader, WebSocketsWriter, WriterAdapter

from mqtt_helpers._brokers import mqtt311
from mqtt_helpers._brokers.mqtt311 import Connect, MalformedPacket, Packet, Refused

BACKLOG = 1024  # a class connects all at once


@dataclass(frozen=True)
class Limits:
    """What one connection may cost. Defaults suit a class of 30 on one laptop."""

    max_packet_size: int = 1 << 20
    """The largest remaining length accepted (1 MiB); a bigger packet closes the connection before it is read."""
    connect_timeout: float = 10.0
    """Seconds a new connection has to send its CONNECT ([MQTT-3.1.0-1]: the first packet is CONNECT)."""
    max_connections: int = 256
    """Open connections per listener; one more is closed at once."""
    refusal_delay: float = 0.25
    """Seconds before the first refusal of an address's credentials; each further one waits twice as long..."""
    refusal_ceiling: float = 8.0
    """...up to this many seconds."""


class Rewriter(Protocol):
    """How one connection's packets look inside the broker, and back."""

    def connect(self, connect: Connect) -> Connect:
        """The CONNECT as the broker gets it (may raise Refused or MalformedPacket)."""
        ...

    def inbound(self, pkt: Packet) -> bytes:
        """A checked packet from the client, encoded for the broker (may raise MalformedPacket)."""
        ...

    def outbound(self, pkt: bytes) -> bytes:
        """A whole packet from the broker, as the client gets it."""
        ...


class Unchanged:
    """The rewriter of a plain listener: packets pass as checked."""

    def connect(self, connect: Connect) -> Connect:
        return connect

    def inbound(self, pkt: Packet) -> bytes:
        return mqtt311.packet(pkt.kind, pkt.flags, pkt.body)

    def outbound(self, pkt: bytes) -> bytes:
        return pkt


class Throttle:
    """Slows down repeated wrong credentials from one address (a bounded table: memory stays flat)."""

    def __init__(self, base: float, ceiling: float = 8.0, size: int = 4096) -> None:
        self.base, self.ceiling, self.size = base, ceiling, size
        self.failures: OrderedDict[str, int] = OrderedDict()

    def delay(self, address: str) -> float:
        """Seconds the next refusal of ``address`` waits."""
        count = self.failures.get(address, 0)
        return 0.0 if not self.base else min(self.ceiling, self.base * 2.0**count)

    def refused(self, address: str) -> float:
        """Record a refusal; return how long to wait before answering it."""
        wait = self.delay(address)
        self.failures[address] = self.failures.pop(address, 0) + 1
        while len(self.failures) > self.size:
            self.failures.popitem(last=False)
        return wait

    def admitted(self, address: str) -> None:
        self.failures.pop(address, None)


# listener name, checked CONNECT -> CONNACK return code (0 admits)
Admit = Callable[[str, Connect], int]
# listener name -> the rewriter for a new connection on it
Rewriters = Callable[[str], Rewriter]
Connected = Callable[[ReaderAdapter, WriterAdapter, str], Awaitable[None]]


@dataclass
class Front:
    """Accepts the connections of named listeners and passes checked ones to ``connected`` (amqtt's entry)."""

    connected: Connected
    admit: Admit
    limits: Limits = field(default_factory=Limits)
    rewriters: Rewriters = field(default=lambda listener: Unchanged())
    servers: dict[str, Any] = field(default_factory=dict)
    connections: dict[str, int] = field(default_factory=dict)  # open ones, per listener
    aborts: set[Callable[[], None]] = field(default_factory=set)
    throttle: Throttle = field(init=False)

    def __post_init__(self) -> None:
        self.throttle = Throttle(self.limits.refusal_delay, self.limits.refusal_ceiling)

    async def listen(self, listener: str, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None) -> int:
        """Listen for MQTT over TCP (TLS with ``ssl_context``); return the port."""
        server = await asyncio.start_server(
            partial(self._tcp, listener),
            host,
            port,
            reuse_address=True,
            backlog=BACKLOG,
            ssl=ssl_context,
            ssl_handshake_timeout=self.limits.connect_timeout if ssl_context else None,
        )
        self.servers[listener] = server
        return int(server.sockets[0].getsockname()[1])

    async def listen_websockets(self, listener: str, host: str, port: int) -> int:
        """Listen for MQTT over websockets (subprotocol ``mqtt``); return the port."""
        server = await websockets.serve(
            partial(self._websocket, listener),
            host,
            port,
            subprotocols=[websockets.Subprotocol("mqtt")],
            max_size=self.limits.max_packet_size + 5,  # one packet per message at most, with its fixed header
            open_timeout=self.limits.connect_timeout,
            backlog=BACKLOG,
        )
        self.servers[listener] = server
        return int(next(iter(server.sockets)).getsockname()[1])

    async def close(self) -> None:
        """Stop listening and drop every connection, also those that never sent CONNECT."""
        for server in self.servers.values():
            server.close()
        for abort in list(self.aborts):
            abort()

    # --- one connection -------------------------------------------------------------------

    async def _tcp(self, listener: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        abort = writer.transport.abort
        await self._serve(listener, reader.readexactly, StreamWriterAdapter(writer), abort, tcp=reader)

    async def _websocket(self, listener: str, connection: Any) -> None:
        source = WebSocketsReader(connection)

        async def readexactly(n: int) -> bytes:
            data: bytes = await source.read(n)
            if len(data) < n:
                raise asyncio.IncompleteReadError(data, n)
            return data

        await self._serve(listener, readexactly, WebSocketsWriter(connection), connection.transport.abort)

    async def _serve(
        self,
        listener: str,
        readexactly: Callable[[int], Awaitable[bytes]],
        writer: WriterAdapter,
        abort: Callable[[], None],
        tcp: asyncio.StreamReader | None = None,
    ) -> None:
        if self.connections.get(listener, 0) >= self.limits.max_connections:
            abort()  # over the cap: closed before a byte is read
            return
        self.connections[listener] = self.connections.get(listener, 0) + 1
        self.aborts.add(abort)
        try:
            rewriter = self.rewriters(listener)
            first = await self._connect(listener, readexactly, writer, rewriter)
            if first is not None:
                reader = StrictReader(readexactly, first, rewriter, self.limits.max_packet_size, tcp)
                await self.connected(reader, RewritingWriter.around(writer, rewriter), listener)
        except (MalformedPacket, asyncio.IncompleteReadError, ConnectionError, TimeoutError, asyncio.TimeoutError):
            pass  # [MQTT-4.8.0-1] close the connection
        finally:
            self.connections[listener] -= 1
            self.aborts.discard(abort)
            abort()

    async def _connect(
        self,
        listener: str,
        readexactly: Callable[[int], Awaitable[bytes]],
        writer: WriterAdapter,
        rewriter: Rewriter,
    ) -> bytes | None:
        """Read, check and admit the CONNECT; return it encoded for the broker, or None once refused."""
        try:
            header, body = await asyncio.wait_for(
                read_packet(readexactly, self.limits.max_packet_size), self.limits.connect_timeout
            )
            connect = mqtt311.parse_connect(header[0], body)
            connect = self._name(connect)
            code = self.admit(listener, connect)
            peer = (writer.get_peer_info() or ("?", 0))[0]
            if code:
                await asyncio.sleep(self.throttle.refused(peer))
                raise Refused(code)
            self.throttle.admitted(peer)
            return mqtt311.encode_connect(rewriter.connect(connect))
        except mqtt311.UnsupportedProtocol:
            code = mqtt311.UNACCEPTABLE_PROTOCOL  # [MQTT-3.1.2-2] CONNACK 1, then close
        except Refused as refusal:
            code = refusal.code
        # [MQTT-3.2.2-4] a refusal says session-present 0; [MQTT-3.2.2-5] then the server closes the connection
        writer.write(mqtt311.connack(code))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.drain(), self.limits.connect_timeout)
        return None

    @staticmethod
    def _name(connect: Connect) -> Connect:
        """Give an empty client id a unique one here, so everyone downstream sees the same id ([MQTT-3.1.3-6])."""
        if connect.client_id:
            return connect
        if not connect.clean_session:
            raise Refused(mqtt311.IDENTIFIER_REJECTED)  # [MQTT-3.1.3-8]
        generated = f"auto-{secrets.token_hex(8)}".encode()
        return Connect(generated, True, connect.keep_alive, connect.will, connect.username, connect.password)


async def read_packet(readexactly: Callable[[int], Awaitable[bytes]], max_size: int) -> tuple[bytes, bytes]:
    """Read one packet's fixed header and body; refuse a body over ``max_size`` before reading it."""
    header = await readexactly(2)  # the type byte and the first length byte: every packet has both
    while (length := mqtt311.decode_length(header)) is None:
        header += await readexactly(1)
    if length > max_size:
        raise mqtt311.PacketTooLarge(f"a packet of {length} bytes is over the maximum of {max_size}")
    return header, await readexactly(length) if length else b""


class StrictReader(ReaderAdapter):  # type: ignore[misc]  # amqtt ships no type information
    """What amqtt reads: the admitted CONNECT, then each packet, checked and re-encoded, a whole packet at a time."""

    def __init__(
        self,
        readexactly: Callable[[int], Awaitable[bytes]],
        first: bytes,
        rewriter: Rewriter,
        max_size: int,
        tcp: asyncio.StreamReader | None,
    ) -> None:
        self._readexactly, self.rewriter, self._max_size = readexactly, rewriter, max_size
        self._buffer = bytearray(first)
        if tcp is not None:
            self._reader = tcp  # amqtt_fixes._client_closed looks for the stream's end here

    async def read(self, n: int = -1) -> bytes:
        while len(self._buffer) < max(n, 1):
            try:
                header, body = await read_packet(self._readexactly, self._max_size)
                self._buffer += self.rewriter.inbound(mqtt311.parse(header[0], body))
            except MalformedPacket:
                # [MQTT-4.8.0-1] a malformed packet closes the connection; amqtt sees an end of stream
                raise asyncio.IncompleteReadError(bytes(self._buffer), n) from None
        size = len(self._buffer) if n < 0 else n
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def feed_eof(self) -> None:
        tcp = getattr(self, "_reader", None)
        if tcp is not None:
            tcp.feed_eof()


class RewritingWriter(StreamWriterAdapter):  # type: ignore[misc]  # amqtt ships no type information
    """Sends the broker's packets through a rewriter (TCP connections only: the classroom's learner ports)."""

    @classmethod
    def around(cls, writer: WriterAdapter, rewriter: Rewriter) -> WriterAdapter:
        if isinstance(rewriter, Unchanged) or not isinstance(writer, StreamWriterAdapter):
            return writer
        wrapped = cls(writer._writer)
        wrapped._rewriter, wrapped._pending = rewriter, b""
        return wrapped

    _rewriter: Rewriter
    _pending: bytes

    def write(self, data: bytes) -> None:
        self._pending = self._pending + data if self._pending else data
        out = []
        while (whole := mqtt311.split(self._pending)) is not None:
            header, body, self._pending = whole
            out.append(self._rewriter.outbound(header + body))
        if out:
            super().write(b"".join(out))  # one write (one send) for what arrived together
