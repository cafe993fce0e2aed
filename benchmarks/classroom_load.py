"""A whole class at once: round-trip latency, losses and broker cost per class size (issue 23).

    python benchmarks/classroom_load.py                                  # classroom, embedded, mosquitto; 30-120
    python benchmarks/classroom_load.py --targets classroom --learners 120 --duration 10

Each learner runs the lessons' three clients (ids ``P1``, ``bulb1``, ``switch``), all
subscribed to ``house/#`` at QoS 1, and ``P1`` publishes one QoS 1 message to
``house/bench`` every 1/rate seconds. A round trip is the time from that publish until
all three of the learner's clients have the message (one publish, three deliveries,
four acknowledgements). Learners are spread evenly over the period and over
``--processes`` client processes, so the load is steady, not bursts.

Targets, each a broker in a process of its own so its CPU and memory are its own:

- ``classroom``: ``python -m mqtt_helpers.classroom``, each learner on their own port
  with the plain ids and topics (the classroom namespaces them);
- ``embedded``: the helpers' embedded amqtt broker (``start_broker("amqtt")``), one port,
  each learner's ids and topics under ``learners/NAME/`` (what the classroom makes of them);
- ``mosquitto``: Mosquitto as ``start_broker("mosquitto")`` runs it, the same names.

Reported per target and class size: p50/p99/max round trip, messages lost (not at all
three clients 5 s after the run), the broker's CPU (share of one core over the run) and
its RSS at the end, its CPU time per round trip (the figure least disturbed by other
load on the machine), and the p99 time to connect a client. Clients set TCP_NODELAY, as
mqtt_helpers' clients do. Numbers depend on the machine and its load: compare targets
within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_helpers._brokers.mosquitto import MosquittoBroker
from mqtt_helpers.client import set_nodelay

LESSON_IDS = ("P1", "bulb1", "switch")
CONNECT_TIMEOUT = 30.0
DRAIN_SECONDS = 5.0
TARGETS = ("classroom", "embedded", "mosquitto")
PROFILE: str | None = None  # --profile-broker


# --- one learner's three clients (in a client process) -------------------------------


@dataclass
class LearnerSpec:
    name: str
    port: int
    id_prefix: str  # "" through the classroom (it adds learners/NAME/), else "learners/NAME/"
    topic_prefix: str
    offset: float  # seconds into each period at which this learner publishes


class Learner:
    """Three connected paho clients subscribed to house/#; P1 publishes the round trips."""

    def __init__(self, spec: LearnerSpec, host: str) -> None:
        self.spec = spec
        self.topic = f"{spec.topic_prefix}house/bench"
        self.sent: dict[int, float] = {}
        self.seen: dict[int, int] = {}
        self.rtt_ms: list[float] = []
        self.lock = threading.Lock()
        self.connect_ms: list[float] = []
        self.clients = [self._connect(host, f"{spec.id_prefix}{cid}") for cid in LESSON_IDS]

    def _connect(self, host: str, client_id: str) -> mqtt.Client:
        connected, subscribed = threading.Event(), threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id)
        client.max_inflight_messages_set(100)
        client.on_connect = lambda *args: connected.set()
        client.on_subscribe = lambda *args: subscribed.set()
        client.on_message = self._on_message
        began = time.perf_counter()
        client.connect(host, self.spec.port, keepalive=60)
        set_nodelay(client)  # as mqtt_helpers' clients: no ~40 ms delayed-ACK stalls
        client.loop_start()
        if not connected.wait(CONNECT_TIMEOUT):
            raise TimeoutError(f"no CONNACK for {client_id} from {host}:{self.spec.port} in {CONNECT_TIMEOUT:g} s")
        self.connect_ms.append((time.perf_counter() - began) * 1000)
        client.subscribe(f"{self.spec.topic_prefix}house/#", 1)
        if not subscribed.wait(CONNECT_TIMEOUT):
            raise TimeoutError(f"no SUBACK for {client_id} from {host}:{self.spec.port} in {CONNECT_TIMEOUT:g} s")
        return client

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        seq = int(message.payload)
        with self.lock:
            count = self.seen.get(seq, 0) + 1
            self.seen[seq] = count
            if count == len(LESSON_IDS):
                self.rtt_ms.append((now - self.sent[seq]) * 1000)

    def publish(self, seq: int) -> None:
        with self.lock:
            self.sent[seq] = time.perf_counter()
        self.clients[0].publish(self.topic, str(seq).encode(), qos=1)

    def complete(self) -> bool:
        with self.lock:
            return all(self.seen.get(seq, 0) >= len(LESSON_IDS) for seq in self.sent)

    def lost(self) -> int:
        with self.lock:
            return sum(1 for seq in self.sent if self.seen.get(seq, 0) < len(LESSON_IDS))

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


