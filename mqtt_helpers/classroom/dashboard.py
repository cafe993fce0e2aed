"""The teacher's view of a classroom broker, as an ipywidgets table fed by the teacher's own MQTT client.

It needs nothing but a client connected to the teacher's port, so it works
for a classroom started in the notebook and for one started from the command
line on another machine. Three subscriptions feed it:

- ``$SYS/classroom/learners/+``: who is connected (the broker keeps one
  retained message per learner: the JSON list of their client ids);
- ``learners/#``: each learner's latest message, shown with the topic the
  learner used (the ``learners/NAME/`` prefix taken off);
- ``class/#``: the shared board, the last ``limit`` messages.
"""

from __future__ import annotations

import html
import json
import threading
from typing import Any

import ipywidgets as widgets
import paho.mqtt.client as mqtt

from mqtt_helpers.client import subscribe

PRESENCE_FILTER = "$SYS/classroom/learners/+"
TITLE = "<b>Classroom</b>: who is connected, what each learner sent last, and the class/ board"


class ClassroomDashboard(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type information
    """Learners, their connected clients and latest message; the ``class/`` board below.

    It takes over ``client.on_message``. Updates come from paho's network
    thread, which ipywidgets allows (a widget update is a message to the front
    end, not printed output). ``present``, ``latest`` and ``board`` hold the
    same data for code; ``summary()`` renders it as text.
    """

    def __init__(self, client: mqtt.Client, limit: int = 8) -> None:
        self.limit = limit
        self.present: dict[str, list[str]] = {}
        self.latest: dict[str, tuple[str, str]] = {}
        self.board: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.learners_table = widgets.HTML()
        self.board_table = widgets.HTML()
        self._render()
        super().__init__([widgets.HTML(value=TITLE), self.learners_table, self.board_table])
        client.on_message = self.on_message
        subscribe(client, [(PRESENCE_FILTER, 1), ("learners/#", 1), ("class/#", 1)])

    def on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        """paho VERSION2 ``on_message``: file the message under its learner or on the board."""
        topic, text = message.topic, message.payload.decode(errors="replace")
        levels = topic.split("/")
        with self._lock:
            if topic.startswith("$SYS/classroom/learners/"):
                self.present[levels[-1]] = json.loads(text or "[]")
            elif levels[0] == "learners" and len(levels) > 2:
                self.latest[levels[1]] = ("/".join(levels[2:]), text)
            elif levels[0] == "class":
                self.board = [*self.board, (topic, text)][-self.limit :]
            self._render()

    def summary(self) -> str:
        """The dashboard as plain text: one line per learner, then the board."""
        with self._lock:
            lines = [
                f"{name:10} {len(self.present[name])} connected  latest: {self._latest(name)}"
                for name in sorted(self.present)
            ]
            lines += [f"board: {topic} {text!r}" for topic, text in self.board] or ["board: (empty)"]
        return "\n".join(lines)

    def _latest(self, name: str) -> str:
        topic, text = self.latest.get(name, ("", ""))
        return f"{topic} {text!r}" if topic else "-"

    def _render(self) -> None:
        """Redraw both tables (called with the lock held)."""
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(', '.join(ids) or '-')}</td>"
            f"<td>{html.escape(self._latest(name))}</td></tr>"
            for name, ids in sorted(self.present.items())
        )
        self.learners_table.value = (
            "<table><tr><th>learner</th><th>connected clients</th><th>latest message</th></tr>"
            f"{rows or '<tr><td colspan=3><i>no learners yet</i></td></tr>'}</table>"
        )
        board = "".join(
            f"<tr><td>{html.escape(topic)}</td><td>{html.escape(text)}</td></tr>" for topic, text in self.board
        )
        self.board_table.value = (
            "<table><tr><th>class/ topic</th><th>payload</th></tr>"
            f"{board or '<tr><td colspan=2><i>nothing on the board yet</i></td></tr>'}</table>"
        )
