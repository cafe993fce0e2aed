"""Exercise cases for notebooks/11-mqtt-v5.ipynb (run by tests/test_exercises.py)."""

_PROPERTIES = (
    "reading = Properties(PacketTypes.PUBLISH)\n"
    'reading.ContentType = "text/plain"\n'
    'reading.UserProperty = ("unit", "celsius")\n'
)

EXERCISES = [
    {  # Exercise 1: a retained reading with properties
        "wrong": {
            "QoS 0 (paho's default), PUBACK 'waited' for": (
                _PROPERTIES + 'publisher.publish("exercise/temperature", "21.5", retain=True, properties=reading)\n'
                'wait(publisher, "PUBACK")\n'
            ),
            "not retained": (
                _PROPERTIES + 'publisher.publish("exercise/temperature", "21.5", qos=1, properties=reading)\n'
                'wait(publisher, "PUBACK")\n'
            ),
            "the unit as the content type, no user property": (
                "reading = Properties(PacketTypes.PUBLISH)\n"
                'reading.ContentType = "celsius"\n'
                'publisher.publish("exercise/temperature", "21.5", qos=1, retain=True, properties=reading)\n'
                'wait(publisher, "PUBACK")\n'
            ),
            "the number as a float payload with a unit": (
                _PROPERTIES
                + 'publisher.publish("exercise/temperature", "21.5 C", qos=1, retain=True, properties=reading)\n'
                'wait(publisher, "PUBACK")\n'
            ),
        },
        "right": {
            "waits with .wait_for_publish() (notebook 02), not wait()": (
                _PROPERTIES
                + 'info = publisher.publish("exercise/temperature", "21.5", qos=1, retain=True, properties=reading)\n'
                "info.wait_for_publish(timeout=5)\n"
            ),
            "QoS 2, a list of user properties, the PUBACK's stand-in PUBCOMP": (
                "reading = Properties(PacketTypes.PUBLISH)\n"
                'reading.UserProperty = [("unit", "celsius"), ("room", "kitchen")]\n'
                'reading.ContentType = "text/plain"\n'
                'info = publisher.publish("exercise/temperature", b"21.5", qos=2, retain=True, properties=reading)\n'
                'print("acknowledged:", wait(publisher, "PUBACK"))\n'
            ),
        },
    },
    {  # Exercise 2: join the chat (No Local + message expiry)
        "wrong": {
            "no No Local: echo_free hears itself": (
                'echo_free.subscribe("exercise/chat", qos=1)\n'
                'wait(echo_free, "SUBACK")\n'
                'echo_free.publish("exercise/chat", "echo_free joined", qos=1, properties=expiring(60))\n'
                'wait(echo_free, "PUBACK")\n'
            ),
            "No Local at QoS 0": (
                'echo_free.subscribe("exercise/chat", options=SubscribeOptions(noLocal=True))\n'
                'wait(echo_free, "SUBACK")\n'
                'echo_free.publish("exercise/chat", "echo_free joined", qos=1, properties=expiring(60))\n'
                'wait(echo_free, "PUBACK")\n'
            ),
            "the wrong client subscribed": (
                'publisher.subscribe("exercise/chat", options=SubscribeOptions(qos=1, noLocal=True))\n'
                'wait(publisher, "SUBACK")\n'
                'echo_free.publish("exercise/chat", "echo_free joined", qos=1, properties=expiring(60))\n'
                'wait(echo_free, "PUBACK")\n'
            ),
            "no message expiry": (
                'echo_free.subscribe("exercise/chat", options=SubscribeOptions(qos=1, noLocal=True))\n'
                'wait(echo_free, "SUBACK")\n'
                'echo_free.publish("exercise/chat", "echo_free joined", qos=1)\n'
                'wait(echo_free, "PUBACK")\n'
            ),
            "expires after 30 s, not 60": (
                'echo_free.subscribe("exercise/chat", options=SubscribeOptions(qos=1, noLocal=True))\n'
                'wait(echo_free, "SUBACK")\n'
                'echo_free.publish("exercise/chat", "echo_free joined", qos=1, properties=expiring(30))\n'
                'wait(echo_free, "PUBACK")\n'
            ),
            "No Local at QoS 2 (more than asked)": (
                'echo_free.subscribe("exercise/chat", options=SubscribeOptions(qos=2, noLocal=True))\n'
                'wait(echo_free, "SUBACK")\n'
                'echo_free.publish("exercise/chat", "echo_free joined", qos=1, properties=expiring(60))\n'
                'wait(echo_free, "PUBACK")\n'
            ),
            "joined at QoS 0": (
                'echo_free.subscribe("exercise/chat", options=SubscribeOptions(qos=1, noLocal=True))\n'
                'wait(echo_free, "SUBACK")\n'
                'echo_free.publish("exercise/chat", "echo_free joined", properties=expiring(60))\n'
                'wait(echo_free, "PUBACK")\n'
            ),
            "says it joined, then leaves (disconnect)": (
                'echo_free.subscribe("exercise/chat", options=SubscribeOptions(qos=1, noLocal=True))\n'
                'wait(echo_free, "SUBACK")\n'
                'echo_free.publish("exercise/chat", "echo_free joined", qos=1, properties=expiring(60))\n'
                'wait(echo_free, "PUBACK")\n'
                "echo_free.disconnect()\n"
            ),
            "a new echo_free client that never connects": (
                'echo_free = new_v5_client("echo-free")\n'
                'echo_free.subscribe("exercise/chat", options=SubscribeOptions(qos=1, noLocal=True))\n'
                'echo_free.publish("exercise/chat", "echo_free joined", qos=1, properties=expiring(60))\n'
            ),
            "subscribes, but never says it joined": (
                'echo_free.subscribe("exercise/chat", options=SubscribeOptions(qos=1, noLocal=True))\n'
                'wait(echo_free, "SUBACK")\n'
            ),
        },
        "right": {
            "a (topic, options) list, Properties built by hand, QoS 2": (
                'echo_free.subscribe([("exercise/chat", SubscribeOptions(qos=1, noLocal=True))])\n'
                'print(wait(echo_free, "SUBACK"))\n'
                "hello = Properties(PacketTypes.PUBLISH)\n"
                "hello.MessageExpiryInterval = 60\n"
                'echo_free.publish("exercise/chat", "echo_free joined", qos=2, properties=hello)\n'
                'print(wait(echo_free, "PUBACK"))\n'
            ),
        },
    },
]
