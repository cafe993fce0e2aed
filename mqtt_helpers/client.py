"""paho clients made ready for a lesson: connected, looping, and quick to answer.

``connect_client()`` does what every lesson's set-up cell would repeat: make a VERSION2 client, connect it, start its
network thread, wait for the CONNACK, and turn a failure into an error that says what went wrong and what to do.
"""

from __future__ import annotations

import socket
import threading
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

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

    ``tls=True`` uses the broker's TLS listener and CA; ``transport="websockets"`` its websockets listener. ``inbox``
    receives every message. ``will`` is ``(topic, payload, qos, retain)``. The client's ``connect_flags`` attribute
    holds the CONNACK flags (``session_present``).
    """
    host, port = _address(broker, tls=tls, transport=transport)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id, clean_session=clean_session, transport=transport)
    client.connect_timeout = timeout
    if username is not None:
        client.username_pw_set(username, password)
    if tls:
        client.tls_set(ca_certs=str(getattr(broker, "ca_file", None) or ""))
    if will is not None:
        client.will_set(*will)
    if inbox is not None:
        client.on_message = inbox.on_message
    connacks: list[Any] = []  # the CONNACK's reason code, once it is in
    arrived = threading.Event()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        set_nodelay(client)  # again after every reconnect: a new socket
        client.connect_flags = flags  # type: ignore[attr-defined]  # for lessons: session_present
        connacks.append(reason)
        if reason.is_failure:  # stop now: paho would sleep before retrying, and loop_stop() wait ~1 s for it
            client.disconnect()
        arrived.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive)
    except OSError as exc:  # refused, timed out, no route...
        raise _unreachable(host, port, timeout, exc) from exc
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


def subscribe(client: mqtt.Client, topic: Topics, qos: int = 0, *, timeout: float = DEFAULT_TIMEOUT) -> list[Any]:
    """Subscribe and return the granted QoS reason codes once the SUBACK is in.

    ``client.subscribe()`` only sends the request: a message published right after it may reach the broker before
    the subscription does, and be lost. Any callback already set as ``on_subscribe`` still runs.
    """
    acks: dict[int, list[Any]] = {}
    arrived = threading.Condition()
    previous: Any = client.on_subscribe  # a VERSION2 callback: five arguments
    where = f"{client.host}:{client.port}"

    def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, codes: list[Any], properties: Any) -> None:
        with arrived:
            acks[mid] = codes
            arrived.notify_all()
        if previous is not None:
            previous(client, userdata, mid, codes, properties)

    client.on_subscribe = on_subscribe
    try:
        result, mid = client.subscribe(topic, qos)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionError(f"cannot subscribe to {topic!r}: {mqtt.error_string(result)} (is it connected?)")
        with arrived:
            if not arrived.wait_for(lambda: mid in acks, timeout):
                raise WaitTimeout(f"timed out after {timeout:g} s waiting for the SUBACK for {topic!r} from {where}")
    finally:
        client.on_subscribe = previous
    refused = [code for code in acks[mid] if code.is_failure]
    if refused:
        raise PermissionError(f"the broker at {where} refused the subscription {topic!r}: {refused}")
    return acks[mid]


def close_client(client: mqtt.Client) -> None:
    """Disconnect cleanly (no will is sent) and stop the network thread."""
    client.disconnect()
    client.loop_stop()


def set_nodelay(client: mqtt.Client) -> None:
    """Send small packets at once: without TCP_NODELAY, a QoS 1/2 handshake can
    stall ~40 ms on Linux waiting for the peer's delayed ACK."""
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


def _unreachable(host: str, port: int, timeout: float, exc: OSError) -> BrokerUnreachable:
    why = {
        ConnectionRefusedError: "connection refused: nothing listens there",
        TimeoutError: f"no answer within {timeout:g} s",
    }
    return BrokerUnreachable(
        f"cannot reach an MQTT broker at {host}:{port} ({why.get(type(exc), str(exc))}); "
        "start one with mqtt_helpers.start_broker() and use its .host and .port"
    )


def _explain(reason: Any) -> str:
    if any(word in str(reason).lower() for word in ("user", "password", "authori")):
        return f"{reason} (check the username and password given to username_pw_set)"
    return str(reason)
