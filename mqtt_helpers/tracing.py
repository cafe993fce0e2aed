"""Trace the MQTT packets real paho clients exchange, and draw them as a sequence diagram.

paho describes every packet it sends or receives in a log line
(``"Sending PUBLISH (d0, q1, r0, m1), 'b'house/bulb1'', ... (3 bytes)"``,
``"Received PUBACK (Mid: 1)"``).  A :class:`PacketTracer` attaches to several
named clients, turns those lines into :class:`PacketEvent` records, and lets a
cell wait for a packet instead of sleeping::

    tracer = PacketTracer()
    tracer.attach(publisher, "publisher")
    tracer.attach(subscriber, "subscriber")
    publisher.publish("house/bulb1", "ON", qos=1)
    tracer.wait_for("PUBACK", "subscriber", direction="sent")
    print(tracer.render())
    draw_sequence(tracer.canonical(), "QoS 1").save("qos1.png")

Each client's own events are in their real order.  Across clients the true
order is only partly known (the broker forwards a message while it answers the
publisher), so :func:`canonical_order` fixes one: every handshake stays whole,
and a delivered PUBLISH leg follows the publisher's leg that caused it.  The
same flow therefore always renders the same way, on any broker.
"""

from __future__ import annotations

import heapq
import itertools
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mqtt_helpers.waiting import DEFAULT_TIMEOUT, WaitTimeout

__all__ = [
    "BROKER",
    "PUBLISH_FLOW",
    "PacketEvent",
    "PacketTracer",
    "SequenceDiagram",
    "canonical_order",
    "draw_sequence",
    "parse_log_line",
    "render_text",
]

Direction = Literal["sent", "received"]

BROKER = "broker"
"""The lifeline every client's packets go to or come from."""

PUBLISH_FLOW = ("PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP")
"""The packets of a message's QoS handshake (a filter for render/draw)."""

PACKET_TYPES = frozenset(
    {
        "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
        "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
    }
)  # fmt: skip

_LINE = re.compile(r"^(?P<verb>Sending|Received) (?P<packet>[A-Z]+)\b(?P<rest>.*)$", re.DOTALL)
_PUBLISH = re.compile(
    r"^ \(d(?P<dup>\d), q(?P<qos>\d), r(?P<retain>\d), m(?P<mid>\d+)\), '(?P<topic>.*?)'"
    r"(?:, properties=.*?)?(?:, \.\.\.\s+\((?P<size>\d+) bytes\)| \(NULL payload\))$",
    re.DOTALL,
)
_MID = re.compile(r"\(Mid: (?P<mid>\d+)\)")
_SUBSCRIBE = re.compile(r"^ \(d(?P<dup>\d), m(?P<mid>\d+)\)")
_CONNACK = re.compile(r"^ \((?P<session_present>\d+), (?P<rc>[^)]*)\)")

# The packet that ends a QoS handshake, from the point of view of either side.
_HANDSHAKE_END = {1: "PUBACK", 2: "PUBCOMP"}
# Requests and the reply that closes them (paho logs no Mid on SUBACK: pair it in order).
_REPLIES = {"CONNECT": "CONNACK", "SUBSCRIBE": "SUBACK", "UNSUBSCRIBE": "UNSUBACK", "PINGREQ": "PINGRESP"}


@dataclass(frozen=True)
class PacketEvent:
    """One packet one client sent to, or received from, the broker.

    ``seq`` is the order in which the tracer recorded it (real within one
    client; across clients see :func:`canonical_order`).  ``qos``, ``dup``,
    ``retain``, ``mid`` and ``topic`` are set when paho's log line has them.
    """

    client: str
    direction: Direction
    packet: str
    qos: int | None = None
    mid: int | None = None
    dup: bool | None = None
    retain: bool | None = None
    topic: str | None = None
    size: int | None = None
    session_present: bool | None = None
    seq: int = 0
    raw: str = field(default="", compare=False)

    @property
    def source(self) -> str:
        """Who sent the packet: the client or the broker."""
        return self.client if self.direction == "sent" else BROKER

    @property
    def target(self) -> str:
        """Who received the packet: the broker or the client."""
        return BROKER if self.direction == "sent" else self.client

    def label(self, *, mids: bool = False, topics: bool = False) -> str:
        """The packet name with its flags, e.g. ``PUBLISH (qos=1, retain=1)``."""
        parts = []
        if topics and self.topic is not None:
            parts.append(repr(self.topic))
        if self.qos is not None:
            parts.append(f"qos={self.qos}")
        if self.retain:
            parts.append("retain=1")
        if self.dup:
            parts.append("dup=1")
        if mids and self.mid is not None and self.qos != 0:
            parts.append(f"mid={self.mid}")
        if self.session_present is not None:
            parts.append(f"session_present={int(self.session_present)}")
        return f"{self.packet} ({', '.join(parts)})" if parts else self.packet

    def line(self, *, mids: bool = False, topics: bool = False) -> str:
        """``publisher -> broker : PUBLISH (qos=1)``."""
        return f"{self.source} -> {self.target} : {self.label(mids=mids, topics=topics)}"

    def __str__(self) -> str:
        return self.line()


