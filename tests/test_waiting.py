"""Inbox and wait_for: they return what arrived, and their timeouts say what was awaited."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

import mqtt_helpers
from mqtt_helpers import Inbox, WaitTimeout, close_client, connect_client, show, subscribe, wait_for

Pair = tuple[Inbox, mqtt.Client]


@pytest.fixture
def pair(broker: mqtt_helpers.BrokerHandle) -> Iterator[Pair]:
    """An inbox subscribed to house/# at QoS 1, and a publisher."""
    inbox = Inbox()
    subscriber = connect_client(broker, inbox=inbox)
    publisher = connect_client(broker)
    subscribe(subscriber, "house/#", qos=1)
    yield inbox, publisher
    close_client(publisher)
    close_client(subscriber)


def publish_all(publisher: mqtt.Client, items: list[tuple[str, str]]) -> None:
    for topic, payload in items:
        publisher.publish(topic, payload, qos=1).wait_for_publish(5)


def test_wait_returns_pahos_own_messages_in_arrival_order(pair: Pair) -> None:
    inbox, publisher = pair
    publish_all(publisher, [("house/b", "1"), ("house/a", "2"), ("house/b", "3")])
    got = inbox.wait(3)
    assert all(type(m) is mqtt.MQTTMessage for m in got), "the same objects a learner's own on_message receives"
    assert [(m.topic, m.payload, m.qos, m.retain) for m in got] == [
        ("house/b", b"1", 1, False),
        ("house/a", b"2", 1, False),
        ("house/b", b"3", 1, False),
    ]
    assert len(inbox) == 0


def test_show_gives_one_line_per_message(pair: Pair) -> None:
    inbox, publisher = pair
    publisher.publish("house/bulb1", "ON", qos=1, retain=True).wait_for_publish(5)
    assert show(inbox.wait(1)[0]) == "house/bulb1 b'ON' qos=1 retain=0"


def test_wait_filters_by_topic_and_leaves_the_rest(pair: Pair) -> None:
    inbox, publisher = pair
    publish_all(publisher, [("house/a", "1"), ("house/b/c", "2"), ("house/a", "3")])
    assert [m.payload for m in inbox.wait(2, topic="house/a")] == [b"1", b"3"]
    assert [m.payload for m in inbox.drain()] == [b"2"]


def test_inbox_timeout_names_topic_address_and_timeout(pair: Pair) -> None:
    inbox, publisher = pair
    publish_all(publisher, [("house/a", "only one")])
    with pytest.raises(WaitTimeout) as caught:
        inbox.wait(2, topic="house/a", timeout=0.3)
    text = str(caught.value)
    assert "0.3 s" in text
    assert "'house/a'" in text
    assert "127.0.0.1:" in text
    assert "got 1" in text
    assert "house/a b'only one' qos=1" in text
    assert [m.payload for m in inbox.drain()] == [b"only one"], "a failed wait must not lose messages"


def test_qos0_messages_are_taken_one_by_one(pair: Pair) -> None:
    """paho's MQTTMessage compares equal by mid alone, and every QoS 0 message has mid 0."""
    inbox, publisher = pair
    for payload in ("a", "b", "c"):
        publisher.publish("house/zero", payload, qos=0)
    wait_for(lambda: len(inbox) == 3, 5, what="three QoS 0 messages")
    assert [m.payload for m in inbox.wait(1)] == [b"a"]
    assert [m.payload for m in inbox.drain()] == [b"b", b"c"]


def test_wait_for_event_and_function() -> None:
    event = threading.Event()
    threading.Timer(0.05, event.set).start()
    assert wait_for(event, 5, what="the timer") is True
    assert wait_for(lambda: 42, 1) == 42
    with pytest.raises(WaitTimeout, match=r"0\.1 s waiting for the SUBACK of 'a/b'"):
        wait_for(threading.Event(), 0.1, what="the SUBACK of 'a/b'")
    with pytest.raises(WaitTimeout, match="waiting for a flag"):
        wait_for(lambda: False, 0.1, what="a flag")
