"""The classroom broker: one embedded broker, a private namespace per learner, a teacher who sees all.

Every learner gets a listening port of their own. Everything a learner's
client sends passes through a small MQTT 3.1.1 packet rewriter on its way into
the broker, and everything the broker sends back passes through it again:

- client ids and topics (PUBLISH, SUBSCRIBE, UNSUBSCRIBE, the will's topic)
  gain the prefix ``learners/NAME/`` on the way in, and PUBLISH topics lose it
  on the way out. So two learners' ``P1`` clients are different clients
  inside the broker, and retained messages, wills and sessions stay in each
  learner's namespace; a learner's ``#`` (or ``learners/#``) becomes
  ``learners/NAME/#`` (or ``learners/NAME/learners/#``): only their own.
- topics and filters that start with ``class/`` stay as they are: a shared
  board for whole-class demos. A learner's ``#`` does not match them (only a
  filter that starts with ``class/`` does), so a lesson's output never gains
  a classmate's demo message.
- the teacher's port is not rewritten at all: username ``teacher`` and the
  password get in, and see the real names ``learners/NAME/...`` and ``class/...``.
- the broker itself keeps a retained ``$SYS/classroom/learners/NAME`` message
  per learner: the JSON list of the client ids connected on their port (a
  ``$`` topic, so no ``#`` subscription receives it unasked; MQTT-4.7.2-1).
  Anyone may read it (names and client ids only); a learner's will cannot
  write it, because a will's ``$`` topic is namespaced too.

Why a rewriter in front of the broker rather than hooks inside it: the
rewriter only uses amqtt's public ``external_connected()`` entry point and
the ``ReaderAdapter``/``WriterAdapter`` stream interface, so the broker keeps
every conformance fix of :class:`~mqtt_helpers.amqtt_fixes.ConformantBroker`
unchanged, and the rewriting is a set of pure functions over packet bytes.
Only MQTT 3.1.1 (protocol level 4) is rewritten; amqtt refuses every other
level at CONNECT, before any topic is seen.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.session import Session

from mqtt_helpers._brokers.amqtt import (
    BROKER_THREAD,
    _close_loop,
    _ignore_loop_errors,
    _new_loop,
    _run,
    silence_amqtt_logging,
)
from mqtt_helpers._brokers.amqtt_fixes import ConformantBroker
from mqtt_helpers.handle import LOOPBACK, BrokerHandle, BrokerStartError

TEACHER = "teacher"
CLASS_TOPICS = b"class/"
LEARNER_ROOT = "learners"
PRESENCE = "$SYS/classroom/learners/"
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
# amqtt requires a listener called "default"; here it is the teacher's.
TEACHER_LISTENER = "default"

CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE = 1, 3, 8, 10


# --- learner names ----------------------------------------------------------


def parse_learners(names: str | Iterable[str]) -> list[str]:
    """Check a learner list (``"alice,bob"`` or a list) and return the names, in order.

    A name becomes a topic level (``learners/NAME/``), so it is 1-32 letters,
    digits, ``_`` or ``-``; ``teacher`` is taken, and names must differ
    (ignoring case, since people would read ``Bob`` and ``bob`` as one).
    """
    given = names.split(",") if isinstance(names, str) else list(names)
    cleaned = [n.strip() for n in given if n.strip()]
    if not cleaned:
        raise ValueError("no learners given: list at least one name, e.g. --learners alice,bob")
    seen: dict[str, str] = {}
    for name in cleaned:
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(
                f"bad learner name {name!r}: use 1-32 letters, digits, '_' or '-' "
                "(a name becomes the topic level learners/NAME/)"
            )
        if name.lower() == TEACHER:
            raise ValueError(f"{name!r} cannot be a learner: the teacher's listener already has that name")
        if name.lower() in seen:
            raise ValueError(
                f"learner {name!r} is listed twice (as {seen[name.lower()]!r} too): give each learner one name"
            )
        seen[name.lower()] = name
    return cleaned


# --- MQTT 3.1.1 packet rewriting ----------------------------------------------


class MalformedPacket(ValueError):
    """A packet whose lengths do not add up; the connection is closed (MQTT 3.1.1 §4.8)."""


def encode_length(n: int) -> bytes:
    """The fixed header's remaining length, as MQTT's variable-length integer (§2.2.3)."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def split_packet(data: bytes | bytearray) -> tuple[bytes, bytes] | None:
    """Split ``data`` into its first whole packet and the rest, or None while it is incomplete."""
    length, multiplier, at = 0, 1, 1
    while True:
        if at >= len(data):
            return None
        byte = data[at]
        length += (byte & 0x7F) * multiplier
        at += 1
        if not byte & 0x80:
            break
        if at > 4:
            raise MalformedPacket("remaining length longer than 4 bytes")
        multiplier *= 128
    end = at + length
    if end > len(data):
        return None
    return bytes(data[:end]), bytes(data[end:])


