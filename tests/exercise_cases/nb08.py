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
_IF = '        if reading["temperature"] > args.threshold:  # the new part: a retained alert\n'
_PUBLISH = '            client.publish(f"alerts/{sensor}", str(reading["temperature"]), qos=1, retain=True)\n'
_PRINT = '            print(f"{sensor}: ALERT, above {args.threshold} C")\n'
_BLOCK = _IF + _PUBLISH + _PRINT
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
            "an alert on every reading": _variant((_IF, "        if args.threshold:\n")),
            "the threshold inverted (alerts when it is cooler)": _variant((_IF, _IF.replace(" > ", " < "))),
            "the whole reading as the payload, not the temperature": _variant(
                (_PUBLISH, _PUBLISH.replace('str(reading["temperature"])', "json.dumps(reading)"))
            ),
            "a fixed payload": _variant((_PUBLISH, _PUBLISH.replace('str(reading["temperature"])', '"too warm"'))),
            "the alert is not retained": _variant((_PUBLISH, _PUBLISH.replace(", retain=True", ""))),
            "--threshold parsed but 25 hard-coded": _variant((_IF, _IF.replace("args.threshold", "25"))),
            "no --threshold option": _variant((_OPTION, ""), (_IF, _IF.replace("args.threshold", "25"))),
            "the alert published after disconnect()": _variant(
                (_BLOCK, ""),
                (
                    "            client.disconnect()  # queued after the alert, so the alert goes out first\n",
                    "            client.disconnect()\n" + _BLOCK,
                ),
            ),
        },
        "right": {
            "QoS 0, an f-string payload, >= and a short option": _variant(
                (_OPTION, _OPTION.replace('"--threshold"', '"-t", "--threshold"')),
                (_IF, _IF.replace(" > ", " >= ")),
                (
                    _PUBLISH,
                    '            client.publish(f"alerts/{sensor}", f"{reading[\'temperature\']}", retain=True)\n',
                ),
            ),
            "the alert in a function of its own": _variant(
                (_BLOCK, '        alert(client, sensor, reading["temperature"])\n'),
                (
                    "    def on_message(client, userdata, message):\n",
                    "    def alert(client, sensor, temperature):\n"
                    "        if temperature > args.threshold:\n"
                    '            client.publish("alerts/" + sensor, repr(temperature), qos=1, retain=True)\n\n'
                    "    def on_message(client, userdata, message):\n",
                ),
            ),
        },
    },
]
