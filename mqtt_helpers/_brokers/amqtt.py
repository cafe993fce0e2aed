"""The embedded amqtt broker, corrected by :mod:`.amqtt_fixes`, on its own asyncio loop in a daemon thread.

The kernel's own loop cannot host it: a blocking paho call in a cell would
freeze the broker it is waiting for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from mqtt_helpers._brokers.amqtt_fixes import ConformantBroker, conformance_config
from mqtt_helpers._brokers.certs import Certificates, make_certificates
from mqtt_helpers.handle import LOOPBACK, START_TIMEOUT, BrokerHandle, BrokerOptions, BrokerStartError

BROKER_THREAD = "amqtt-broker"


class AmqttBroker(BrokerHandle):
    """amqtt on a private event loop in a daemon thread."""

    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread
    _broker: Any
    _certs: Certificates | None
    _stopped: bool

    @classmethod
    def start(cls, options: BrokerOptions) -> AmqttBroker:
        silence_amqtt_logging()
        certs = make_certificates() if options.tls else None
        loop = _new_loop()
        loop.set_exception_handler(_ignore_loop_errors)
        thread = threading.Thread(target=loop.run_forever, name=BROKER_THREAD, daemon=True)
        thread.start()
        try:
            broker = _run(
                loop, _start_amqtt(amqtt_config(options, certs)), what=f"amqtt start on {LOOPBACK}:{options.port}"
            )
        except BaseException as exc:
            _close_loop(loop, thread)
            if certs is not None:
                certs.cleanup()
            raise _start_error(options, exc) from exc
        handle = cls(
            kind="amqtt",
            host=LOOPBACK,
            port=_listener_port(broker, "default"),
            tls_port=_listener_port(broker, "tls") if certs else None,
            ws_port=_listener_port(broker, "ws") if options.websockets else None,
            ca_file=certs.ca_file if certs else None,
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


def amqtt_config(options: BrokerOptions, certs: Certificates | None = None) -> dict[str, Any]:
    """The amqtt configuration for ``options``: listeners on loopback, auth as asked."""
    listeners: dict[str, Any] = {"default": {"type": "tcp", "bind": f"{LOOPBACK}:{options.port}"}}
    if certs is not None:
        listeners["tls"] = {
            "type": "tcp",
            "bind": f"{LOOPBACK}:0",
            "ssl": True,
            "certfile": str(certs.cert_file),
            "keyfile": str(certs.key_file),
        }
    if options.websockets:
        listeners["ws"] = {"type": "ws", "bind": f"{LOOPBACK}:0"}
    auth: dict[str, Any]
    if options.users:
        auth = {"mqtt_helpers._brokers.amqtt_auth.PasswordAuthPlugin": {"users": dict(options.users)}}
    else:
        auth = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
    return {"listeners": listeners, "plugins": auth}


async def _start_amqtt(config: dict[str, Any]) -> Any:
    # Broker() must be built inside the running loop it will serve.
    broker = ConformantBroker(conformance_config(config))
    await broker.start()
    return broker


def _run(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], *, what: str, timeout: float = START_TIMEOUT
) -> Any:
    """Run ``coro`` on the broker's loop and wait for it, at most ``timeout`` seconds."""
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result(timeout=timeout)
    # Before Python 3.11, concurrent.futures.TimeoutError is not the builtin TimeoutError: catch both.
    except (TimeoutError, concurrent.futures.TimeoutError):
        future.cancel()
        raise TimeoutError(f"{what} did not finish within {timeout:g} s") from None


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
    sockets = getattr(instance, "sockets", None) or list(instance.server.sockets)
    return int(sockets[0].getsockname()[1])


def _start_error(options: BrokerOptions, exc: BaseException) -> BrokerStartError:
    """Turn amqtt's start failure into a message that names the address and the cause."""
    where = f"{LOOPBACK}:{options.port}"
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
        return BrokerStartError(
            f"cannot start amqtt on {where}: the address is already in use "
            "(another broker is running there; stop it, or pass port=0 for a free port)"
        )
    return BrokerStartError(f"cannot start amqtt on {where}: {cause or exc}")


def _ignore_loop_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Keep amqtt's connection-reset tracebacks out of notebook cells."""
    logging.getLogger(__name__).debug("amqtt loop: %s", context.get("message"))


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
        import uvloop  # optional: not installed on Windows
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
