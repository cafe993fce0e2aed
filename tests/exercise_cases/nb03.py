"""Exercise cases for notebooks/03-subscribing.ipynb (run by tests/test_exercises.py)."""

KITCHEN = """def kitchen_on_connect(client, userdata, flags, reason_code, properties):
    client.subscribe(FILTER)


kitchen.on_connect = kitchen_on_connect
kitchen.connect(broker.host, broker.port)
kitchen.loop_start()
"""

THERMOSTAT = """def room_reading(into):
    return lambda client, userdata, message: into.append((ROOM, VALUE))


thermostat.on_connect = lambda client, userdata, flags, reason_code, properties: client.subscribe(
    [("house/+/temp", 0), ("house/+/setpoint", 0)]
)
thermostat.message_callback_add(TEMPS, room_reading(temps))
thermostat.message_callback_add("house/+/setpoint", room_reading(setpoints))
thermostat.connect(broker.host, broker.port)
thermostat.loop_start()
"""


def thermostat(
    room: str = 'message.topic.split("/")[1]', value: str = "float(message.payload)", temps: str = '"house/+/temp"'
) -> str:
    return THERMOSTAT.replace("ROOM", room).replace("VALUE", value).replace("TEMPS", temps)


EXERCISES = [
    {  # Exercise 1: subscribe to house/kitchen/# in on_connect
        "wrong": {
            "subscribes once after connecting, not in on_connect": (
                "kitchen.connect(broker.host, broker.port)\n"
                "kitchen.loop_start()\n"
                'kitchen.subscribe("house/kitchen/#")\n'
            ),
            "the whole house/#": KITCHEN.replace("FILTER", '"house/#"'),
            "one level only: house/kitchen/+": KITCHEN.replace("FILTER", '"house/kitchen/+"'),
            "two filters, one and two levels deep": KITCHEN.replace(
                "FILTER", '[("house/kitchen/+", 0), ("house/kitchen/+/+", 0)]'
            ),
            "house/kitchen/# and one more filter": KITCHEN.replace(
                "FILTER", '[("house/kitchen/#", 0), ("house/kitchen/light", 0)]'
            ),
            "a paho 1.x on_connect with four arguments": KITCHEN.replace("FILTER", '"house/kitchen/#"').replace(
                "flags, reason_code, properties", "flags, rc"
            ),
        },
        "right": {
            "a (filter, qos) tuple at QoS 1, in a lambda": (
                "kitchen.on_connect = lambda client, userdata, flags, reason_code, properties: client.subscribe(\n"
                '    ("house/kitchen/#", 1)\n'
                ")\n"
                "kitchen.connect(broker.host, broker.port)\n"
                "kitchen.loop_start()\n"
            ),
        },
    },
    {  # Exercise 2: thermostat subscribes in on_connect, routes (room, float) to temps and setpoints
        "wrong": {
            "subscribes once after connecting, not in on_connect": thermostat()
            .replace(
                "thermostat.on_connect = lambda client, userdata, flags, reason_code, properties: client.subscribe(\n"
                '    [("house/+/temp", 0), ("house/+/setpoint", 0)]\n)\n',
                "",
            )
            .replace(
                "thermostat.loop_start()\n",
                'thermostat.loop_start()\nthermostat.subscribe([("house/+/temp", 0), ("house/+/setpoint", 0)])\n',
            ),
            "keeps the values as text": thermostat(value="message.payload.decode()"),
            "the whole topic instead of the room": thermostat(room="message.topic"),
            "temperatures from house/# (every message)": thermostat(temps='"house/#"'),
            "forgets the setpoints": thermostat().replace(', ("house/+/setpoint", 0)', ""),
            "subscribes to house/#: follows deeper topics too": thermostat().replace(
                '[("house/+/temp", 0), ("house/+/setpoint", 0)]', '"house/#"'
            ),
            "subscribes to # beside the two handlers": thermostat().replace(
                '[("house/+/temp", 0), ("house/+/setpoint", 0)]', '"#"'
            ),
        },
        "right": {
            "two subscribe calls at QoS 1 in a def on_connect, room from the end": (
                "def thermostat_on_connect(client, userdata, flags, reason_code, properties):\n"
                '    client.subscribe("house/+/temp", qos=1)\n'
                '    client.subscribe("house/+/setpoint", qos=1)\n\n\n'
                "def record_temp(client, userdata, message):\n"
                '    temps.append((message.topic.split("/")[-2], float(message.payload.decode())))\n\n\n'
                "def record_setpoint(client, userdata, message):\n"
                '    setpoints.append((message.topic.split("/")[-2], float(message.payload.decode())))\n\n\n'
                "thermostat.on_connect = thermostat_on_connect\n"
                'thermostat.message_callback_add("house/+/temp", record_temp)\n'
                'thermostat.message_callback_add("house/+/setpoint", record_setpoint)\n'
                "thermostat.connect(broker.host, broker.port)\n"
                "thermostat.loop_start()\n"
            ),
        },
    },
]
