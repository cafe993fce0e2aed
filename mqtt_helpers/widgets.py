"""Small ipywidgets for playing with a live broker: a publish panel and a message monitor.

For a classroom demo or free exploration after a lesson: a learner types a topic and payload, picks a QoS, presses
Publish, and watches what a subscriber receives. Bad input (a wildcard in the topic, say) shows paho's own error in the
panel instead of raising from a button callback, where it would be lost.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as widgets
import paho.mqtt.client as mqtt

from mqtt_helpers.client import subscribe


class PublishPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type information
    """Topic, payload, QoS and retain fields with a Publish button, publishing through ``client``."""

    def __init__(
        self, client: mqtt.Client, topic: str = "house/main-light", payload: str = "ON", *, timeout: float = 2.0
    ) -> None:
        self.client = client
        self.timeout = timeout  # how long a QoS 1/2 publish may take to be acknowledged
        self.topic = widgets.Text(value=topic, description="topic")
        self.payload = widgets.Text(value=payload, description="payload")
        self.qos = widgets.Dropdown(options=[0, 1, 2], value=0, description="QoS")
        self.retain = widgets.Checkbox(value=False, description="retain")
        self.button = widgets.Button(description="Publish", button_style="primary")
        self.status = widgets.Label(value="")
        self.button.on_click(lambda _: self.publish())
        super().__init__([self.topic, self.payload, widgets.HBox([self.qos, self.retain]), self.button, self.status])

    def publish(self) -> str:
        """Publish what the fields say; report the outcome (or paho's error) in the status line."""
        topic, payload, qos = self.topic.value, self.payload.value, self.qos.value
        try:
            info = self.client.publish(topic, payload, qos, self.retain.value)
            info.wait_for_publish(self.timeout)  # returns on a timeout too: is_published() says which
            if info.is_published():
                done = "acknowledged" if qos else "sent"
            else:
                done = f"not {'acknowledged' if qos else 'sent'} within {self.timeout:g} s (is the client connected?)"
            self.status.value = f"{done}: {payload!r} on {topic} (mid {info.mid}, QoS {qos})"
        except (ValueError, TypeError, RuntimeError) as exc:
            self.status.value = f"not published: {exc}"
        return str(self.status.value)


class MessageMonitor(widgets.VBox):  # type: ignore[misc]
    """A table of the last ``limit`` messages ``client`` receives on ``topic``, newest last.

    It takes over the client's ``on_message``; rows are added from paho's
    network thread, which ipywidgets allows (a widget update is a message to
    the front end, not printed output).
    """

    def __init__(self, client: mqtt.Client, topic: str = "#", qos: int = 0, limit: int = 10) -> None:
        self.limit = limit
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self.table = widgets.HTML(value=self._render())
        super().__init__([widgets.HTML(value=f"<b>Messages on <code>{html.escape(topic)}</code></b>"), self.table])
        client.on_message = self.on_message
        subscribe(client, topic, qos)

    def on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        """paho VERSION2 ``on_message``: add a row."""
        with self._lock:
            self.messages = [*self.messages, message][-self.limit :]
            self.table.value = self._render()

    def _render(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(m.topic)}</td><td>{html.escape(m.payload.decode(errors='replace'))}</td>"
            f"<td>{m.qos}</td><td>{int(m.retain)}</td></tr>"
            for m in self.messages
        )
        head = "<tr><th>topic</th><th>payload</th><th>QoS</th><th>retain</th></tr>"
        return f"<table>{head}{rows or '<tr><td colspan=4><i>nothing yet</i></td></tr>'}</table>"
