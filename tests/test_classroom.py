"""The classroom broker on loopback: each learner private, class/ shared, the teacher sees all.

Absence ("nothing else arrived") is never waited out: a client round-trips a
marker through the broker (``TestClient.sync``), and whatever the broker routed to
it before the marker has arrived by the time the marker does. Where another
learner's message must be absent, the teacher first receives it, which proves
the broker already routed it.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_helpers import BrokerHandle, ConnectionRefused, close_client, connect_client, start_broker, wait_for
from mqtt_helpers._brokers import mqtt311
from mqtt_helpers._brokers.classroom import BROKERS, parse_learners, public_host, start_classroom
from mqtt_helpers._brokers.front import Limits
from mqtt_helpers._brokers.mqtt311 import Packet, encode_length
from mqtt_helpers._brokers.namespace import Namespace
from mqtt_helpers.classroom import Classroom
from mqtt_helpers.handle import BrokerStartError
from tests.helpers import TestClient, accepts, connect_packet, other_loopback, raw_socket, require, string, until_closed

TIMEOUT = 10.0  # 30 learners at once on a busy 2-core machine
PASSWORD = "chalk"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=BROKERS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each classroom test runs on both brokers behind the front: the embedded amqtt and Mosquitto."""
    require(request.param)
    return str(request.param)


@pytest.fixture
def classroom(backend: str) -> Iterator[Classroom]:
    with start_classroom(["alice", "bob"], teacher_password=PASSWORD, broker=backend) as room:
        yield room


@pytest.fixture
def people() -> Iterator[Any]:
    """``people(handle, client_id, ...)`` makes a TestClient closed after the test."""
    made: list[TestClient] = []

    def make(broker: BrokerHandle, client_id: str, **kwargs: Any) -> TestClient:
        made.append(TestClient(broker, client_id, **kwargs))
        return made[-1]

    yield make
    for person in made:
        person.close()


def teacher_of(room: Classroom, people: Any) -> TestClient:
    learner: TestClient = people(room.teacher, "teacher-view", username="teacher", password=room.teacher_password)
    return learner


# --- a whole class at once ---------------------------------------------------------


def run_notebook_00(handle: BrokerHandle, name: str) -> tuple[TestClient, TestClient]:
    """Notebook 00's exchange, as a learner would type it: P1 echo, then switch -> bulb1."""
    p1 = TestClient(handle, "P1")
    p1.subscribe("house/bulbs/bulb1")
    p1.publish("house/bulbs/bulb1", f"OFF {name}")
    p1.sync()  # the echo is in (the notebook waits for it too) before bulb1 subscribes
    bulb = TestClient(handle, "bulb1")
    bulb.subscribe("house/bulbs/bulb1")
    switch = TestClient(handle, "switch")
    for state in ("ON", "OFF", "ON"):
        switch.publish("house/bulbs/bulb1", f"{state} {name}")
    switch.close()
    return p1, bulb


def test_thirty_learners_with_the_same_ids_and_topics_each_get_exactly_their_own(backend: str) -> None:
    names = [f"learner{i:02d}" for i in range(30)]
    with start_classroom(names, teacher_password=PASSWORD, broker=backend) as room:
        teacher = TestClient(room.teacher, "teacher", username="teacher", password=PASSWORD)
        teacher.subscribe("learners/+/house/#")
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            pairs = dict(zip(names, pool.map(lambda n: run_notebook_00(room.learners[n], n), names), strict=False))
        try:
            # the teacher sees every learner's 4 messages, under their real names
            seen = teacher.inbox.wait(4 * len(names), timeout=TIMEOUT)
            assert sorted((m.topic, m.payload) for m in seen) == sorted(
                (f"learners/{n}/house/bulbs/bulb1", f"{s} {n}".encode())
                for n in names
                for s in ("OFF", "ON", "OFF", "ON")
            )
            for name, (p1, bulb) in pairs.items():
                p1.sync()
                bulb.sync()
                own = [("house/bulbs/bulb1", f"{s} {name}".encode()) for s in ("ON", "OFF", "ON")]
                assert p1.received() == [("house/bulbs/bulb1", f"OFF {name}".encode()), *own], name
                assert bulb.received() == own, name
                assert not p1.dropped.is_set(), f"{name}'s client was kicked"
                assert not bulb.dropped.is_set(), f"{name}'s client was kicked"
            # (each switch has left; its connection may still be closing)
            assert all({"P1", "bulb1"} <= set(ids) for ids in room.connected().values()), room.connected()
        finally:
            for p1, bulb in pairs.values():
                p1.close()
                bulb.close()
            teacher.close()


# --- isolation ---------------------------------------------------------------------------


def test_same_client_id_in_two_namespaces_does_not_kick(classroom: Classroom, people: Any) -> None:
    alice = people(classroom.learners["alice"], "P1")
    bob = people(classroom.learners["bob"], "P1")
    alice.sync()
    bob.sync()
    assert not alice.dropped.is_set()
    assert not bob.dropped.is_set()
    # within one namespace, the same id still takes over, as MQTT says [MQTT-3.1.4-2]
    people(classroom.learners["alice"], "P1")
    wait_for(alice.dropped, TIMEOUT, what="alice's first P1 to be taken over")
    assert not bob.dropped.is_set()


