"""Exercise cases for notebooks/02-publishing.ipynb (run by tests/test_exercises.py)."""

import json
from pathlib import Path

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


def preamble() -> str:
    """The lines above `# Your code here` in Exercise 2's cell (they close an earlier run's sensor and drain its
    readings), read from the notebook, so that these cases test the cell as it is."""
    cells = json.loads((Path(__file__).parents[2] / "notebooks" / "02-publishing.ipynb").read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if "exercise" in c["metadata"].get("tags", [])]
    return next(s for s in sources if "sensor" in s).split("# Your code here")[0]


# A learner re-runs the cell seconds later: by then the first run's readings are at the watcher (nothing else is left
# in its inbox at this point of the notebook)
PAUSE = 'mqtt_helpers.wait_for(lambda: len(watched) >= 5, 5, what="the first run\'s readings at the watcher")\n'


def two_runs(first: str, second: str) -> str:
    """One cell that does what running the exercise cell twice does: first answer, a pause, then the second."""
    return preamble() + first + PAUSE + preamble() + second


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
            "keeps the receipt of another publish": (
                'client1.publish("house/bulb2/status", json.dumps(bulb_status), qos=1)\n'
                'status_info = client1.publish("house/bulb1", "on", qos=1)\n'
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
            "a right run, then a QoS 0 run (the check must judge the last run)": two_runs(sensor(), sensor(qos="0")),
        },
        "right": {
            "a QoS 0 run left connected, then a right run": two_runs(sensor(qos="0", close="pass"), sensor()),
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
