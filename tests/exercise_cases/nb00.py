"""Exercise cases for notebooks/00-getting-started.ipynb (run by tests/test_exercises.py)."""

KITCHEN = """kitchen_log, kitchen_ready = [], threading.Event()
kitchen = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, "kitchen")
kitchen.on_log = recorder("kitchen")
kitchen.on_message = lambda client, userdata, message: kitchen_log.append((message.topic, message.payload.decode()))
kitchen.on_subscribe = lambda client, userdata, mid, reason_codes, properties: kitchen_ready.set()
kitchen.connect(broker.host, broker.port)
kitchen.loop_start()
"""

EXERCISES = [
    {  # Exercise 1: bulb listens to house/main-light, switch publishes ON after the SUBACK
        "wrong": {
            "publishes without waiting for the SUBACK": (
                'bulb.subscribe("house/main-light")\n'
                'switch.publish("house/main-light", "ON").wait_for_publish(timeout=5)\n'
            ),
            "waits on bulb_ready without clearing it first": (
                'bulb.subscribe("house/main-light")\n'
                "bulb_ready.wait(5)\n"
                'switch.publish("house/main-light", "ON").wait_for_publish(timeout=5)\n'
            ),
            "bulb publishes ON itself": (
                "bulb_ready.clear()\n"
                'bulb.subscribe("house/main-light")\n'
                "bulb_ready.wait(5)\n"
                'bulb.publish("house/main-light", "ON").wait_for_publish(timeout=5)\n'
            ),
            "publishes 'on' instead of 'ON'": (
                "bulb_ready.clear()\n"
                'bulb.subscribe("house/main-light")\n'
                "bulb_ready.wait(5)\n"
                'switch.publish("house/main-light", "on").wait_for_publish(timeout=5)\n'
            ),
            "subscribes to a misspelt topic": (
                "bulb_ready.clear()\n"
                'bulb.subscribe("house/main_light")\n'
                "bulb_ready.wait(5)\n"
                'switch.publish("house/main-light", "ON").wait_for_publish(timeout=5)\n'
            ),
        },
        "right": {
            "a list of (topic, qos), wait_for on the event, no wait_for_publish": (
                "bulb_ready.clear()\n"
                'result, mid = bulb.subscribe([("house/main-light", 0)])\n'
                "mqtt_helpers.wait_for(bulb_ready, 5)\n"
                'switch.publish("house/main-light", "ON")\n'
            ),
        },
    },
    {  # Exercise 2: a kitchen client from scratch, switch publishes DIM after its SUBACK
        "wrong": {
            "publishes without waiting for the SUBACK": KITCHEN
            + 'kitchen.subscribe("house/kitchen/light")\nswitch.publish("house/kitchen/light", "DIM")\n',
            "kitchen publishes DIM itself": KITCHEN
            + 'kitchen.subscribe("house/kitchen/light")\nkitchen_ready.wait(5)\n'
            + 'kitchen.publish("house/kitchen/light", "DIM").wait_for_publish(timeout=5)\n',
            "keeps the payload as bytes": KITCHEN.replace("message.payload.decode()", "message.payload")
            + 'kitchen.subscribe("house/kitchen/light")\nkitchen_ready.wait(5)\n'
            + 'switch.publish("house/kitchen/light", "DIM").wait_for_publish(timeout=5)\n',
            "no on_log recorder, so no SUBACK in the timeline": KITCHEN.replace(
                'kitchen.on_log = recorder("kitchen")\n', ""
            )
            + 'kitchen.subscribe("house/kitchen/light")\nkitchen_ready.wait(5)\n'
            + 'switch.publish("house/kitchen/light", "DIM").wait_for_publish(timeout=5)\n',
        },
        "right": {
            "def callbacks, subscribe before loop_start, wait_for on the event": (
                "kitchen_log = []\n"
                "kitchen_ready = threading.Event()\n\n\n"
                "def on_kitchen_message(client, userdata, message):\n"
                "    kitchen_log.append((message.topic, message.payload.decode()))\n\n\n"
                "def on_kitchen_subscribe(client, userdata, mid, reason_code_list, properties):\n"
                "    kitchen_ready.set()\n\n\n"
                'kitchen = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kitchen")\n'
                'kitchen.on_log, kitchen.on_message = recorder("kitchen"), on_kitchen_message\n'
                "kitchen.on_subscribe = on_kitchen_subscribe\n"
                "kitchen.connect(broker.host, broker.port)\n"
                'kitchen.subscribe("house/kitchen/light", qos=0)\n'
                "kitchen.loop_start()\n"
                "mqtt_helpers.wait_for(kitchen_ready, 5)\n"
                'switch.publish("house/kitchen/light", "DIM")\n'
            ),
        },
    },
]
