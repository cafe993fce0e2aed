"""Packet tracing of real paho clients, and the sequence diagrams drawn from it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from mqtt_helpers import BrokerHandle, Inbox, WaitTimeout, subscribe
from mqtt_helpers.client import set_nodelay
from mqtt_helpers.drawing import draw_sequence
from mqtt_helpers.tracing import (
    PUBLISH_FLOW,
    PacketEvent,
    PacketTracer,
    canonical_order,
    parse_log_line,
    render_text,
)
from scripts.make_diagrams import TOPIC, trace_flow
from tests.helpers import new_client

# --- parsing paho's log lines -----------------------------------------------------


def test_parse_sent_publish() -> None:
    event = parse_log_line("publisher", "Sending PUBLISH (d0, q1, r1, m7), 'b'house/bulb1'', ... (3 bytes)")
    assert event == PacketEvent("publisher", "sent", "PUBLISH", qos=1, mid=7, dup=False, retain=True, topic=TOPIC)
    assert str(event) == "publisher -> broker : PUBLISH (qos=1, retain=1)"


def test_parse_received_publish_with_dup() -> None:
    event = parse_log_line("subscriber", "Received PUBLISH (d1, q2, r0, m3), 'house/bulb1', ...  (2 bytes)")
    assert event is not None
    assert (event.direction, event.qos, event.mid, event.dup, event.retain, event.topic) == (
        "received",
        2,
        3,
        True,
        False,
        TOPIC,
    )
    assert event.line(mids=True) == "broker -> subscriber : PUBLISH (qos=2, dup=1, mid=3)"


@pytest.mark.parametrize(
    "line",
    [
        "Sending PUBLISH (d0, q0, r1, m2), 'b'house/bulb1'' (NULL payload)",
        "Sending PUBLISH (d0, q0, r1, m2), 'b'house/bulb1'', properties=[], ... (4 bytes)",
        "Received PUBLISH (d0, q0, r1, m0), 'house/bulb1', properties=[], ...  (4 bytes)",
    ],
)
def test_parse_publish_variants(line: str) -> None:
    event = parse_log_line("c", line)
    assert event is not None
    assert (event.packet, event.qos, event.retain, event.topic) == ("PUBLISH", 0, True, TOPIC)


def test_qos0_publish_shows_no_mid() -> None:
    event = parse_log_line("p", "Sending PUBLISH (d0, q0, r0, m1), 'b'a/b'', ... (1 bytes)")
    assert event is not None
    assert event.label(mids=True) == "PUBLISH (qos=0)"


@pytest.mark.parametrize(
    ("line", "direction", "packet", "mid"),
    [
        ("Received PUBACK (Mid: 1)", "received", "PUBACK", 1),
        ("Sending PUBACK (Mid: 12)", "sent", "PUBACK", 12),
        ("Received PUBREC (Mid: 3)", "received", "PUBREC", 3),
        ("Sending PUBREL (Mid: 3)", "sent", "PUBREL", 3),
        ("Received PUBREL (Mid: 2)", "received", "PUBREL", 2),
        ("Received PUBCOMP (Mid: 3)", "received", "PUBCOMP", 3),
        ("Sending SUBSCRIBE (d0, m4) [(b'house/#', 1)]", "sent", "SUBSCRIBE", 4),
        ("Received SUBACK", "received", "SUBACK", None),
        ("Sending UNSUBSCRIBE (d0, m5) [b'house/#']", "sent", "UNSUBSCRIBE", 5),
        ("Received UNSUBACK (Mid: 5)", "received", "UNSUBACK", 5),
        ("Sending PINGREQ", "sent", "PINGREQ", None),
        ("Received PINGRESP", "received", "PINGRESP", None),
        ("Sending DISCONNECT", "sent", "DISCONNECT", None),
        ("Sending CONNECT (u0, p0, wr0, wq0, wf0, c1, k60) client_id=b'P1'", "sent", "CONNECT", None),
    ],
)
def test_parse_control_packets(line: str, direction: str, packet: str, mid: int | None) -> None:
    event = parse_log_line("c", line)
    assert event is not None
    assert (event.direction, event.packet, event.mid) == (direction, packet, mid)


def test_parse_connack_session_present() -> None:
    event = parse_log_line("c", "Received CONNACK (1, 0)")
    assert event is not None
    assert event.session_present is True
    assert event.line() == "broker -> c : CONNACK (session_present=1)"


@pytest.mark.parametrize(
    "line",
    [
        "Client is not connected. Socket: None). Last known Connection State: MQTT_CS_DISCONNECTED",
        "Received malformed packet: nonsense",
        "Sending something else",
        "",
    ],
)
def test_other_log_lines_are_not_packets(line: str) -> None:
    assert parse_log_line("c", line) is None


# --- canonical order ----------------------------------------------------------------

QOS1_LINES = [
    ("publisher", "Sending PUBLISH (d0, q1, r0, m2), 'b'house/bulb1'', ... (2 bytes)"),
    ("subscriber", "Received PUBLISH (d0, q1, r0, m1), 'house/bulb1', ...  (2 bytes)"),
    ("subscriber", "Sending PUBACK (Mid: 1)"),
    ("publisher", "Received PUBACK (Mid: 2)"),
]
QOS1_TEXT = """\
publisher -> broker : PUBLISH (qos=1)
broker -> publisher : PUBACK
broker -> subscriber : PUBLISH (qos=1)
subscriber -> broker : PUBACK"""


def events_from(lines: list[tuple[str, str]]) -> list[PacketEvent]:
    parsed = [parse_log_line(name, line, seq) for seq, (name, line) in enumerate(lines, start=1)]
    return [e for e in parsed if e is not None]


def interleavings(lines: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """Every order of ``lines`` that keeps each client's own order and puts a send before its delivery."""
    for order in itertools.permutations(lines):
        per_client_ok = all(
            [line for line in order if line[0] == name] == [line for line in lines if line[0] == name]
            for name in {n for n, _ in lines}
        )
        if per_client_ok and order.index(lines[0]) < order.index(lines[1]):
            yield list(order)


