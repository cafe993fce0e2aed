"""Start a local MQTT broker for a lesson, a test or a benchmark with one call.

``start_broker()`` picks the broker from its ``kind`` argument or, when that is
not given, from the ``MQTT_STUDY_BROKER`` environment variable:

- ``amqtt`` (default): the pure-Python broker, corrected by
  :mod:`mqtt_helpers.amqtt_fixes`, running on its own asyncio loop in a daemon
  thread of this process. It starts in milliseconds and needs nothing but pip.
- ``mosquitto``: the reference broker, run as a child process
  (see :mod:`mqtt_helpers.mosquitto`).
- ``mqtt://HOST:PORT``: a broker somebody else runs (a classroom broker); the
  handle only points at it. Asked for users, TLS or websockets, which that
  broker may not have, ``start_broker`` starts a private amqtt broker instead.

Every broker the helpers start listens on 127.0.0.1 only, on a free port.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

BROKER_ENV = "MQTT_STUDY_BROKER"
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0
KINDS = ("amqtt", "mosquitto")
BROKER_THREAD = "amqtt-broker"


class BrokerStartError(RuntimeError):
    """The broker could not start; the message says where and why."""


@dataclass
class BrokerOptions:
    """What a lesson asks of its broker, independent of which broker runs."""

    host: str = LOOPBACK
    port: int = 0
    users: Mapping[str, str] | None = None
    tls: bool = False
    websockets: bool = False

    @property
    def anonymous(self) -> bool:
        """Anonymous access is on exactly when no users were given."""
        return not self.users


@dataclass
class BrokerHandle:
    """A running broker: where to connect, and how to stop it.

    ``port`` is the plain MQTT listener; ``tls_port`` and ``ws_port`` are set
    when those listeners were asked for. ``ca_file`` is the CA certificate a
    client passes to ``tls_set(ca_certs=...)``. ``stop()`` is idempotent, and
    the handle is a context manager that stops the broker on exit.
    """

    kind: str
    host: str
    port: int
    tls_port: int | None = None
    ws_port: int | None = None
    ca_file: Path | None = None
    users: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The plain listener as ``mqtt://host:port``."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """``host:port`` of the plain listener, for messages."""
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop the broker; calling it again does nothing."""

    def __enter__(self) -> BrokerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{self.kind} broker at {self.address}>"


def start_broker(
    kind: str | None = None,
    *,
    port: int = 0,
    users: Mapping[str, str] | None = None,
    tls: bool = False,
    websockets: bool = False,
    process: bool = False,
) -> BrokerHandle:
    """Start a broker on 127.0.0.1 and return its handle once it accepts connections.

    ``kind`` overrides ``MQTT_STUDY_BROKER``. ``port=0`` (the default) picks a
    free port. ``users`` (name -> password) turns anonymous access off.
    ``tls=True`` adds a TLS listener with certificates made on the fly;
    ``websockets=True`` adds an MQTT-over-websockets listener.
    ``process=True`` runs amqtt in a child process rather than a thread:
    slower to start, faster under load (see README, Performance).
    With ``mqtt://HOST:PORT``, a request for ``users``, ``tls`` or
    ``websockets`` starts a private embedded broker instead (a shared broker
    cannot change for one lesson); ``handle.kind`` then says ``amqtt``.
    """
    chosen = resolve_kind(kind)
    options = BrokerOptions(port=port, users=users, tls=tls, websockets=websockets)
    if chosen.startswith("mqtt://"):
        if not (users or tls or websockets):
            return external_broker(chosen)
        # A broker somebody else runs cannot grow users, TLS or websockets for one lesson:
        # such a request gets a private embedded broker on this machine instead.
        chosen = "amqtt"
    if chosen == "mosquitto":
        from mqtt_helpers.mosquitto import start_mosquitto

        return start_mosquitto(options)
    if process:
        from mqtt_helpers.amqtt_process import start_amqtt_process

        return start_amqtt_process(options)
    return AmqttBroker.start(options)


def resolve_kind(kind: str | None) -> str:
    """Return the broker kind to use: the argument, else the environment, else amqtt."""
    chosen = (kind or os.environ.get(BROKER_ENV) or "amqtt").strip()
    if chosen in KINDS or chosen.startswith("mqtt://"):
        return chosen
    raise ValueError(
        f"unknown broker {chosen!r} (from {'the kind argument' if kind else BROKER_ENV}): "
        "use 'amqtt', 'mosquitto' or 'mqtt://HOST:PORT'"
    )


