"""Exercise cases for notebooks/13-what-qos-costs.ipynb (run by tests/test_exercises.py)."""

FAST_CLIENT = """
def fast_client(client_id):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id)
{body}
    return client
"""

ACKED_RATE = """
def acked_rate(client, count, qos):
    started = time.perf_counter()
{body}
"""

EXERCISES = [
    {  # predict the packets of a QoS 1 message to a QoS 0 subscription
        "wrong": {
            "QoS 1 on both hops": "predicted = 4",
            "QoS 0 on both hops": "predicted = 2",
            "the number as text": 'predicted = "3"',
            "QoS 2's count": "predicted = 8",
        },
        "right": {
            "counted by hop": "predicted = 2 + 1",
            "a float that is a whole number is not a count, but an int expression is": "predicted = int(3.0)",
        },
    },
    {  # TCP_NODELAY on every connection
        "wrong": {
            "set once after connect(), lost at the reconnect": FAST_CLIENT.format(
                body="    client.connect(broker.host, broker.port)\n"
                "    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
                "    client.loop_start()"
            ),
            "SO_KEEPALIVE instead of TCP_NODELAY": FAST_CLIENT.format(
                body="    client.on_connect = lambda c, u, f, rc, p: c.socket().setsockopt("
                "socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)\n"
                "    client.connect(broker.host, broker.port)\n    client.loop_start()"
            ),
            "TCP_NODELAY set to 0": FAST_CLIENT.format(
                body="    client.on_connect = lambda c, u, f, rc, p: c.socket().setsockopt("
                "socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)\n"
                "    client.connect(broker.host, broker.port)\n    client.loop_start()"
            ),
            "no network loop": FAST_CLIENT.format(
                body="    client.on_connect = lambda c, u, f, rc, p: c.socket().setsockopt("
                "socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
                "    client.connect(broker.host, broker.port)"
            ),
        },
        "right": {
            "SOL_TCP, True, and the connect_callback decorator": FAST_CLIENT.format(
                body="    @client.connect_callback()\n"
                "    def nodelay(client, userdata, flags, reason_code, properties):\n"
                "        client.socket().setsockopt(socket.SOL_TCP, socket.TCP_NODELAY, True)\n\n"
                "    client.connect(broker.host, broker.port)\n    client.loop_start()"
            ),
            "loop_forever on a thread of its own": FAST_CLIENT.format(
                body="    client.on_connect = lambda c, u, f, rc, p: c.socket().setsockopt("
                "socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
                "    client.connect(broker.host, broker.port)\n"
                "    threading.Thread(target=client.loop_forever, daemon=True).start()"
            ),
        },
    },
    {  # messages per second up to the last completed handshake
        "wrong": {
            "stops the clock after the last publish()": ACKED_RATE.format(
                body="    for _ in range(count):\n        client.publish('lab/acked', b'x' * 10, qos=qos)\n"
                "    return count / (time.perf_counter() - started)"
            ),
            "publishes at QoS 0 whatever qos says": ACKED_RATE.format(
                body="    for _ in range(count):\n        client.publish('lab/acked', b'x' * 10).wait_for_publish(10)\n"
                "    return count / (time.perf_counter() - started)"
            ),
            "returns seconds, not messages per second": ACKED_RATE.format(
                body="    for _ in range(count):\n"
                "        client.publish('lab/acked', b'x' * 10, qos=qos).wait_for_publish(10)\n"
                "    return time.perf_counter() - started"
            ),
            "stops the clock after the last publish(), then waits for the handshakes": ACKED_RATE.format(
                body="    messages = [client.publish('lab/acked', b'x' * 10, qos=qos) for _ in range(count)]\n"
                "    rate = count / (time.perf_counter() - started)\n"
                "    for message in messages:\n        message.wait_for_publish(10)\n    return rate"
            ),
            "one message short": ACKED_RATE.format(
                body="    for _ in range(1, count):\n"
                "        client.publish('lab/acked', b'x' * 10, qos=qos).wait_for_publish(10)\n"
                "    return count / (time.perf_counter() - started)"
            ),
        },
        "right": {
            "on_publish counts the handshakes": ACKED_RATE.format(
                body="    done = threading.Event()\n    acked = []\n\n"
                "    def on_publish(client, userdata, mid, reason_code, properties):\n"
                "        acked.append(mid)\n        if len(acked) == count:\n            done.set()\n\n"
                "    client.on_publish = on_publish\n"
                "    for _ in range(count):\n        client.publish('lab/acked', b'x' * 10, qos=qos)\n"
                "    done.wait(30)\n    return count / (time.perf_counter() - started)"
            ),
            "waits for the last message only (they complete in order)": ACKED_RATE.format(
                body="    for _ in range(count):\n        last = client.publish('lab/acked', b'x' * 10, qos=qos)\n"
                "    last.wait_for_publish(30)\n    return count / (time.perf_counter() - started)"
            ),
        },
    },
]
