"""Exercise cases for notebooks/07-the-client-class.ipynb (run by tests/test_exercises.py)."""

EXERCISES = [
    {  # Exercise 1: CountingClient counts acknowledged publishes in its on_publish method
        "wrong": {
            "counts publish() calls, no on_publish": (
                "class CountingClient(mqtt.Client):\n"
                "    def __init__(self, client_id):\n"
                "        super().__init__(mqtt.CallbackAPIVersion.VERSION2, client_id)\n"
                "        self.pub_msg_count = 0\n"
                "\n"
                "    def publish(self, *args, **kwargs):\n"
                "        self.pub_msg_count += 1\n"
                "        return super().publish(*args, **kwargs)\n"
            ),
            "the paho 1.x on_publish signature": (
                "class CountingClient(mqtt.Client):\n"
                "    def __init__(self, client_id):\n"
                "        super().__init__(mqtt.CallbackAPIVersion.VERSION2, client_id)\n"
                "        self.pub_msg_count = 0\n"
                "\n"
                "    def on_publish(self, client, userdata, mid):\n"
                "        self.pub_msg_count += 1\n"
            ),
            "forgets the callback API version": (
                "class CountingClient(mqtt.Client):\n"
                "    def __init__(self, client_id):\n"
                "        super().__init__(client_id)\n"
                "        self.pub_msg_count = 0\n"
                "\n"
                "    def on_publish(self, client, userdata, mid, reason_code, properties):\n"
                "        self.pub_msg_count += 1\n"
            ),
            "counts in both publish() and on_publish": (
                "class CountingClient(mqtt.Client):\n"
                "    def __init__(self, client_id):\n"
                "        super().__init__(mqtt.CallbackAPIVersion.VERSION2, client_id)\n"
                "        self.pub_msg_count = 0\n"
                "\n"
                "    def publish(self, *args, **kwargs):\n"
                "        self.pub_msg_count += 1\n"
                "        return super().publish(*args, **kwargs)\n"
                "\n"
                "    def on_publish(self, client, userdata, mid, reason_code, properties):\n"
                "        self.pub_msg_count += 1\n"
            ),
            "echoes the mid instead of counting": (
                "class CountingClient(mqtt.Client):\n"
                "    def __init__(self, client_id):\n"
                "        super().__init__(mqtt.CallbackAPIVersion.VERSION2, client_id)\n"
                "        self.pub_msg_count = 0\n"
                "\n"
                "    def on_publish(self, client, userdata, mid, reason_code, properties):\n"
                "        self.pub_msg_count = mid\n"
            ),
            "starts the count at 1": (
                "class CountingClient(mqtt.Client):\n"
                "    def __init__(self, client_id):\n"
                "        super().__init__(mqtt.CallbackAPIVersion.VERSION2, client_id)\n"
                "        self.pub_msg_count = 1\n"
                "\n"
                "    def on_publish(self, client, userdata, mid, reason_code, properties):\n"
                "        self.pub_msg_count += 1\n"
            ),
        },
        "right": {
            "keyword arguments, a callback assigned in __init__": (
                "class CountingClient(mqtt.Client):\n"
                "    def __init__(self, client_id):\n"
                "        super().__init__(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)\n"
                "        self.pub_msg_count = 0\n"
                "        self.on_publish = self._count\n"
                "\n"
                "    def _count(self, client, userdata, mid, reason_code, properties):\n"
                "        self.pub_msg_count = self.pub_msg_count + 1\n"
            ),
        },
    },
    {  # Exercise 2: an EventClient over TLS that verifies the broker with our CA, subscribed at QoS 1
        "wrong": {
            "tls_set(cert_reqs=ssl.CERT_NONE) with no CA": (
                "secure = EventClient('secure', topics=[('exercise/secure', 1)])\n"
                "secure.tls_set(cert_reqs=ssl.CERT_NONE)\n"
                "secure.connect(tls_broker.host, tls_broker.tls_port)\n"
                "secure.loop_start()\n"
                "secure.ready.wait(5)\n"
            ),
            "no TLS, plain port": (
                "secure = EventClient('secure', topics=[('exercise/secure', 1)])\n"
                "secure.connect(tls_broker.host, tls_broker.port)\n"
                "secure.loop_start()\n"
                "secure.ready.wait(5)\n"
            ),
            "hostname check switched off": (
                "secure = EventClient('secure', topics=[('exercise/secure', 1)])\n"
                "secure.tls_set(ca_certs=tls_broker.ca_file)\n"
                "secure.tls_insecure_set(True)\n"
                "secure.connect(tls_broker.host, tls_broker.tls_port)\n"
                "secure.loop_start()\n"
                "secure.ready.wait(5)\n"
            ),
            "tls_set, but never connects": (
                "secure = EventClient('secure', topics=[('exercise/secure', 1)])\n"
                "secure.tls_set(ca_certs=tls_broker.ca_file)\n"
            ),
            "no topics: connects but never subscribes": (
                "secure = EventClient('secure')\n"
                "secure.tls_set(ca_certs=tls_broker.ca_file)\n"
                "secure.connect(tls_broker.host, tls_broker.tls_port)\n"
                "secure.loop_start()\n"
                "secure.ready.wait(5)\n"
            ),
            "a typo in the topic": (
                "secure = EventClient('secure', topics=[('exercise/secret', 1)])\n"
                "secure.tls_set(ca_certs=tls_broker.ca_file)\n"
                "secure.connect(tls_broker.host, tls_broker.tls_port)\n"
                "secure.loop_start()\n"
                "secure.ready.wait(5)\n"
            ),
            "connects but never starts its loop": (
                "secure = EventClient('secure', topics=[('exercise/secure', 1)])\n"
                "secure.tls_set(ca_certs=tls_broker.ca_file)\n"
                "secure.connect(tls_broker.host, tls_broker.tls_port)\n"
            ),
            "subscribes at QoS 2 (more than asked)": (
                "secure = EventClient('secure', topics=[('exercise/secure', 2)])\n"
                "secure.tls_set(ca_certs=tls_broker.ca_file)\n"
                "secure.connect(tls_broker.host, tls_broker.tls_port)\n"
                "secure.loop_start()\n"
                "secure.ready.wait(5)\n"
            ),
            "subscribes at QoS 0": (
                "secure = EventClient('secure', topics=[('exercise/secure', 0)])\n"
                "secure.tls_set(ca_certs=tls_broker.ca_file)\n"
                "secure.connect(tls_broker.host, tls_broker.tls_port)\n"
                "secure.loop_start()\n"
                "secure.ready.wait(5)\n"
            ),
        },
        "right": {
            "an SSLContext of its own with our CA": (
                "import ssl\n"
                "context = ssl.create_default_context(cafile=tls_broker.ca_file)\n"
                "secure = EventClient('secure', topics=[('exercise/secure', 1)])\n"
                "secure.tls_set_context(context)\n"
                "secure.connect(tls_broker.host, port=tls_broker.tls_port, keepalive=30)\n"
                "secure.loop_start()\n"
                "if not secure.ready.wait(5):\n"
                "    print('not ready yet')\n"
            ),
            "the official answer, then one test publish of the learner's own at QoS 0": (
                "if 'secure' in globals():\n"
                "    mqtt_helpers.close_client(secure)\n"
                "secure = EventClient('secure', topics=[('exercise/secure', 1)])\n"
                "secure.tls_set(ca_certs=tls_broker.ca_file)\n"
                "secure.connect(tls_broker.host, tls_broker.tls_port)\n"
                "secure.loop_start()\n"
                "print('secure is ready:', secure.ready.wait(5))\n"
                "secure.publish('exercise/secure', 'testing my client')\n"
            ),
        },
    },
]