# --- parsing ------------------------------------------------------------------


def parse_log_line(client: str, line: str, seq: int = 0) -> PacketEvent | None:
    """Turn one paho log line into a :class:`PacketEvent`; ``None`` if it is not a packet."""
    match = _LINE.match(line)
    if match is None or match["packet"] not in PACKET_TYPES:
        return None
    direction: Direction = "sent" if match["verb"] == "Sending" else "received"
    packet, rest = match["packet"], match["rest"]
    fields = _fields(packet, rest)
    return PacketEvent(client, direction, packet, seq=seq, raw=line, **fields)


def _fields(packet: str, rest: str) -> dict[str, Any]:
    """The flags paho's log line gives for ``packet``."""
    if packet == "PUBLISH":
        return _publish_fields(rest)
    if packet in ("SUBSCRIBE", "UNSUBSCRIBE"):
        found = _SUBSCRIBE.match(rest)
        return {"mid": int(found["mid"])} if found else {}
    if packet == "CONNACK":
        found = _CONNACK.match(rest)
        return {"session_present": found["session_present"] != "0"} if found else {}
    found = _MID.search(rest)
    return {"mid": int(found["mid"])} if found else {}


def _publish_fields(rest: str) -> dict[str, Any]:
    found = _PUBLISH.match(rest)
    if found is None:
        return {}
    topic = found["topic"]
    if topic.startswith("b'") and topic.endswith("'"):  # paho formats the topic it sends as bytes
        topic = topic[2:-1]
    return {
        "qos": int(found["qos"]),
        "mid": int(found["mid"]),
        "dup": found["dup"] == "1",
        "retain": found["retain"] == "1",
        "topic": topic,
        "size": int(found["size"]) if found["size"] is not None else 0,
    }


# --- recording ----------------------------------------------------------------


