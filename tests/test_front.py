"""The strict MQTT 3.1.1 front of every listener (mqtt_helpers/_brokers/front.py, mqtt311.py), on its own.

Raw bytes against the embedded broker's TCP, TLS and websockets listeners; a
hypothesis fuzz of one classroom learner's port; 10,000 refused CONNECTs with
memory measured. Absence is proven by a marker round trip (TestClient.sync),
and a close is waited for as the event it is (recv returning b""), never slept out.
"""

from __future__ import annotations

import gc
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from mqtt_helpers._brokers import mqtt311
from mqtt_helpers._brokers.amqtt import AmqttBroker
from mqtt_helpers._brokers.classroom import AmqttBackend, start_classroom
from mqtt_helpers._brokers.front import Limits, Throttle
from mqtt_helpers._brokers.loop import BROKER_THREAD
from mqtt_helpers._brokers.mqtt311 import MalformedPacket, encode_length
from mqtt_helpers.handle import BrokerHandle, BrokerOptions
from tests.helpers import TestClient, connect_packet, raw_socket, require, string, until_closed

TIMEOUT = 10.0
FUZZ_EXAMPLES = 300


def with_login(client_id: bytes, user: bytes, password: bytes) -> bytes:
    return connect_packet(client_id, flags=0xC2, extra=string(user) + string(password))


PINGREQ_WITH_BODY = b"\xc0\x05" + b"\xe0\x00" + b"\xc0\x00\x00"  # a PINGREQ whose body holds packets
CONNACK_OK = b"\x20\x02\x00\x00"


def raw(host: str, port: int) -> socket.socket:
    return raw_socket(host, port, TIMEOUT)


# --- the codec, without I/O -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "body", "clause"),
    [
        (0xC0, b"\x00", "PINGREQ with a body"),
        (0x40, b"\x00\x01\x00", "PUBACK of 3 bytes"),
        (0x40, b"\x00\x00", "packet identifier 0"),
        (0x62, b"", "PUBREL without its identifier"),
        (0x60, b"\x00\x01", "PUBREL flags 0000"),
        (0x30, string(b"a\x00b"), "U+0000 in a topic"),
        (0x30, string(b"\xed\xa0\x80"), "a UTF-16 surrogate in a topic"),
        (0x38, string(b"a"), "DUP on QoS 0"),
        (0x32, string(b"a"), "QoS 1 without its packet identifier"),
        (0x82, b"\x00\x01" + string(b"a/#/b") + b"\x00", "'#' not last"),
        (0x82, b"\x00\x01" + string(b"a+") + b"\x00", "'+' inside a level"),
        (0x82, b"\x00\x01" + string(b"a"), "a filter without its QoS"),
        (0x82, b"\x00\x01" + string(b"a") + b"\x40", "reserved bits in the requested QoS"),
        (0xA2, b"\x00\x01", "UNSUBSCRIBE without filters"),
        (0x90, b"\x00\x01\x00", "SUBACK from a client"),
        (0xD0, b"", "PINGRESP from a client"),
        (0x00, b"", "type 0"),
        (0xF0, b"", "type 15"),
    ],
)
def test_the_codec_refuses_every_violation(first: int, body: bytes, clause: str) -> None:
    with pytest.raises(MalformedPacket):
        mqtt311.parse(first, body)


@pytest.mark.parametrize(
    ("body", "clause"),
    [
        (string(b"MQTT") + b"\x04\x03\x00\x3c" + string(b"x"), "reserved CONNECT flag"),
        (string(b"MQTT") + b"\x04\x42\x00\x3c" + string(b"x") + string(b"pw"), "password without user name"),
        (string(b"MQTT") + b"\x04\x12\x00\x3c" + string(b"x"), "will QoS without a will"),
        (string(b"MQTT") + b"\x04\x02\x00\x3c" + string(b"x") + b"!", "bytes after the last field"),
        (string(b"MQXX") + b"\x04\x02\x00\x3c" + string(b"x"), "another protocol name"),
    ],
)
def test_the_codec_refuses_bad_connects(body: bytes, clause: str) -> None:
    with pytest.raises(MalformedPacket):
        mqtt311.parse_connect(0x10, body)


def test_the_codec_round_trips_a_connect_and_encodes_lengths_in_shortest_form() -> None:
    packet = with_login(b"id", b"user", b"\x00binary\xff")
    header, body, rest = mqtt311.split(packet) or (b"", b"", b"")
    assert rest == b""
    assert mqtt311.encode_connect(mqtt311.parse_connect(header[0], body)) == packet
    with pytest.raises(MalformedPacket, match="shortest"):
        mqtt311.decode_length(b"\x30\x80\x00")
    with pytest.raises(mqtt311.UnsupportedProtocol):
        mqtt311.parse_connect(0x10, string(b"MQTT") + b"\x05\x02\x00\x3c" + string(b"x"))
    assert mqtt311.connack(5, session_present=True) == b"\x20\x02\x00\x05", "a refusal says session-present 0"


