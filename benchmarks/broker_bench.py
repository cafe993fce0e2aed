"""Compare the embedded broker with Mosquitto: start time, round trip, throughput.

    python benchmarks/broker_bench.py                 # amqtt vs mosquitto, defaults
    python benchmarks/broker_bench.py --kinds amqtt --messages 10000

Every figure is measured here, with real paho clients over loopback; clients
set TCP_NODELAY (as mqtt_helpers' clients do). See README, Performance.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt

import mqtt_helpers
from mqtt_helpers import BrokerHandle


@dataclass
class Result:
    kind: str
    start_ms: float = 0.0
    rtt_ms: dict[int, float] = field(default_factory=dict)
    msgs_per_s: dict[int, float] = field(default_factory=dict)


def start_time_ms(kind: str, repeats: int) -> float:
    """Median wall time of start_broker() until it accepts connections (broker stopped after each)."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        broker = mqtt_helpers.start_broker(kind)
        times.append((time.perf_counter() - began) * 1000)
        broker.stop()
    return statistics.median(times)


WINDOW = 500
"""Messages in flight at most: a publisher that runs ahead of the subscriber only fills
the broker's queue, and Mosquitto drops QoS 1/2 messages past 1000 queued (its default)."""


class Counter:
    """An on_message callback that counts, frees a window slot, and sets an event after ``target``."""

    def __init__(self, target: int) -> None:
        self.target, self.count, self.done = target, 0, threading.Event()
        self.window = threading.BoundedSemaphore(WINDOW)

    def __call__(self, client: Any, userdata: Any, message: Any) -> None:
        self.count += 1
        self.window.release()
        if self.count >= self.target:
            self.done.set()


def pair(broker: BrokerHandle, qos: int, on_message: Callable[..., None]) -> tuple[mqtt.Client, mqtt.Client]:
    subscriber = mqtt_helpers.connect_client(broker)
    subscriber.on_message = on_message
    mqtt_helpers.subscribe(subscriber, "bench/topic", qos)
    publisher = mqtt_helpers.connect_client(broker)
    return publisher, subscriber


def round_trip_ms(broker: BrokerHandle, qos: int, samples: int) -> float:
    """Median time from publish() until the subscriber's on_message, one message at a time."""
    arrived = threading.Event()
    publisher, subscriber = pair(broker, qos, lambda c, u, m: arrived.set())
    times = []
    try:
        for _ in range(samples + 10):  # the first 10 warm up
            arrived.clear()
            began = time.perf_counter()
            publisher.publish("bench/topic", b"x" * 32, qos=qos)
            mqtt_helpers.wait_for(arrived, 5, what=f"a QoS {qos} round trip through {broker.address}")
            times.append((time.perf_counter() - began) * 1000)
    finally:
        for client in (publisher, subscriber):
            mqtt_helpers.close_client(client)
    return statistics.median(times[10:])


def throughput(broker: BrokerHandle, qos: int, messages: int) -> float:
    """Messages per second from one publisher to one subscriber, first publish to last delivery,
    with at most WINDOW messages published but not yet delivered (no message may be lost)."""
    counter = Counter(messages)
    publisher, subscriber = pair(broker, qos, counter)
    try:
        began = time.perf_counter()
        for _ in range(messages):
            if not counter.window.acquire(timeout=10):
                raise mqtt_helpers.WaitTimeout(f"no delivery for 10 s through {broker.kind} at {broker.address}")
            publisher.publish("bench/topic", b"x" * 32, qos=qos)
        timeout = 10 + messages / 200
        if not counter.done.wait(timeout):
            raise mqtt_helpers.WaitTimeout(
                f"timed out after {timeout:g} s waiting for {messages} QoS {qos} messages "
                f"through {broker.kind} at {broker.address}: {counter.count} arrived"
            )
        return messages / (time.perf_counter() - began)
    finally:
        for client in (publisher, subscriber):
            mqtt_helpers.close_client(client)


def measure(kind: str, samples: int, messages: int) -> Result:
    result = Result(kind, start_ms=start_time_ms(kind, 5))
    with mqtt_helpers.start_broker(kind) as broker:
        for qos in (0, 1, 2):
            result.rtt_ms[qos] = round_trip_ms(broker, qos, samples)
            result.msgs_per_s[qos] = throughput(broker, qos, messages)
    return result


def table(results: list[Result]) -> str:
    reference = next((r for r in results if r.kind == "mosquitto"), results[-1])
    head = f"{'metric':<26}" + "".join(f"{r.kind:>16}" for r in results)
    rows = [head, "-" * len(head)]

    def row(name: str, values: list[float], fmt: str) -> None:
        line = f"{name:<26}" + "".join(f"{v:>16{fmt}}" for v in values)
        ref = values[results.index(reference)]
        ratios = [
            f"{r.kind}/{reference.kind}={v / ref:.2f}x"
            for r, v in zip(results, values, strict=True)
            if r is not reference
        ]
        rows.append(line + "   " + ", ".join(ratios))

    row("start (ms, median of 5)", [r.start_ms for r in results], ".1f")
    for qos in (0, 1, 2):
        row(f"round trip QoS{qos} (ms, p50)", [r.rtt_ms[qos] for r in results], ".3f")
    for qos in (0, 1, 2):
        row(f"throughput QoS{qos} (msg/s)", [r.msgs_per_s[qos] for r in results], ".0f")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", nargs="+", default=["amqtt", "mosquitto"])
    parser.add_argument("--samples", type=int, default=300, help="round trips per QoS (median reported)")
    parser.add_argument("--messages", type=int, default=5000, help="messages per throughput run")
    args = parser.parse_args(argv)
    results = []
    for kind in args.kinds:
        print(f"measuring {kind} ...", file=sys.stderr, flush=True)
        results.append(measure(kind, args.samples, args.messages))
    print(
        f"paho-mqtt {paho.mqtt.__version__}; Python {sys.version.split()[0]}; "
        f"{args.samples} round trips, {args.messages} messages per throughput run; 32-byte payloads"
    )
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
