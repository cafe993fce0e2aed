"""Ports on this machine: a free one, whether one accepts connections, and the error when one is taken.

Every broker start and the tests use these (one implementation each). Learners need not read it.
"""

from __future__ import annotations

import errno
import socket

from mqtt_helpers.handle import LOOPBACK, BrokerStartError


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (for a program that cannot report the port a port-0 bind got)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def bindable(host: str, port: int) -> bool:
    """Whether a listener could bind ``port`` now (someone else listening there would answer in its place)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``host:port`` within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def os_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (itself, or the first along its causes and contexts), if any."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    return cause


IN_USE_HINT = "another broker is running there; stop it, or pass port=0 for a free port"


def start_error(what: str, where: str, exc: BaseException, *, hint: str = IN_USE_HINT) -> BrokerStartError:
    """Why ``what`` (e.g. "amqtt") could not start on ``where`` (host:port), in words that say what to do.

    A port in use is recognised by ``errno.EADDRINUSE`` (its number differs between operating systems).
    """
    cause = os_error(exc)
    if cause is not None and cause.errno == errno.EADDRINUSE:
        return in_use(what, where, hint=hint)
    return BrokerStartError(f"cannot start {what} on {where}: {cause or exc}")


def in_use(what: str, where: str, *, hint: str = IN_USE_HINT) -> BrokerStartError:
    """The error for a port someone else listens on; ``hint`` says what to do about it."""
    return BrokerStartError(f"cannot start {what} on {where}: the address is already in use ({hint})")