async def read_packet(stream: asyncio.StreamReader) -> bytes:
    """Read one whole packet; at end of stream raise IncompleteReadError, as amqtt expects."""
    header = bytearray(await stream.readexactly(1))
    length, multiplier = 0, 1
    while True:
        byte = (await stream.readexactly(1))[0]
        header.append(byte)
        length += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            return bytes(header) + await stream.readexactly(length)
        if len(header) == 5:
            raise MalformedPacket("remaining length longer than 4 bytes")
        multiplier *= 128


def _string_at(body: bytes, at: int) -> tuple[bytes, int]:
    """The length-prefixed string (§1.5.3) starting at ``at``, and where the next field starts."""
    if at + 2 > len(body):
        raise MalformedPacket("a string field runs past the end of the packet")
    end = at + 2 + int.from_bytes(body[at : at + 2], "big")
    if end > len(body):
        raise MalformedPacket("a string field runs past the end of the packet")
    return body[at + 2 : end], end


def _string(value: bytes) -> bytes:
    return len(value).to_bytes(2, "big") + value


def _header_length(packet: bytes) -> int:
    at = 1
    while packet[at] & 0x80:
        at += 1
    return at + 1


@dataclass
class Namespace:
    """One learner's namespace: how their packets look inside the broker and back."""

    name: str
    client_id: str | None = None  # of this connection, once its CONNECT went by
    on_connect: Callable[[], None] = lambda: None

    @property
    def prefix(self) -> bytes:
        return f"{LEARNER_ROOT}/{self.name}/".encode()

    def inside(self, topic: bytes) -> bytes:
        """A learner's topic or filter as the broker stores it."""
        if not topic or topic.startswith((CLASS_TOPICS, b"$")):
            # class/ is shared; "$" names are the broker's own (a client may not publish them) and
            # an empty name is invalid: both reach the broker unchanged so it treats them as usual.
            return topic
        return self.prefix + topic

    def outside(self, topic: bytes) -> bytes:
        """A topic the broker delivers, as the learner sees it."""
        return topic[len(self.prefix) :] if topic.startswith(self.prefix) else topic

    def inbound(self, packet: bytes) -> bytes:
        """Rewrite one packet from the learner's client for the broker."""
        kind, head = packet[0] >> 4, _header_length(packet)
        body = packet[head:]
        if kind == CONNECT:
            body = self._connect(body)
        elif kind == PUBLISH:
            topic, rest = _string_at(body, 0)
            body = _string(self.inside(topic)) + body[rest:]
        elif kind in (SUBSCRIBE, UNSUBSCRIBE):
            body = self._filters(body, with_qos=kind == SUBSCRIBE)
        else:
            return packet
        return bytes([packet[0]]) + encode_length(len(body)) + body

    def outbound(self, packet: bytes) -> bytes:
        """Rewrite one packet from the broker for the learner's client."""
        if packet[0] >> 4 != PUBLISH:
            return packet
        body = packet[_header_length(packet) :]
        topic, rest = _string_at(body, 0)
        body = _string(self.outside(topic)) + body[rest:]
        return bytes([packet[0]]) + encode_length(len(body)) + body

    def _connect(self, body: bytes) -> bytes:
        protocol, at = _string_at(body, 0)
        if protocol != b"MQTT" or body[at : at + 1] != b"\x04":
            return body  # not MQTT 3.1.1: amqtt refuses it before reading any topic
        flags = body[at + 1]
        at += 4  # level, flags, keep-alive
        client_id, at_next = _string_at(body, at)
        self.client_id = client_id.decode(errors="replace")
        self.on_connect()
        # An empty id stays empty: the broker then makes up a unique one (or refuses it, §3.1.3-8).
        parts = [body[:at], _string(self.prefix + client_id if client_id else b"")]
        if flags & 0x04:  # will flag: the will's topic is the next field
            will_topic, after = _string_at(body, at_next)
            # amqtt checks no will topic: a "$" one goes into the namespace too, or it could forge $SYS/classroom/...
            inside = self.prefix + will_topic if will_topic.startswith(b"$") else self.inside(will_topic)
            parts.append(_string(inside))
            at_next = after
        parts.append(body[at_next:])
        return b"".join(parts)

    def _filters(self, body: bytes, *, with_qos: bool) -> bytes:
        parts, at = [body[:2]], 2  # packet identifier
        while at < len(body):
            topic_filter, at = _string_at(body, at)
            parts.append(_string(self.inside(topic_filter)))
            if with_qos:
                if at >= len(body):
                    raise MalformedPacket("a SUBSCRIBE filter has no QoS byte")
                parts.append(body[at : at + 1])
                at += 1
        return b"".join(parts)


