"""A simulated sensor: publishes timestamped JSON readings at QoS 1 and a retained online/offline status.

    python examples/sensor.py --host localhost --port 1883 --id kitchen --count 5 --interval 1 --queue 100

Topics: sensors/<id>/reading (JSON: id, n, temperature, time) and sensors/<id>/status ("online"/"offline", retained).
If the program dies without saying goodbye, the broker publishes its will: "offline".
"published" means the broker acknowledged it (PUBACK). While the broker is away, readings wait in a bounded queue
(--queue); when it is full, new readings are dropped, and the program says so. Needs only paho-mqtt and the stdlib.
"""

import argparse
import contextlib
import json
import os
import queue
import random
import signal
import socket
import sys
import threading
import time

import paho.mqtt.client as mqtt

# After a lost connection paho waits RECONNECT_MIN s, then doubles the wait after each failed attempt up to
# RECONNECT_MAX. paho's default cap, 120 s, means a broker back after 25 s is found only by the attempt at 31 s.
# A 5 s cap: at most 5 s blind after the broker returns; once the wait has grown to it, one attempt per 5 s.
RECONNECT_MIN, RECONNECT_MAX = 1, 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Publish simulated sensor readings over MQTT.")
    parser.add_argument("--host", default="localhost", help="broker host (default: localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default: 1883)")
    parser.add_argument("--id", help="sensor id, also the client id (default: HOSTNAME-PID, unique per process)")
    parser.add_argument("--count", type=int, help="stop after this many readings (default: run until Ctrl-C)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between readings (default: 1)")
    parser.add_argument("--queue", type=int, default=100, help="readings kept while offline (default: 100)")
    args = parser.parse_args()
    # Two sensors on one machine must not share a client id: the broker would keep kicking one out.
    args.id = args.id or f"{socket.gethostname().split('.')[0]}-{os.getpid()}"
    if any(char in args.id for char in "+#/"):
        parser.error(f"--id {args.id!r}: an id becomes a topic level, so it must not contain '+', '#' or '/'")
    if not 0 < args.port < 65536 or args.interval < 0 or args.queue < 1 or (args.count is not None and args.count < 1):
        parser.error("--port must be 1-65535, --interval 0 or more, --queue and --count 1 or more")
    return args


def main() -> int:
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # one line at a time, even into a pipe
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C works even if started in the background
    status = f"sensors/{args.id}/status"
    settled = threading.Event()  # set by the first CONNACK, accepted or refused
    refused = []  # the reason code of a refusal
    acks: queue.Queue[int] = queue.Queue()  # mids acknowledged by the broker, for the main thread to report
    waiting = {}  # mid -> what it carries, until its PUBACK

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:  # e.g. "Not authorized": retrying will not help
            refused.append(reason_code)
            client.disconnect()  # stops paho's automatic reconnect
        else:
            if settled.is_set():
                print(f"{args.id}: reconnected")
            client.publish(status, "online", qos=1, retain=True)  # every (re)connect; paho's queue has room for it
        settled.set()

    def on_disconnect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            print(f"{args.id}: connection lost ({reason_code}); retrying every {RECONNECT_MIN}-{RECONNECT_MAX} s")

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, args.id)
    client.on_connect, client.on_disconnect = on_connect, on_disconnect
    client.on_publish = lambda client, userdata, mid, reason_code, properties: acks.put(mid)
    client.reconnect_delay_set(RECONNECT_MIN, RECONNECT_MAX)
    # A bound on paho's queue (in memory only): without one, a long outage grows it without limit, and the
    # reconnect sends it all at once, ignoring max_inflight_messages (paho issue #492). We bound the readings
    # ourselves, so that a full queue never refuses on_connect's "online" or the goodbye: paho's bound has room.
    client.max_queued_messages_set(args.queue + 4)
    # Set before connect(): the broker publishes this if we vanish without a DISCONNECT.
    client.will_set(status, "offline", qos=1, retain=True)

    def report_acks(seconds, until=None):
        """Print what the broker acknowledges, for `seconds` or until mid `until` is (Ctrl-C interrupts it)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                mid = acks.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if mid in waiting:
                print(f"{args.id}: published {waiting.pop(mid)}")
            if mid == until:
                return

    random_source = random.Random(args.id)  # seeded: the same id gives the same readings
    try:
        try:
            client.connect(args.host, args.port)
        except OSError as exc:  # refused, unknown host, timed out
            print(f"{args.id}: cannot reach an MQTT broker at {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        client.loop_start()  # a network thread: the main thread only measures, publishes and reports
        if not settled.wait(10):
            print(f"{args.id}: no CONNACK from {args.host}:{args.port} within 10 s", file=sys.stderr)
            return 1
        n = 0
        while not refused and (args.count is None or n < args.count):
            n += 1
            temperature = round(random_source.uniform(18, 26), 1)
            reading = {"id": args.id, "n": n, "temperature": temperature, "time": round(time.time(), 3)}
            what = f"reading {n}: {temperature} C"
            report_acks(0)  # forget what was acknowledged meanwhile
            if len(waiting) >= args.queue:  # drop the new reading, keep the old ones (as paho's own bound would)
                print(f"{args.id}: dropped {what}: offline queue full ({len(waiting)} waiting)")
            else:
                info = client.publish(f"sensors/{args.id}/reading", json.dumps(reading), qos=1)
                waiting[info.mid] = what
                if info.rc == mqtt.MQTT_ERR_NO_CONN:
                    print(f"{args.id}: queued {what} (offline, {len(waiting)} waiting)")
            report_acks(args.interval if args.count is None or n < args.count else 0)
    except KeyboardInterrupt:
        print(f"{args.id}: interrupted")
    if refused or not settled.is_set():  # refused, or Ctrl-C before any CONNACK: no "online" to take back
        for reason in refused:
            print(f"{args.id}: the broker at {args.host}:{args.port} refused the connection: {reason}", file=sys.stderr)
        client.loop_stop()  # without a DISCONNECT: if the broker took our CONNECT, it publishes the will
        return 1
    # Say "offline" ourselves, and tell the truth about whether the broker got it.
    goodbye, delivered = client.publish(status, "offline", qos=1, retain=True), False
    if goodbye.rc == mqtt.MQTT_ERR_SUCCESS:
        waiting[goodbye.mid] = "goodbye"  # the retained status "offline"
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C stops the wait
            report_acks(5, until=goodbye.mid)
        delivered = waiting.pop(goodbye.mid, None) is None
    unsent = f" ({len(waiting)} readings never acknowledged)" if waiting else ""
    if delivered:
        client.disconnect()  # a clean DISCONNECT: the broker drops the will, our "offline" stands
        client.loop_stop()  # only after the DISCONNECT: on a live connection it waits for every missing PUBACK
    # Without a DISCONNECT (no goodbye got through) the broker publishes the will; paho's thread ends with us.
    lost = "no goodbye acknowledged; the broker will publish our will"
    print(f"{args.id}: {'offline' if delivered else lost}{unsent}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # a Ctrl-C outside the places that handle it: no traceback
        sys.exit(main())
