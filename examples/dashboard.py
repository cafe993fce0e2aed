"""A dashboard: prints every sensor reading and every online/offline change.

    python examples/dashboard.py --host localhost --port 1883 [--count N]

Subscribes to sensors/+/reading and sensors/+/status (see sensor.py). Stop it with Ctrl-C.
Needs only paho-mqtt (pip install paho-mqtt) and the standard library.
"""

import argparse
import json
import signal
import sys

import paho.mqtt.client as mqtt

TOPICS = [("sensors/+/reading", 1), ("sensors/+/status", 1)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Print the readings and status of every sensor.")
    parser.add_argument("--host", default="localhost", help="broker host (default: localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default: 1883)")
    parser.add_argument("--count", type=int, help="exit after this many readings (default: run until Ctrl-C)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # one line at a time, even into a pipe
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C works even if started in the background
    readings = 0

    # A script may print straight from callbacks: loop_forever() runs them on the main thread.
    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            print(f"dashboard: the broker refused the connection: {reason_code}", file=sys.stderr)
            client.disconnect()
            return
        client.subscribe(TOPICS)  # here, not after connect(): every reconnect subscribes again

    def on_subscribe(client, userdata, mid, reason_code_list, properties):
        print("dashboard: subscribed to", ", ".join(topic for topic, _ in TOPICS))

    def on_message(client, userdata, message):
        nonlocal readings
        sensor, kind = message.topic.split("/")[1:3]
        if kind == "status":
            note = " (retained)" if message.retain else ""
            print(f"{sensor}: {message.payload.decode()}{note}")
            return
        reading = json.loads(message.payload)
        readings += 1
        print(f"{sensor}: reading {reading['n']}: {reading['temperature']} C")
        if args.count is not None and readings >= args.count:
            client.disconnect()  # ends loop_forever()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)  # a generated client id
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(args.host, args.port)
    except OSError as exc:  # refused, unknown host, timed out
        print(f"dashboard: cannot reach an MQTT broker at {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        client.loop_forever()  # runs the callbacks; reconnects by itself until disconnect()
    except KeyboardInterrupt:
        client.disconnect()  # a clean goodbye to the broker
        print("dashboard: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