def test_wildcards_and_learners_topics_show_only_your_own(classroom: Classroom, people: Any, backend: str) -> None:
    teacher = teacher_of(classroom, people)
    teacher.subscribe("learners/#")
    alice = people(classroom.learners["alice"], "P1")
    bob = people(classroom.learners["bob"], "P1")
    bob.subscribe("#", "learners/#", "+/#")
    alice.publish("house/a", "alice's")
    bob.publish("learners/alice/house/a", "bob pretending")  # lands in bob's own namespace
    teacher.publish("learners/alice/house/t", "for alice")
    assert sorted((m.topic, m.payload) for m in teacher.inbox.wait(3, timeout=TIMEOUT)) == [
        ("learners/alice/house/a", b"alice's"),
        ("learners/alice/house/t", b"for alice"),
        ("learners/bob/learners/alice/house/a", b"bob pretending"),
    ]
    bob.sync()
    # Overlapping subscriptions: amqtt sends a copy per matching filter, Mosquitto one (both allowed, §3.3.5)
    copies = 3 if backend == "amqtt" else 1
    assert bob.received() == [("learners/alice/house/a", b"bob pretending")] * copies


def test_teacher_reaches_one_learner_by_real_topic(classroom: Classroom, people: Any) -> None:
    teacher = teacher_of(classroom, people)
    alice = people(classroom.learners["alice"], "A")
    bob = people(classroom.learners["bob"], "B")
    alice.subscribe("house/#")
    bob.subscribe("house/#")
    teacher.publish("learners/alice/house/door", "open")
    assert [(m.topic, m.payload) for m in alice.inbox.wait(1, timeout=TIMEOUT)] == [("house/door", b"open")]
    bob.sync()
    assert bob.received() == []


def test_retained_messages_stay_in_their_namespace(classroom: Classroom, people: Any) -> None:
    alice = people(classroom.learners["alice"], "P1")
    alice.publish("house/state", "alice-retained", retain=True)
    teacher = teacher_of(classroom, people)
    teacher.subscribe("learners/+/house/state")
    assert [(m.topic, m.payload) for m in teacher.inbox.wait(1, timeout=TIMEOUT)] == [
        ("learners/alice/house/state", b"alice-retained")
    ]
    bob = people(classroom.learners["bob"], "P1")
    bob.subscribe("house/state", "#")
    bob.sync()
    assert bob.received() == []
    later = people(classroom.learners["alice"], "later")
    later.subscribe("house/state")
    assert [(m.topic, m.payload, m.retain) for m in later.inbox.wait(1, timeout=TIMEOUT)] == [
        ("house/state", b"alice-retained", True)
    ]
    alice.publish("house/state", "", retain=True)  # a lesson clears what it retained


def test_wills_stay_in_their_namespace(classroom: Classroom, people: Any) -> None:
    teacher = teacher_of(classroom, people)
    teacher.subscribe("learners/#")
    alice_watch = people(classroom.learners["alice"], "watch")
    bob_watch = people(classroom.learners["bob"], "watch")
    alice_watch.subscribe("house/#")
    bob_watch.subscribe("house/#")
    sensor = people(classroom.learners["alice"], "sensor", will=("house/sensor/status", "offline", 1, False))
    sensor.drop()
    assert [(m.topic, m.payload) for m in alice_watch.inbox.wait(1, timeout=TIMEOUT)] == [
        ("house/sensor/status", b"offline")
    ]
    assert [m.topic for m in teacher.inbox.wait(1, timeout=TIMEOUT)] == ["learners/alice/house/sensor/status"]
    bob_watch.sync()
    assert bob_watch.received() == []


def test_persistent_sessions_stay_in_their_namespace(classroom: Classroom, people: Any) -> None:
    first = people(classroom.learners["alice"], "P1", clean_session=False)
    first.subscribe("house/#")
    first.close()
    bob = people(classroom.learners["bob"], "P1", clean_session=False)
    assert not bob.session_present, "bob's P1 found alice's session"
    bob.close()
    people(classroom.learners["bob"], "P1", clean_session=True).close()  # bob leaves nothing behind
    teacher = teacher_of(classroom, people)
    teacher.publish("learners/alice/house/queued", "while away")
    again = people(classroom.learners["alice"], "P1", clean_session=False)
    assert again.session_present
    assert [(m.topic, m.payload) for m in again.inbox.wait(1, timeout=TIMEOUT)] == [("house/queued", b"while away")]
    again.close()
    people(classroom.learners["alice"], "P1", clean_session=True)  # end the persistent session


# --- the shared board ------------------------------------------------------------------------


def test_class_topics_are_shared_but_not_matched_by_a_learners_hash(classroom: Classroom, people: Any) -> None:
    teacher = teacher_of(classroom, people)
    teacher.subscribe("class/#")
    alice = people(classroom.learners["alice"], "P1")
    bob = people(classroom.learners["bob"], "P1")
    alice.subscribe("class/#")
    bob.subscribe("class/+")
    hash_only = people(classroom.learners["bob"], "everything")
    hash_only.subscribe("#")
    teacher.publish("class/demo", "from the teacher")
    alice.publish("class/hello", "from alice")
    expected = [("class/demo", b"from the teacher"), ("class/hello", b"from alice")]
    for person in (teacher, alice, bob):
        assert sorted((m.topic, m.payload) for m in person.inbox.wait(2, timeout=TIMEOUT)) == expected
    hash_only.sync()
    assert hash_only.received() == []


