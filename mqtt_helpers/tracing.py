"""Trace the MQTT packets real paho clients exchange, in an order that is the same on every run.

paho describes each packet it sends or receives in a log line (``Received PUBACK (Mid: 1)``). A :class:`PacketTracer`
attaches to named clients and turns those lines into :class:`PacketEvent` records; a cell waits for a packet::

    tracer = PacketTracer()
    tracer.attach(publisher, "publisher")
    tracer.attach(subscriber, "subscriber")
    publisher.publish("house/bulb1", "ON", qos=1)
    tracer.wait_for("PUBACK", "subscriber", direction="sent")
    print(tracer.render())  # or draw it: mqtt_helpers.draw_sequence(tracer.canonical())
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from mqtt_helpers._paho_log import Direction, parse_packet_line
from mqtt_helpers.waiting import DEFAULT_TIMEOUT, WaitTimeout

BROKER = "broker"
"""The lifeline every client's packets go to or come from."""

PUBLISH_FLOW = ("PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP")
"""The packets of a message's QoS handshake (a filter for render/draw)."""


@dataclass(frozen=True)
class PacketEvent:
    """One packet one client sent to, or received from, the broker (``raw``: paho's log line).

    ``seq`` is the order the tracer recorded it in: real within one client, not across clients (see
    :func:`canonical_order`). ``qos``, ``mid``, ``dup``, ``retain`` and ``topic`` are set when the line has them.
    """

    client: str
    direction: Direction
    packet: str
    qos: int | None = None
    mid: int | None = None
    dup: bool | None = None
    retain: bool | None = None
    topic: str | None = None
    session_present: bool | None = None
    seq: int = 0
    raw: str = field(default="", compare=False)

    @property
    def source(self) -> str:
        return self.client if self.direction == "sent" else BROKER

    @property
    def target(self) -> str:
        return BROKER if self.direction == "sent" else self.client

    def label(self, *, mids: bool = False) -> str:
        """The packet name with its flags, e.g. ``PUBLISH (qos=1, retain=1)``.

        ``mids=True`` adds the message ids of QoS 1 and 2 packets.
        """
        parts = [f"qos={self.qos}"] if self.qos is not None else []
        if self.retain:
            parts.append("retain=1")
        if self.dup:
            parts.append("dup=1")
        if mids and self.mid is not None and self.qos != 0:
            parts.append(f"mid={self.mid}")
        if self.session_present is not None:
            parts.append(f"session_present={int(self.session_present)}")
        return f"{self.packet} ({', '.join(parts)})" if parts else self.packet

    def line(self, *, mids: bool = False) -> str:
        """``publisher -> broker : PUBLISH (qos=1)``."""
        return f"{self.source} -> {self.target} : {self.label(mids=mids)}"

    def __str__(self) -> str:
        return self.line()


def parse_log_line(client: str, line: str, seq: int = 0) -> PacketEvent | None:
    """Turn one paho log line into a :class:`PacketEvent`; ``None`` if it is not a packet."""
    parsed = parse_packet_line(line)
    if parsed is None:
        return None
    direction, packet, fields = parsed
    return PacketEvent(client, direction, packet, seq=seq, raw=line, **fields)


