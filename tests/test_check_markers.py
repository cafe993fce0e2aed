"""The broker orderings that the self-checks of notebooks 06, 07 and 09 rely on to answer at once.

Section 4.6 of MQTT 3.1.1 orders only PUBLISH packets and their acknowledgements, per topic and QoS
([MQTT-4.6.0-6]). The checks prove that something did NOT happen by round-tripping a marker after it, which
needs more than that; these tests show that both brokers of the series give it, in bounded repeated rounds:

- notebook 09: a SUBACK comes before the PUBACK of a QoS 1 PUBLISH sent after the SUBSCRIBE on one connection,
  with both packets sent in one TCP segment;
- notebook 09: once a client has the PUBCOMP of its own QoS 2 message and then a marker's PUBACK, a QoS 0 or 1
  copy of that message has reached it (amqtt sends the PUBCOMP before the copy; a QoS 2 copy may still be in
  its own handshake then: on amqtt 18 of 100 rounds, which is why notebook 09 says so);
- notebook 07: over TLS, one publisher's QoS 1 messages reach a subscriber in the order they were sent, across
  topics, delivered at QoS 0 or 1 (the probe after "top secret"; a QoS 2 message is forwarded only at its PUBREL,
  so a later probe can overtake it: not tested, not relied on);
- notebook 09: over plain TCP, one client's QoS 1 messages reach another client in that order, across topics
  (the probe after the kitchen message);
- notebook 09: a SUBSCRIBE and a QoS 1 PUBLISH to the same topic in one TCP segment: the client gets its own
  copy, so the subscription was in before the PUBLISH was routed (`loyal` receives what it wrote offline);
- notebook 06, exercise 1: once a client's second QoS 1 marker is back (sent after paho handled the first one's
  PUBACK, so after on_connect returned), what on_connect published, and the will of the client's previous, broken
  connection, have reached a watcher and the retained store;
- notebook 06, exercise 2: a QoS 1 message queued for a persistent session while its client was away reaches the
  client, back, before its own sentinel on a sibling topic;
- notebook 06, exercise 2: a client's own message on alerts/sync (granted QoS 0 or 1) reaches it before the QoS 1
  marker it publishes next on another topic.
"""

from __future__ import annotations

import operator
import queue
import socket
from functools import partial

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_helpers import BrokerHandle, Inbox, close_client, connect_client, start_broker, subscribe, wait_for
from tests.helpers import connect_packet, raw_socket, read_packet, string

ROUNDS = 40


@pytest.mark.parametrize("marker", ["publish", "subscribe"])
def test_suback_before_a_later_marker_in_one_segment(broker: BrokerHandle, marker: str) -> None:
    subscribe_packet = b"\x82" + bytes([2 + 2 + 3 + 1]) + b"\x00\x01" + string(b"a/b") + b"\x01"
    if marker == "publish":  # QoS 1 PUBLISH, packet id 2, to a topic nobody subscribes to
        body = string(b"probe/x") + b"\x00\x02" + b"m"
        later = b"\x32" + bytes([len(body)]) + body
    else:
        body = b"\x00\x02" + string(b"probe/x") + b"\x01"
        later = b"\x82" + bytes([len(body)]) + body
    for n in range(ROUNDS):
        with raw_socket(broker.host, broker.port) as sock:
            sock.sendall(connect_packet(f"order{n % 3}".encode()))
            assert read_packet(sock)[:1] == b"\x20"
            sock.sendall(subscribe_packet + later)  # one write: one segment on loopback
            first, second = read_packet(sock), read_packet(sock)
            assert (first[0], first[2:4]) == (0x90, b"\x00\x01"), f"round {n}: {first.hex()} before the SUBACK"
            assert second[2:4] == b"\x00\x02"
            sock.sendall(b"\xe0\x00")


@pytest.mark.parametrize("granted", [0, 1])
def test_own_qos2_copy_is_in_after_pubcomp_and_a_marker(broker: BrokerHandle, granted: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, "copy-check")
    copies: list[bytes] = []
    acks: list[int] = []
    client.on_message = lambda c, u, message: copies.append(bytes(message.payload))
    client.on_publish = lambda c, u, mid, reason_code, properties: acks.append(mid)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        wait_for(client.is_connected, 5, what="the CONNACK")
        subscribe(client, "own/topic", qos=granted)
        for n in range(ROUNDS):
            for topic, payload, qos in [("own/topic", str(n), 2), ("probe/marker", "marker", 1)]:
                info = client.publish(topic, payload, qos=qos)  # the PUBCOMP, then the marker's PUBACK
                wait_for(partial(operator.contains, acks, info.mid), 5, what=f"the acknowledgement of {payload!r}")
            assert str(n).encode() in copies, f"round {n}: the copy came after the marker's PUBACK"
    finally:
        close_client(client)


