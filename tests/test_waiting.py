"""Inbox and wait_for: they return what arrived, and their timeouts say what was awaited."""

from __future__ import annotations

import threading

import pytest

import mqtt_helpers
from mqtt_helpers import Inbox, WaitTimeout, close_client, connect_client, subscribe, wait_for


@pytest.fixture
def pair(broker: mqtt_helpers.BrokerHandle):  # type: ignore[no-untyped-def]
    inbox = Inbox()
    subscriber = connect_client(broker, inbox=inbox)
    publisher = connect_client(broker)
    subscribe(subscriber, "house/#", qos=1)
    yield inbox, publisher
    close_client(publisher)
    close_client(subscriber)


def publish_all(publisher, items):  # type: ignore[no-untyped-def]
    for topic, payload in items:
        publisher.publish(topic, payload, qos=1).wait_for_publish(5)


def test_wait_returns_messages_in_arrival_order(pair) -> None:  # type: ignore[no-untyped-def]
    inbox, publisher = pair
    publish_all(publisher, [("house/b", "1"), ("house/a", "2"), ("house/b", "3")])
    got = inbox.wait(3)
    assert [(m.topic, m.text, m.qos, m.retain) for m in got] == [
        ("house/b", "1", 1, False),
        ("house/a", "2", 1, False),
        ("house/b", "3", 1, False),
    ]
    assert len(inbox) == 0


def test_wait_filters_by_topic_and_leaves_the_rest(pair) -> None:  # type: ignore[no-untyped-def]
    inbox, publisher = pair
    publish_all(publisher, [("house/a", "1"), ("house/b/c", "2"), ("house/a", "3")])
    assert [m.text for m in inbox.wait(2, topic="house/a")] == ["1", "3"]
    assert [m.text for m in inbox.drain()] == ["2"]


def test_sort_gives_a_stable_order(pair) -> None:  # type: ignore[no-untyped-def]
    inbox, publisher = pair
    publish_all(publisher, [("house/z", "1"), ("house/a", "2")])
    assert [m.topic for m in inbox.wait(2, sort=True)] == ["house/a", "house/z"]


def test_inbox_timeout_names_topic_address_and_timeout(pair) -> None:  # type: ignore[no-untyped-def]
    inbox, publisher = pair
    publish_all(publisher, [("house/a", "only one")])
    with pytest.raises(WaitTimeout) as caught:
        inbox.wait(2, topic="house/a", timeout=0.3)
    text = str(caught.value)
    assert "0.3 s" in text and "'house/a'" in text and "127.0.0.1:" in text and "got 1" in text
    assert [m.text for m in inbox.drain()] == ["only one"], "a failed wait must not lose messages"


def test_wait_for_event_and_function() -> None:
    event = threading.Event()
    threading.Timer(0.05, event.set).start()
    assert wait_for(event, 5, what="the timer") is True
    assert wait_for(lambda: 42, 1) == 42
    with pytest.raises(WaitTimeout, match=r"0\.1 s waiting for the SUBACK of 'a/b'"):
        wait_for(threading.Event(), 0.1, what="the SUBACK of 'a/b'")
    with pytest.raises(WaitTimeout, match="waiting for a flag"):
        wait_for(lambda: False, 0.1, what="a flag")
