"""Draw a packet trace as a sequence diagram: one lifeline per client and the broker, one arrow per packet.

The events come from :class:`mqtt_helpers.tracing.PacketTracer`. scripts/make_diagrams.py draws ``img/`` this way.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mqtt_helpers.tracing import BROKER, PacketEvent

if TYPE_CHECKING:  # matplotlib loads in ~0.3 s: only when a diagram is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation


@dataclass
class SequenceDiagram:
    """A drawn sequence diagram: the matplotlib figure, its arrows and their labels.

    A notebook shows it as a PNG.
    """

    figure: Figure
    title: str
    lanes: list[str]
    arrows: list[Annotation]
    labels: list[str]

    def save(self, path: str | Path) -> Path:
        """Write the diagram as a PNG file, byte-for-byte the same every time (no timestamp or version inside)."""
        target = Path(path)
        if target.suffix.lower() != ".png":
            raise ValueError(f"save as .png, not {target.name!r}")
        target.write_bytes(self._repr_png_())
        return target

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", metadata={"Software": None}, dpi=100)
        return buffer.getvalue()

    def __repr__(self) -> str:
        return f"<SequenceDiagram {self.title!r}: {' | '.join(self.lanes)}, {len(self.arrows)} arrows>"


LANE_SPACING = 3.0
ROW_HEIGHT = 0.55
_COLOURS = {"PUBLISH": "#1f5fa8", "PUBACK": "#2e7d32", "PUBREC": "#b26a00", "PUBREL": "#8e24aa", "PUBCOMP": "#2e7d32"}


def draw_sequence(events: Sequence[PacketEvent], title: str = "") -> SequenceDiagram:
    """Draw ``events`` (e.g. ``tracer.canonical()``) as a sequence diagram, one arrow each.

    The lifelines from left to right are the first client, the broker, then the
    other clients (publisher | broker | subscriber). The figure is made without
    pyplot, so no backend or open-figure state is involved.
    """
    from matplotlib.figure import Figure

    names = list(dict.fromkeys(e.client for e in events))
    lanes = [*names[:1], BROKER, *names[1:]]
    x = {name: i * LANE_SPACING for i, name in enumerate(lanes)}
    height = ROW_HEIGHT * (len(events) + 1)
    figure = Figure(figsize=(1.0 + 2.6 * len(lanes), 1.2 + 0.5 * (len(events) + 1)))
    axes = figure.add_subplot()
    _draw_lifelines(axes, lanes, x, height)
    arrows: list[Annotation] = []
    labels: list[str] = []
    for row, event in enumerate(events, start=1):
        y = height - ROW_HEIGHT * row
        label = event.label()
        arrows.append(
            _draw_arrow(axes, x[event.source], x[event.target], y, label, _COLOURS.get(event.packet, "#444444"))
        )
        labels.append(label)
    axes.set_xlim(-LANE_SPACING / 2, x[lanes[-1]] + LANE_SPACING / 2)
    axes.set_ylim(-0.1, height + 0.6)
    axes.axis("off")
    if title:
        axes.set_title(title, fontsize=12, fontweight="bold")
    figure.tight_layout()
    return SequenceDiagram(figure, title, lanes, arrows, labels)


def _draw_lifelines(axes: Axes, lanes: list[str], x: dict[str, float], height: float) -> None:
    """A labelled box at the top of each lane and a dashed line down from it."""
    for name in lanes:
        axes.plot([x[name], x[name]], [0, height], linestyle="--", color="#9e9e9e", linewidth=1, zorder=1)
        axes.text(
            x[name],
            height + 0.15,
            name,
            ha="center",
            va="bottom",
            fontsize=11,
            fontweight="bold",
            zorder=3,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#eef3fb", "edgecolor": "#1f5fa8"},
        )


def _draw_arrow(axes: Axes, x_from: float, x_to: float, y: float, label: str, colour: str) -> Annotation:
    """One packet: an arrow from sender to receiver with its label above it."""
    arrow = axes.annotate(
        "",
        xy=(x_to, y),
        xytext=(x_from, y),
        zorder=2,
        arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.6, "shrinkA": 2, "shrinkB": 2},
    )
    axes.text((x_from + x_to) / 2, y + 0.06, label, ha="center", va="bottom", fontsize=9, color=colour, zorder=3)
    return arrow