@pytest.mark.parametrize("granted", [0, 1])
def test_tls_order_across_topics_and_qos(broker_kind: str, granted: int) -> None:
    with start_broker(broker_kind, tls=True) as tls_broker:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, "probe-check")
        messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        client.on_message = lambda c, u, message: messages.put(message)
        assert tls_broker.ca_file is not None
        assert tls_broker.tls_port is not None
        client.tls_set(ca_certs=str(tls_broker.ca_file))
        client.connect(tls_broker.host, tls_broker.tls_port)
        client.loop_start()
        try:
            wait_for(client.is_connected, 5, what="the CONNACK")
            subscribe(client, "exercise/secure", qos=granted)
            subscribe(client, "probe/secure", qos=1)
            for n in range(ROUNDS):
                client.publish("exercise/secure", str(n), qos=1)
                client.publish("probe/secure", str(n), qos=1)
                topics = [messages.get(timeout=5).topic, messages.get(timeout=5).topic]
                assert topics == ["exercise/secure", "probe/secure"], f"round {n}: {topics}"
        finally:
            close_client(client)


@pytest.mark.parametrize("granted", [0, 1])
def test_order_across_topics_between_two_clients(broker: BrokerHandle, granted: int) -> None:
    """Notebook 09's probe: `pub` publishes the kitchen message, then the probe, both at QoS 1; another client,
    subscribed to both topics over plain TCP, gets them in that order."""
    messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, "order-listener")
    listener.on_message = lambda c, u, message: messages.put(message)
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, "order-publisher")
    for client in (listener, publisher):
        client.connect(broker.host, broker.port)
        client.loop_start()
    try:
        wait_for(lambda: listener.is_connected() and publisher.is_connected(), 5, what="both CONNACKs")
        subscribe(listener, "rooms/kitchen", qos=granted)
        subscribe(listener, "probe/deaf09", qos=1)
        for n in range(ROUNDS):
            publisher.publish("rooms/kitchen", str(n), qos=1)
            publisher.publish("probe/deaf09", str(n), qos=1)
            got = [messages.get(timeout=5), messages.get(timeout=5)]
            assert [(m.topic, m.payload) for m in got] == [
                ("rooms/kitchen", str(n).encode()),
                ("probe/deaf09", str(n).encode()),
            ], f"round {n}"
    finally:
        close_client(listener)
        close_client(publisher)


def test_subscription_is_in_before_a_publish_that_follows_it(broker: BrokerHandle) -> None:
    """Notebook 09's `loyal`: a SUBSCRIBE and a QoS 1 PUBLISH to the same topic in one TCP segment; the broker adds
    the subscription first, so the client gets its own message back."""
    subscribe_packet = b"\x82" + bytes([2 + 2 + 3 + 1]) + b"\x00\x01" + string(b"a/b") + b"\x01"
    body = string(b"a/b") + b"\x00\x02" + b"m"
    publish_packet = b"\x32" + bytes([len(body)]) + body
    for n in range(ROUNDS):
        with raw_socket(broker.host, broker.port) as sock:
            sock.sendall(connect_packet(f"own{n % 3}".encode()))  # clean session: nothing left from the round before
            assert read_packet(sock)[:1] == b"\x20"
            sock.sendall(subscribe_packet + publish_packet)  # one write: one segment on loopback
            packets = [
                read_packet(sock) for _ in range(3)
            ]  # SUBACK, PUBACK and the copy, in an order no test here relies on
            kinds = sorted(packet[0] & 0xF0 for packet in packets)
            assert kinds == [0x30, 0x40, 0x90], f"round {n}: {[packet.hex() for packet in packets]}"
            copy = next(packet for packet in packets if packet[0] & 0xF0 == 0x30)
            assert (copy[2:7], copy[9:]) == (string(b"a/b"), b"m"), f"round {n}: {copy.hex()}"  # topic, payload
            sock.sendall(b"\xe0\x00")


def _retained(broker: BrokerHandle, topic: str) -> list[tuple[bytes, int]]:
    """What a new subscriber to `topic` finds retained there, once its own marker on another topic is back."""
    inbox = Inbox()
    looker = connect_client(broker, "gate-look", inbox=inbox)
    try:
        subscribe(looker, [(topic, 1), ("sync/gate-look", 1)])
        looker.publish("sync/gate-look", "marker", qos=1)
        inbox.wait(1, topic="sync/gate-look", timeout=5)
        return [(bytes(m.payload), m.qos) for m in inbox.drain(topic) if m.retain]
    finally:
        close_client(looker)


