"""Exercise cases for notebooks/06-qos-retain-will-sessions.ipynb (run by tests/test_exercises.py)."""

_GATE = (
    "def on_connect_gate(client, userdata, flags, reason_code, properties):\n"
    "    client.publish('garden/gate/status', 'online', qos={online_qos}, retain={online_retain})\n"
    "gate = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'gate06')\n"
    "gate.will_set('garden/gate/status', 'offline', qos={will_qos}, retain={will_retain})\n"
    "gate.on_connect = on_connect_gate\n"
    "gate.connect(broker.host, broker.port)\n"
    "gate.loop_start()\n"
)
_RIGHT = {"online_qos": 1, "online_retain": True, "will_qos": 1, "will_retain": True}

_OWL = (
    "def connect_owl():\n"
    "    subscribed = threading.Event()\n"
    "    owl = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'night-owl', clean_session={clean})\n"
    "    owl.on_connect = lambda client, userdata, flags, rc, props: client.subscribe('alerts/#', qos={qos})\n"
    "    owl.on_subscribe = lambda client, userdata, mid, codes, props: subscribed.set()\n"
    "    owl.on_message = lambda client, userdata, message: owl_alerts.put({put})\n"
    "    owl.connect(broker.host, broker.port)\n"
    "    owl.loop_start()\n"
    "    subscribed.wait(5)\n"
    "    return owl\n"
)
_OWL_RIGHT = {"clean": False, "qos": 1, "put": "message.payload.decode()"}

EXERCISES = [
    {  # Exercise 1: gate's will offline QoS 1 retained; online QoS 1 retained from on_connect
        "wrong": {
            "the will is not retained": _GATE.format(**{**_RIGHT, "will_retain": False}),
            "the will at QoS 0": _GATE.format(**{**_RIGHT, "will_qos": 0}),
            "online not retained": _GATE.format(**{**_RIGHT, "online_retain": False}),
            "online at QoS 0": _GATE.format(**{**_RIGHT, "online_qos": 0}),
            "online published once from the main code, not from on_connect": (
                "gate = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'gate06')\n"
                "gate.will_set('garden/gate/status', 'offline', qos=1, retain=True)\n"
                "gate.connect(broker.host, broker.port)\n"
                "gate.loop_start()\n"
                "gate.publish('garden/gate/status', 'online', qos=1, retain=True)\n"
            ),
            "no will at all": (
                "def on_connect_gate(client, userdata, flags, reason_code, properties):\n"
                "    client.publish('garden/gate/status', 'online', qos=1, retain=True)\n"
                "gate = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'gate06')\n"
                "gate.on_connect = on_connect_gate\n"
                "gate.connect(broker.host, broker.port)\n"
                "gate.loop_start()\n"
            ),
            "the will on garden/gate, not garden/gate/status": _GATE.format(**_RIGHT).replace(
                "will_set('garden/gate/status'", "will_set('garden/gate'"
            ),
            "online published to garden/gate/online": _GATE.format(**_RIGHT).replace(
                "publish('garden/gate/status'", "publish('garden/gate/online'"
            ),
            "on_connect with paho 1.x's four parameters (raises TypeError in paho's thread)": _GATE.format(
                **_RIGHT
            ).replace("flags, reason_code, properties)", "flags, rc)"),
            # A right answer ran first and left 'online' retained at QoS 1 on the broker; then the learner
            # changed the cell to publish 'online' without retain: only the retained store shows it.
            "online not retained, after a right answer had left 'online' retained": (
                "published = threading.Event()\n"
                + _GATE.format(**_RIGHT).replace(
                    "gate.connect(", "gate.on_publish = lambda *a: published.set()\ngate.connect("
                )
                + "published.wait(5)\n"
                + "mqtt_helpers.close_client(gate)\n"
                + _GATE.format(**{**_RIGHT, "online_retain": False})
            ),
        },
        "right": {
            "a subclass with keyword arguments and bytes payloads": (
                "class Gate(mqtt.Client):\n"
                "    def on_connect(self, client, userdata, flags, reason_code, properties):\n"
                "        self.publish(topic='garden/gate/status', payload=b'online', qos=1, retain=True)\n"
                "\n"
                "if isinstance(globals().get('gate'), mqtt.Client):\n"
                "    mqtt_helpers.close_client(gate)\n"
                "gate = Gate(mqtt.CallbackAPIVersion.VERSION2, client_id='gate06')\n"
                "gate.will_set(topic='garden/gate/status', payload=b'offline', qos=1, retain=True)\n"
                "gate.connect(broker.host, broker.port, keepalive=30)\n"
                "gate.loop_start()\n"
            ),
        },
    },
    {  # Exercise 2: connect_owl with a persistent session, QoS 1, decoded payloads on owl_alerts
        "wrong": {
            "clean_session=True": _OWL.format(**{**_OWL_RIGHT, "clean": True}),
            "clean_session=True and an undecoded payload": _OWL.format(
                **{**_OWL_RIGHT, "clean": True, "put": "message.payload"}
            ),
            "puts the message object": _OWL.format(**{**_OWL_RIGHT, "put": "message"}),
            "subscribes at QoS 0": _OWL.format(**{**_OWL_RIGHT, "qos": 0}),
            "forgets to return the client": _OWL.format(**_OWL_RIGHT).replace("    return owl\n", ""),
            "subscribes to alerts/smoke only (the sentinel on alerts/sync never returns)": _OWL.format(
                **_OWL_RIGHT
            ).replace("'alerts/#'", "'alerts/smoke'"),
            "a typo in on_message (owl_alertz: NameError ends paho's thread)": _OWL.format(
                **{**_OWL_RIGHT, "put": "message.payload.decode()"}
            ).replace("owl_alerts.put(", "owl_alertz.put("),
            "subscribes to 'alerts' without a wildcard": _OWL.format(**_OWL_RIGHT).replace("'alerts/#'", "'alerts'"),
            "clean_session=False with a new client id each time": _OWL.format(**_OWL_RIGHT).replace(
                "'night-owl'", "mqtt_helpers.unique_client_id('night-owl')"
            ),
        },
        "right": {
            "a queue for the SUBACK and str() of the payload": (
                "def connect_owl():\n"
                "    acks = queue.Queue()\n"
                "    owl = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id='night-owl', clean_session=False)\n"
                "\n"
                "    def on_connect(client, userdata, flags, reason_code, properties):\n"
                "        client.subscribe([('alerts/#', 1)])\n"
                "\n"
                "    owl.on_connect = on_connect\n"
                "    owl.on_subscribe = lambda *args: acks.put(args[3])\n"
                "    owl.on_message = lambda client, userdata, message: owl_alerts.put(str(message.payload, 'utf-8'))\n"
                "    owl.connect(broker.host, broker.port)\n"
                "    owl.loop_start()\n"
                "    acks.get(timeout=5)\n"
                "    return owl\n"
            ),
        },
    },
]