def test_presence_topics_list_each_learners_connected_client_ids(classroom: Classroom, people: Any) -> None:
    teacher = teacher_of(classroom, people)
    teacher.subscribe("$SYS/classroom/learners/+")
    listed = teacher.inbox.wait(2, topic="$SYS/#", timeout=TIMEOUT)  # ("#" never matches "$" topics)
    presence = {m.topic: m.payload for m in listed}  # retained: everyone is listed
    assert presence == {"$SYS/classroom/learners/alice": b"[]", "$SYS/classroom/learners/bob": b"[]"}
    alice = people(classroom.learners["alice"], "P1")
    got = teacher.inbox.wait(1, topic="$SYS/#", timeout=TIMEOUT)
    assert [(m.topic, m.payload) for m in got] == [("$SYS/classroom/learners/alice", b'["P1"]')]
    assert classroom.connected() == {"alice": ["P1"], "bob": []}
    alice.close()
    got = teacher.inbox.wait(1, topic="$SYS/#", timeout=TIMEOUT)
    assert [(m.topic, m.payload) for m in got] == [("$SYS/classroom/learners/alice", b"[]")]
    alice_hash = people(classroom.learners["alice"], "watch")
    alice_hash.subscribe("#")
    alice_hash.sync()
    assert alice_hash.received() == [], "a learner's # matched a $SYS topic"


def test_dashboard_shows_presence_latest_message_and_board(classroom: Classroom, people: Any) -> None:
    from mqtt_helpers.classroom import ClassroomDashboard

    teacher = connect_client(classroom.teacher, "dash", username="teacher", password=PASSWORD)
    try:
        dashboard = ClassroomDashboard(teacher, limit=2)
        alice = people(classroom.learners["alice"], "P1")
        alice.publish("house/<b>", "<i>hi</i>")
        for n in range(3):
            alice.publish(f"class/{n}", str(n))
        wait_for(
            lambda: (
                dashboard.present == {"alice": ["P1"], "bob": []}
                and len(dashboard.latest) == 1
                and [t for t, _ in dashboard.board] == ["class/1", "class/2"]
            ),
            TIMEOUT,
            what="the dashboard to catch up",
        )
        assert dashboard.summary().splitlines() == [
            "alice      1 connected  latest: house/<b> '<i>hi</i>'",
            "bob        0 connected  latest: -",
            "board: class/1 '1'",
            "board: class/2 '2'",
        ]
        assert "&lt;i&gt;hi&lt;/i&gt;" in dashboard.learners_table.value, "payloads are shown as text, not HTML"
    finally:
        close_client(teacher)


# --- the teacher's port --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password"), [("teacher", "wrong"), ("teacher", None), (None, None), ("alice", PASSWORD)]
)
def test_teacher_port_refuses_wrong_or_missing_credentials(
    classroom: Classroom, username: str | None, password: str | None
) -> None:
    with pytest.raises(ConnectionRefused, match=r"Not authorized|Bad user name or password"):
        connect_client(classroom.teacher, "intruder", username=username, password=password, timeout=TIMEOUT)


def test_only_learner_listeners_admit_without_a_password(classroom: Classroom) -> None:
    """Fail closed: a listener that is neither a learner's nor (with the password) the teacher's admits nobody."""
    broker = classroom._state.admission
    anonymous = mqtt311.Connect(b"x", True, 60, None, None, None)
    teacher = mqtt311.Connect(b"x", True, 60, None, b"teacher", PASSWORD.encode())
    assert broker.admit("learners/alice", anonymous) == 0
    assert broker.admit("default", anonymous) == mqtt311.NOT_AUTHORIZED
    assert broker.admit("default", teacher) == 0
    assert broker.admit("learners/mallory", anonymous) == mqtt311.NOT_AUTHORIZED
    assert broker.admit("anything else", teacher) == mqtt311.NOT_AUTHORIZED


def test_generated_teacher_password_works() -> None:
    with start_classroom("alice") as room:
        assert len(room.teacher_password) >= 12
        client = connect_client(room.teacher, "t", username="teacher", password=room.teacher_password)
        close_client(client)


