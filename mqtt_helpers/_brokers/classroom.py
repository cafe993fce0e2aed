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
- the teacher's port is not rewritten: username ``teacher`` and the password
  get in, and see the real names ``learners/NAME/...`` and ``class/...``
  (publishing to exactly ``learners/NAME/``, an empty topic in NAME's
  namespace, closes the teacher's connection: no learner could receive it).
- the broker itself keeps a retained ``$SYS/classroom/learners/NAME`` message
  per learner: the JSON list of the client ids connected on their port (a
  ``$`` topic, so no ``#`` subscription receives it unasked; MQTT-4.7.2-1).
  Anyone may read it (names and client ids only); a learner's will cannot
  write it, because a will's ``$`` topic is namespaced too.

Every port, the teacher's too, is a :class:`~.front.Front` listener: each
packet is checked completely (:mod:`.mqtt311`) and credentials are decided
before amqtt sees the connection; the namespaces are :mod:`.namespace`. The
broker behind is one of two backends. The default, :class:`AmqttBackend`, is
:class:`~.amqtt_fixes.ConformantBroker`, fed through amqtt's public
``external_connected()``, with ``_authenticate`` overridden to admit only the
listeners the front already admitted (fail closed); it needs nothing installed
and serves about 90 learners. :class:`MosquittoBackend` (``broker="mosquitto"``)
forwards each checked, rewritten connection over TCP to a Mosquitto child
process on a private port (:mod:`.relay`): the same ports, front and
namespaces, for classes of 120 and more. Only MQTT 3.1.1 (protocol level 4) is
served; another level gets CONNACK 1.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import secrets
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from amqtt.session import Session

from mqtt_helpers._brokers import mqtt311
from mqtt_helpers._brokers.amqtt_fixes import ConformantBroker
from mqtt_helpers._brokers.front import Front, Limits, Rewriter
from mqtt_helpers._brokers.loop import BrokerLoop
from mqtt_helpers._brokers.mosquitto import mosquitto_binary, start_mosquitto
from mqtt_helpers._brokers.mqtt311 import Connect
from mqtt_helpers._brokers.namespace import LEARNER_ROOT, Namespace, TeacherRules
from mqtt_helpers._brokers.ports import start_error
from mqtt_helpers._brokers.relay import Announcer, Upstream, forward
from mqtt_helpers.handle import LOOPBACK, BrokerHandle, BrokerOptions, BrokerStartError

TEACHER = "teacher"
PRESENCE = "$SYS/classroom/learners/"
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
# amqtt requires a listener called "default"; here it is the teacher's.
TEACHER_LISTENER = "default"
LEARNER_LIMITS = Limits(max_connections=32)
"""A learner's port: a lesson opens a handful of clients at once; 32 leave room and stop one learner starving others."""
TEACHER_LIMITS = Limits(max_connections=64)
BROKERS = ("amqtt", "mosquitto")


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


# --- the broker ------------------------------------------------------------------


@dataclass
class Admission:
    """Who gets in where, decided by the front before any session: anyone on a learner's port, the teacher
    with the password on the teacher's; a listener nobody named admits nobody (fail closed)."""

    learner_listeners: set[str]
    teacher_password: str

    def admit(self, listener: str, connect: Connect) -> int:
        """The CONNACK code for ``connect`` on ``listener`` (0 admits)."""
        if listener in self.learner_listeners:
            return 0  # a learner's own port: anonymous by design, and namespaced
        if listener != TEACHER_LISTENER:
            return mqtt311.NOT_AUTHORIZED
        password_ok = hmac.compare_digest(connect.password or b"", self.teacher_password.encode())
        return 0 if connect.username == TEACHER.encode() and password_ok else mqtt311.NOT_AUTHORIZED


class ClassroomBroker(ConformantBroker):
    """The conformant broker, admitting only connections the front admitted: learners', and the teacher's."""

    def __init__(self, config: dict[str, Any], teacher_password: str) -> None:
        super().__init__(config)
        self._teacher_password = teacher_password

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        # A second check behind the front, failing closed like it.
        if any(listener is self.listeners_config[n] for n in self.listeners_config if n != TEACHER_LISTENER):
            return True
        password = (session.password or "").encode()
        return session.username == TEACHER and hmac.compare_digest(password, self._teacher_password.encode())


class AmqttBackend:
    """The embedded broker (the default: nothing to install): connections enter it through ``external_connected()``."""

    kind = "amqtt"

    def __init__(self, names: list[str], teacher_password: str) -> None:
        # Broker() must be built inside the running loop it will serve.
        self.broker = ClassroomBroker(classroom_config(names), teacher_password)

    async def start(self) -> None:
        await self.broker.start()

    def rewriter(self, rewriter: Rewriter) -> Rewriter:
        return rewriter

    async def serve(self, reader: Any, writer: Any, listener: str) -> None:
        await self.broker.external_connected(reader, writer, listener)

    async def announce(self, topic: str, data: bytes) -> None:
        await self.broker.retain_message(None, topic, data, 0)
        await self.broker.internal_message_broadcast(topic, data, 0)

    def alive(self) -> bool:
        return True

    async def shutdown(self) -> None:
        await self.broker.shutdown()

    def close(self) -> None:
        pass


MOSQUITTO_USER = "classroom"
MOSQUITTO_CONFIG = (
    "sys_interval 0",  # no $SYS statistics: they would tell every learner about the whole class
    "max_queued_messages 1000",  # per client, beyond those in flight: QoS 0 dropped, then QoS 1/2 (the default, pinned)
    "max_queued_bytes 4194304",  # and at most 4 MiB of them per client
    "memory_limit 1073741824",  # 1 GiB for the whole broker: past it Mosquitto refuses messages instead of swapping
    "persistent_client_expiration 1d",  # sessions saved for clients gone a whole day are dropped
    "set_tcp_nodelay true",  # deliveries leave at once (the front's sockets have TCP_NODELAY too)
)
MOSQUITTO_MISSING = (
    "--broker mosquitto needs Mosquitto, which is not installed: install it with `sudo apt-get install mosquitto` "
    "(Debian/Ubuntu), `brew install mosquitto` (macOS) or `conda install -c conda-forge mosquitto`; "
    "or leave out --broker to use the embedded broker (fine up to about 90 learners)"
)


class MosquittoBackend:
    """Mosquitto as a child process on a private 127.0.0.1 port; each admitted connection is forwarded to it.

    It admits only the user ``classroom`` with a generated password, which
    :class:`~.relay.Upstream` puts in every forwarded CONNECT; presence
    messages come over an :class:`~.relay.Announcer` connection.
    """

    kind = "mosquitto"

    def __init__(self) -> None:
        try:
            mosquitto_binary()
        except BrokerStartError:
            raise BrokerStartError(MOSQUITTO_MISSING) from None
        self.password = secrets.token_urlsafe(18)
        self.process = start_mosquitto(BrokerOptions(users={MOSQUITTO_USER: self.password}), MOSQUITTO_CONFIG)
        self.address = (self.process.host, self.process.port)
        self.announcer: Announcer | None = None

    async def start(self) -> None:
        self.announcer = Announcer(self.address, MOSQUITTO_USER.encode(), self.password.encode())
        await self.announcer.open()

    def rewriter(self, rewriter: Rewriter) -> Rewriter:
        return Upstream(rewriter, MOSQUITTO_USER.encode(), self.password.encode())

    async def serve(self, reader: Any, writer: Any, listener: str) -> None:
        await forward(reader, writer, self.address)

    async def announce(self, topic: str, data: bytes) -> None:
        assert self.announcer is not None, "started"
        self.announcer.publish(topic.encode(), data)

    def alive(self) -> bool:
        return self.announcer is None or not self.announcer.lost.is_set()

    async def shutdown(self) -> None:
        if self.announcer is not None:
            await self.announcer.close()

    def close(self) -> None:
        self.process.stop()


Backend = AmqttBackend | MosquittoBackend


def classroom_config(learners: list[str]) -> dict[str, Any]:
    """Every listener is 'external': the front accepts the connections and hands them to amqtt."""
    listeners = {TEACHER_LISTENER: {"type": "external"}} | {_listener(n): {"type": "external"} for n in learners}
    return {"listeners": listeners, "plugins": {}}  # no plugins: the front and _authenticate decide per listener


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
    _loop: BrokerLoop = field(repr=False)
    _state: _State = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def broker(self) -> str:
        """The broker behind the fronts: ``"amqtt"`` (embedded) or ``"mosquitto"`` (a child process)."""
        return self._state.backend.kind

    def alive(self) -> bool:
        """False once the broker behind the fronts has gone (Mosquitto exited)."""
        return self._state.backend.alive()

    def connected(self) -> dict[str, list[str]]:
        """Client ids of each learner's open connections (the same lists as the presence topics)."""
        return {name: self._state.client_ids(name) for name in self.learners}

    def stop(self) -> None:
        """Close every listener and connection, shut the broker down, end its thread."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._loop.run(self._state.shutdown(), what=f"classroom shutdown on {self.host}")
        finally:
            self._loop.close()
            self._state.backend.close()

    def __enter__(self) -> Classroom:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass
class _State:
    """What lives on the broker's loop: the broker, the front, who is connected where."""

    backend: Backend
    admission: Admission
    names: list[str]
    fronts: list[Front] = field(default_factory=list)
    online: dict[str, list[Namespace]] = field(default_factory=dict)
    announcements: list[asyncio.Future[None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: bool = False

    def rewriter(self, listener: str) -> Rewriter:
        """The rewriter of a new connection on ``listener``: a namespace for a learner's port."""
        if listener == TEACHER_LISTENER:
            return self.backend.rewriter(TeacherRules(self.names))
        return self.backend.rewriter(Namespace(listener.split("/", 1)[1]))

    async def connected(self, reader: Any, writer: Any, listener: str) -> None:
        """Run one admitted connection through the broker, listed on its learner's presence topic meanwhile."""
        namespace = getattr(reader, "rewriter", None)
        namespace = getattr(namespace, "inner", namespace)  # relay.Upstream wraps it
        if not isinstance(namespace, Namespace):
            await self.backend.serve(reader, writer, listener)
            return
        with self.lock:
            self.online[namespace.name].append(namespace)
        self.changed(namespace.name)
        try:
            await self.backend.serve(reader, writer, listener)
        finally:
            with self.lock:
                self.online[namespace.name].remove(namespace)
            self.changed(namespace.name)

    def client_ids(self, name: str) -> list[str]:
        """Client ids of the admitted connections on ``name``'s port."""
        with self.lock:
            return sorted(ns.client_id for ns in self.online[name] if ns.client_id is not None)

    def changed(self, name: str) -> None:
        """Publish who is connected on ``name``'s port (scheduled: called from a packet reader)."""
        if self.stopping:
            return  # connections closing at shutdown: nobody is left to tell, and no task may outlive the loop
        self.announcements.append(asyncio.ensure_future(self.announce(name)))
        self.announcements = [a for a in self.announcements if not a.done()]

    async def announce(self, name: str) -> None:
        await self.backend.announce(PRESENCE + name, json.dumps(self.client_ids(name)).encode())

    async def shutdown(self) -> None:
        self.stopping = True
        for front in self.fronts:
            await front.close()
        await self.backend.shutdown()


def start_classroom(
    learners: str | Iterable[str],
    *,
    host: str = LOOPBACK,
    teacher_password: str | None = None,
    port: int = 0,
    limits: Limits | None = None,
    broker: str = "amqtt",
) -> Classroom:
    """Start a classroom broker on ``host``: one port per learner, one for the teacher.

    ``port=0`` picks free ports; otherwise the teacher listens on ``port`` and
    the learners on the ports after it, in the order given. A missing
    ``teacher_password`` is generated (``classroom.teacher_password``).
    ``limits`` replaces every port's :class:`~.front.Limits` (tests use a short CONNECT timeout, no refusal delay).
    ``broker`` is the broker behind the fronts: ``"amqtt"`` (embedded, the default) or ``"mosquitto"``
    (a child process: needs Mosquitto installed; it serves large classes, see the README).
    """
    names = parse_learners(learners)
    if broker not in BROKERS:
        raise ValueError(f"unknown classroom broker {broker!r}: choose {' or '.join(BROKERS)}")
    password = teacher_password or secrets.token_urlsafe(9)
    mosquitto = MosquittoBackend() if broker == "mosquitto" else None  # blocking: before the loop
    loop = BrokerLoop()
    try:
        state, ports = loop.run(
            _start(names, host, port, password, limits, mosquitto), what=f"classroom start on {host}"
        )
    except BaseException as exc:
        loop.close()
        if mosquitto is not None:
            mosquitto.close()
        where = f"{host}:{port}" if port else f"{host} (free ports)"
        hint = "another broker is running there; stop it, or leave out --port to use free ports"
        raise start_error("the classroom", where, exc, hint=hint) from exc
    shown = public_host(host)
    return Classroom(
        host=shown,
        teacher=BrokerHandle(kind="classroom", host=shown, port=ports[TEACHER_LISTENER]),
        learners={n: BrokerHandle(kind="classroom", host=shown, port=ports[_listener(n)]) for n in names},
        teacher_password=password,
        _loop=loop,
        _state=state,
    )


async def _start(
    names: list[str], host: str, port: int, password: str, limits: Limits | None, mosquitto: MosquittoBackend | None
) -> tuple[_State, dict[str, int]]:
    backend = mosquitto or AmqttBackend(names, password)
    admission = Admission({_listener(n) for n in names}, password)
    state = _State(backend, admission, names, online={n: [] for n in names})
    await backend.start()
    for name in names:
        await state.announce(name)  # everyone is listed, connected or not
    teacher_front = Front(state.connected, admission.admit, limits or TEACHER_LIMITS, state.rewriter)
    learner_front = Front(state.connected, admission.admit, limits or LEARNER_LIMITS, state.rewriter)
    state.fronts = [teacher_front, learner_front]
    ports: dict[str, int] = {}
    try:
        for offset, listener in enumerate([TEACHER_LISTENER, *map(_listener, names)]):
            front = teacher_front if listener == TEACHER_LISTENER else learner_front
            ports[listener] = await front.listen(listener, host, port + offset if port else 0)
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
