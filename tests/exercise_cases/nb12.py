"""Exercise cases for notebooks/12-robust-programs.ipynb (run by tests/test_exercises.py)."""

EXERCISES = [
    {  # 1: guarded_on_message appends numeric temperatures, records the topic of every bad message, never raises
        "wrong": {
            "no guard: trusts every payload": (
                "def guarded_on_message(client, userdata, message):\n"
                '    userdata["readings"].append(json.loads(message.payload)["temperature"])\n'
            ),
            "catches only JSONDecodeError (b'\\xff' raises UnicodeDecodeError, [1, 2] TypeError)": (
                "def guarded_on_message(client, userdata, message):\n"
                "    try:\n"
                '        userdata["readings"].append(json.loads(message.payload)["temperature"])\n'
                "    except json.JSONDecodeError:\n"
                '        userdata["skipped"].append(message.topic)\n'
            ),
            "skips silently, recording nothing": (
                "def guarded_on_message(client, userdata, message):\n"
                "    try:\n"
                '        userdata["readings"].append(json.loads(message.payload)["temperature"])\n'
                "    except Exception:\n"
                "        pass\n"
            ),
            "takes any temperature, 'hot' included": (
                "def guarded_on_message(client, userdata, message):\n"
                "    try:\n"
                '        userdata["readings"].append(json.loads(message.payload)["temperature"])\n'
                "    except (ValueError, KeyError, TypeError):\n"
                '        userdata["skipped"].append(message.topic)\n'
            ),
            "appends the whole reading, not its temperature": (
                "def guarded_on_message(client, userdata, message):\n"
                "    try:\n"
                "        reading = json.loads(message.payload)\n"
                '        float(reading["temperature"])\n'
                '        userdata["readings"].append(reading)\n'
                "    except Exception:\n"
                '        userdata["skipped"].append(message.topic)\n'
            ),
            "float() of the value: takes true as 1.0 and '21' as 21.0": (
                "def guarded_on_message(client, userdata, message):\n"
                "    try:\n"
                '        temperature = float(json.loads(message.payload.decode("utf-8"))["temperature"])\n'
                "    except Exception:\n"
                '        userdata["skipped"].append(message.topic)\n'
                "    else:\n"
                '        userdata["readings"].append(temperature)\n'
            ),
            "isinstance(int, float) alone: takes true (a bool is an int)": (
                "def guarded_on_message(client, userdata, message):\n"
                "    try:\n"
                '        temperature = json.loads(message.payload)["temperature"]\n'
                "    except (ValueError, KeyError, TypeError):\n"
                "        temperature = None\n"
                "    if isinstance(temperature, (int, float)):\n"
                '        userdata["readings"].append(temperature)\n'
                "    else:\n"
                '        userdata["skipped"].append(message.topic)\n'
            ),
            "records the payload, not the topic": (
                "def guarded_on_message(client, userdata, message):\n"
                "    try:\n"
                '        temperature = json.loads(message.payload)["temperature"]\n'
                "        if type(temperature) not in (int, float):\n"
                '            raise ValueError("not a number")\n'
                "    except Exception:\n"
                '        userdata["skipped"].append(message.payload)\n'
                "        return\n"
                '    userdata["readings"].append(temperature)\n'
            ),
        },
        "right": {
            "type() check, except Exception, else clause": (
                "def guarded_on_message(client, userdata, message):\n"
                "    try:\n"
                '        temperature = json.loads(message.payload.decode("utf-8"))["temperature"]\n'
                "        if type(temperature) not in (int, float):\n"
                '            raise TypeError(f"not a number: {temperature!r}")\n'
                "    except Exception:\n"
                '        userdata["skipped"].append(message.topic)\n'
                "    else:\n"
                '        userdata["readings"].append(temperature)\n'
            ),
        },
    },
    {  # 2: on_order adds each order's amount once per order id, state in userdata
        "wrong": {
            "adds every delivery": (
                "def on_order(client, userdata, message):\n"
                '    userdata["total"] += json.loads(message.payload)["amount"]\n'
            ),
            "deduplicates by the MQTT packet id": (
                "def on_order(client, userdata, message):\n"
                '    seen = userdata.setdefault("seen", set())\n'
                "    if message.mid not in seen:\n"
                "        seen.add(message.mid)\n"
                '        userdata["total"] += json.loads(message.payload)["amount"]\n'
            ),
            "deduplicates by the payload's bytes (the same order can come in other bytes)": (
                "def on_order(client, userdata, message):\n"
                '    seen = userdata.setdefault("seen", set())\n'
                "    if message.payload not in seen:\n"
                "        seen.add(message.payload)\n"
                '        userdata["total"] += json.loads(message.payload)["amount"]\n'
            ),
            "trusts the DUP flag": (
                "def on_order(client, userdata, message):\n"
                "    if not message.dup:\n"
                '        userdata["total"] += json.loads(message.payload)["amount"]\n'
            ),
            "deduplicates by amount": (
                "def on_order(client, userdata, message):\n"
                "    order = json.loads(message.payload)\n"
                '    seen = userdata.setdefault("seen", set())\n'
                '    if order["amount"] not in seen:\n'
                '        seen.add(order["amount"])\n'
                '        userdata["total"] += order["amount"]\n'
            ),
            "keeps the total in a global, not in userdata": (
                "total, done = 0, set()\n\n\n"
                "def on_order(client, userdata, message):\n"
                "    global total\n"
                "    order = json.loads(message.payload)\n"
                '    if order["order"] not in done:\n'
                '        done.add(order["order"])\n'
                '        total += order["amount"]\n'
            ),
        },
        "right": {
            "amounts by order id, total recomputed": (
                "def on_order(client, userdata, message):\n"
                "    order = json.loads(message.payload)\n"
                '    amounts = userdata.setdefault("amounts", {})\n'
                '    amounts[order["order"]] = order["amount"]\n'
                '    userdata["total"] = sum(amounts.values())\n'
            ),
        },
    },
    {  # 3: worker takes messages until None, appends numeric temperatures, survives bad payloads
        "wrong": {
            "no guard: the first bad payload ends the thread": (
                "def worker(jobs, temperatures):\n"
                "    while (message := jobs.get()) is not None:\n"
                '        temperatures.append(json.loads(message.payload)["temperature"])\n'
            ),
            "never stops: skips None instead of returning": (
                "def worker(jobs, temperatures):\n"
                "    while True:\n"
                "        message = jobs.get()\n"
                "        if message is None:\n"
                "            continue\n"
                "        try:\n"
                '            temperature = json.loads(message.payload)["temperature"]\n'
                "        except (ValueError, KeyError, TypeError):\n"
                "            continue\n"
                "        if isinstance(temperature, (int, float)):\n"
                "            temperatures.append(temperature)\n"
            ),
            "crashes on None (None has no payload)": (
                "def worker(jobs, temperatures):\n"
                "    while True:\n"
                "        message = jobs.get()\n"
                "        try:\n"
                '            temperature = json.loads(message.payload)["temperature"]\n'
                "        except (ValueError, KeyError, TypeError):\n"
                "            continue\n"
                "        if isinstance(temperature, (int, float)):\n"
                "            temperatures.append(temperature)\n"
            ),
            "a broad except swallows None's AttributeError: never stops": (
                "def worker(jobs, temperatures):\n"
                "    while True:\n"
                "        message = jobs.get()\n"
                "        try:\n"
                '            temperature = json.loads(message.payload)["temperature"]\n'
                "        except Exception:\n"
                "            continue\n"
                "        if isinstance(temperature, (int, float)):\n"
                "            temperatures.append(temperature)\n"
            ),
            "polls with get(timeout=1), never stops on None": (
                "def worker(jobs, temperatures):\n"
                "    while True:\n"
                "        try:\n"
                "            message = jobs.get(timeout=1)\n"
                '            temperature = json.loads(message.payload)["temperature"]\n'
                "        except (queue.Empty, AttributeError, ValueError, KeyError, TypeError):\n"
                "            continue\n"
                "        if isinstance(temperature, (int, float)):\n"
                "            temperatures.append(temperature)\n"
            ),
            "handles one message, not a loop": (
                "def worker(jobs, temperatures):\n"
                "    message = jobs.get()\n"
                "    try:\n"
                '        temperatures.append(float(json.loads(message.payload)["temperature"]))\n'
                "    except Exception:\n"
                "        pass\n"
            ),
            "appends the payload": (
                "def worker(jobs, temperatures):\n"
                "    while (message := jobs.get()) is not None:\n"
                "        try:\n"
                '            json.loads(message.payload)["temperature"] + 0\n'
                "        except Exception:\n"
                "            continue\n"
                "        temperatures.append(message.payload)\n"
            ),
        },
        "right": {
            "iter(jobs.get, None) and a broad except": (
                "def worker(jobs, temperatures):\n"
                "    for message in iter(jobs.get, None):\n"
                "        try:\n"
                '            temperature = json.loads(message.payload)["temperature"]\n'
                "            if type(temperature) in (int, float):\n"
                "                temperatures.append(temperature)\n"
                "        except Exception as error:\n"
                '            print("skipped", message.topic, type(error).__name__)\n'
            ),
        },
    },
]
