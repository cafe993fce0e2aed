"""Exercise cases for notebooks/02-publishing.ipynb (run by tests/test_exercises.py)."""

SENSOR = """sensor_confirmed = set()
sensor = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, "sensor1")
sensor.on_publish = lambda client, userdata, mid, reason_code, properties: sensor_confirmed.add(mid)
sensor.connect(broker.host, broker.port)
sensor.loop_start()
sensor_receipts = [sensor.publish("sensors/temp", PAYLOAD, qos=QOS) for n in range(1, 6)]
mqtt_helpers.wait_for(lambda: {r.mid for r in sensor_receipts} <= sensor_confirmed, 5, what="five PUBACKs")
CLOSE
"""


WAIT = 'mqtt_helpers.wait_for(lambda: {r.mid for r in sensor_receipts} <= sensor_confirmed, 5, what="five PUBACKs")'


def sensor(
    payload: str = "str(n)",
    qos: str = "1",
    close: str = "sensor.disconnect()\nsensor.loop_stop()",
    on_publish: bool = True,
) -> str:
    source = SENSOR.replace("PAYLOAD", payload).replace("QOS", qos).replace("CLOSE", close)
    if not on_publish:  # waits on the receipts instead, and never fills sensor_confirmed
        source = source.replace(
            "sensor.on_publish = lambda client, userdata, mid, reason_code, properties: sensor_confirmed.add(mid)\n", ""
        )
        source = source.replace(
            WAIT,
            "for receipt in sensor_receipts:\n    receipt.wait_for_publish(timeout=5)",
        )
    return source


EXERCISES = [
    {  # Exercise 1: bulb_status as JSON, QoS 1, receipt kept
        "wrong": {
            "QoS 2 and no wait": 'status_info = client1.publish("house/bulb2/status", json.dumps(bulb_status), 2)\n',
            "QoS 0 (the default)": (
                'status_info = client1.publish("house/bulb2/status", json.dumps(bulb_status))\n'
                "status_info.wait_for_publish(timeout=5)\n"
            ),
            "str() of the dict is not JSON": (
                'status_info = client1.publish("house/bulb2/status", str(bulb_status), qos=1)\n'
                "status_info.wait_for_publish(timeout=5)\n"
            ),
            "publishes with another client": (
                'other = mqtt_helpers.connect_client(broker, "other")\n'
                'status_info = other.publish("house/bulb2/status", json.dumps(bulb_status), qos=1)\n'
                "status_info.wait_for_publish(timeout=5)\n"
            ),
            "a different status": (
                'status_info = client1.publish("house/bulb2/status", json.dumps({**bulb_status, "state": "on"}), 1)\n'
            ),
        },
        "right": {
            "compact separators, keyword arguments, no wait": (
                "status_info = client1.publish(\n"
                '    topic="house/bulb2/status", payload=json.dumps(bulb_status, separators=(",", ":")), qos=1\n'
                ")\n"
            ),
        },
    },
    {  # Exercise 2: on_publish confirms five QoS 1 readings, then disconnect and loop_stop
        "wrong": {
            "QoS 2": sensor(qos="2"),
            "QoS 0": sensor(qos="0"),
            "never disconnects or stops the loop": sensor(close="pass"),
            "waits on the receipts, no on_publish": sensor(on_publish=False),
            "readings as words": sensor(payload='["one", "two", "three", "four", "five"][n - 1]'),
        },
        "right": {
            "int payloads, an event set by a def on_publish": (
                "sensor_confirmed, all_in = set(), threading.Event()\n\n\n"
                "def sensor_on_publish(client, userdata, mid, reason_code, properties):\n"
                "    sensor_confirmed.add(mid)\n"
                "    if len(sensor_confirmed) == 5:\n"
                "        all_in.set()\n\n\n"
                'sensor = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sensor1")\n'
                "sensor.on_publish = sensor_on_publish\n"
                "sensor.connect(broker.host, broker.port)\n"
                "sensor.loop_start()\n"
                'sensor_receipts = [sensor.publish("sensors/temp", n, 1) for n in range(1, 6)]\n'
                'print("all confirmed:", all_in.wait(5))\n'
                "sensor.disconnect()\n"
                "sensor.loop_stop()\n"
            ),
        },
    },
]
