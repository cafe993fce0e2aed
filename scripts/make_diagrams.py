"""Draw the QoS 0, 1 and 2 message flows from a live packet trace, into img/.

A local broker is started, a real publisher and a real subscriber (QoS 2
subscription) exchange one message at each QoS, and the packets paho logs on
both sides are drawn as sequence diagrams: img/qos0-flow.png, qos1-flow.png and
qos2-flow.png.  The drawing is deterministic, so re-running it only changes the
files when the flows (or the drawing code) change.

    python scripts/make_diagrams.py img
"""

from __future__ import annotations

import sys
from pathlib import Path

import paho.mqtt.client as mqtt

import mqtt_helpers
from mqtt_helpers._paho_log import Direction
from mqtt_helpers.drawing import draw_sequence
from mqtt_helpers.tracing import PUBLISH_FLOW, PacketEvent, PacketTracer

TOPIC = "house/bulb1"
TITLES = {
    0: "QoS 0: at most once",
    1: "QoS 1: at least once",
    2: "QoS 2: exactly once",
}
# The subscriber's last packet of each flow: once it is logged, the trace is complete.
LAST_PACKET: dict[int, tuple[str, Direction]] = {
    0: ("PUBLISH", "received"),
    1: ("PUBACK", "sent"),
    2: ("PUBCOMP", "sent"),
}


def trace_flow(tracer: PacketTracer, publisher: mqtt.Client, inbox: mqtt_helpers.Inbox, qos: int) -> list[PacketEvent]:
    """Publish one message at ``qos`` and return its packets, in canonical order."""
    tracer.clear()
    info = publisher.publish(TOPIC, "ON", qos)
    info.wait_for_publish(5)
    inbox.wait(1)
    packet, direction = LAST_PACKET[qos]
    tracer.wait_for(packet, "subscriber", direction=direction)
    return tracer.canonical(PUBLISH_FLOW)


def main(folder: str = "img") -> int:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tracer, inbox = PacketTracer(), mqtt_helpers.Inbox()
    with mqtt_helpers.start_broker() as broker:
        publisher = mqtt_helpers.connect_client(broker, "publisher")
        subscriber = mqtt_helpers.connect_client(broker, "subscriber", inbox=inbox)
        try:
            mqtt_helpers.subscribe(subscriber, TOPIC, 2)
            tracer.attach(publisher, "publisher")
            tracer.attach(subscriber, "subscriber")
            for qos, title in TITLES.items():
                events = trace_flow(tracer, publisher, inbox, qos)
                path = draw_sequence(events, title).save(out / f"qos{qos}-flow.png")
                print(f"wrote {path} ({len(events)} packets)")
        finally:
            for client in (publisher, subscriber):
                mqtt_helpers.close_client(client)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