def client_process(
    host: str, specs: list[LearnerSpec], rate: float, duration: float, ready: Any, go: EventType, results: Any
) -> None:
    """Connect this process's learners, wait for ``go``, run the load, report the samples."""
    try:
        learners = [Learner(spec, host) for spec in specs]
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        ready.put(f"{type(exc).__name__}: {exc}")
        return
    ready.put([ms for learner in learners for ms in learner.connect_ms])
    go.wait()
    period = 1.0 / rate
    start = time.perf_counter()
    rounds = max(1, round(duration * rate))
    # every (round, learner) at its own instant: start + round * period + learner offset
    schedule = sorted((r * period + learner.spec.offset, r, learner) for r in range(rounds) for learner in learners)
    for at, seq, learner in ((t, r, lrn) for t, r, lrn in schedule):
        delay = start + at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        learner.publish(seq)
    drain_until = time.perf_counter() + DRAIN_SECONDS
    while time.perf_counter() < drain_until and not all(learner.complete() for learner in learners):
        time.sleep(0.05)
    results.put(
        {
            "rtt_ms": [ms for learner in learners for ms in learner.rtt_ms],
            "lost": sum(learner.lost() for learner in learners),
            "sent": sum(len(learner.sent) for learner in learners),
        }
    )
    for learner in learners:
        learner.close()


# --- the brokers under test ------------------------------------------------------------


@dataclass
class Running:
    host: str
    ports: dict[str, int]  # learner -> port
    pid: int
    plain: bool  # one shared namespace: the learners' names go into ids and topics
    stop: Any = field(repr=False)


def learner_names(count: int) -> list[str]:
    return [f"l{i:03d}" for i in range(count)]


@contextlib.contextmanager
def start_target(target: str, names: list[str]) -> Iterator[Running]:
    if target == "classroom":
        with _classroom(names) as running:
            yield running
    elif target == "embedded":
        with _embedded(names) as running:
            yield running
    elif target == "mosquitto":
        import mqtt_helpers

        handle = mqtt_helpers.start_broker("mosquitto")
        assert isinstance(handle, MosquittoBroker)
        try:
            yield Running(handle.host, dict.fromkeys(names, handle.port), handle.process.pid, True, handle.stop)
        finally:
            handle.stop()
    else:
        raise ValueError(f"unknown target {target!r}: choose from {', '.join(TARGETS)}")


