"""The publish panel and the message monitor, driven as a learner would: fill fields, click."""

from __future__ import annotations

from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

import mqtt_helpers
from mqtt_helpers import close_client, connect_client, wait_for
from mqtt_helpers.widgets import MessageMonitor, PublishPanel

Pair = tuple[mqtt.Client, mqtt.Client]


@pytest.fixture
def pair(broker: mqtt_helpers.BrokerHandle) -> Iterator[Pair]:
    """A publisher and a listener."""
    publisher, listener = connect_client(broker), connect_client(broker)
    yield publisher, listener
    close_client(publisher)
    close_client(listener)


def test_clicking_publish_reaches_the_monitor(pair: Pair) -> None:
    publisher, listener = pair
    monitor = MessageMonitor(listener, "house/#", qos=1)
    panel = PublishPanel(publisher, topic="house/kitchen/light", payload="DIM")
    panel.qos.value, panel.retain.value = 1, False
    panel.button.click()
    assert panel.status.value.startswith("acknowledged: 'DIM' on house/kitchen/light (mid ")
    wait_for(lambda: monitor.messages, 5, what="the monitor's first row")
    assert [(m.topic, m.payload, m.qos) for m in monitor.messages] == [("house/kitchen/light", b"DIM", 1)]
    assert "<td>house/kitchen/light</td><td>DIM</td><td>1</td><td>0</td>" in monitor.table.value


def test_a_publish_nobody_acknowledged_is_not_called_acknowledged(pair: Pair) -> None:
    """With its network loop stopped the client sends the PUBLISH but never reads the PUBACK."""
    publisher, _ = pair
    publisher.loop_stop()
    panel = PublishPanel(publisher, topic="a/b", payload="x", timeout=0.2)
    panel.qos.value = 1
    panel.button.click()
    assert panel.status.value == ("not acknowledged within 0.2 s (is the client connected?): 'x' on a/b (mid 1, QoS 1)")


def test_bad_topic_is_reported_in_the_panel_not_raised(pair: Pair) -> None:
    publisher, _ = pair
    panel = PublishPanel(publisher, topic="house/+/light")
    panel.button.click()
    assert panel.status.value == "not published: Publish topic cannot contain wildcards."


def test_monitor_keeps_the_last_rows_and_escapes_html(pair: Pair) -> None:
    publisher, listener = pair
    monitor = MessageMonitor(listener, "t/#", qos=1, limit=2)
    for payload in ["one", "two", "<b>three</b>"]:
        publisher.publish("t/x", payload, qos=1).wait_for_publish(5)
    wait_for(lambda: monitor.messages and monitor.messages[-1].payload == b"<b>three</b>", 5, what="the third row")
    assert [m.payload for m in monitor.messages] == [b"two", b"<b>three</b>"]
    assert "&lt;b&gt;three&lt;/b&gt;" in monitor.table.value
