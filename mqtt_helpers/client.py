"""paho clients made ready for a lesson: connected, looping, and quick to answer.

``connect_client()`` does what every lesson's set-up cell would repeat: make a VERSION2 client, connect it, start its
network thread, wait for the CONNACK, and turn a failure into an error that says what went wrong and what to do.
``subscribe()`` waits for the SUBACK, so a message published next is not lost to a subscription still on its way.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any, Literal, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from mqtt_helpers.handle import BrokerHandle
from mqtt_helpers.waiting import DEFAULT_TIMEOUT, Inbox, WaitTimeout, wait_for

Topics = str | tuple[str, int] | list[tuple[str, int]]


class BrokerUnreachable(ConnectionError):
    """No broker answered at the address; the message says which and what to try."""


class ConnectionRefused(ConnectionError):
    """The broker answered with a failing CONNACK (bad password, not authorised, ...)."""


def connect_client(
    broker: BrokerHandle | tuple[str, int],
    client_id: str = "",
    *,
    clean_session: bool | None = None,
    keepalive: int = 60,
    username: str | None = None,
    password: str | None = None,
    tls: bool = False,
    transport: Literal["tcp", "websockets"] = "tcp",
    inbox: Inbox | None = None,
    will: tuple[str, str | bytes, int, bool] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> mqtt.Client:
    """Connect a new client to ``broker``, start its loop, and return it once the broker accepted it.

    ``tls=True`` uses the broker's TLS listener and trusts its CA (given a ``(host, port)`` address instead of a
    handle, the system's CAs). ``transport="websockets"`` uses its websockets listener. ``inbox`` receives every
    message. ``will`` is ``(topic, payload, qos, retain)``.
    """
    host, port = _address(broker, tls=tls, transport=transport)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id, clean_session=clean_session, transport=transport)
    client.connect_timeout = timeout
    if username is not None:
        client.username_pw_set(username, password)
    ca_file = broker.ca_file if isinstance(broker, BrokerHandle) else None
    if tls:
        client.tls_set(ca_certs=str(ca_file) if ca_file else None)  # None: paho loads the system's CAs
    if will is not None:
        client.will_set(*will)
    if inbox is not None:
        client.on_message = inbox.on_message
    connacks: list[ReasonCode] = []  # the CONNACK's reason code, once it is in
    arrived = threading.Event()

    def on_connect(
        client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason: ReasonCode, properties: Properties | None
    ) -> None:
        set_nodelay(client)  # again after every reconnect: a new socket
        connacks.append(reason)
        if reason.is_failure:  # stop now: paho would sleep before retrying, and loop_stop() wait ~1 s for it
            client.disconnect()
        arrived.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive)
    except OSError as exc:  # refused, timed out, no route, certificate not trusted...
        raise _unreachable(host, port, timeout, exc, ca_file) from exc
    set_nodelay(client)
    client.loop_start()
    try:
        wait_for(arrived, timeout, what=f"the broker's CONNACK from {host}:{port}")
    except WaitTimeout:
        close_client(client)
        raise
    if connacks[-1].is_failure:
        close_client(client)
        raise ConnectionRefused(f"the broker at {host}:{port} refused the connection: {_explain(connacks[-1])}")
    return client


def subscribe(
    client: mqtt.Client, topic: Topics, qos: int = 0, *, timeout: float = DEFAULT_TIMEOUT
) -> list[ReasonCode]:
    """Subscribe and return the granted QoS reason codes once the SUBACK is in.

    ``client.subscribe()`` only sends the request: a message published right after it may reach the broker before
    the subscription does, and be lost. Any callback already set as ``on_subscribe`` still runs.
    """
    acks = _Subacks.of(client)
    where = f"{client.host}:{client.port}"
    with acks.arrived:  # held until the mid is registered: its SUBACK cannot be handled before
        result, mid = client.subscribe(topic, qos)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionError(f"cannot subscribe to {topic!r}: {mqtt.error_string(result)} (is it connected?)")
        acks.pending[mid] = None
        try:
            if not acks.arrived.wait_for(lambda: acks.pending[mid] is not None, timeout):
                raise WaitTimeout(f"timed out after {timeout:g} s waiting for the SUBACK for {topic!r} from {where}")
            codes = acks.pending[mid] or []
        finally:
            del acks.pending[mid]
    refused = [code for code in codes if code.is_failure]
    if refused:
        raise PermissionError(f"the broker at {where} refused the subscription {topic!r}: {refused}")
    return codes


class _Subacks:
    """The one ``on_subscribe`` of a client that ``subscribe()`` used: it hands each SUBACK to the call waiting for
    its message id (overlapping calls each get theirs), then runs the callback that was set before it."""

    _installing = threading.Lock()

    def __init__(self, previous: mqtt.CallbackOnSubscribe | None) -> None:
        # a VERSION2 client (the series uses no other) calls on_subscribe with these five arguments
        self.previous = cast("mqtt.CallbackOnSubscribe_v2 | None", previous)
        self.arrived = threading.Condition()
        self.pending: dict[int, list[ReasonCode] | None] = {}  # mid -> reason codes, None until the SUBACK

    @classmethod
    def of(cls, client: mqtt.Client) -> _Subacks:
        """The client's table, installed as its ``on_subscribe`` (again, if the learner set another since)."""
        with cls._installing:
            current = client.on_subscribe
            if isinstance(current, _Subacks):
                return current
            table = cls(current)
            client.on_subscribe = table
            return table

    def __call__(
        self, client: mqtt.Client, userdata: Any, mid: int, codes: list[ReasonCode], properties: Properties | None
    ) -> None:
        with self.arrived:
            if mid in self.pending:
                self.pending[mid] = codes
                self.arrived.notify_all()
        if self.previous is not None:
            self.previous(client, userdata, mid, codes, properties)