# Valid packets a learner might send after CONNECT (the fuzz tests mutate them).
VALID = [
    b"\x30" + encode_length(len(string(b"learners/bob/diary") + b"x")) + string(b"learners/bob/diary") + b"x",
    b"\x33" + encode_length(len(string(b"a/b") + b"\x00\x05hi")) + string(b"a/b") + b"\x00\x05hi",
    b"\x82\x06\x00\x01" + string(b"#")[:3] + b"\x01",
    b"\xa2\x05\x00\x02" + string(b"#")[:3],
    b"\x40\x02\x00\x05",
    b"\x62\x02\x00\x05",
    b"\xc0\x00",
    b"\xe0\x00",
]


CODEC_EXAMPLES = 2000


@pytest.mark.slow
@settings(max_examples=CODEC_EXAMPLES, deadline=None, database=None)
@given(data=st.one_of(st.binary(max_size=64), st.builds(bytes.__add__, st.sampled_from(VALID), st.binary(max_size=8))))
def test_the_codec_accepts_only_what_it_can_re_encode_exactly(data: bytes) -> None:
    """Arbitrary bytes: the codec raises MalformedPacket or nothing; a packet it accepts re-encodes byte for byte."""
    try:
        whole = mqtt311.split(data)
        if whole is None:
            return
        header, body, _ = whole
        packet = mqtt311.parse_connect(header[0], body) if header[0] >> 4 == 1 else mqtt311.parse(header[0], body)
    except MalformedPacket:
        return
    if isinstance(packet, mqtt311.Connect):
        assert mqtt311.encode_connect(packet) == header + body
    else:
        assert mqtt311.packet(packet.kind, packet.flags, packet.body) == header + body


def test_repeated_refusals_from_one_address_wait_ever_longer() -> None:
    throttle = Throttle(0.25, ceiling=8.0, size=2)
    assert [throttle.refused("10.0.0.1") for _ in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert throttle.refused("10.0.0.2") == 0.25, "one address's refusals do not slow another's"
    throttle.admitted("10.0.0.1")
    assert throttle.delay("10.0.0.1") == 0.25
    for n in range(100):
        throttle.refused(f"10.0.1.{n}")
    assert len(throttle.failures) == 2, "the table stays bounded"


# --- the embedded broker: every listener behind the front ---------------------------------------


@pytest.fixture(scope="module")
def embedded() -> Iterator[AmqttBroker]:
    options = BrokerOptions(users={"alice": "s3cret"}, tls=True, websockets=True)
    broker = AmqttBroker.start(options, limits=Limits(connect_timeout=0.5, refusal_delay=0))
    yield broker
    broker.stop()


def tls_raw(broker: AmqttBroker) -> socket.socket:
    context = ssl.create_default_context(cafile=str(broker.ca_file))
    assert broker.tls_port is not None
    return context.wrap_socket(raw(broker.host, broker.tls_port), server_hostname=broker.host)


@pytest.mark.parametrize("listener", ["tcp", "tls"])
def test_embedded_listeners_close_a_smuggling_connection(embedded: AmqttBroker, listener: str) -> None:
    sock = raw(embedded.host, embedded.port) if listener == "tcp" else tls_raw(embedded)
    with sock:
        sock.sendall(with_login(b"smuggler", b"alice", b"s3cret"))
        assert sock.recv(4) == CONNACK_OK
        sock.sendall(PINGREQ_WITH_BODY)
        assert until_closed(sock) == b""


def test_embedded_websockets_listener_closes_a_smuggling_connection(embedded: AmqttBroker) -> None:
    url = f"ws://{embedded.host}:{embedded.ws_port}/"
    with ws_connect(url, subprotocols=["mqtt"], open_timeout=TIMEOUT) as ws:  # type: ignore[list-item]
        ws.send(with_login(b"smuggler", b"alice", b"s3cret"))
        assert ws.recv(timeout=TIMEOUT) == CONNACK_OK
        ws.send(PINGREQ_WITH_BODY)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=TIMEOUT)


def test_embedded_silent_connection_is_closed_at_the_connect_timeout(embedded: AmqttBroker) -> None:
    with raw(embedded.host, embedded.port) as sock:
        assert until_closed(sock) == b""


def test_embedded_refusal_touches_no_session(embedded: AmqttBroker) -> None:
    """A wrong password with a live client's id: CONNACK 5, session-present 0; the live client stays."""
    live = TestClient(embedded, "victim", clean_session=False, username="alice", password="s3cret")
    try:
        live.subscribe("house/#")
        with raw(embedded.host, embedded.port) as sock:
            sock.sendall(connect_packet(b"victim", flags=0xC0, extra=string(b"alice") + string(b"wrong")))
            assert until_closed(sock) == b"\x20\x02\x00\x05"
        live.sync()
        assert not live.dropped.is_set()
    finally:
        live.close()


