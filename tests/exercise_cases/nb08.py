"""Exercise cases for notebooks/08-your-own-program.ipynb (run by tests/test_exercises.py).

The one exercise is a whole program (a `%%writefile` cell), so each case is the official answer with one change,
made here by replacing a line; `_variant` fails loudly if the official answer no longer has that line.
"""

import json
from pathlib import Path

_NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "08-your-own-program.ipynb"
_SOLUTION = next(
    "".join(c["metadata"]["solution"])
    for c in json.loads(_NOTEBOOK.read_text())["cells"]
    if "exercise" in c["metadata"].get("tags", [])
)
_READ = '            temperature = json.loads(message.payload)["temperature"]  # describe() checked it is a number\n'
_IF = "            if temperature > args.threshold:\n"
_PUBLISH = (
    '                client.publish(f"alerts/{sensor}", str(temperature), qos=1, retain=True)'
    "  # sent before a disconnect()\n"
)
_BLOCK = (
    "        if is_reading:  # the new part: a retained alert when it is too warm\n"
    + _READ
    + _IF
    + '                sensor = message.topic.split("/")[1]\n'
    + _PUBLISH
    + '                print(f"{sensor}: ALERT, above {args.threshold} C")\n'
)
_COUNT = (
    "        if args.count is not None and readings >= args.count:\n"
    "            client.disconnect()  # ends loop_forever()\n"
)
_OPTION = (
    '    parser.add_argument("--threshold", type=float, default=25.0, '
    'help="alert above this temperature (default: 25)")\n'
)


def _variant(*changes: tuple[str, str]) -> str:
    source = _SOLUTION
    for old, new in changes:
        assert source.count(old) == 1, f"the official answer of notebook 08 no longer contains {old!r}"
        source = source.replace(old, new)
    return source


EXERCISES = [
    {
        "wrong": {
            "an alert on every reading": _variant((_IF, "            if args.threshold:\n")),
            "the threshold inverted (alerts when it is cooler)": _variant((_IF, _IF.replace(" > ", " < "))),
            "the whole reading as the payload, not the temperature": _variant(
                (_PUBLISH, _PUBLISH.replace("str(temperature)", "message.payload"))
            ),
            "a fixed payload": _variant((_PUBLISH, _PUBLISH.replace("str(temperature)", '"too warm"'))),
            "the alert is not retained": _variant((_PUBLISH, _PUBLISH.replace(", retain=True", ""))),
            "--threshold parsed but 25 hard-coded": _variant((_IF, _IF.replace("args.threshold", "25"))),
            "no --threshold option": _variant((_OPTION, ""), (_IF, _IF.replace("args.threshold", "25"))),
            "the alert published after disconnect()": _variant((_BLOCK, ""), (_COUNT, _COUNT + _BLOCK)),
            "names from the old dashboard (reading, sensor): a NameError in on_message": _variant(
                (
                    _BLOCK,
                    '        if is_reading and reading["temperature"] > args.threshold:\n'
                    '            client.publish(f"alerts/{sensor}", str(reading["temperature"]), qos=1, retain=True)\n',
                )
            ),
        },
        "right": {
            "QoS 0, an f-string payload, >= and a short option": _variant(
                (_OPTION, _OPTION.replace('"--threshold"', '"-t", "--threshold"')),
                (_IF, _IF.replace(" > ", " >= ")),
                (_PUBLISH, '                client.publish(f"alerts/{sensor}", f"{temperature}", retain=True)\n'),
            ),
            "the alert in a function of its own, reading the payload itself": _variant(
                (_BLOCK, "        if is_reading:\n            alert(client, message)\n"),
                (
                    "    def on_message(client, userdata, message):\n",
                    "    def alert(client, message):\n"
                    "        reading = json.loads(message.payload)\n"
                    '        if reading["temperature"] > args.threshold:\n'
                    '            topic = "alerts/" + message.topic.split("/")[1]\n'
                    '            client.publish(topic, repr(reading["temperature"]), qos=1, retain=True)\n\n'
                    "    def on_message(client, userdata, message):\n",
                ),
            ),
        },
    },
]