def close_client(client: mqtt.Client) -> None:
    """Disconnect cleanly (no will is sent) and stop the network thread."""
    client.disconnect()
    client.loop_stop()


def set_nodelay(client: mqtt.Client) -> None:
    """Send small packets at once: without TCP_NODELAY, a QoS 1/2 handshake can stall ~40 ms on Linux waiting for
    the peer's delayed ACK."""
    sock = client.socket()
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _address(broker: BrokerHandle | tuple[str, int], *, tls: bool, transport: str) -> tuple[str, int]:
    if isinstance(broker, tuple):
        return broker
    port = broker.tls_port if tls else broker.ws_port if transport == "websockets" else broker.port
    if port is None:
        wanted = "tls=True" if tls else "websockets=True"
        raise ValueError(f"{broker!r} has no such listener: start it with start_broker({wanted})")
    return broker.host, port


def _unreachable(host: str, port: int, timeout: float, exc: OSError, ca_file: object) -> BrokerUnreachable:
    if isinstance(exc, ssl.SSLCertVerificationError):
        trusted = f"the CA in {ca_file}" if ca_file else "the system's CAs"
        return BrokerUnreachable(
            f"the TLS broker at {host}:{port} sent a certificate that {trusted} did not verify ({exc.verify_message}); "
            "pass the handle start_broker(tls=True) returned, which carries its CA, instead of (host, port)"
        )
    why = {
        ConnectionRefusedError: "connection refused: nothing listens there",
        TimeoutError: f"no answer within {timeout:g} s",
    }
    return BrokerUnreachable(
        f"cannot reach an MQTT broker at {host}:{port} ({why.get(type(exc), str(exc))}); "
        "start one with mqtt_helpers.start_broker() and use its .host and .port"
    )


def _explain(reason: ReasonCode) -> str:
    if any(word in str(reason).lower() for word in ("user", "password", "authori")):
        return f"{reason} (check the username and password given to username_pw_set)"
    return str(reason)