class NamespacedReader(StreamReaderAdapter):  # type: ignore[misc]  # amqtt ships no type information
    """Hands amqtt the learner's packets, rewritten, a whole packet at a time."""

    def __init__(self, reader: asyncio.StreamReader, namespace: Namespace) -> None:
        super().__init__(reader)
        self._namespace = namespace
        self._buffer = bytearray()

    async def read(self, n: int = -1) -> bytes:
        while len(self._buffer) < max(n, 1):
            try:
                self._buffer += self._namespace.inbound(await read_packet(self._reader))
            except MalformedPacket:
                # [MQTT-4.8.0-1] a malformed packet closes the connection; amqtt sees an end of stream
                raise asyncio.IncompleteReadError(bytes(self._buffer), n) from None
        size = len(self._buffer) if n < 0 else n
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


class NamespacedWriter(StreamWriterAdapter):  # type: ignore[misc]  # amqtt ships no type information
    """Sends the broker's packets to the learner with the namespace taken off the topics."""

    def __init__(self, writer: asyncio.StreamWriter, namespace: Namespace) -> None:
        super().__init__(writer)
        self._namespace = namespace
        self._pending = b""

    def write(self, data: bytes) -> None:
        self._pending += data
        while (packet := split_packet(self._pending)) is not None:
            whole, self._pending = packet
            super().write(self._namespace.outbound(whole))


# --- the broker ------------------------------------------------------------------


class ClassroomBroker(ConformantBroker):
    """The conformant broker, where only the teacher's listener asks for a password."""

    def __init__(self, config: dict[str, Any], teacher_password: str) -> None:
        super().__init__(config)
        self._teacher_password = teacher_password

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        if listener is not self.listeners_config[TEACHER_LISTENER]:
            return True  # a learner's own port: anonymous by design, and namespaced
        password = (session.password or "").encode()
        return session.username == TEACHER and hmac.compare_digest(password, self._teacher_password.encode())


def classroom_config(learners: list[str]) -> dict[str, Any]:
    """Every listener is 'external': the classroom accepts the connections and hands them to amqtt."""
    listeners = {TEACHER_LISTENER: {"type": "external"}} | {_listener(n): {"type": "external"} for n in learners}
    return {"listeners": listeners, "plugins": {}}  # no plugins: _authenticate decides per listener


def _listener(learner: str) -> str:
    return f"{LEARNER_ROOT}/{learner}"


@dataclass
class Classroom:
    """A running classroom broker: ``learners[NAME]`` and ``teacher`` are handles to connect to.

    ``connected()`` lists each learner's open connections by client id.
    ``stop()`` closes every port and ends the broker thread; the classroom is a
    context manager that stops on exit.
    """

    host: str
    teacher: BrokerHandle
    learners: dict[str, BrokerHandle]
    teacher_password: str
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _state: _State = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def connected(self) -> dict[str, list[str]]:
        """Client ids of each learner's open connections (the same lists as the presence topics)."""
        return {name: self._state.client_ids(name) for name in self.learners}

    def stop(self) -> None:
        """Close every listener and connection, shut the broker down, end its thread."""
        if self._stopped:
            return
        self._stopped = True
        try:
            _run(self._loop, self._state.shutdown(), what=f"classroom shutdown on {self.host}")
        finally:
            _close_loop(self._loop, self._thread)

    def __enter__(self) -> Classroom:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass
