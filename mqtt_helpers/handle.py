"""What ``start_broker()`` gives back: a handle saying where the broker listens, and how to stop it.

Shared by ``start_broker`` and the machinery behind it (``mqtt_helpers._brokers``): it imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0


class BrokerStartError(RuntimeError):
    """The broker could not start; the message says where and why."""


@dataclass
class BrokerOptions:
    """What a lesson asks of its broker, whichever broker runs."""

    port: int = 0
    users: Mapping[str, str] | None = None
    tls: bool = False
    websockets: bool = False


@dataclass
class BrokerHandle:
    """A running broker: where to connect, and how to stop it (also on leaving a ``with`` block).

    ``port`` is the plain MQTT listener; ``tls_port`` and ``ws_port`` are set when those listeners were asked
    for. ``ca_file`` is the CA certificate a client passes to ``tls_set(ca_certs=...)``.
    """

    kind: str
    host: str
    port: int
    tls_port: int | None = None
    ws_port: int | None = None
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        """The plain listener as ``mqtt://host:port``."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """``host:port`` of the plain listener, for messages."""
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop the broker; calling it again does nothing. (A broker somebody else runs is left alone.)"""

    def __enter__(self) -> BrokerHandle:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{self.kind} broker at {self.address}>"