# --- bad input, wire details, clean stop --------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "no learners given"),
        (" , ,", "no learners given"),
        ("alice,a/b", "bad learner name 'a/b'"),
        ("alice,house#", "bad learner name 'house#'"),
        ("alice,Teacher", "'Teacher' cannot be a learner"),
        ("alice,bob,Alice", "learner 'Alice' is listed twice"),
    ],
)
def test_bad_learner_lists_say_what_is_wrong(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_learners(given)


def test_packets_of_every_size_survive_the_rewrite(classroom: Classroom, people: Any) -> None:
    """The prefix can push a packet's remaining length across 127 (one more length byte) and beyond."""
    alice = people(classroom.learners["alice"], "P1")
    alice.subscribe("house/#")
    sizes = [*range(100, 140), 16_370, 16_400, 70_000]
    for size in sizes:
        alice.publish("house/blob", bytes(size % 251 for _ in range(size)))
    assert [len(m.payload) for m in alice.inbox.wait(len(sizes), timeout=TIMEOUT)] == sizes


def test_rewriting_is_exact_at_the_byte_level() -> None:
    space = Namespace("alice")
    body = b"\x00\x03a/b\x00\x07hi"  # QoS 1, packet id 7
    publish = bytes([0x32]) + encode_length(9) + body
    inside = space.inbound(mqtt311.parse(0x32, body))
    assert inside == bytes([0x32]) + encode_length(24) + b"\x00\x12learners/alice/a/b\x00\x07hi"
    assert space.outbound(inside) == publish
    assert mqtt311.split(inside + b"\xc0") == (inside[:2], inside[2:], b"\xc0")
    assert mqtt311.split(inside[:-1]) is None
    assert encode_length(127) == b"\x7f"
    assert encode_length(128) == b"\x80\x01"
    assert space.inside(b"class/x") == b"class/x"
    assert space.inside(b"$SYS/x") == b"$SYS/x"
    # CONNECT, client id "P1", will flag, will topic "$SYS/x" (a will could otherwise forge the presence topics)
    connect = b"\x00\x04MQTT\x04\x06\x00\x3c" + b"\x00\x02P1" + b"\x00\x06$SYS/x" + b"\x00\x01!"
    inside = mqtt311.encode_connect(space.connect(mqtt311.parse_connect(0x10, connect)))
    assert b"\x00\x11learners/alice/P1\x00\x15learners/alice/$SYS/x\x00\x01!" in inside
    assert space.client_id == "P1"
    assert isinstance(mqtt311.parse(0xC0, b""), Packet)


def test_public_host_names_an_interface_for_every_interface_binds() -> None:
    assert public_host("127.0.0.1") == "127.0.0.1"
    with socket.socket() as everywhere:  # a classroom bound to every interface, as --host 0.0.0.0 makes it
        everywhere.bind(("0.0.0.0", 0))
        everywhere.listen()
        named = public_host("0.0.0.0")
        assert named not in ("0.0.0.0", "::", ""), "learners cannot connect to the wildcard address"
        assert accepts(named, everywhere.getsockname()[1]), f"{named} does not reach this machine"


def test_a_malformed_packet_closes_only_that_connection(classroom: Classroom, people: Any) -> None:
    bystander = people(classroom.learners["alice"], "bystander")
    with socket.create_connection((classroom.learners["alice"].host, classroom.learners["alice"].port), TIMEOUT) as raw:
        raw.settimeout(TIMEOUT)
        raw.sendall(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01x")  # CONNECT, client id "x"
        assert raw.recv(4) == b"\x20\x02\x00\x00"  # CONNACK accepted
        raw.sendall(b"\x82\x06\x00\x01\x00\x09ab")  # SUBSCRIBE whose filter length runs past the packet
        assert raw.recv(4) == b"", "the broker kept a connection that sent a malformed packet"
    bystander.sync()


def test_mqtt5_is_refused_as_by_a_private_broker(classroom: Classroom) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, "v5", protocol=mqtt.MQTTv5)
    refused = threading.Event()
    client.on_connect = lambda c, u, f, reason, p: refused.set() if reason.is_failure else None
    client.on_disconnect = lambda *args: refused.set()
    client.connect(classroom.learners["alice"].host, classroom.learners["alice"].port)
    client.loop_start()
    try:
        wait_for(refused, TIMEOUT, what="amqtt to refuse an MQTT 5 CONNECT")
    finally:
        client.loop_stop()


def test_a_port_in_use_is_named_as_such() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerStartError, match=rf"127\.0\.0\.1:{port}: the address is already in use"):
            start_classroom("alice", port=port)


def test_stop_leaves_no_thread_or_port(backend: str) -> None:
    threads_before = set(threading.enumerate())
    room = start_classroom("alice,bob", broker=backend)
    ports = [room.teacher.port, *(h.port for h in room.learners.values())]
    if backend == "mosquitto":
        ports.append(room._state.backend.address[1])  # type: ignore[union-attr]
    client = connect_client(room.learners["alice"], "P1")
    idle = socket.create_connection(("127.0.0.1", room.learners["bob"].port))  # never sends CONNECT
    room.stop()
    room.stop()
    idle.close()
    close_client(client)
    assert set(threading.enumerate()) <= threads_before, "a classroom thread outlived stop()"
    assert not any(accepts("127.0.0.1", p) for p in ports)


def test_start_broker_points_at_a_learner_port_but_asks_for_extras_locally(classroom: Classroom, people: Any) -> None:
    """Lessons use MQTT_STUDY_BROKER=mqtt://HOST:PORT; cells that need users, TLS or websockets get a private broker."""
    url = classroom.learners["alice"].url
    shared = start_broker(url)
    assert (shared.kind, shared.host, shared.port) == ("external", "127.0.0.1", classroom.learners["alice"].port)
    with start_broker(url, users={"alice": "s3cret"}, tls=True, websockets=True) as private:
        assert private.kind == "amqtt"
        assert private.port != shared.port
        assert private.tls_port
        assert private.ws_port
        assert private.ca_file
        close_client(connect_client(private, "P1", username="alice", password="s3cret", tls=True))
    shared.stop()  # leaves the classroom alone
    people(classroom.learners["alice"], "P1").sync()


def rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0  # a zombie has no VmRSS


def classroom_rss_kib() -> int:
    """RSS of this process and its children (the Mosquitto backend's broker), in KiB."""
    children = [pid for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()]
    return rss_kib() + sum(rss_kib(pid) for pid in children)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads RSS from /proc (Linux)")
@pytest.mark.parametrize("backend", BROKERS)
def test_a_learner_who_never_reads_costs_bounded_memory(backend: str, people: Any) -> None:
    """40 MB of QoS 0 messages to a subscriber that reads nothing: the queues in between stay bounded
    (amqtt_fixes' per-client caps; Mosquitto's max_queued_messages/bytes behind the relay)."""
    require(backend)
    with start_classroom("alice,bob", broker=backend) as classroom:
        flood_then_measure(classroom, people)


def recv_up_to(sock: socket.socket, size: int) -> bytes:
    """The next ``size`` bytes from ``sock`` (fewer if it closes first)."""
    data = b""
    while len(data) < size and (chunk := sock.recv(size - len(data))):
        data += chunk
    return data


def flood_then_measure(classroom: Classroom, people: Any) -> None:
    with raw_connection(classroom.learners["alice"]) as sleeper:
        sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sleeper.sendall(connect_packet(b"sleeper") + b"\x82\x0c\x00\x01" + string(b"house/#") + b"\x00")
        answers = recv_up_to(sleeper, 9)
        assert answers == b"\x20\x02\x00\x00\x90\x03\x00\x01\x00"  # CONNACK, SUBACK QoS 0; then it reads no more
        with raw_connection(classroom.learners["alice"]) as publisher:
            # Raw bytes, not paho: a paho publisher would queue the flood in this very process, whose memory
            # is the classroom's, and so measure itself (sendall() blocks instead).
            publisher.sendall(connect_packet(b"flooder"))
            assert publisher.recv(4) == b"\x20\x02\x00\x00"
            batch = mqtt311.packet(mqtt311.PUBLISH, 0, string(b"house/flood") + bytes(2048)) * 100
            before = classroom_rss_kib()
            for _ in range(200):  # 20,000 messages of 2 KiB: 40 MB
                publisher.sendall(batch)
            # A QoS 1 marker after the flood: its PUBACK says the broker has read (and routed) all of it.
            publisher.sendall(mqtt311.packet(mqtt311.PUBLISH, 0b0010, string(b"house/done") + b"\x00\x01"))
            assert recv_up_to(publisher, 4) == b"\x40\x02\x00\x01"
            grown = (classroom_rss_kib() - before) / 1024
    print(f"\nRSS grew {grown:.1f} MiB for 40 MB sent to a subscriber that never reads")
    assert grown < 20, f"RSS grew {grown:.1f} MiB: the queues to a subscriber that never reads are not bounded"
    people(classroom.learners["bob"], "still served").sync()


# --- the Mosquitto backend ------------------------------------------------------------------------


def test_mosquittos_private_port_admits_only_the_classroom_itself() -> None:
    """Nobody bypasses the front: Mosquitto's own port wants the classroom's generated password."""
    require("mosquitto")
    with start_classroom("alice", broker="mosquitto") as room:
        host, port = room._state.backend.address  # type: ignore[union-attr]
        for username, password in [(None, None), ("classroom", "guess"), ("teacher", room.teacher_password)]:
            with pytest.raises(ConnectionRefused, match=r"Not authorized|Bad user name or password"):
                connect_client((host, port), "bypass", username=username, password=password, timeout=TIMEOUT)
        assert room.broker == "mosquitto"
        assert room.alive()


def test_a_missing_mosquitto_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Mosquitto is installed here: hide it from the real lookup (PATH and the usual sbin folders)
    monkeypatch.setattr("mqtt_helpers._brokers.mosquitto.shutil.which", lambda name: None)
    monkeypatch.setattr("mqtt_helpers._brokers.mosquitto.os.access", lambda path, mode: False)
    with pytest.raises(BrokerStartError, match=r"apt-get install mosquitto.*or leave out --broker"):
        start_classroom("alice", broker="mosquitto")
    with pytest.raises(ValueError, match="unknown classroom broker 'hivemq': choose amqtt or mosquitto"):
        start_classroom("alice", broker="hivemq")


# --- the command line ---------------------------------------------------------------------------


def default_sigint() -> None:
    # A background job of a non-interactive shell starts with SIGINT ignored; a terminal's Ctrl-C does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mqtt_helpers.classroom", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )


def read_lines(process: subprocess.Popen[str], count: int, timeout: float = 30.0) -> list[str]:
    """The first ``count`` lines of stdout, failing (not hanging) if they do not come."""
    assert process.stdout is not None
    assert process.stderr is not None
    fd, data = process.stdout.fileno(), b""  # raw reads: a buffered readline would hide later lines from select
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while data.count(b"\n") < count:
            left = deadline - time.monotonic()
            chunk = os.read(fd, 4096) if left > 0 and selector.select(left) else None
            if not chunk:
                process.kill()
                pytest.fail(f"the classroom printed {data!r} (exit {process.wait()}); stderr: {process.stderr.read()}")
            data += chunk
    return data.decode().splitlines()[:count]


