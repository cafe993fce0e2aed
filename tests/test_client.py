"""connect_client() and subscribe(): fast sockets, clear errors instead of hangs, every SUBACK to its caller."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import mqtt_helpers
from mqtt_helpers import BrokerUnreachable, Inbox, WaitTimeout, close_client, connect_client, subscribe
from mqtt_helpers._brokers.ports import free_port


def test_sets_tcp_nodelay(broker: mqtt_helpers.BrokerHandle) -> None:
    client = connect_client(broker)
    try:
        sock = client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        close_client(client)


def test_nothing_listening_is_a_clear_error() -> None:
    port = free_port()
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
        # A callback set between two calls runs too (the next call puts its table in front of it again).
        later: list[int] = []
        client.on_subscribe = lambda c, u, mid, codes, props: later.append(mid)
        subscribe(client, "a/d", 1)
        assert len(later) == 1
        assert len(seen) == 1
    finally:
        close_client(client)


def test_overlapping_subscribes_each_get_their_suback(broker: mqtt_helpers.BrokerHandle) -> None:
    """Two calls in flight at once; the first returns before the second's SUBACK is read.

    The network loop is driven by hand, one packet per ``loop()``, so the order is fixed: both SUBSCRIBEs sent,
    then the first SUBACK read (and its caller returned), then the second.
    """
    client = connect_client(broker)
    client.loop_stop()
    tracer = mqtt_helpers.PacketTracer()
    tracer.attach(client, "client")
    results: dict[str, object] = {}

    def count(packet: str, direction: str) -> int:
        return sum(e.packet == packet and e.direction == direction for e in tracer.events)

    def read_subacks(total: int) -> None:
        """Run the network loop by hand until ``total`` SUBACKs were read (one packet per loop() at most)."""
        deadline = time.monotonic() + 10
        while count("SUBACK", "received") < total and time.monotonic() < deadline:
            client.loop(timeout=0.1)

    def call(name: str, topic: str) -> None:
        try:
            results[name] = [code.value for code in subscribe(client, topic, 1, timeout=10)]
        except Exception as exc:  # noqa: BLE001 - the test reports whatever the call raised
            results[name] = exc

    try:
        first = threading.Thread(target=call, args=("first", "a/1"))
        first.start()
        mqtt_helpers.wait_for(lambda: count("SUBSCRIBE", "sent") == 1, what="the first SUBSCRIBE")
        second = threading.Thread(target=call, args=("second", "a/2"))
        second.start()
        mqtt_helpers.wait_for(lambda: count("SUBSCRIBE", "sent") == 2, what="the second SUBSCRIBE")
        read_subacks(1)
        first.join(5)
        assert results.get("first") == [1]
        read_subacks(2)
        second.join(5)
        assert results.get("second") == [1]
    finally:
        close_client(client)