# --- 10,000 refusals leave nothing behind ---------------------------------------------------------


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def refuse(address: tuple[str, int], count: int, prefix: bytes) -> None:
    """``count`` CONNECTs with a wrong password, each a new client id, 4 at a time."""

    def worker(offset: int) -> None:
        for n in range(offset, count, 4):
            with socket.create_connection(address, TIMEOUT) as sock:
                sock.settimeout(TIMEOUT)
                sock.sendall(with_login(prefix + str(n).encode(), b"teacher", b"wrong"))
                assert until_closed(sock) == b"\x20\x02\x00\x05"

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@contextmanager
def refusing_broker(kind: str) -> Iterator[tuple[tuple[str, int], Any]]:
    """(address, amqtt broker) of a port that refuses ``teacher``/``wrong`` with no slow-down."""
    limits = Limits(refusal_delay=0)
    if kind == "classroom teacher port":
        with start_classroom("alice,bob", limits=limits, broker="amqtt") as room:
            backend = room._state.backend
            assert isinstance(backend, AmqttBackend)  # the embedded broker's session table is what is measured
            yield (room.teacher.host, room.teacher.port), backend.broker
    else:
        broker = AmqttBroker.start(BrokerOptions(users={"teacher": "right"}), limits=limits)
        try:
            yield (broker.host, broker.port), broker._broker
        finally:
            broker.stop()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc (Linux)")
@pytest.mark.parametrize("kind", ["classroom teacher port", "embedded broker with users"])
def test_ten_thousand_refused_connects_leave_memory_flat(kind: str) -> None:
    with refusing_broker(kind) as (address, amqtt):
        refuse(address, 1000, b"learners/bob/warm")  # warm up: allocator pools, caches
        gc.collect()
        before, started = rss_kib(), time.monotonic()
        refuse(address, 10_000, b"learners/bob/victim")
        took = time.monotonic() - started
        gc.collect()
        after = rss_kib()
        sessions = len(amqtt._sessions)
    print(f"\n{kind}: 10,000 refusals in {took:.1f} s: RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB")
    assert sessions == 0, f"{sessions} sessions left behind by refused CONNECTs"
    assert after - before < 5 * 1024, f"RSS grew {(after - before) / 1024:.1f} MiB over 10,000 refusals"


# --- fuzz: one learner's arbitrary bytes stay in their namespace -------------------------------------


@st.composite
def mutated(draw: Any) -> bytes:
    """Valid packets (after a CONNECT, or the CONNECT itself) with bytes flipped, inserted, dropped or cut."""
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(VALID), min_size=1, max_size=4))))
    if draw(st.booleans()):
        data[:0] = connect_packet(b"fuzz", flags=draw(st.integers(0, 255)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if action == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 4))]
        else:
            del data[at:]
    return bytes(data)


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["amqtt", "mosquitto"])
def test_fuzzed_bytes_from_one_learner_reach_no_other_namespace(broker: str) -> None:
    require(broker)
    with start_classroom("alice,bob", limits=Limits(connect_timeout=2.0), broker=broker) as room:
        bob = TestClient(room.learners["bob"], "bob-hash")
        teacher = TestClient(room.teacher, "teacher-hash", username="teacher", password=room.teacher_password)
        try:
            bob.subscribe("#")
            teacher.subscribe("#")
            alice: BrokerHandle = room.learners["alice"]
            examples = 0

            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            )
            @given(
                first=st.one_of(st.just(connect_packet(b"fuzz")), st.binary(max_size=40)),
                rest=st.one_of(st.binary(max_size=200), mutated()),
            )
            def one_connection(first: bytes, rest: bytes) -> None:
                nonlocal examples
                examples += 1
                with raw(alice.host, alice.port) as sock:
                    sock.sendall(first + rest)
                    sock.shutdown(socket.SHUT_WR)  # the end of input: the broker must close, whatever it got
                    until_closed(sock)

            started = time.monotonic()
            one_connection()
            took = time.monotonic() - started
            bob.sync()
            teacher.sync()
            escaped = [t for t, _ in teacher.received() if not t.startswith(("learners/alice/", "class/"))]
            assert escaped == [] or all("/sync/" in t for t in escaped), escaped
            assert bob.received() == [], "a fuzzed packet reached bob's namespace"
            assert not bob.dropped.is_set()
            assert not teacher.dropped.is_set()
            print(f"\nfuzz: {examples} connections in {took:.1f} s")
        finally:
            bob.close()
            teacher.close()


def test_a_broker_quiets_only_its_own_log_records() -> None:
    """Starting a broker used to silence the websockets and transitions loggers for the whole kernel."""
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    names = ("websockets.server", "transitions.core", "asyncio")
    for name in names:
        logging.getLogger(name).addHandler(handler)
    try:
        with start_classroom("alice"):
            for name in names:
                logging.getLogger(name).warning("a learner's own %s record", name)
            broker_thread = threading.Thread(
                target=lambda: logging.getLogger("transitions.core").warning("broker chatter"), name=BROKER_THREAD
            )
            broker_thread.start()
            broker_thread.join()
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(handler)
    assert seen == [f"a learner's own {name} record" for name in names]