@pytest.mark.parametrize(("stop_signal", "backend"), [(signal.SIGINT, "amqtt"), (signal.SIGTERM, "mosquitto")])
def test_cli_prints_addresses_serves_and_exits_0_on_signal(stop_signal: int, backend: str) -> None:
    require(backend)
    process = start_cli("--learners", "alice,bob", "--teacher-password", PASSWORD, "--broker", backend)
    try:
        lines = read_lines(process, 3)
        urls = dict(line.split()[:2] for line in lines)
        assert list(urls) == ["alice", "bob", "teacher"]
        assert all(url.startswith("mqtt://127.0.0.1:") for url in urls.values())
        assert PASSWORD not in lines[2], "a password the teacher typed is not echoed"
        ports = {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()}
        alice = TestClient(BrokerHandle("external", "127.0.0.1", ports["alice"]), "P1")
        alice.subscribe("house/#")
        teacher = TestClient(
            BrokerHandle("external", "127.0.0.1", ports["teacher"]), "t", username="teacher", password=PASSWORD
        )
        teacher.publish("learners/alice/house/x", "hello")
        assert [m.topic for m in alice.inbox.wait(1, timeout=TIMEOUT)] == ["house/x"]
        alice.close()
        teacher.close()
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
        assert not any(accepts("127.0.0.1", p) for p in ports.values())
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the broker's process in /proc (Linux)")
def test_cli_says_so_and_exits_1_when_its_mosquitto_exits() -> None:
    require("mosquitto")
    process = start_cli("--learners", "alice", "--broker", "mosquitto")
    try:
        read_lines(process, 2)
        tasks = Path(f"/proc/{process.pid}/task").iterdir()
        (child,) = [int(pid) for task in tasks for pid in (task / "children").read_text().split()]
        os.kill(child, signal.SIGKILL)
        assert process.wait(timeout=30) == 1
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
    assert "error: the mosquitto broker exited; the classroom stopped" in stderr


def test_cli_prints_a_generated_password_and_warns_off_loopback() -> None:
    other = other_loopback()  # a non-loopback-only address that still stays on this machine
    process = start_cli("--learners", "alice", "--host", other)
    try:
        lines = read_lines(process, 2)
        assert lines[0].startswith(f"alice mqtt://{other}:")
        password = lines[1].rsplit("password ", 1)[1].rstrip(")")
        teacher_port = int(lines[1].split()[1].rsplit(":", 1)[1])
        close_client(connect_client((other, teacher_port), "t", username="teacher", password=password))
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
    assert f"warning: learner ports on {other} have no passwords" in stderr