def external_broker(url: str) -> BrokerHandle:
    """Point at a broker that is already running; ``stop()`` leaves it alone."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host: write it as mqtt://HOST:PORT")
    return BrokerHandle(kind="external", host=parts.hostname, port=parts.port or 1883)


def amqtt_config(options: BrokerOptions, certs: Any | None = None) -> dict[str, Any]:
    """The amqtt configuration for ``options``: listeners on loopback, auth as asked."""
    listeners: dict[str, Any] = {
        "default": {"type": "tcp", "bind": f"{options.host}:{options.port}"},
    }
    if certs is not None:
        listeners["tls"] = {
            "type": "tcp",
            "bind": f"{options.host}:0",
            "ssl": True,
            "certfile": str(certs.cert_file),
            "keyfile": str(certs.key_file),
        }
    if options.websockets:
        listeners["ws"] = {"type": "ws", "bind": f"{options.host}:0"}
    auth: dict[str, Any]
    if options.anonymous:
        auth = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
    else:
        auth = {"mqtt_helpers.amqtt_auth.PasswordAuthPlugin": {"users": dict(options.users or {})}}
    return {"listeners": listeners, "plugins": auth}


class AmqttBroker(BrokerHandle):
    """amqtt on a private event loop in a daemon thread.

    The kernel's own loop cannot host it: a blocking paho call in a cell would
    freeze the broker it is waiting for.
    """

    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread
    _broker: Any
    _certs: Any | None
    _stopped: bool

    @classmethod
    def start(cls, options: BrokerOptions) -> AmqttBroker:
        silence_amqtt_logging()
        certs = None
        if options.tls:
            from mqtt_helpers.certs import make_certificates

            certs = make_certificates()
        loop = _new_loop()
        loop.set_exception_handler(_ignore_loop_errors)
        thread = threading.Thread(target=loop.run_forever, name=BROKER_THREAD, daemon=True)
        thread.start()
        config = amqtt_config(options, certs)
        try:
            broker = _run(loop, _start_amqtt(config), what=f"amqtt start on {options.host}:{options.port}")
        except BaseException as exc:
            _close_loop(loop, thread)
            if certs is not None:
                certs.cleanup()
            raise _start_error(options, exc) from exc
        handle = cls(
            kind="amqtt",
            host=options.host,
            port=_listener_port(broker, "default"),
            tls_port=_listener_port(broker, "tls") if certs else None,
            ws_port=_listener_port(broker, "ws") if options.websockets else None,
            ca_file=certs.ca_file if certs else None,
            users=dict(options.users or {}),
        )
        handle._loop, handle._thread, handle._broker = loop, thread, broker
        handle._certs, handle._stopped = certs, False
        return handle

    def stop(self) -> None:
        """Shut amqtt down, end its loop and thread, and delete the certificates."""
        if self._stopped:
            return
        self._stopped = True
        try:
            _run(self._loop, self._broker.shutdown(), what=f"amqtt shutdown at {self.address}")
        finally:
            _close_loop(self._loop, self._thread)
            if self._certs is not None:
                self._certs.cleanup()


async def _start_amqtt(config: dict[str, Any]) -> Any:
    # Broker() must be built inside the running loop it will serve.
    from mqtt_helpers.amqtt_fixes import ConformantBroker, conformance_config

    broker = ConformantBroker(conformance_config(config))
    await broker.start()
    return broker


def _run(loop: asyncio.AbstractEventLoop, coro: Any, *, what: str) -> Any:
    """Run ``coro`` on the broker's loop and wait for it, bounded by START_TIMEOUT."""
    future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result(timeout=START_TIMEOUT)
    except TimeoutError:
        future.cancel()
        raise TimeoutError(f"{what} did not finish within {START_TIMEOUT:g} s") from None


def _close_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """Cancel what is left on the loop, stop it and join its thread."""

    async def cancel_rest() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    if loop.is_running():
        try:
            asyncio.run_coroutine_threadsafe(cancel_rest(), loop).result(timeout=START_TIMEOUT)
        except Exception:  # noqa: BLE001 - best effort; the loop is stopped next anyway
            pass
        loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=START_TIMEOUT)
    if not thread.is_alive():
        loop.close()


def _listener_port(broker: Any, name: str) -> int:
    """The port the OS gave a listener bound to port 0."""
    instance = broker._servers[name].instance
    sockets = getattr(instance, "sockets", None) or [s for s in instance.server.sockets]
    return int(sockets[0].getsockname()[1])


def _start_error(options: BrokerOptions, exc: BaseException) -> BrokerStartError:
    """Turn amqtt's start failure into a message that names the address and the cause."""
    where = f"{options.host}:{options.port}"
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None and getattr(cause, "errno", None) == 98:
        return BrokerStartError(
            f"cannot start amqtt on {where}: the address is already in use "
            "(another broker is running there; stop it, or pass port=0 for a free port)"
        )
    return BrokerStartError(f"cannot start amqtt on {where}: {cause or exc}")


def _ignore_loop_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Keep amqtt's connection-reset tracebacks out of notebook cells."""
    logging.getLogger("mqtt_helpers.broker").debug("amqtt loop: %s", context.get("message"))


def silence_amqtt_logging() -> None:
    """amqtt logs every connection at INFO and stray errors at ERROR: keep cells clean."""
    for name in ("amqtt", "transitions", "websockets"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False
    asyncio_logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _NotFromBrokerThread) for f in asyncio_logger.filters):
        asyncio_logger.addFilter(_NotFromBrokerThread())


class _NotFromBrokerThread(logging.Filter):
    """Drop asyncio's warnings about the broker's own sockets (e.g. writes to a client
    that just vanished), but keep those of any other event loop in the process."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != BROKER_THREAD


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (Linux, macOS): amqtt spends much of each message in the event loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