def test_canonical_order_is_the_same_for_every_real_interleaving() -> None:
    orders = list(interleavings(QOS1_LINES))
    assert len(orders) == 3
    for lines in orders:
        assert render_text(canonical_order(events_from(lines), ["publisher", "subscriber"])) == QOS1_TEXT


def test_canonical_order_keeps_each_clients_order_and_filters() -> None:
    lines = [
        ("subscriber", "Sending SUBSCRIBE (d0, m1) [(b'house/bulb1', 1)]"),
        ("subscriber", "Received SUBACK"),
        *QOS1_LINES,
        ("publisher", "Sending DISCONNECT"),
    ]
    events = canonical_order(events_from(lines), ["publisher", "subscriber"])
    assert [e.packet for e in events][:2] == ["SUBSCRIBE", "SUBACK"]
    assert events[-1].packet == "DISCONNECT"
    flow = canonical_order(events_from(lines), ["publisher", "subscriber"], packets=PUBLISH_FLOW)
    assert render_text(flow) == QOS1_TEXT


def test_retained_copy_is_not_matched_to_a_later_publish() -> None:
    lines = [
        ("subscriber", "Received PUBLISH (d0, q0, r1, m0), 'house/bulb1', ...  (2 bytes)"),
        ("publisher", "Sending PUBLISH (d0, q0, r0, m1), 'b'house/bulb1'', ... (3 bytes)"),
        ("subscriber", "Received PUBLISH (d0, q0, r0, m0), 'house/bulb1', ...  (3 bytes)"),
    ]
    assert render_text(canonical_order(events_from(lines), ["publisher", "subscriber"])) == (
        "broker -> subscriber : PUBLISH (qos=0, retain=1)\n"
        "publisher -> broker : PUBLISH (qos=0)\n"
        "broker -> subscriber : PUBLISH (qos=0)"
    )


# --- the tracer ---------------------------------------------------------------------


def test_attach_keeps_the_previous_on_log() -> None:
    client = new_client("traced")
    seen: list[str] = []
    client.on_log = lambda c, u, level, buf: seen.append(buf)
    tracer = PacketTracer()
    tracer.attach(client, "publisher")
    client.on_log(client, None, mqtt.MQTT_LOG_DEBUG, "Sending PINGREQ")
    assert seen == ["Sending PINGREQ"]
    assert [str(e) for e in tracer.events] == ["publisher -> broker : PINGREQ"]


def test_broker_is_not_a_client_name() -> None:
    with pytest.raises(ValueError, match="broker"):
        PacketTracer().attach(new_client(), "broker")


def test_wait_for_times_out_with_what_was_recorded() -> None:
    tracer = PacketTracer()
    tracer.record("publisher", "Sending PINGREQ")
    with pytest.raises(WaitTimeout, match=r"PINGRESP received by publisher.*PINGREQ"):
        tracer.wait_for("PINGRESP", "publisher", direction="received", timeout=0.05)


# --- live flows on both brokers --------------------------------------------------------


@pytest.fixture
def traced(broker: BrokerHandle) -> Iterator[tuple[PacketTracer, mqtt.Client, mqtt.Client, Inbox]]:
    """A publisher and a subscriber (QoS 2 subscription to TOPIC), both traced, connect packets included."""
    tracer, inbox = PacketTracer(), Inbox()
    publisher, subscriber = new_client("tr-publisher"), new_client("tr-subscriber")
    subscriber.on_message = inbox.on_message
    for client, name in ((publisher, "publisher"), (subscriber, "subscriber")):
        tracer.attach(client, name)
        client.connect(broker.host, broker.port)
        set_nodelay(client)
        client.loop_start()
        tracer.wait_for("CONNACK", name)
    subscribe(subscriber, TOPIC, 2)
    yield tracer, publisher, subscriber, inbox
    for client in (publisher, subscriber):
        client.disconnect()
        client.loop_stop()


def side(tracer: PacketTracer, name: str) -> list[tuple[str, str, int | None]]:
    return [(e.direction, e.packet, e.qos) for e in tracer.events if e.client == name]