def test_cli_takes_the_teacher_password_from_the_environment_and_says_so_in_help() -> None:
    process = start_cli("--learners", "alice", env={"MQTT_CLASSROOM_TEACHER_PASSWORD": PASSWORD})
    try:
        lines = read_lines(process, 2)
        assert lines[1].endswith("(username teacher, password as given)")
        teacher_port = int(lines[1].split()[1].rsplit(":", 1)[1])
        close_client(connect_client(("127.0.0.1", teacher_port), "t", username="teacher", password=PASSWORD))
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    shown = subprocess.run(
        [sys.executable, "-m", "mqtt_helpers.classroom", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    ).stdout
    assert "MQTT_CLASSROOM_TEACHER_PASSWORD" in shown
    assert "--ask-password" in shown


@pytest.mark.parametrize("learners", ["", "alice,alice", "bad name"])
def test_cli_rejects_bad_learner_lists_at_once(learners: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mqtt_helpers.classroom", "--learners", learners],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "error:" in done.stderr
    assert done.stdout == ""


def test_make_classroom_without_learners_says_how() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-s", "classroom", "LEARNERS="],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "make classroom LEARNERS=alice,bob" in done.stderr


# --- a hostile learner (issue 18): raw bytes from alice's port -----------------------------------


def publish_packet(topic: bytes, payload: bytes, *, first: int = 0x30) -> bytes:
    body = string(topic) + payload
    return bytes([first]) + encode_length(len(body)) + body


# What every smuggling vector hides: a retained PUBLISH into bob's namespace and a SUBSCRIBE to bare "#"
# (its length a multiple of 3, for vectors D and E below).
SMUGGLED = publish_packet(b"learners/bob/diary", b"alice was here!", first=0x31) + (
    b"\x82\x06\x00\x01" + string(b"#") + b"\x00"
)
# amqtt 0.12.1 decodes invalid UTF-8 as str(bytes): b"\xff" * k reads as 3 + 4k characters, so it counts 3 + 3k
# bytes more than it read, and parses that many unread bytes as the next packets.
INVALID = b"\xff" * (len(SMUGGLED) // 3 - 1)


def subscribe_smuggling() -> bytes:
    """Vector E in the shape that got past the old rewriter: it prefixed both filters and passed the packet on.

    amqtt then counts ``b"\\xff" * 16384`` (prefixed) as 49,155 bytes more than it read and stops after it: the
    second filter's length (0xC000 once prefixed) reads as a PINGREQ, its prefix as three acknowledgements and a
    CONNACK, and the rest as SMUGGLED and more PINGREQs.
    """
    second = b"?" + SMUGGLED
    second += b"\xc0\x00" * ((0xC000 - 15 - len(second)) // 2)
    second += b"?" * (0xC000 - 15 - len(second))
    body = b"\x00\x01" + string(b"\xff" * 16384) + b"\x00" + string(second) + b"\x00"
    return bytes([0x82]) + encode_length(len(body)) + body


VECTORS = {
    "A: a PINGREQ whose body is packets": bytes([0xC0]) + encode_length(len(SMUGGLED)) + SMUGGLED,
    "B: a PUBACK longer than 2 bytes": bytes([0x40]) + encode_length(2 + len(SMUGGLED)) + b"\x00\x01" + SMUGGLED,
    "D: a PUBLISH whose topic is invalid UTF-8": publish_packet(b"house/" + INVALID, b"pad" + SMUGGLED),
    "E: a SUBSCRIBE whose first filter is invalid UTF-8": subscribe_smuggling(),
    "F: a PUBLISH to a wildcard topic": publish_packet(b"house/#", SMUGGLED),
}


def raw_connection(handle: BrokerHandle) -> socket.socket:
    return raw_socket(handle.host, handle.port, TIMEOUT)


@pytest.fixture
def watchers(classroom: Classroom, people: Any) -> tuple[TestClient, TestClient]:
    """bob's client on '#' and the teacher's on 'learners/#': where a smuggled packet would show."""
    bob = people(classroom.learners["bob"], "diary-reader")
    bob.subscribe("#")
    teacher = teacher_of(classroom, people)
    teacher.subscribe("learners/#")
    return bob, teacher


def assert_nothing_escaped(classroom: Classroom, people: Any, watchers: tuple[TestClient, TestClient]) -> None:
    bob, teacher = watchers
    bob.sync()
    teacher.sync()
    assert bob.received() == [], "alice's smuggled packet reached bob"
    outside = [t for t, _ in teacher.received() if not t.startswith("learners/alice/") and "/sync/" not in t]
    assert outside == [], "alice's packet landed outside her namespace"
    later = people(classroom.learners["bob"], "later")
    later.subscribe("#")
    later.sync()
    assert later.received() == [], "a smuggled retained message is in bob's namespace"
    assert not bob.dropped.is_set()


@pytest.mark.parametrize("vector", VECTORS)
def test_smuggling_vectors_close_the_connection_and_reach_nobody(
    classroom: Classroom, people: Any, watchers: tuple[TestClient, TestClient], vector: str
) -> None:
    with raw_connection(classroom.learners["alice"]) as sock:
        sock.sendall(connect_packet(b"smuggler"))
        assert sock.recv(4) == b"\x20\x02\x00\x00"
        sock.sendall(VECTORS[vector])
        assert until_closed(sock) == b"", f"{vector}: the connection stayed open"
    assert_nothing_escaped(classroom, people, watchers)


def test_smuggling_vector_c_a_connect_with_bytes_after_its_last_field(
    classroom: Classroom, people: Any, watchers: tuple[TestClient, TestClient]
) -> None:
    with raw_connection(classroom.learners["alice"]) as sock:
        sock.sendall(connect_packet(b"smuggler", tail=SMUGGLED))
        assert until_closed(sock) == b"", "a CONNECT with trailing bytes was answered"
    assert_nothing_escaped(classroom, people, watchers)


def test_a_wrong_password_kicks_nobody_and_keeps_the_session(classroom: Classroom, people: Any) -> None:
    """Vector 2: a refused CONNECT with a learner's real client id on the teacher's port."""
    victim = people(classroom.learners["bob"], "victim1", clean_session=False)
    victim.subscribe("house/#")
    victim.close()  # an offline persistent session, with a message queued while away
    teacher = teacher_of(classroom, people)
    teacher.publish("learners/bob/house/queued", "kept")
    live = people(classroom.learners["bob"], "victim2")
    login = string(b"teacher") + string(b"wrong")
    for client_id in (b"learners/bob/victim1", b"learners/bob/victim2"):
        with raw_connection(classroom.teacher) as sock:
            sock.sendall(connect_packet(client_id, flags=0xC0, extra=login))  # clean_session=0
            # [MQTT-3.2.2-4] a refusal says session-present 0; code 5, then the close
            assert until_closed(sock) == b"\x20\x02\x00\x05"
    live.sync()
    assert not live.dropped.is_set(), "a refused CONNECT kicked bob's live client"
    again = people(classroom.learners["bob"], "victim1", clean_session=False)
    assert again.session_present
    assert [(m.topic, m.payload) for m in again.inbox.wait(1, timeout=TIMEOUT)] == [("house/queued", b"kept")]
    again.close()
    people(classroom.learners["bob"], "victim1", clean_session=True)  # end the persistent session


@pytest.mark.parametrize(
    ("case", "first", "then"),
    [
        ("an empty will topic", connect_packet(b"w", flags=0x06, extra=string(b"") + string(b"gone")), b""),
        ("a will topic with a wildcard", connect_packet(b"w", flags=0x06, extra=string(b"a/+") + string(b"x")), b""),
        ("will QoS 3", connect_packet(b"w", flags=0x1E, extra=string(b"a") + string(b"x")), b""),
        ("invalid UTF-8 in the client id", connect_packet(b"\xff\xfe"), b""),
        ("U+0000 in the client id", connect_packet(b"a\x00b"), b""),
        ("PUBLISH before CONNECT", publish_packet(b"house/x", b"early"), b""),
        ("PINGREQ before CONNECT", b"\xc0\x00", b""),
        ("an empty SUBSCRIBE filter", connect_packet(b"s"), b"\x82\x05\x00\x01\x00\x00\x00"),
        ("a SUBSCRIBE without filters", connect_packet(b"s"), b"\x82\x02\x00\x01"),
        ("SUBSCRIBE flags 0000", connect_packet(b"s"), b"\x80\x06\x00\x01" + string(b"a") + b"\x00"),
        ("requested QoS 3", connect_packet(b"s"), b"\x82\x06\x00\x01" + string(b"a") + b"\x03"),
        ("a PUBLISH with QoS 3", connect_packet(b"s"), publish_packet(b"a", b"x", first=0x36)),
        ("an empty topic", connect_packet(b"s"), publish_packet(b"", b"x")),
        ("a CONNACK from a client", connect_packet(b"s"), b"\x20\x02\x00\x00"),
        ("a second CONNECT", connect_packet(b"s"), connect_packet(b"s")),
        ("a PUBLISH to a $ topic", connect_packet(b"s"), publish_packet(b"$SYS/classroom/learners/bob", b'["x"]')),
    ],
)
def test_invalid_packets_are_refused_with_a_close(
    classroom: Classroom, people: Any, watchers: tuple[TestClient, TestClient], case: str, first: bytes, then: bytes
) -> None:
    with raw_connection(classroom.learners["alice"]) as sock:
        sock.sendall(first)
        if then:
            assert sock.recv(4) == b"\x20\x02\x00\x00"
            sock.sendall(then)
        assert until_closed(sock) == b"", f"{case}: not closed at once"
    assert_nothing_escaped(classroom, people, watchers)


def test_names_too_long_once_prefixed_are_refused_not_crashed(classroom: Classroom, people: Any) -> None:
    with raw_connection(classroom.learners["alice"]) as sock:
        sock.sendall(connect_packet(b"x" * 65_530))  # a valid id, over 65,535 bytes with learners/alice/
        assert until_closed(sock) == b"\x20\x02\x00\x02"  # CONNACK 2: identifier rejected
    with raw_connection(classroom.learners["alice"]) as sock:
        sock.sendall(connect_packet(b"long"))
        assert sock.recv(4) == b"\x20\x02\x00\x00"
        sock.sendall(publish_packet(b"y" * 65_530, b"too long inside"))
        assert until_closed(sock) == b""
    people(classroom.learners["alice"], "after").sync()


def test_the_teacher_cannot_publish_a_learners_empty_topic(classroom: Classroom, people: Any) -> None:
    alice = people(classroom.learners["alice"], "P1")
    alice.subscribe("#")
    teacher = teacher_of(classroom, people)
    teacher.paho.publish("learners/alice/", "to nobody", qos=0)
    wait_for(teacher.dropped, TIMEOUT, what="the teacher's connection to close")
    alice.sync()
    assert alice.received() == []
    assert not alice.dropped.is_set()


def test_presence_lists_a_generated_id_for_an_empty_one(classroom: Classroom, people: Any) -> None:
    people(classroom.learners["alice"], "")
    (listed,) = classroom.connected()["alice"]
    assert listed.startswith("auto-")
    assert len(listed) > 5


def test_a_silent_connection_is_closed_at_the_connect_timeout(people: Any, backend: str) -> None:
    with start_classroom("alice", limits=Limits(connect_timeout=0.3), broker=backend) as room:
        for opening in (b"", b"\x10", b"\x10\x0d\x00\x04MQ"):  # nothing, a first byte, half a CONNECT
            with raw_connection(room.learners["alice"]) as sock:
                sock.sendall(opening)
                assert until_closed(sock) == b""
        people(room.learners["alice"], "still served").sync()


def test_a_packet_over_the_maximum_size_is_refused_before_it_is_read(people: Any, backend: str) -> None:
    with start_classroom("alice", limits=Limits(max_packet_size=1000), broker=backend) as room:
        with raw_connection(room.learners["alice"]) as sock:
            sock.sendall(connect_packet(b"big"))
            assert sock.recv(4) == b"\x20\x02\x00\x00"
            sock.sendall(b"\x30\xff\xff\xff\x7f")  # announces 256 MB and sends none of it
            assert until_closed(sock) == b""
        alice = people(room.learners["alice"], "small")
        alice.subscribe("house/#")
        alice.publish("house/x", b"x" * 900)
        assert len(alice.inbox.wait(1, timeout=TIMEOUT)[0].payload) == 900


def test_a_learner_port_caps_its_connections(people: Any, backend: str) -> None:
    with start_classroom("alice,bob", limits=Limits(max_connections=3), broker=backend) as room:
        held = [raw_connection(room.learners["alice"]) for _ in range(3)]
        try:
            for sock in held:
                sock.sendall(connect_packet(uuid.uuid4().hex.encode()))
                assert sock.recv(4) == b"\x20\x02\x00\x00"
            with raw_connection(room.learners["alice"]) as extra:
                assert until_closed(extra) == b"", "a fourth connection was kept"
            people(room.learners["bob"], "bob is not locked out").sync()
        finally:
            for sock in held:
                sock.close()