@contextlib.contextmanager
def _child(
    argv: list[str], lines: int, *, ends_on_eof: bool = False
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Start a broker process and read its first ``lines`` lines of output (its addresses).

    At the end it is stopped with SIGTERM, or (``ends_on_eof``) by closing its stdin."""
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        output = [process.stdout.readline() for _ in range(lines)]
        if not all(output):
            raise RuntimeError(f"{' '.join(argv[:4])} ... ended before printing its addresses")
        yield process, output
    finally:
        if ends_on_eof:
            assert process.stdin is not None
            process.stdin.close()
        else:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _classroom(names: list[str]) -> Iterator[Running]:
    argv = [sys.executable, "-m", "mqtt_helpers.classroom", "--learners", ",".join(names)]
    argv += ["--teacher-password", secrets.token_hex(8)]
    with _child(argv, len(names) + 1) as (process, output):
        ports = {}
        for line in output[: len(names)]:
            name, url = line.split()
            ports[name] = int(url.rsplit(":", 1)[1])
        yield Running("127.0.0.1", ports, process.pid, False, process.terminate)


@contextlib.contextmanager
def _embedded(names: list[str]) -> Iterator[Running]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve-embedded"]
    if PROFILE:
        argv += ["--profile-broker", PROFILE]
    with _child(argv, 1, ends_on_eof=True) as (process, output):
        port = int(output[0])
        yield Running("127.0.0.1", dict.fromkeys(names, port), process.pid, True, process.terminate)


def serve_embedded(profile: str | None) -> int:
    """Child mode: run the embedded broker, print its port, serve until stdin closes.

    With ``profile``, the broker thread's CPU time (not wall time: a broker preempted on a
    busy machine would blame whatever line it was on) is profiled and saved there.
    """
    import cProfile

    import mqtt_helpers

    profiler = cProfile.Profile(time.thread_time)
    with mqtt_helpers.start_broker("amqtt") as broker:
        if profile:
            broker._loop.call_soon_threadsafe(profiler.enable)  # type: ignore[attr-defined]
        print(broker.port, flush=True)
        sys.stdin.read()
        if profile:
            broker._loop.call_soon_threadsafe(profiler.disable)  # type: ignore[attr-defined]
            time.sleep(0.5)
            profiler.dump_stats(profile)
    return 0


# --- one measurement --------------------------------------------------------------------


@dataclass
class Row:
    target: str
    learners: int
    p50: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    lost: int = 0
    sent: int = 0
    cpu: float = 0.0
    cpu_ms: float = 0.0  # broker CPU per round trip
    rss_mb: float = 0.0
    connect_p99: float = 0.0
    error: str = ""


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(target: str, count: int, args: argparse.Namespace) -> Row:
    row = Row(target, count)
    names = learner_names(count)
    context = multiprocessing.get_context("spawn")
    with start_target(target, names) as running:
        specs = [
            LearnerSpec(
                name,
                running.ports[name],
                f"learners/{name}/" if running.plain else "",
                f"learners/{name}/" if running.plain else "",
                offset=index / count / args.rate,
            )
            for index, name in enumerate(names)
        ]
        ready, results, go = context.Queue(), context.Queue(), context.Event()
        processes = [
            context.Process(
                target=client_process,
                args=("127.0.0.1", specs[i :: args.processes], args.rate, args.duration, ready, go, results),
                daemon=True,
            )
            for i in range(min(args.processes, count))
        ]
        for process in processes:
            process.start()
        connect_ms: list[float] = []
        for _ in processes:
            answer = ready.get(timeout=CONNECT_TIMEOUT * 4)
            if isinstance(answer, str):
                row.error = answer
                go.set()
                return row
            connect_ms += answer
        broker = psutil.Process(running.pid)
        cpu_before, wall_before = _cpu(broker), time.perf_counter()
        go.set()
        samples = [results.get(timeout=args.duration + DRAIN_SECONDS + 60) for _ in processes]
        cpu_seconds = _cpu(broker) - cpu_before
        row.cpu = 100 * cpu_seconds / (time.perf_counter() - wall_before)
        row.rss_mb = sum(p.memory_info().rss for p in [broker, *broker.children(recursive=True)]) / 2**20
        for process in processes:
            process.join(timeout=30)
    rtt = [ms for sample in samples for ms in sample["rtt_ms"]]
    row.p50, row.p99, row.max = statistics.median(rtt) if rtt else float("nan"), percentile(rtt, 0.99), max(rtt)
    row.lost, row.sent = sum(s["lost"] for s in samples), sum(s["sent"] for s in samples)
    row.connect_p99 = percentile(connect_ms, 0.99)
    row.cpu_ms = 1000 * cpu_seconds / max(1, row.sent)
    return row


def _cpu(process: psutil.Process) -> float:
    """CPU seconds of a broker process and its children (the classroom may start helpers)."""
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        times = each.cpu_times()
        total += times.user + times.system
    return total


def table(rows: list[Row]) -> str:
    head = (
        f"{'target':<10} {'learners':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>9}"
        f" {'CPU %':>6} {'CPU ms/rt':>9} {'RSS MB':>7} {'conn p99 ms':>11}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"{r.target:<10} {r.learners:>8}  failed: {r.error}")
            continue
        lines.append(
            f"{r.target:<10} {r.learners:>8} {r.p50:>8.1f} {r.p99:>8.1f} {r.max:>8.1f} {f'{r.lost}/{r.sent}':>9}"
            f" {r.cpu:>6.0f} {r.cpu_ms:>9.2f} {r.rss_mb:>7.0f} {r.connect_p99:>11.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--learners", nargs="+", type=int, default=[30, 60, 90, 120], help="class sizes to run")
    parser.add_argument("--rate", type=float, default=10.0, help="round trips per second per learner (default 10)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of load per run (default 2: 20 each)")
    parser.add_argument("--processes", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--profile-broker", metavar="FILE", help="embedded target: save a cProfile of the broker")
    parser.add_argument("--serve-embedded", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_embedded:
        return serve_embedded(args.profile_broker)
    global PROFILE
    PROFILE = args.profile_broker
    if args.rate <= 0 or args.duration <= 0 or args.processes < 1 or min(args.learners) < 1:
        parser.error("--rate and --duration must be positive, --processes and --learners at least 1")
    rows = []
    for count in args.learners:
        for target in args.targets:
            print(f"{target}, {count} learners ...", file=sys.stderr, flush=True)
            rows.append(measure(target, count, args))
    print(
        f"{len(LESSON_IDS)} clients per learner, QoS 1, {args.rate:g} round trips/s per learner for "
        f"{args.duration:g} s, {args.processes} client processes; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}"
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