def test_connect_and_subscribe_are_traced(traced: tuple[PacketTracer, mqtt.Client, mqtt.Client, Inbox]) -> None:
    tracer = traced[0]
    assert [(d, p) for d, p, _ in side(tracer, "subscriber")] == [
        ("sent", "CONNECT"),
        ("received", "CONNACK"),
        ("sent", "SUBSCRIBE"),
        ("received", "SUBACK"),
    ]


def test_qos0_flow(traced: tuple[PacketTracer, mqtt.Client, mqtt.Client, Inbox]) -> None:
    tracer, publisher, _, inbox = traced
    trace_flow(tracer, publisher, inbox, 0)
    assert side(tracer, "publisher") == [("sent", "PUBLISH", 0)]
    assert side(tracer, "subscriber") == [("received", "PUBLISH", 0)]
    assert (
        render_text(tracer.canonical())
        == "publisher -> broker : PUBLISH (qos=0)\nbroker -> subscriber : PUBLISH (qos=0)"
    )


def test_qos1_flow(traced: tuple[PacketTracer, mqtt.Client, mqtt.Client, Inbox]) -> None:
    tracer, publisher, _, inbox = traced
    trace_flow(tracer, publisher, inbox, 1)
    assert side(tracer, "publisher") == [("sent", "PUBLISH", 1), ("received", "PUBACK", None)]
    assert side(tracer, "subscriber") == [("received", "PUBLISH", 1), ("sent", "PUBACK", None)]
    assert render_text(tracer.canonical()) == QOS1_TEXT


def test_qos2_flow(traced: tuple[PacketTracer, mqtt.Client, mqtt.Client, Inbox]) -> None:
    tracer, publisher, _, inbox = traced
    trace_flow(tracer, publisher, inbox, 2)
    assert side(tracer, "publisher") == [
        ("sent", "PUBLISH", 2),
        ("received", "PUBREC", None),
        ("sent", "PUBREL", None),
        ("received", "PUBCOMP", None),
    ]
    assert side(tracer, "subscriber") == [
        ("received", "PUBLISH", 2),
        ("sent", "PUBREC", None),
        ("received", "PUBREL", None),
        ("sent", "PUBCOMP", None),
    ]
    assert render_text(tracer.canonical()).splitlines() == [
        "publisher -> broker : PUBLISH (qos=2)",
        "broker -> publisher : PUBREC",
        "publisher -> broker : PUBREL",
        "broker -> publisher : PUBCOMP",
        "broker -> subscriber : PUBLISH (qos=2)",
        "subscriber -> broker : PUBREC",
        "broker -> subscriber : PUBREL",
        "subscriber -> broker : PUBCOMP",
    ]


def test_three_flows_in_a_row_render_flow_by_flow(traced: tuple[PacketTracer, mqtt.Client, mqtt.Client, Inbox]) -> None:
    tracer, publisher, _, inbox = traced
    tracer.clear()
    for qos in (0, 1, 2):
        publisher.publish(TOPIC, "ON", qos).wait_for_publish(5)
    inbox.wait(3)
    tracer.wait_for("PUBCOMP", "subscriber", direction="sent")
    packets = [(e.source, e.packet, e.qos) for e in tracer.canonical()]
    assert packets[:4] == [
        ("publisher", "PUBLISH", 0),
        ("broker", "PUBLISH", 0),
        ("publisher", "PUBLISH", 1),
        ("broker", "PUBACK", None),
    ]
    assert len(packets) == 2 + 4 + 8


# --- drawing --------------------------------------------------------------------------


def test_draw_sequence_has_one_arrow_and_label_per_event() -> None:
    events = canonical_order(events_from(QOS1_LINES), ["publisher", "subscriber"])
    diagram = draw_sequence(events, "QoS 1")
    assert diagram.lanes == ["publisher", "broker", "subscriber"]
    assert len(diagram.arrows) == 4
    assert diagram.labels == ["PUBLISH (qos=1)", "PUBACK", "PUBLISH (qos=1)", "PUBACK"]
    texts = [t.get_text() for t in diagram.figure.axes[0].texts]
    assert {"publisher", "broker", "subscriber", "PUBLISH (qos=1)", "PUBACK"} <= set(texts)
    assert diagram.figure.axes[0].get_title() == "QoS 1"
    assert repr(diagram) == "<SequenceDiagram 'QoS 1': publisher | broker | subscriber, 4 arrows>"


def test_save_writes_a_reproducible_png(tmp_path: Path) -> None:
    events = canonical_order(events_from(QOS1_LINES), ["publisher", "subscriber"])
    first = draw_sequence(events, "QoS 1").save(tmp_path / "a.png")
    second = draw_sequence(events, "QoS 1").save(tmp_path / "b.png")
    assert first.read_bytes().startswith(b"\x89PNG")
    assert first.stat().st_size > 1000
    assert first.read_bytes() == second.read_bytes(), "the PNG is not reproducible"


def test_save_refuses_other_formats(tmp_path: Path) -> None:
    diagram = draw_sequence(events_from(QOS1_LINES))
    with pytest.raises(ValueError, match=r"save as \.png, not 'flow\.svg'"):
        diagram.save(tmp_path / "flow.svg")
