"""Exercise cases for notebooks/01-client-and-connecting.ipynb (run by tests/test_exercises.py)."""

ON_SUCCESS = """def kitchen_on_connect(client, userdata, flags, reason_code, properties):
    if reason_code == 0:
        kitchen_ready.set()


"""

START = "kitchen.on_connect = kitchen_on_connect\nkitchen.connect(broker.host, broker.port)\nkitchen.loop_start()\n"
UNIQUE = 'kitchen = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, mqtt_helpers.unique_client_id("kitchen"))\n'

LOGIN = """def login_result(username, password):
    answer, done = [], threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        answer.append(REASON)
        done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, RECONNECT)
    client.on_connect = on_connect
    client.username_pw_set(username, password)
    client.connect(HOST, PORT)
    client.loop_start()
    WAIT
    CLOSE
    return answer[0] if answer else "no answer"
"""


def login(
    reason: str = "str(reason_code)",
    reconnect: str = "reconnect_on_failure=False",
    host: str = "secure",
    wait: str = "done.wait(2)",
    close: str = "client.disconnect()\n    client.loop_stop()",
) -> str:
    return (
        LOGIN.replace("REASON", reason)
        .replace("RECONNECT", reconnect)
        .replace("HOST, PORT", f"{host}.host, {host}.port")
        .replace("WAIT", wait)
        .replace("CLOSE", close)
    )


EXERCISES = [
    {  # Exercise 1: kitchen with a unique id; on_connect sets kitchen_ready only on success
        "wrong": {
            "never connects, sets kitchen_ready by hand": ON_SUCCESS
            + UNIQUE
            + "kitchen.on_connect = kitchen_on_connect\nkitchen_ready.set()\n",
            "a fixed id, not a unique one": ON_SUCCESS
            + 'kitchen = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, "kitchen")\n'
            + START,
            "sets kitchen_ready whatever the reason code": (
                UNIQUE
                + "kitchen.on_connect = lambda client, userdata, flags, reason_code, properties: kitchen_ready.set()\n"
                "kitchen.connect(broker.host, broker.port)\nkitchen.loop_start()\n"
            ),
            "a paho 1.x on_connect with four arguments": (
                "def kitchen_on_connect(client, userdata, flags, rc):\n"
                "    if rc == 0:\n        kitchen_ready.set()\n\n\n" + UNIQUE + START
            ),
            "no loop_start": ON_SUCCESS
            + UNIQUE
            + "kitchen.on_connect = kitchen_on_connect\nkitchen.connect(broker.host, broker.port)\n",
        },
        "right": {
            "an id without separator, is_failure test, keyword client_id": (
                "import random\n\n\n"
                "def on_kitchen_connect(client, userdata, flags, reason_code, properties):\n"
                "    if not reason_code.is_failure:\n        kitchen_ready.set()\n\n\n"
                'kitchen_id = f"kitchen{random.randint(0, 999_999):06d}"\n'
                "kitchen = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=kitchen_id)\n"
                + START.replace("kitchen_on_connect", "on_kitchen_connect")
            ),
        },
    },
    {  # Exercise 2: login_result returns str(reason_code), leaves no paho thread
        "wrong": {
            "returns the ReasonCode object": login(reason="reason_code"),
            "keeps the retrying client, never disconnects or stops its loop": login(
                reconnect="reconnect_on_failure=True", close="pass"
            ),
            "returns the numeric value": login(reason="reason_code.value"),
            "connects to broker instead of secure": login(host="broker"),
            "the notes' VERSION1 callback, returning str(rc)": login(reason="str(reason_code)")
            .replace("mqtt.CallbackAPIVersion.VERSION2", "mqtt.CallbackAPIVersion.VERSION1")
            .replace("flags, reason_code, properties", "flags, reason_code"),
        },
        "right": {
            "a queue instead of an event, getName(), default reconnect but closed": (
                "def login_result(username, password):\n"
                "    answers = queue.Queue()\n"
                "    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)\n"
                "    client.on_connect = lambda client, userdata, flags, reason_code, properties: (\n"
                "        answers.put(reason_code)\n    )\n"
                "    client.username_pw_set(username, password)\n"
                "    client.connect(secure.host, secure.port)\n"
                "    client.loop_start()\n"
                "    try:\n        text = answers.get(timeout=2).getName()\n"
                "    except queue.Empty:\n        text = 'no answer'\n"
                "    client.disconnect()\n    client.loop_stop()\n"
                "    return text\n"
            ),
        },
    },
]
