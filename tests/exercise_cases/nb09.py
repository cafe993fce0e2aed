"""Exercise cases for notebooks/09-staying-connected.ipynb (run by tests/test_exercises.py)."""

EXERCISES = [
    {
        "wrong": {
            "subscribes at QoS 0 (paho's default)": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                '    client.subscribe("exercise/survivor")\n'
            ),
            "subscribes on the first connection only": (
                "subscribed = False\n\n\n"
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                "    global subscribed\n"
                "    if not subscribed:\n"
                '        client.subscribe("exercise/survivor", qos=1)\n'
                "        subscribed = True\n"
            ),
            "a typo in the topic": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                '    client.subscribe("exercise/survivors", qos=1)\n'
            ),
            "subscribes at QoS 2 (more than asked)": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                '    client.subscribe("exercise/survivor", qos=2)\n'
            ),
            "never subscribes (only prints)": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                '    print("connected:", reason_code)\n'
            ),
            "subscribes only when the broker kept a session": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                "    if flags.session_present:\n"
                '        client.subscribe("exercise/survivor", qos=1)\n'
            ),
            "subscribes at QoS 2 and publishes a QoS 1 'hello' to exercise/survivor from on_connect": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                '    client.subscribe("exercise/survivor", qos=2)\n'
                '    client.publish("exercise/survivor", "hello", qos=1)\n'
            ),
            "waits for the SUBACK inside on_connect (mqtt_helpers.subscribe)": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                '    mqtt_helpers.subscribe(client, "exercise/survivor", qos=1)\n'
            ),
            "the VERSION1 signature (paho 1.x)": (
                "def survivor_on_connect(client, userdata, flags, rc):\n"
                '    client.subscribe("exercise/survivor", qos=1)\n'
            ),
        },
        "right": {
            "also publishes a QoS 0 'back online' to exercise/survivor from on_connect": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                '    client.subscribe("exercise/survivor", qos=1)\n'
                '    client.publish("exercise/survivor", "back online", qos=0)\n'
            ),
            "a list of (topic, qos) and a check of the reason code": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                "    if reason_code.is_failure:\n"
                "        return\n"
                '    client.subscribe([("exercise/survivor", 1)])\n'
            ),
            "only when the broker has no session (it had none after the restart)": (
                "def survivor_on_connect(client, userdata, flags, reason_code, properties):\n"
                "    if not flags.session_present:\n"
                '        client.subscribe(("exercise/survivor", 1))\n'
            ),
        },
    },
]