def test_gate_will_and_on_connect_publish_come_before_its_markers(broker: BrokerHandle) -> None:
    """Notebook 06, exercise 1: after gate's two QoS 1 markers (the second sent once the first's PUBACK was
    handled, so after on_connect returned), what on_connect published and the will of gate's broken connection
    have reached a watcher and the retained store. Per-topic order is the spec's; the rest is the brokers'."""
    status = "garden/gate/status"
    inbox = Inbox()
    watcher = connect_client(broker, "gate-watcher", inbox=inbox)
    subscribe(watcher, "garden/gate/#", qos=1)
    gate = mqtt.Client(CallbackAPIVersion.VERSION2, "gate06")
    gate.will_set(status, "offline", qos=1, retain=True)
    online = lambda client, *args: client.publish(status, "online", qos=1, retain=True)  # noqa: E731

    def settle(step: str) -> list[bytes]:
        wait_for(gate.is_connected, 5, what="gate's CONNACK")
        gate.publish(f"garden/gate/sync-{step}", qos=1).wait_for_publish(timeout=5)
        gate.publish(f"garden/gate/sync-{step}", qos=1)
        inbox.wait(2, topic=f"garden/gate/sync-{step}", timeout=5)
        return [bytes(m.payload) for m in inbox.drain(status)]

    try:
        for n in range(ROUNDS):
            gate.on_connect = online
            gate.connect(broker.host, broker.port)
            gate.loop_start()
            assert b"online" in settle("start"), f"round {n}: 'online' came after the markers"
            assert _retained(broker, status) == [(b"online", 1)], f"round {n}"
            gate.loop_stop()
            sock = gate.socket()
            assert isinstance(sock, socket.socket), f"round {n}: gate has no TCP socket"
            sock.shutdown(socket.SHUT_RDWR)  # gone without a DISCONNECT: the will is due
            gate.on_connect = None
            gate.reconnect()
            gate.loop_start()
            assert settle("gone") == [b"offline"], f"round {n}: the will came after the new connection's markers"
            assert _retained(broker, status) == [(b"offline", 1)], f"round {n}"
            gate.disconnect()
            gate.loop_stop()
    finally:
        close_client(gate)
        close_client(watcher)


@pytest.mark.parametrize("granted", [0, 1])
def test_own_sentinel_before_own_marker_on_another_topic(broker: BrokerHandle, granted: int) -> None:
    """Notebook 06, exercise 2: the owl's sentinel on alerts/sync (granted QoS 0 or 1) reaches it before the
    QoS 1 marker it publishes next on owl-check, a topic the spec does not order it with."""
    inbox = Inbox()
    owl = connect_client(broker, "night-owl-order", inbox=inbox)
    try:
        subscribe(owl, "alerts/#", qos=granted)
        subscribe(owl, "owl-check", qos=1)
        for n in range(ROUNDS):
            owl.publish("alerts/sync", str(n), qos=1)
            owl.publish("owl-check", str(n), qos=1)
            topics = [m.topic for m in inbox.wait(2, timeout=5)]
            assert topics == ["alerts/sync", "owl-check"], f"round {n}: {topics}"
    finally:
        close_client(owl)


def test_queued_message_before_own_sentinel_after_reconnect(broker: BrokerHandle) -> None:
    """Notebook 06, exercise 2: a QoS 1 alert queued for the owl's persistent session while it was away reaches
    it, once it is back, before its own sentinel on a sibling topic, sent once its on_connect's SUBACK is in."""
    publisher = connect_client(broker, "owl-queue-publisher")
    inbox = Inbox()
    owl = connect_client(broker, "night-owl-queue", clean_session=False, inbox=inbox)
    try:
        subscribe(owl, "alerts/#", qos=1)  # the persistent session keeps it while the owl is away
        for n in range(ROUNDS):
            close_client(owl)
            publisher.publish("alerts/smoke", str(n), qos=1).wait_for_publish(timeout=5)
            owl = connect_client(broker, "night-owl-queue", clean_session=False, inbox=inbox)
            subscribe(owl, "alerts/#", qos=1)  # as the learner's on_connect does
            owl.publish("alerts/sync", str(n), qos=1)
            got = [(m.topic, m.payload) for m in inbox.wait(2, timeout=5)]
            assert got == [("alerts/smoke", str(n).encode()), ("alerts/sync", str(n).encode())], f"round {n}: {got}"
    finally:
        close_client(owl)
        close_client(publisher)
