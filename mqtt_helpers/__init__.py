"""Helpers for the MQTT client study notebooks: a local broker, safe waiting, ready clients.

Everything a lesson needs is importable from here::

    import mqtt_helpers
    broker = mqtt_helpers.start_broker()
"""

from mqtt_helpers.broker import BROKER_ENV, BrokerHandle, BrokerStartError, start_broker
from mqtt_helpers.client import (
    BrokerUnreachable,
    ConnectionRefused,
    close_client,
    connect_client,
    new_client,
    set_nodelay,
    subscribe,
)
from mqtt_helpers.ids import unique_client_id
from mqtt_helpers.tracing import PacketEvent, PacketTracer, SequenceDiagram, draw_sequence
from mqtt_helpers.waiting import Inbox, Received, WaitTimeout, wait_for

__all__ = [
    "BROKER_ENV",
    "BrokerHandle",
    "BrokerStartError",
    "BrokerUnreachable",
    "ConnectionRefused",
    "Inbox",
    "PacketEvent",
    "PacketTracer",
    "Received",
    "SequenceDiagram",
    "WaitTimeout",
    "close_client",
    "connect_client",
    "draw_sequence",
    "new_client",
    "set_nodelay",
    "start_broker",
    "subscribe",
    "unique_client_id",
    "wait_for",
]
