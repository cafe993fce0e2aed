"""examples/sensor.py and examples/dashboard.py run as real processes against each broker.

Every wait is on a line the program prints (never a fixed sleep), with a deadline
that names what was awaited. Each robustness promise of the examples' docstrings has a test:
bad and poison retained messages (any exception, RecursionError and OverflowError included), refusals,
unique ids, stale readings, the bounded offline queue (and room in it for the "online" status), PUBACK-confirmed
"published", a truthful goodbye, recovery from a broker restart, usage errors for bad options, and a Ctrl-C
without a traceback wherever it lands (in connect(), in the goodbye's wait).
"""

from __future__ import annotations

import ast
import getpass
import glob
import json
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqtt_helpers import BrokerHandle, Inbox, close_client, connect_client, start_broker, subscribe
from mqtt_helpers._brokers.mosquitto import mosquitto_binary
from mqtt_helpers._brokers.ports import free_port
from tests.helpers import accepts, require
from tests.nb_requirements import unavailable

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 10.0
RECONNECT_MAX = 5  # the examples' reconnect_delay_set(1, 5)


class Program:
    """A running example whose stdout lines are collected by a thread, so a test can wait on them."""

    def __init__(self, script: str, *args: object) -> None:
        self.name = script
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / script), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._new.put(line.rstrip("\n"))
        self._new.put(None)  # end of output

    def expect(self, text: str, timeout: float = TIMEOUT) -> str:
        """Wait for a stdout line containing ``text``; fail naming it and the output so far."""
        try:
            while (line := self._new.get(timeout=timeout)) is not None:
                self.lines.append(line)
                if text in line:
                    return line
        except queue.Empty:
            pass
        pytest.fail(f"{self.name}: no line containing {text!r} within {timeout:g} s; output: {self.lines}")

    def finish(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        """Wait for the exit; return the exit code and stderr (and collect the rest of stdout)."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"{self.name} did not exit within {timeout:g} s; output: {self.lines}")
        assert self.process.stderr is not None
        err = self.process.stderr.read()  # a few lines at most: they fit in the pipe until exit
        while (line := self._new.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return self.process.returncode, err

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def programs() -> Iterator[list[Program]]:
    """Programs started by a test; any still running at the end are killed."""
    started: list[Program] = []
    yield started
    for program in started:
        program.stop()


def start(programs: list[Program], script: str, broker: BrokerHandle, *args: object) -> Program:
    program = Program(script, "--host", broker.host, "--port", broker.port, *args)
    programs.append(program)
    return program


def publish(broker: BrokerHandle, topic: str, payloads: list[bytes | str], *, retain: bool = False) -> None:
    """Publish each payload at QoS 1 from a throw-away client, waiting for each PUBACK."""
    client = connect_client(broker, "examples-test-publisher")
    try:
        for payload in payloads:
            client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(TIMEOUT)
    finally:
        close_client(client)


def numbers(lines: list[str], what: str) -> set[int]:
    """The reading numbers of the lines that contain ``what`` ("queued reading 4: 21.0 C ..." -> 4)."""
    return {int(line.split("reading ")[1].split(":")[0]) for line in lines if what in line and "reading " in line}


def reading(n: int, temperature: float, age: float = 0.0) -> str:
    return json.dumps({"id": "t", "n": n, "temperature": temperature, "time": time.time() - age})


def test_count_stops_both_programs(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker, "--count", 3)
    dashboard.expect("subscribed")
    sensor = start(programs, "sensor.py", broker, "--id", "s-count", "--count", 3, "--interval", 0)
    assert sensor.finish() == (0, "")
    assert dashboard.finish() == (0, "")
    assert [line.split(":")[:2] for line in dashboard.lines[1:]] == [
        ["s-count", " online"],
        ["s-count", " reading 1"],
        ["s-count", " reading 2"],
        ["s-count", " reading 3"],
    ]
    # "published" only once the PUBACK came back: every reading, then the goodbye, each acknowledged
    assert [line.split(":")[1] for line in sensor.lines] == [
        " published reading 1",
        " published reading 2",
        " published reading 3",
        " published goodbye",
        " offline",
    ]


def test_killed_sensor_shows_up_offline(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker)
    dashboard.expect("subscribed")
    sensor = start(programs, "sensor.py", broker, "--id", "s-kill", "--interval", 0.05)
    dashboard.expect("s-kill: reading 1")
    sensor.process.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker publishes the will
    assert dashboard.expect("s-kill: offline") == "s-kill: offline"
    late = start(programs, "dashboard.py", broker)  # the will was retained: a newcomer sees it too
    late.expect("subscribed")
    assert late.expect("s-kill:") == "s-kill: offline (retained)"
    publish(broker, "sensors/s-kill/status", [""], retain=True)


def test_ctrl_c_stops_the_dashboard_cleanly(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker)
    dashboard.expect("subscribed")
    dashboard.process.send_signal(signal.SIGINT)
    code, err = dashboard.finish()
    assert (code, err) == (0, "")
    assert dashboard.lines[-1] == "dashboard: stopped"


def test_ctrl_c_stops_the_sensor_with_a_goodbye(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker)
    dashboard.expect("subscribed")
    sensor = start(programs, "sensor.py", broker, "--id", "s-int", "--interval", 0.05)
    dashboard.expect("s-int: reading 1")
    sensor.process.send_signal(signal.SIGINT)
    assert sensor.finish() == (0, "")
    assert sensor.lines[-2:] == ["s-int: published goodbye", "s-int: offline"]
    assert dashboard.expect("s-int: offline") == "s-int: offline"


OVERFLOW = b'{"n": 1, "temperature": 20, "time": 1' + b"0" * 400 + b"}"
BAD = [  # (payload on sensors/x/reading, the start of the dashboard's one-line report)
    (b"hello", "JSONDecodeError"),
    (b'{"temperature": 20}', "KeyError: 'n'"),
    (b"[1]", "ValueError: not a JSON object"),
    (b'{"n": 1, "temperature": "hot", "time": 0}', "ValueError: temperature is not a number"),
    (b'{"n": 1, "temperature": 20}', "KeyError: 'time'"),
    (b"\xff", "UnicodeDecodeError"),
    (b"[" * 100_000, "RecursionError"),  # json.loads recurses once per level
    (OVERFLOW, "OverflowError"),  # an int too large for time.time() - taken
]


def test_bad_messages_are_reported_and_skipped(broker: BrokerHandle, programs: list[Program]) -> None:
    publish(broker, "sensors/x/status", [b"\xff"], retain=True)  # poison retained messages, there at every start
    publish(broker, "sensors/y/reading", [OVERFLOW], retain=True)
    for _ in range(2):  # ... so the dashboard must survive them at every start
        dashboard = start(programs, "dashboard.py", broker, "--count", 1)
        dashboard.expect("subscribed")
        poisons = sorted(dashboard.expect("skipped retained") for _ in range(2))  # in either order
        assert poisons[0].startswith("dashboard: skipped retained sensors/x/status b'\\xff': UnicodeDecodeError")
        assert poisons[1].startswith(f"dashboard: skipped retained sensors/y/reading {OVERFLOW[:40]!r}: OverflowError")
        publish(broker, "sensors/x/status", ["bogus"])
        line = dashboard.expect("sensors/x/status")
        assert line == "dashboard: skipped sensors/x/status b'bogus': ValueError: unknown status 'bogus'"
        publish(broker, "sensors/x/reading", [payload for payload, _ in BAD] + [reading(7, 21.5)])
        for payload, error in BAD:
            line = dashboard.expect("skipped")
            assert line.startswith(f"dashboard: skipped sensors/x/reading {payload[:40]!r}: {error}"), (
                line
            )  # at most 40 bytes shown
        assert dashboard.expect("x: reading") == "x: reading 7: 21.5 C"  # and it still works
        assert dashboard.finish() == (0, "")
    publish(broker, "sensors/x/status", [""], retain=True)  # clears the poison
    publish(broker, "sensors/y/reading", [""], retain=True)


def test_stale_readings_are_marked(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker, "--count", 2, "--stale", 30)
    dashboard.expect("subscribed")
    publish(broker, "sensors/t/reading", [reading(1, 20.0, age=95), reading(2, 20.5, age=1)])
    assert dashboard.expect("reading 1") == "t: reading 1: 20.0 C (stale: taken 95 s ago)"
    assert dashboard.expect("reading 2") == "t: reading 2: 20.5 C"
    assert dashboard.finish() == (0, "")


def test_sensor_readings_carry_their_time(broker: BrokerHandle, programs: list[Program]) -> None:
    inbox = Inbox()
    client = connect_client(broker, "examples-test-reader", inbox=inbox)
    try:
        subscribe(client, "sensors/s-time/reading", qos=1)
        before = time.time()
        sensor = start(programs, "sensor.py", broker, "--id", "s-time", "--count", 1, "--interval", 0)
        assert sensor.finish() == (0, "")
        body = json.loads(inbox.wait(1)[0].payload)
    finally:
        close_client(client)
    assert set(body) == {"id", "n", "temperature", "time"}
    assert before <= body["time"] <= time.time()
    publish(broker, "sensors/s-time/status", [""], retain=True)


@pytest.mark.parametrize("script", ["sensor.py", "dashboard.py"])
def test_refused_connection_exits_non_zero_once(broker_kind: str, script: str) -> None:
    with start_broker(broker_kind, users={"alice": "s3cret"}) as private:  # anonymous access off
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / script), "--host", private.host, "--port", str(private.port)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr  # the broker's reason, once
    assert f"the broker at {private.address} refused the connection: Not authorized" in result.stderr
    assert "published" not in result.stdout
    assert "subscribed" not in result.stdout


def test_two_sensors_without_an_id_do_not_collide(broker: BrokerHandle, programs: list[Program]) -> None:
    dashboard = start(programs, "dashboard.py", broker, "--count", 6)
    dashboard.expect("subscribed")
    sensors = [start(programs, "sensor.py", broker, "--count", 3, "--interval", 0.05) for _ in range(2)]
    for sensor in sensors:
        assert sensor.finish() == (0, "")
        assert not [line for line in sensor.lines if "connection lost" in line or "reconnected" in line]
    assert dashboard.finish() == (0, "")
    ids = {line.split(":")[0] for line in dashboard.lines if ": reading" in line}
    assert len(ids) == 2, dashboard.lines  # two ids, three readings each, nobody kicked out
    assert ids == {sensor.lines[-1].split(":")[0] for sensor in sensors}
    for sensor_id in ids:
        publish(broker, f"sensors/{sensor_id}/status", [""], retain=True)


@pytest.mark.parametrize(
    ("script", "options", "says"),
    [
        ("sensor.py", ["--id", "a/b"], "must not contain '+', '#' or '/'"),
        ("sensor.py", ["--port", "-1"], "--port must be 1-65535"),
        ("sensor.py", ["--port", "70000"], "--port must be 1-65535"),
        ("sensor.py", ["--count", "0"], "--count 1 or more"),
        ("sensor.py", ["--queue", "0"], "--queue and --count 1 or more"),
        ("dashboard.py", ["--port", "70000"], "--port must be 1-65535"),
        ("dashboard.py", ["--port", "0"], "--port must be 1-65535"),
        ("dashboard.py", ["--count", "0"], "--count 1 or more"),
        ("dashboard.py", ["--stale", "-1"], "--stale 0 or more"),
        ("dashboard.py", ["--port", "x"], "invalid int value: 'x'"),
    ],
)
def test_bad_options_are_a_usage_error(script: str, options: list[str], says: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *options], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("usage:"), result.stderr  # argparse's usage, then one line: no traceback
    assert says in result.stderr.splitlines()[-1]


def test_broker_restart_queue_and_recovery(broker_kind: str, programs: list[Program]) -> None:
    broker = start_broker(broker_kind)
    port = broker.port
    try:
        dashboard = start(programs, "dashboard.py", broker)
        dashboard.expect("subscribed")
        sensor = start(programs, "sensor.py", broker, "--id", "s-restart", "--interval", 0.1, "--queue", 3)
        dashboard.expect("s-restart: reading 1")
        broker.stop()
        dashboard.expect("connection lost")
        sensor.expect("connection lost")
        first_queued = int(sensor.expect("queued reading").split("reading ")[1].split(":")[0])
        full = sensor.expect("dropped reading")  # the queue holds 3 (with the one in flight, if any)
        assert full.endswith("offline queue full (3 waiting)"), full
        broker = start_broker(broker_kind, port=port)
        restarted = time.monotonic()
        sensor.expect("reconnected", timeout=RECONNECT_MAX + 5)
        dashboard.expect("reconnected", timeout=RECONNECT_MAX + 5)
        print(f"reconnected {time.monotonic() - restarted:.1f} s after the restart")
        sensor.expect(f"published reading {first_queued}:")  # the queued readings go out after the reconnect
        dashboard.expect("subscribed")
        dashboard.expect("s-restart: reading")  # and the dashboard sees live readings again
        sensor.process.send_signal(signal.SIGINT)
        assert sensor.finish() == (0, "")
        assert sensor.lines[-1] == "s-restart: offline"
        # "published" only after the PUBACK: the queued readings after the reconnect, the dropped ones never
        reconnect = sensor.lines.index("s-restart: reconnected")
        queued, dropped = (numbers(sensor.lines, what) for what in ("queued reading", "dropped reading"))
        before, after = numbers(sensor.lines[:reconnect], "published"), numbers(sensor.lines[reconnect:], "published")
        assert queued
        assert dropped
        assert queued <= after
        assert not queued & before
        assert not dropped & (before | after)
        dashboard.process.send_signal(signal.SIGINT)
        assert dashboard.finish() == (0, "")
        publish(broker, "sensors/s-restart/status", [""], retain=True)
    finally:
        broker.stop()


def test_goodbye_is_reported_truthfully_when_the_broker_is_gone(broker_kind: str, programs: list[Program]) -> None:
    broker = start_broker(broker_kind)
    try:
        sensor = start(programs, "sensor.py", broker, "--id", "s-gone", "--interval", 0.1)
        sensor.expect("published reading 1")
    finally:
        broker.stop()
    sensor.expect("connection lost")
    sensor.process.send_signal(signal.SIGINT)
    assert sensor.finish() == (0, "")
    assert sensor.lines[-1].startswith("s-gone: no goodbye acknowledged; the broker will publish our will")


# Mosquitto's acl_file never refuses a subscription (it only filters what is delivered: eclipse-mosquitto/mosquitto
# issue #2042); its dynamic security plugin does, with SUBACK 0x80. Anonymous clients may use statuses only.
DYNSEC = {
    "defaultACLAccess": {
        "publishClientSend": False,
        "publishClientReceive": True,
        "subscribe": False,
        "unsubscribe": True,
    },
    "clients": [],
    "groups": [{"groupname": "anonymous", "roles": [{"rolename": "status-only"}]}],
    "roles": [
        {
            "rolename": "status-only",
            "acls": [{"acltype": "subscribePattern", "topic": "sensors/+/status", "allow": True}],
        }
    ],
    "anonymousGroup": "anonymous",
}


def dynsec_plugin() -> str:
    """Where Mosquitto's dynamic security plugin is installed (it ships with Debian's mosquitto package)."""
    for pattern in (
        "/usr/lib/*/mosquitto_dynamic_security.so",
        "/usr/lib/mosquitto_dynamic_security.so",
        "/usr/local/lib/mosquitto_dynamic_security.so",
        "/opt/homebrew/lib/mosquitto_dynamic_security.so",
    ):
        if found := sorted(glob.glob(pattern)):
            return found[0]
    unavailable(
        "Mosquitto's dynamic security plugin (mosquitto_dynamic_security.so, in Debian's mosquitto package) is missing",
        must="test the refused subscription",
    )


@pytest.fixture
def mosquitto_with_acl() -> Iterator[BrokerHandle]:
    """A Mosquitto whose access control refuses anonymous subscriptions to sensors/+/reading."""
    require("mosquitto")
    plugin = dynsec_plugin()
    folder = Path(tempfile.mkdtemp(prefix="examples-acl-"))
    port = free_port("127.0.0.1")
    (folder / "dynsec.json").write_text(json.dumps(DYNSEC))
    (folder / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\nplugin {plugin}\n"
        f"plugin_opt_config_file {folder / 'dynsec.json'}\n"
    )
    process = subprocess.Popen([mosquitto_binary(), "-c", str(folder / "mosquitto.conf")], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not accepts("127.0.0.1", port):  # a port that is not open yet: no MQTT event to wait on
            assert process.poll() is None, "mosquitto with an ACL exited while starting"
            assert time.monotonic() < deadline, "mosquitto with an ACL did not listen in time"
            time.sleep(0.02)
        yield BrokerHandle(kind="mosquitto", host="127.0.0.1", port=port)
    finally:
        process.terminate()
        process.wait(TIMEOUT)
        shutil.rmtree(folder, ignore_errors=True)


def test_refused_subscription_exits_non_zero(mosquitto_with_acl: BrokerHandle) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "dashboard.py"), "--host", "127.0.0.1", "--port", str(mosquitto_with_acl.port)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 1
    assert result.stdout == ""  # never claims "subscribed"
    assert result.stderr == "dashboard: the broker refused the subscription to sensors/+/reading: Unspecified error\n"


@pytest.mark.parametrize("script", ["sensor.py", "dashboard.py"])
def test_no_broker_is_a_one_line_error(script: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / script), "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"cannot reach an MQTT broker at 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("script", ["sensor.py", "dashboard.py"])
def test_examples_stand_alone(script: str) -> None:
    source = (EXAMPLES / script).read_text()
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        str(node.module).split(".")[0] for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
    }
    assert imported - set(sys.stdlib_module_names) == {"paho"}
    assert len(source.splitlines()) <= 150  # small enough to read in one sitting


def test_a_full_queue_does_not_swallow_the_online_status(broker_kind: str, programs: list[Program]) -> None:
    """on_connect publishes "online" before paho resends its backlog: a full queue must leave room for it."""
    broker = start_broker(broker_kind)
    port = broker.port
    try:
        sensor = start(programs, "sensor.py", broker, "--id", "s-full", "--interval", 0.05, "--queue", 2)
        sensor.expect("published reading 1")
        broker.stop()
        sensor.expect("connection lost")
        sensor.expect("dropped reading")  # the queue is full
        broker = start_broker(broker_kind, port=port)  # a fresh broker: it keeps no retained status
        sensor.expect("reconnected", timeout=RECONNECT_MAX + 5)
        inbox = Inbox()  # subscribed after the reconnect: the status comes retained, or live if not stored yet
        client = connect_client(broker, "examples-test-status", inbox=inbox)
        try:
            subscribe(client, "sensors/s-full/status", qos=1)
            assert [m.payload for m in inbox.wait(1, timeout=TIMEOUT)] == [b"online"]
        finally:
            close_client(client)
        sensor.process.send_signal(signal.SIGINT)
        assert sensor.finish() == (0, "")
        publish(broker, "sensors/s-full/status", [""], retain=True)
    finally:
        broker.stop()


def syn_sent(port: int) -> int:
    """How many connections to 127.0.0.1:port wait in SYN_SENT (Linux's /proc/net/tcp: state 02)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(line.split()[2] == f"0100007F:{port:04X}" and line.split()[3] == "02" for line in lines)


@pytest.mark.skipif(sys.platform != "linux", reason="reads Linux's /proc/net/tcp")
@pytest.mark.parametrize(("script", "last", "code"), [("sensor.py", "interrupted", 1), ("dashboard.py", "stopped", 0)])
def test_ctrl_c_while_connecting_is_clean(script: str, last: str, code: int, programs: list[Program]) -> None:
    """A listener whose accept queue is full: the kernel drops the SYN, so connect() blocks (paho's 5 s timeout)."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # room for one connection nobody accepts
        port = listener.getsockname()[1]
        filler.connect(("127.0.0.1", port))
        program = Program(script, "--host", "127.0.0.1", "--port", port)
        programs.append(program)
        deadline = time.monotonic() + TIMEOUT
        while not syn_sent(port):  # the kernel's state, not an MQTT event: poll it
            assert program.process.poll() is None, f"{script} exited instead of blocking in connect()"
            assert time.monotonic() < deadline, f"{script} never blocked in connect()"
            time.sleep(0.02)
        program.process.send_signal(signal.SIGINT)
        assert program.finish() == (code, "")  # no traceback
    assert program.lines[-1].endswith(last)


def test_second_ctrl_c_stops_the_goodbye_wait_cleanly(programs: list[Program]) -> None:
    """A broker that no longer answers (a stopped Mosquitto process): the goodbye's PUBACK never comes."""
    require("mosquitto")
    broker = start_broker("mosquitto")
    try:
        sensor = start(programs, "sensor.py", broker, "--id", "s-stop", "--interval", 0.05, "--queue", 1)
        sensor.expect("published reading 1")
        broker.process.send_signal(signal.SIGSTOP)  # type: ignore[attr-defined]
        sensor.expect("dropped reading")  # no more PUBACKs
        sensor.process.send_signal(signal.SIGINT)
        sensor.expect("interrupted")  # now it waits up to 5 s for the goodbye's PUBACK
        sensor.process.send_signal(signal.SIGINT)
        assert sensor.finish() == (0, "")  # no traceback
        # the wait was interrupted (or, if the second Ctrl-C came just before it, the program simply ended)
        assert sensor.lines[-1].startswith("s-stop: no goodbye acknowledged") or sensor.lines[-1].endswith(
            "interrupted"
        )
    finally:
        broker.process.send_signal(signal.SIGCONT)  # type: ignore[attr-defined]
        broker.stop()
