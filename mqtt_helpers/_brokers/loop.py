"""The broker's own asyncio loop in a daemon thread: start it, run coroutines on it, stop it (one implementation).

The kernel's own loop cannot host a broker: a blocking paho call in a cell
would freeze the broker it is waiting for. Both the embedded broker and the
classroom run on a :class:`BrokerLoop`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from mqtt_helpers.handle import START_TIMEOUT

BROKER_THREAD = "amqtt-broker"
# Loggers whose records, when they come from the broker's thread, are the broker's chatter (connection resets,
# state machine steps): dropped there, kept from any other thread so a learner's own use of them still logs.
_BROKER_CHATTER = ("asyncio", "transitions.core", "websockets.server")


class BrokerLoop:
    """A new event loop (uvloop where installed) running in a daemon thread named ``amqtt-broker``."""

    def __init__(self) -> None:
        quiet_broker_logging()
        self.loop = _new_loop()
        self.loop.set_exception_handler(_ignore_loop_errors)
        self.thread = threading.Thread(target=self.loop.run_forever, name=BROKER_THREAD, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], *, what: str, timeout: float = START_TIMEOUT) -> Any:
        """Run ``coro`` on the loop and wait for it, at most ``timeout`` seconds (``what`` names it in the error)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout=timeout)
        # Before Python 3.11, concurrent.futures.TimeoutError is not the builtin TimeoutError: catch both.
        except (TimeoutError, concurrent.futures.TimeoutError):
            future.cancel()
            raise TimeoutError(f"{what} did not finish within {timeout:g} s") from None

    def close(self) -> None:
        """Cancel what is left on the loop, stop it and join its thread."""

        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            # Best effort: whatever the cancelled tasks raise, the loop is stopped next anyway.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(cancel_rest(), self.loop).result(timeout=START_TIMEOUT)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=START_TIMEOUT)
        if not self.thread.is_alive():
            self.loop.close()


def quiet_broker_logging() -> None:
    """Keep the broker's log lines out of notebook cells, without silencing anyone else's.

    amqtt's loggers are the broker's alone: raised above CRITICAL. asyncio, transitions and
    websockets are shared with the learner's kernel: only their records from the broker's thread
    are dropped.
    """
    amqtt_logger = logging.getLogger("amqtt")
    amqtt_logger.setLevel(logging.CRITICAL + 1)
    amqtt_logger.propagate = False
    for name in _BROKER_CHATTER:
        logger = logging.getLogger(name)
        if not any(isinstance(f, NotFromBrokerThread) for f in logger.filters):
            logger.addFilter(NotFromBrokerThread())


class NotFromBrokerThread(logging.Filter):
    """Drop records logged on the broker's thread; keep those of every other thread."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != BROKER_THREAD


def _ignore_loop_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Keep amqtt's connection-reset tracebacks out of notebook cells."""
    logging.getLogger(__name__).debug("broker loop: %s", context.get("message"))


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (Linux, macOS): amqtt spends much of each message in the event loop."""
    try:
        import uvloop  # optional: not installed on Windows
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