class PacketTracer:
    """Records the packets of several named paho clients.

    paho's callbacks only record; a cell waits for a packet with :meth:`wait_for`.
    """

    def __init__(self) -> None:
        self._events: list[PacketEvent] = []
        self._names: list[str] = []
        self._changed = threading.Condition()
        self._seq = itertools.count(1)

    def attach(self, client: mqtt.Client, name: str) -> None:
        """Record every packet ``client`` sends or receives under ``name`` (e.g. ``"publisher"``)."""
        if name == BROKER:
            raise ValueError(f"{BROKER!r} is the broker's lifeline; give the client another name")
        previous = client.on_log

        def on_log(client: mqtt.Client, userdata: Any, level: int, buf: str) -> None:
            self.record(name, buf)
            if previous is not None:
                previous(client, userdata, level, buf)

        with self._changed:
            if name not in self._names:
                self._names.append(name)
        client.on_log = on_log

    def record(self, name: str, line: str) -> PacketEvent | None:
        """Record one log line of client ``name``; returns the event, or ``None`` for other lines."""
        with self._changed:
            event = parse_log_line(name, line, next(self._seq))
            if event is not None:
                self._events.append(event)
                self._changed.notify_all()
            return event

    @property
    def events(self) -> list[PacketEvent]:
        """Every event so far, in the order recorded."""
        with self._changed:
            return list(self._events)

    def clear(self) -> None:
        """Forget the events so far (e.g. the CONNECT and SUBSCRIBE before the flow of interest)."""
        with self._changed:
            self._events.clear()

    def wait_for(
        self,
        packet: str,
        client: str | None = None,
        *,
        direction: Direction | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> PacketEvent:
        """Wait until a matching event was recorded and return it.

        ``client`` and ``direction`` narrow the match (``None``: any).
        """

        def first() -> PacketEvent | None:
            wanted = (e for e in self._events if e.packet == packet and client in (None, e.client))
            return next((e for e in wanted if direction in (None, e.direction)), None)

        with self._changed:
            event = self._changed.wait_for(first, timeout)
            if event is None:
                who = f" by {client}" if client else ""
                how = f" {direction}" if direction else ""
                raise WaitTimeout(
                    f"timed out after {timeout:g} s waiting for {packet}{how}{who}; "
                    f"recorded: {[str(e) for e in self._events]}"
                )
            return event

    def canonical(self, packets: Iterable[str] | None = None) -> list[PacketEvent]:
        """The events in canonical order (see :func:`canonical_order`), optionally only ``packets``."""
        with self._changed:
            return canonical_order(self._events, self._names, packets=packets)

    def render(self, packets: Iterable[str] | None = None, *, mids: bool = False) -> str:
        """The canonical events as text, one ``a -> b : PACKET`` line each (notebook 09)."""
        return render_text(self.canonical(packets), mids=mids)


def canonical_order(
    events: Sequence[PacketEvent], clients: Sequence[str] | None = None, *, packets: Iterable[str] | None = None
) -> list[PacketEvent]:
    """Order events from several clients the same way every time: flow by flow, then client by client.

    Across clients the true order is only partly known: the broker forwards a message while it answers the
    publisher. A *flow* starts at a PUBLISH a client sends; its delivered copy (the first not yet matched
    PUBLISH received on that topic; a retained copy belongs to no flow) and the acknowledgements of both legs
    (same mid) join it. Any other packet is a flow of its own. Sorting by (flow start, client in attach
    order, own order) keeps each handshake whole and puts a delivery after the PUBLISH that caused it.
    ``packets`` keeps only those packet types.
    """
    rank = {name: i for i, name in enumerate(dict.fromkeys([*(clients or []), *(e.client for e in events)]))}
    sent: list[PacketEvent] = []  # sent PUBLISHes, in order, for matching deliveries
    delivered: set[tuple[str, int]] = set()  # (receiving client, seq of the sent PUBLISH) already matched
    handshakes: dict[tuple[str, str, int | None], int] = {}  # (client, PUBLISH direction, mid) -> flow
    flow: dict[int, int] = {}  # id(event) -> seq of its flow's first packet
    for event in sorted(events, key=lambda e: e.seq):
        start = event.seq
        if event.packet == "PUBLISH" and event.direction == "received" and not event.retain:
            cause = next((s for s in sent if s.topic == event.topic and (event.client, s.seq) not in delivered), None)
            if cause is not None:
                delivered.add((event.client, cause.seq))
                start = cause.seq
        elif event.packet in PUBLISH_FLOW[1:]:
            start = handshakes.get((event.client, _publish_direction(event), event.mid), start)
        if event.packet == "PUBLISH":
            handshakes[(event.client, event.direction, event.mid)] = start
            if event.direction == "sent":
                sent.append(event)
        flow[id(event)] = start
    ordered = sorted(events, key=lambda e: (flow[id(e)], rank[e.client], e.seq))
    wanted = set(packets) if packets is not None else None
    return [e for e in ordered if wanted is None or e.packet in wanted]


def _publish_direction(ack: PacketEvent) -> str:
    """Which way the PUBLISH went that ``ack`` acknowledges: PUBREL flows like the PUBLISH, the others back."""
    if ack.packet == "PUBREL":
        return ack.direction
    return "received" if ack.direction == "sent" else "sent"


def render_text(events: Iterable[PacketEvent], *, mids: bool = False) -> str:
    """One ``source -> target : LABEL`` line per event, in the order given."""
    return "\n".join(event.line(mids=mids) for event in events)
