"""Helpers for the MQTT client study notebooks: a local broker, waiting without sleep(), ready clients, packet traces.

A lesson first does a job by hand with plain paho; these helpers then save the repetition. How the brokers run
(``_brokers``) and how paho's log lines are parsed (``_paho_log``) you need not read.
"""

from mqtt_helpers.broker import start_broker
from mqtt_helpers.client import BrokerUnreachable, ConnectionRefused, close_client, connect_client, subscribe
from mqtt_helpers.drawing import draw_sequence
from mqtt_helpers.handle import BrokerHandle, BrokerStartError
from mqtt_helpers.ids import unique_client_id
from mqtt_helpers.tracing import PacketTracer
from mqtt_helpers.waiting import Inbox, WaitTimeout, show, wait_for

__all__ = [
    "BrokerHandle",
    "BrokerStartError",
    "BrokerUnreachable",
    "ConnectionRefused",
    "Inbox",
    "PacketTracer",
    "WaitTimeout",
    "close_client",
    "connect_client",
    "draw_sequence",
    "show",
    "start_broker",
    "subscribe",
    "unique_client_id",
    "wait_for",
]
