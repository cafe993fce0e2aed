"""Exercise cases for notebooks/05-loop-modes.ipynb (run by tests/test_exercises.py)."""

EXERCISES = [
    {  # Exercise 1: start late's loop on a separate thread
        "wrong": {
            "drives the loop by hand in the cell": "for _ in range(20):\n    late.loop(timeout=0.1)\n",
            "forgets the parentheses": "late.loop_start\n",
            "creates the thread but never starts it": (
                "import threading\nnetwork = threading.Thread(target=late.loop_forever, daemon=True)\n"
            ),
            "stops the loop instead": "late.loop_stop()\n",
        },
        "right": {
            "loop_forever on a thread of its own": (
                "import threading\nthreading.Thread(target=late.loop_forever, daemon=True).start()\n"
            ),
            "loop_start, result kept": "result = late.loop_start()\nprint('loop_start() returned', result.name)\n",
        },
    },
    {  # Exercise 2: stop_after_two appends decoded payloads to userdata and disconnects at two
        "wrong": {
            "disconnects after the third message": (
                "def stop_after_two(client, userdata, message):\n"
                "    userdata.append(message.payload.decode())\n"
                "    if len(userdata) == 3:\n"
                "        client.disconnect()\n"
            ),
            "never disconnects": (
                "def stop_after_two(client, userdata, message):\n    userdata.append(message.payload.decode())\n"
            ),
            "keeps the payload as bytes": (
                "def stop_after_two(client, userdata, message):\n"
                "    userdata.append(message.payload)\n"
                "    if len(userdata) == 2:\n"
                "        client.disconnect()\n"
            ),
            "calls loop_stop() instead of disconnect()": (
                "def stop_after_two(client, userdata, message):\n"
                "    userdata.append(message.payload.decode())\n"
                "    if len(userdata) == 2:\n"
                "        client.loop_stop()\n"
            ),
            "the paho 1.x on_message with an extra argument": (
                "def stop_after_two(client, userdata, message, properties):\n"
                "    userdata.append(message.payload.decode())\n"
                "    if len(userdata) == 2:\n"
                "        client.disconnect()\n"
            ),
        },
        "right": {
            "str() of the payload and >= 2": (
                "def stop_after_two(client, userdata, message):\n"
                "    userdata += [str(message.payload, 'utf-8')]\n"
                "    if len(userdata) >= 2:\n"
                "        client.disconnect()\n"
            ),
        },
    },
    {  # Exercise 3: loop_until reconnects whenever loop() reports an error
        "wrong": {
            "one reconnect() up front, loop()'s result never read": (
                "def loop_until(client, done, timeout=5.0):\n"
                "    client.reconnect()\n"
                "    return pump(client, done, timeout)\n"
            ),
            "no reconnect at all (pump)": (
                "def loop_until(client, done, timeout=5.0):\n    return pump(client, done, timeout)\n"
            ),
            "reconnects on every round": (
                "def loop_until(client, done, timeout=5.0):\n"
                "    deadline = time.monotonic() + timeout\n"
                "    while not done() and time.monotonic() < deadline:\n"
                "        client.loop(timeout=0.1)\n"
                "        client.reconnect()\n"
                "    return done()\n"
            ),
            "forgets to return done()": (
                "def loop_until(client, done, timeout=5.0):\n"
                "    deadline = time.monotonic() + timeout\n"
                "    while not done() and time.monotonic() < deadline:\n"
                "        if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:\n"
                "            client.reconnect()\n"
            ),
        },
        "right": {
            "any non-zero loop() result, break out of the loop": (
                "def loop_until(client, done, timeout=5):\n"
                "    stop_at = time.monotonic() + timeout\n"
                "    while time.monotonic() < stop_at:\n"
                "        if done():\n"
                "            break\n"
                "        if client.loop(0.05):  # every error code is non-zero\n"
                "            client.reconnect()\n"
                "    return done()\n"
            ),
            "reconnects only on MQTT_ERR_CONN_LOST / NO_CONN": (
                "def loop_until(client, done, timeout=5.0):\n"
                "    deadline = time.monotonic() + timeout\n"
                "    while not done():\n"
                "        if time.monotonic() > deadline:\n"
                "            return False\n"
                "        rc = client.loop(timeout=0.1)\n"
                "        if rc in (mqtt.MQTT_ERR_CONN_LOST, mqtt.MQTT_ERR_NO_CONN):\n"
                "            client.reconnect()\n"
                "    return True\n"
            ),
        },
    },
]