class _State:
    """What lives on the broker's loop: the broker, the servers, the open connections."""

    broker: ClassroomBroker
    servers: dict[str, asyncio.Server] = field(default_factory=dict)
    online: dict[str, list[Namespace]] = field(default_factory=dict)
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    announcements: list[asyncio.Future[None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: bool = False

    async def serve(self, listener: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Run one client connection on ``listener`` through the broker."""
        self.writers.add(writer)
        namespace = None
        try:
            if listener == TEACHER_LISTENER:
                await self.broker.external_connected(StreamReaderAdapter(reader), StreamWriterAdapter(writer), listener)
                return
            name = listener.split("/", 1)[1]
            namespace = Namespace(name, on_connect=lambda: self.changed(name))
            with self.lock:
                self.online[name].append(namespace)
            await self.broker.external_connected(
                NamespacedReader(reader, namespace), NamespacedWriter(writer, namespace), listener
            )
        finally:
            if namespace is not None:
                with self.lock:
                    self.online[namespace.name].remove(namespace)
                self.changed(namespace.name)
            self.writers.discard(writer)
            writer.transport.abort()

    def client_ids(self, name: str) -> list[str]:
        """Client ids of the connections on ``name``'s port that sent their CONNECT."""
        with self.lock:
            return sorted(ns.client_id for ns in self.online[name] if ns.client_id is not None)

    def changed(self, name: str) -> None:
        """Publish who is connected on ``name``'s port (scheduled: called from a packet reader)."""
        if self.stopping:
            return  # connections closing at shutdown: nobody is left to tell, and no task may outlive the loop
        self.announcements.append(asyncio.ensure_future(self.announce(name)))
        self.announcements = [a for a in self.announcements if not a.done()]

    async def announce(self, name: str) -> None:
        topic, data = PRESENCE + name, json.dumps(self.client_ids(name)).encode()
        await self.broker.retain_message(None, topic, data, 0)
        await self.broker.internal_message_broadcast(topic, data, 0)

    async def shutdown(self) -> None:
        self.stopping = True
        for server in self.servers.values():
            server.close()
        for writer in list(self.writers):
            writer.transport.abort()  # also connections that never sent CONNECT
        await self.broker.shutdown()


def start_classroom(
    learners: str | Iterable[str],
    *,
    host: str = LOOPBACK,
    teacher_password: str | None = None,
    port: int = 0,
) -> Classroom:
    """Start a classroom broker on ``host``: one port per learner, one for the teacher.

    ``port=0`` picks free ports; otherwise the teacher listens on ``port`` and
    the learners on the ports after it, in the order given. A missing
    ``teacher_password`` is generated (``classroom.teacher_password``).
    """
    names = parse_learners(learners)
    password = teacher_password or secrets.token_urlsafe(9)
    silence_amqtt_logging()
    loop = _new_loop()
    loop.set_exception_handler(_ignore_loop_errors)
    thread = threading.Thread(target=loop.run_forever, name=BROKER_THREAD, daemon=True)
    thread.start()
    try:
        state, ports = _run(loop, _start(names, host, port, password), what=f"classroom start on {host}")
    except BaseException as exc:
        _close_loop(loop, thread)
        raise _start_error(host, port, exc) from exc
    shown = public_host(host)
    return Classroom(
        host=shown,
        teacher=BrokerHandle(kind="classroom", host=shown, port=ports[TEACHER_LISTENER]),
        learners={n: BrokerHandle(kind="classroom", host=shown, port=ports[_listener(n)]) for n in names},
        teacher_password=password,
        _loop=loop,
        _thread=thread,
        _state=state,
    )


async def _start(names: list[str], host: str, port: int, password: str) -> tuple[_State, dict[str, int]]:
    # Broker() must be built inside the running loop it will serve.
    state = _State(ClassroomBroker(classroom_config(names), password), online={n: [] for n in names})
    await state.broker.start()
    for name in names:
        await state.announce(name)  # everyone is listed, connected or not
    ports: dict[str, int] = {}
    try:
        for offset, listener in enumerate([TEACHER_LISTENER, *map(_listener, names)]):
            server = await asyncio.start_server(
                partial(state.serve, listener), host, port + offset if port else 0, reuse_address=True
            )
            state.servers[listener] = server
            ports[listener] = int(server.sockets[0].getsockname()[1])
    except BaseException:
        await state.shutdown()
        raise
    return state, ports


def public_host(host: str) -> str:
    """The address learners should use: ``host`` itself, unless it means "every interface"."""
    if host not in ("0.0.0.0", "::", ""):
        return host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # sends nothing: only asks which interface routes outwards
            return str(probe.getsockname()[0])
        except OSError:
            return socket.gethostname()


def _start_error(host: str, port: int, exc: BaseException) -> BrokerStartError:
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    where = f"{host}:{port}" if port else f"{host} (free ports)"
    if cause is not None and getattr(cause, "errno", None) == 98:
        return BrokerStartError(
            f"cannot start the classroom on {where}: a port is already in use "
            "(another broker is running there; stop it, or leave out --port to use free ports)"
        )
    return BrokerStartError(f"cannot start the classroom on {where}: {cause or exc}")
