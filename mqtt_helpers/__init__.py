"""Helpers for the MQTT client study notebooks: a local broker, waiting without sleep(), ready clients, packet traces.

Each lesson does a job by hand with plain paho first; these helpers then save
the repetition::

    import mqtt_helpers
    broker = mqtt_helpers.start_broker()
    client = mqtt_helpers.connect_client(broker)

Learner-facing modules: ``broker`` (start_broker) and ``handle`` (what it returns),
``client``, ``waiting`` (Inbox, wait_for), ``ids``, ``tracing``, ``drawing`` and
``widgets``. How the brokers run lives in ``_brokers``, which you need not read.
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
