"""connect_client(): fast sockets and clear errors instead of hangs."""

from __future__ import annotations

import socket

import pytest

import mqtt_helpers
from mqtt_helpers import BrokerUnreachable, Inbox, WaitTimeout, close_client, connect_client, subscribe
from tests.helpers import new_client


def test_sets_tcp_nodelay(broker: mqtt_helpers.BrokerHandle) -> None:
    client = connect_client(broker)
    try:
        assert client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        close_client(client)


def test_session_present_flag_is_recorded(broker: mqtt_helpers.BrokerHandle) -> None:
    client = connect_client(broker, "flags-check")
    try:
        assert client.connect_flags.session_present is False
    finally:
        close_client(client)


def test_nothing_listening_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BrokerUnreachable, match=rf"127\.0\.0\.1:{port} \(connection refused.*start_broker"):
        connect_client(("127.0.0.1", port))


def test_a_silent_server_times_out_naming_the_connack() -> None:
    # A socket that accepts TCP but never speaks MQTT: the client must not hang.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(WaitTimeout, match=rf"0\.5 s waiting for the broker's CONNACK from 127\.0\.0\.1:{port}"):
            connect_client(("127.0.0.1", port), timeout=0.5)


def test_wildcard_publish_and_bad_payload_are_refused_by_paho() -> None:
    """paho's own checks, stated in notebook 02 (and the widgets' publish panel relies on them):
    they raise before anything is sent, so no broker is needed."""
    client = new_client()
    with pytest.raises(ValueError, match="wildcard"):
        client.publish("house/+/light", "on")
    with pytest.raises(TypeError, match="payload must be"):
        client.publish("house/light", {"state": "on"})  # type: ignore[arg-type]


def test_subscribe_waits_for_the_suback_and_keeps_the_users_callback(broker: mqtt_helpers.BrokerHandle) -> None:
    seen: list[int] = []
    inbox = Inbox()
    client = connect_client(broker, inbox=inbox)
    client.on_subscribe = lambda c, u, mid, codes, props: seen.append(mid)
    try:
        granted = subscribe(client, [("a/b", 2), ("a/c", 0)])
        assert [code.value for code in granted] == [2, 0]
        assert len(seen) == 1, "the on_subscribe the user set must still run"
        # The subscription is in place the moment subscribe() returns.
        client.publish("a/b", "right away", qos=0)
        assert inbox.wait(1)[0].payload == b"right away"
    finally:
        close_client(client)
