"""A dashboard: prints every sensor reading and every online/offline change, and survives bad messages.

    python examples/dashboard.py --host localhost --port 1883 [--count N] [--stale SECONDS]

Subscribes to sensors/+/reading (JSON: n, temperature, time) and sensors/+/status ("online"/"offline", retained);
see sensor.py. A reading older than --stale seconds (queued while a sensor was offline) is marked stale. A message
it cannot use is reported in one line and skipped: one bad retained message must not stop it at every start.
Stop it with Ctrl-C. Needs only paho-mqtt (pip install paho-mqtt) and the standard library.
"""

import argparse
import contextlib
import json
import signal
import sys
import time

import paho.mqtt.client as mqtt

TOPICS = [("sensors/+/reading", 1), ("sensors/+/status", 1)]
# After a lost connection paho waits RECONNECT_MIN s, then doubles the wait after each failed attempt up to
# RECONNECT_MAX. paho's default cap, 120 s, means a broker back after 25 s is found only by the attempt at 31 s.
# A 5 s cap: at most 5 s blind after the broker returns; once the wait has grown to it, one attempt per 5 s.
RECONNECT_MIN, RECONNECT_MAX = 1, 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Print the readings and status of every sensor.")
    parser.add_argument("--host", default="localhost", help="broker host (default: localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default: 1883)")
    parser.add_argument("--count", type=int, help="exit after this many readings (default: run until Ctrl-C)")
    parser.add_argument("--stale", type=float, default=10.0, help="mark readings older than this (s, default: 10)")
    args = parser.parse_args()
    if not 0 < args.port < 65536 or args.stale < 0 or (args.count is not None and args.count < 1):
        parser.error("--port must be 1-65535, --stale 0 or more, --count 1 or more")
    return args


def number(reading: dict, key: str) -> float:
    value = reading[key]  # KeyError if missing
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is not a number: {value!r}")
    return value


def describe(message: mqtt.MQTTMessage, stale: float) -> tuple[str, bool]:
    """The line to print for a message, and whether it is a reading; an exception if it is unusable."""
    sensor, kind = message.topic.split("/")[1:3]  # our two filters guarantee three levels
    if kind == "status":
        status = message.payload.decode()  # UnicodeDecodeError is a ValueError
        if status not in ("online", "offline"):
            raise ValueError(f"unknown status {status!r}")
        return f"{sensor}: {status}{' (retained)' if message.retain else ''}", False
    reading = json.loads(message.payload)  # JSONDecodeError and UnicodeDecodeError are ValueErrors
    if not isinstance(reading, dict):
        raise ValueError("not a JSON object")
    n, temperature, taken = number(reading, "n"), number(reading, "temperature"), number(reading, "time")
    age = time.time() - taken  # the sensor's clock against ours: keep machines in NTP sync
    note = f" (stale: taken {age:.0f} s ago)" if age > stale else ""
    return f"{sensor}: reading {n}: {temperature} C{note}", True


def main() -> int:
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # one line at a time, even into a pipe
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C works even if started in the background
    readings, failures, connections = 0, [], 0

    # A script may print straight from callbacks: loop_forever() runs them on the main thread.
    def on_connect(client, userdata, flags, reason_code, properties):
        nonlocal connections
        if reason_code.is_failure:  # e.g. "Not authorized": retrying will not help
            failures.append(f"the broker at {args.host}:{args.port} refused the connection: {reason_code}")
            client.disconnect()  # ends loop_forever()
            return
        connections += 1
        if connections > 1:
            print("dashboard: reconnected")
        client.subscribe(TOPICS)  # here, not after connect(): every reconnect subscribes again

    def on_disconnect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            print(f"dashboard: connection lost ({reason_code}); retrying every {RECONNECT_MIN}-{RECONNECT_MAX} s")

    def on_subscribe(client, userdata, mid, reason_code_list, properties):
        # One reason code per filter: a granted QoS, or a failure (0x80 in MQTT 3.1.1, e.g. an ACL refusal).
        for (topic, _), reason_code in zip(TOPICS, reason_code_list, strict=True):
            if reason_code.is_failure:
                failures.append(f"the broker refused the subscription to {topic}: {reason_code}")
        if failures:
            client.disconnect()
        else:
            print("dashboard: subscribed to", ", ".join(topic for topic, _ in TOPICS))

    def on_message(client, userdata, message):
        nonlocal readings
        try:
            line, is_reading = describe(message, args.stale)
        # Any exception, not only ValueError: json.loads(b"[" * 100000) raises RecursionError, a "time" of 10**400
        # OverflowError. Report and skip: an exception here would end loop_forever(), and with it the program.
        except Exception as exc:  # noqa: BLE001
            retained = "retained " if message.retain else ""
            problem = f"{type(exc).__name__}: {exc}"
            print(f"dashboard: skipped {retained}{message.topic} {message.payload[:40]!r}: {problem}")
            return
        print(line)
        readings += is_reading
        if args.count is not None and readings >= args.count:
            client.disconnect()  # ends loop_forever()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)  # a generated client id
    client.on_connect, client.on_disconnect = on_connect, on_disconnect
    client.on_subscribe, client.on_message = on_subscribe, on_message
    client.reconnect_delay_set(RECONNECT_MIN, RECONNECT_MAX)
    try:
        try:
            client.connect(args.host, args.port)
        except OSError as exc:  # refused, unknown host, timed out
            print(f"dashboard: cannot reach an MQTT broker at {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        client.loop_forever()  # runs the callbacks; reconnects by itself until disconnect()
    except KeyboardInterrupt:
        client.disconnect()  # a clean goodbye to the broker
        print("dashboard: stopped")
    for failure in failures:
        print(f"dashboard: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # a Ctrl-C outside the places that handle it: no traceback
        sys.exit(main())
