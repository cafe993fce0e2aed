"""Exercise cases for notebooks/04-callbacks.ipynb (run by tests/test_exercises.py)."""

EXERCISES = [
    {  # Exercise 1: on_connect_v2 stores str(reason_code) in userdata and sets connected_flag
        "wrong": {
            "stores the ReasonCode object, not str()": (
                "def on_connect_v2(client, userdata, flags, reason_code, properties):\n"
                "    userdata['reason'] = reason_code\n"
                "    client.connected_flag = True\n"
            ),
            "the paho 1.x signature": (
                "def on_connect_v2(client, userdata, flags, rc):\n"
                "    userdata['reason'] = str(rc)\n"
                "    client.connected_flag = True\n"
            ),
            "forgets connected_flag": (
                "def on_connect_v2(client, userdata, flags, reason_code, properties):\n"
                "    userdata['reason'] = str(reason_code)\n"
            ),
            "stores the number, not the text": (
                "def on_connect_v2(client, userdata, flags, reason_code, properties):\n"
                "    userdata['reason'] = reason_code.value\n"
                "    client.connected_flag = True\n"
            ),
            "stores the flags instead of the reason code": (
                "def on_connect_v2(client, userdata, flags, reason_code, properties):\n"
                "    userdata['reason'] = str(flags)\n"
                "    client.connected_flag = True\n"
            ),
        },
        "right": {
            "getName() and keyword-style update": (
                "def on_connect_v2(client, userdata, flags, reason_code, properties):\n"
                "    userdata.update(reason=reason_code.getName())\n"
                "    setattr(client, 'connected_flag', True)\n"
            ),
        },
    },
    {  # Exercise 2: listener subscribes at QoS 1 in on_connect, sets listening, queues decoded payloads
        "wrong": {
            "subscribes after connect(), not in on_connect": (
                "listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'listener04')\n"
                "listener.on_subscribe = lambda client, userdata, mid, codes, properties: listening.set()\n"
                "listener.on_message = lambda client, userdata, message: answers.put(message.payload.decode())\n"
                "listener.connect(broker.host, broker.port)\n"
                "listener.subscribe('study/answer', qos=1)\n"
                "listener.loop_start()\n"
            ),
            "subscribes at QoS 0": (
                "def on_connect(client, userdata, flags, reason_code, properties):\n"
                "    client.subscribe('study/answer')\n"
                "listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'listener04')\n"
                "listener.on_connect = on_connect\n"
                "listener.on_subscribe = lambda client, userdata, mid, codes, properties: listening.set()\n"
                "listener.on_message = lambda client, userdata, message: answers.put(message.payload.decode())\n"
                "listener.connect(broker.host, broker.port)\n"
                "listener.loop_start()\n"
            ),
            "subscribes at QoS 2": (
                "def on_connect(client, userdata, flags, reason_code, properties):\n"
                "    client.subscribe('study/answer', qos=2)\n"
                "listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'listener04')\n"
                "listener.on_connect = on_connect\n"
                "listener.on_subscribe = lambda client, userdata, mid, codes, properties: listening.set()\n"
                "listener.on_message = lambda client, userdata, message: answers.put(message.payload.decode())\n"
                "listener.connect(broker.host, broker.port)\n"
                "listener.loop_start()\n"
            ),
            "puts the undecoded payload": (
                "def on_connect(client, userdata, flags, reason_code, properties):\n"
                "    client.subscribe('study/answer', qos=1)\n"
                "listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'listener04')\n"
                "listener.on_connect = on_connect\n"
                "listener.on_subscribe = lambda client, userdata, mid, codes, properties: listening.set()\n"
                "listener.on_message = lambda client, userdata, message: answers.put(message.payload)\n"
                "listener.connect(broker.host, broker.port)\n"
                "listener.loop_start()\n"
            ),
            "never sets listening": (
                "def on_connect(client, userdata, flags, reason_code, properties):\n"
                "    client.subscribe('study/answer', qos=1)\n"
                "listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'listener04')\n"
                "listener.on_connect = on_connect\n"
                "listener.on_message = lambda client, userdata, message: answers.put(message.payload.decode())\n"
                "listener.connect(broker.host, broker.port)\n"
                "listener.loop_start()\n"
            ),
        },
        "right": {
            "decorators and a named on_subscribe": (
                "listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, 'listener04')\n"
                "\n"
                "@listener.connect_callback()\n"
                "def subscribe_again(client, userdata, flags, reason_code, properties):\n"
                "    client.subscribe([('study/answer', 1)])\n"
                "\n"
                "@listener.subscribe_callback()\n"
                "def confirmed(client, userdata, mid, reason_code_list, properties):\n"
                "    listening.set()\n"
                "\n"
                "@listener.message_callback()\n"
                "def hand_over(client, userdata, message):\n"
                "    answers.put(str(message.payload, 'utf-8'))\n"
                "\n"
                "listener.connect(broker.host, broker.port, keepalive=30)\n"
                "listener.loop_start()\n"
            ),
        },
    },
]
