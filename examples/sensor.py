"""A simulated sensor: publishes JSON readings at QoS 1 and a retained online/offline status.

    python examples/sensor.py --host localhost --port 1883 --id sensor-1 --count 5 --interval 1

Topics: sensors/<id>/reading (JSON) and sensors/<id>/status ("online"/"offline", retained).
If the program dies without saying goodbye, the broker publishes its will: "offline".
Needs only paho-mqtt (pip install paho-mqtt) and the standard library.
"""

import argparse
import json
import random
import signal
import sys
import threading
import time

import paho.mqtt.client as mqtt


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Publish simulated sensor readings over MQTT.")
    parser.add_argument("--host", default="localhost", help="broker host (default: localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default: 1883)")
    parser.add_argument("--id", default="sensor-1", help="sensor id, also the MQTT client id (default: sensor-1)")
    parser.add_argument("--count", type=int, help="stop after this many readings (default: run until Ctrl-C)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between readings (default: 1)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # one line at a time, even into a pipe
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C works even if started in the background
    status = f"sensors/{args.id}/status"
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            print(f"{args.id}: the broker refused the connection: {reason_code}", file=sys.stderr)
            return
        client.publish(status, "online", qos=1, retain=True)  # after every (re)connect
        connected.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, args.id)
    client.on_connect = on_connect
    # Set before connect(): the broker publishes this if we vanish without a DISCONNECT.
    client.will_set(status, "offline", qos=1, retain=True)
    try:
        client.connect(args.host, args.port)
    except OSError as exc:  # refused, unknown host, timed out
        print(f"{args.id}: cannot reach an MQTT broker at {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    client.loop_start()  # a network thread: the main thread only measures and publishes
    random_source = random.Random(args.id)  # seeded: the same id gives the same readings
    try:
        if not connected.wait(10):
            print(f"{args.id}: no CONNACK from {args.host}:{args.port} within 10 s", file=sys.stderr)
            return 1
        n = 0
        while args.count is None or n < args.count:
            n += 1
            reading = {"id": args.id, "n": n, "temperature": round(random_source.uniform(18, 26), 1)}
            client.publish(f"sensors/{args.id}/reading", json.dumps(reading), qos=1)
            print(f"{args.id}: published reading {n}: {reading['temperature']} C")
            if args.count is None or n < args.count:
                time.sleep(args.interval)  # the sampling interval; Ctrl-C interrupts it
    except KeyboardInterrupt:
        print(f"{args.id}: interrupted")
    # A clean goodbye: say "offline" ourselves (a clean DISCONNECT means no will), wait until it is out.
    goodbye = client.publish(status, "offline", qos=1, retain=True)
    if goodbye.rc == mqtt.MQTT_ERR_SUCCESS:
        goodbye.wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    print(f"{args.id}: offline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