class PacketTracer:
    """Records the packets of several named paho clients, thread-safely.

    ``attach(client, name)`` installs an ``on_log`` callback (any previous one
    still runs); callbacks only record, cells wait with :meth:`wait_for`.
    """

    def __init__(self) -> None:
        self._events: list[PacketEvent] = []
        self._names: list[str] = []
        self._changed = threading.Condition()
        self._seq = itertools.count(1)

    def attach(self, client: Any, name: str) -> None:
        """Record every packet ``client`` sends or receives under ``name`` (e.g. ``"publisher"``)."""
        if name == BROKER:
            raise ValueError(f"{BROKER!r} is the broker's lifeline; give the client another name")
        previous = client.on_log

        def on_log(client: Any, userdata: Any, level: Any, buf: str) -> None:
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
    def clients(self) -> list[str]:
        """The attached names, in the order they were attached."""
        with self._changed:
            return list(self._names)

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
        count: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> PacketEvent:
        """Wait until ``count`` matching events were recorded; return the last of them.

        ``client`` and ``direction`` narrow the match (``None``: any).
        """

        def matching() -> list[PacketEvent]:
            return [e for e in self._events if _matches(e, packet, client, direction)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                who = f" by {client}" if client else ""
                how = f" {direction}" if direction else ""
                raise WaitTimeout(
                    f"timed out after {timeout:g} s waiting for {count} {packet}{how}{who}; "
                    f"recorded: {[str(e) for e in self._events]}"
                )
            return matching()[count - 1]

    def canonical(self, packets: Iterable[str] | None = None) -> list[PacketEvent]:
        """The events in canonical order (see :func:`canonical_order`), optionally only ``packets``."""
        return canonical_order(self.events, self.clients, packets=packets)

    def render(self, packets: Iterable[str] | None = None, *, mids: bool = False, topics: bool = False) -> str:
        """The canonical events as text, one ``a -> b : PACKET`` line each."""
        return render_text(self.canonical(packets), mids=mids, topics=topics)


def _matches(event: PacketEvent, packet: str, client: str | None, direction: str | None) -> bool:
    return (
        event.packet == packet
        and (client is None or event.client == client)
        and (direction is None or event.direction == direction)
    )


# --- canonical order ------------------------------------------------------------


@dataclass
class _Segment:
    """A handshake or request/reply of one client: events that belong together."""

    events: list[PacketEvent]

    @property
    def first(self) -> PacketEvent:
        return self.events[0]


def canonical_order(
    events: Sequence[PacketEvent],
    clients: Sequence[str] | None = None,
    *,
    packets: Iterable[str] | None = None,
) -> list[PacketEvent]:
    """Order events from several clients the same way every time.

    1. Each client's events are grouped into segments: a PUBLISH with its
       acknowledgements (same mid), a request with its reply, or a single packet.
    2. A received PUBLISH is matched to the earlier sent PUBLISH on the same
       topic that caused it (first unmatched, in order; retained copies are
       broker-originated and not matched).
    3. Segments are merged keeping each client's order; the next segment is
       the one whose anchor comes first, where a matched delivery is anchored
       just after its publisher's segment and any other segment at its own
       first event.  Ties go to the client attached first.

    ``packets`` keeps only those packet types (after ordering).
    """
    order = list(clients) if clients else []
    for event in events:
        if event.client not in order:
            order.append(event.client)
    by_client = {name: _segments([e for e in events if e.client == name]) for name in order}
    anchors = _anchors(by_client)
    merged = _merge(by_client, anchors, order)
    wanted = set(packets) if packets is not None else None
    return [e for e in merged if wanted is None or e.packet in wanted]


def _segments(events: list[PacketEvent]) -> list[_Segment]:
    """Group one client's events into handshakes and request/reply pairs."""
    segments: list[_Segment] = []
    open_handshakes: dict[tuple[str, int], _Segment] = {}  # (direction of its PUBLISH, mid) -> segment
    open_requests: dict[str, list[_Segment]] = {}  # reply packet -> requests awaiting it
    for event in events:
        owner = _owner(event, open_handshakes, open_requests)
        if owner is not None:
            owner.events.append(event)
            continue
        segment = _Segment([event])
        segments.append(segment)
        if event.packet == "PUBLISH" and event.qos in _HANDSHAKE_END and event.mid is not None:
            open_handshakes[(event.direction, event.mid)] = segment
        elif event.packet in _REPLIES:
            open_requests.setdefault(_REPLIES[event.packet], []).append(segment)
    return segments


def _owner(
    event: PacketEvent, handshakes: dict[tuple[str, int], _Segment], requests: dict[str, list[_Segment]]
) -> _Segment | None:
    """The open segment ``event`` continues, if any (closing it when ``event`` is its last packet)."""
    key = (_publish_direction(event), event.mid or 0)
    if event.packet in PUBLISH_FLOW[1:] and key in handshakes:
        segment = handshakes[key]
        if event.packet == _HANDSHAKE_END[segment.first.qos or 1]:
            del handshakes[key]
        return segment
    waiting = requests.get(event.packet)
    if waiting:
        return waiting.pop(0)
    return None


def _publish_direction(ack: PacketEvent) -> str:
    """Which way the PUBLISH went that ``ack`` acknowledges: PUBREL flows like the PUBLISH, the others back."""
    same_way = ack.packet == "PUBREL"
    return ack.direction if same_way else ("received" if ack.direction == "sent" else "sent")


def _anchors(by_client: dict[str, list[_Segment]]) -> dict[int, tuple[int, int]]:
    """Anchor (sort key) of every segment, by id(segment): deliveries follow their publish."""
    sent = sorted(
        (s for segments in by_client.values() for s in segments if _is_publish(s, "sent")),
        key=lambda s: s.first.seq,
    )
    anchors: dict[int, tuple[int, int]] = {}
    for segments in by_client.values():
        unmatched = list(sent)
        for segment in segments:
            anchors[id(segment)] = (segment.first.seq, 0)
            if _is_publish(segment, "received") and not segment.first.retain:
                cause = _take_cause(segment.first, unmatched)
                if cause is not None:
                    anchors[id(segment)] = (cause.first.seq, 1)
    return anchors


def _is_publish(segment: _Segment, direction: str) -> bool:
    return segment.first.packet == "PUBLISH" and segment.first.direction == direction


def _take_cause(received: PacketEvent, unmatched: list[_Segment]) -> _Segment | None:
    """Remove and return the first earlier sent PUBLISH on the same topic, if there is one."""
    for index, candidate in enumerate(unmatched):
        if candidate.first.seq < received.seq and candidate.first.topic == received.topic:
            return unmatched.pop(index)
    return None


def _merge(by_client: dict[str, list[_Segment]], anchors: dict[int, tuple[int, int]], order: list[str]) -> list[PacketEvent]:
    """Merge the clients' segment lists by anchor, never reordering one client's segments."""
    heap: list[tuple[tuple[int, int], int, int]] = []  # (anchor, client rank, index in client's list)
    for rank, name in enumerate(order):
        if by_client[name]:
            heapq.heappush(heap, (anchors[id(by_client[name][0])], rank, 0))
    merged: list[PacketEvent] = []
    while heap:
        _, rank, index = heapq.heappop(heap)
        segments = by_client[order[rank]]
        merged.extend(segments[index].events)
        if index + 1 < len(segments):
            heapq.heappush(heap, (anchors[id(segments[index + 1])], rank, index + 1))
    return merged


def render_text(events: Iterable[PacketEvent], *, mids: bool = False, topics: bool = False) -> str:
    """One ``source -> target : LABEL`` line per event, in the order given."""
    return "\n".join(event.line(mids=mids, topics=topics) for event in events)


# --- drawing ------------------------------------------------------------------


@dataclass
class SequenceDiagram:
    """A drawn sequence diagram: the matplotlib figure, its arrows and their labels.

    In a notebook it shows itself as a PNG; its text form is a stable summary.
    """

    figure: Any
    title: str
    lanes: list[str]
    arrows: list[Any]
    labels: list[str]

    def save(self, path: str | Path) -> Path:
        """Write the diagram as PNG or SVG (by the file's suffix), byte-for-byte reproducibly."""
        target = Path(path)
        kind = target.suffix.lower().lstrip(".")
        if kind not in ("png", "svg"):
            raise ValueError(f"save as .png or .svg, not {target.name!r}")
        metadata = {"Software": None} if kind == "png" else {"Date": None, "Creator": None}
        import matplotlib

        with matplotlib.rc_context({"svg.hashsalt": "mqtt-client-study"}):
            self.figure.savefig(target, format=kind, metadata=metadata, dpi=100)
        return target

    def _repr_png_(self) -> bytes:
        import io

        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", metadata={"Software": None}, dpi=100)
        return buffer.getvalue()

    def __repr__(self) -> str:
        return f"<SequenceDiagram {self.title!r}: {' | '.join(self.lanes)}, {len(self.arrows)} arrows>"


LANE_SPACING = 3.0
ROW_HEIGHT = 0.55
_COLOURS = {"PUBLISH": "#1f5fa8", "PUBACK": "#2e7d32", "PUBREC": "#b26a00", "PUBREL": "#8e24aa", "PUBCOMP": "#2e7d32"}


def draw_sequence(
    events: Sequence[PacketEvent],
    title: str = "",
    *,
    lanes: Sequence[str] | None = None,
    mids: bool = False,
) -> SequenceDiagram:
    """Draw ``events`` (e.g. ``tracer.canonical()``) as a sequence diagram, one arrow each.

    ``lanes`` are the lifelines from left to right; by default the first
    client, the broker, then the other clients (publisher | broker | subscriber).
    The figure is made without pyplot, so no backend or open-figure state is involved.
    """
    from matplotlib.figure import Figure

    lanes = list(lanes) if lanes is not None else _default_lanes(events)
    x = {name: i * LANE_SPACING for i, name in enumerate(lanes)}
    height = ROW_HEIGHT * (len(events) + 1)
    figure = Figure(figsize=(1.0 + 2.6 * len(lanes), 1.2 + 0.5 * (len(events) + 1)))
    axes = figure.add_subplot()
    _draw_lifelines(axes, lanes, x, height)
    arrows, labels = [], []
    for row, event in enumerate(events, start=1):
        y = height - ROW_HEIGHT * row
        label = event.label(mids=mids)
        arrows.append(_draw_arrow(axes, x[event.source], x[event.target], y, label, _COLOURS.get(event.packet, "#444444")))
        labels.append(label)
    axes.set_xlim(-LANE_SPACING / 2, x[lanes[-1]] + LANE_SPACING / 2)
    axes.set_ylim(-0.1, height + 0.6)
    axes.axis("off")
    if title:
        axes.set_title(title, fontsize=12, fontweight="bold")
    figure.tight_layout()
    return SequenceDiagram(figure, title, lanes, arrows, labels)


def _default_lanes(events: Sequence[PacketEvent]) -> list[str]:
    names = list(dict.fromkeys(e.client for e in events))
    return names[:1] + [BROKER] + names[1:]


def _draw_lifelines(axes: Any, lanes: list[str], x: dict[str, float], height: float) -> None:
    """A labelled box at the top of each lane and a dashed line down from it."""
    for name in lanes:
        axes.plot([x[name], x[name]], [0, height], linestyle="--", color="#9e9e9e", linewidth=1, zorder=1)
        axes.text(
            x[name], height + 0.15, name, ha="center", va="bottom", fontsize=11, fontweight="bold", zorder=3,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#eef3fb", "edgecolor": "#1f5fa8"},
        )  # fmt: skip


def _draw_arrow(axes: Any, x_from: float, x_to: float, y: float, label: str, colour: str) -> Any:
    """One packet: an arrow from sender to receiver with its label above it."""
    arrow = axes.annotate(
        "", xy=(x_to, y), xytext=(x_from, y), zorder=2,
        arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.6, "shrinkA": 2, "shrinkB": 2},
    )  # fmt: skip
    axes.text((x_from + x_to) / 2, y + 0.06, label, ha="center", va="bottom", fontsize=9, color=colour, zorder=3)
    return arrow

