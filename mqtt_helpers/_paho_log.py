"""How paho's debug log lines describe the packets a client sends and receives: the parsing behind PacketTracer.

Learners need not read it (paho's log format is no part of MQTT); see :mod:`mqtt_helpers.tracing`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

Direction = Literal["sent", "received"]

_LINE = re.compile(
    r"^(?P<verb>Sending|Received) (?P<packet>CONNECT|CONNACK|PUBLISH|PUBACK|PUBREC|PUBREL|PUBCOMP|SUBSCRIBE|SUBACK"
    r"|UNSUBSCRIBE|UNSUBACK|PINGREQ|PINGRESP|DISCONNECT|AUTH)\b(?P<rest>.*)$",
    re.DOTALL,
)
_PUBLISH = re.compile(
    r"^ \(d(?P<dup>\d), q(?P<qos>\d), r(?P<retain>\d), m(?P<mid>\d+)\), '(?:b')?(?P<topic>.*?)'?'"
    r"(?:, properties=.*?)?(?:, \.\.\.\s+\(\d+ bytes\)| \(NULL payload\))$",
    re.DOTALL,
)
_MID = re.compile(r"^ \(d\d, m(?P<mid>\d+)\)|\(Mid: (?P<ack_mid>\d+)\)")
_CONNACK = re.compile(r"^ \((?P<session_present>\d+), ")


def parse_packet_line(line: str) -> tuple[Direction, str, dict[str, Any]] | None:
    """``(direction, packet type, flags)`` for a line such as ``Received PUBACK (Mid: 1)``.

    ``None`` for a line that describes no packet.
    """
    match = _LINE.match(line)
    if match is None:
        return None
    direction: Direction = "sent" if match["verb"] == "Sending" else "received"
    return direction, match["packet"], _flags(match["packet"], match["rest"])


def _flags(packet: str, rest: str) -> dict[str, Any]:
    """The flags paho's log line gives for ``packet``."""
    if packet == "PUBLISH" and (found := _PUBLISH.match(rest)):
        flags = {"qos": int(found["qos"]), "mid": int(found["mid"])}
        return flags | {"dup": found["dup"] == "1", "retain": found["retain"] == "1", "topic": found["topic"]}
    if packet == "CONNACK" and (found := _CONNACK.match(rest)):
        return {"session_present": found["session_present"] != "0"}
    if packet != "PUBLISH" and (found := _MID.search(rest)):
        return {"mid": int(found["mid"] or found["ack_mid"])}
    return {}
