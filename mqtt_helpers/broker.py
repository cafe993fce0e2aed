"""Start a local MQTT broker for a lesson, a test or a benchmark with one call: ``start_broker()``.

The ``kind`` argument, else the ``MQTT_STUDY_BROKER`` environment variable, picks the broker:
``amqtt`` (default; pure Python, corrected to follow MQTT 3.1.1, on a thread of this process, starts in
milliseconds), ``mosquitto`` (the reference broker, as a child process) or ``mqtt://HOST:PORT`` (a broker
somebody else runs, such as a classroom broker: the handle only points at it; asked for users, TLS or
websockets, it gets a private amqtt broker instead). Brokers started here listen on
127.0.0.1 only, on a free port; how they run is in ``mqtt_helpers._brokers``, which you need not read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from mqtt_helpers._brokers.amqtt import AmqttBroker
from mqtt_helpers._brokers.mosquitto import start_mosquitto
from mqtt_helpers.handle import BrokerHandle, BrokerOptions

BROKER_ENV = "MQTT_STUDY_BROKER"
KINDS = ("amqtt", "mosquitto")


def start_broker(
    kind: str | None = None,
    *,
    port: int = 0,
    users: Mapping[str, str] | None = None,
    tls: bool = False,
    websockets: bool = False,
) -> BrokerHandle:
    """Start a broker on 127.0.0.1 and return its handle once it accepts connections.

    ``kind`` overrides ``MQTT_STUDY_BROKER``. ``port=0`` (the default) picks a free port. ``users`` (name ->
    password) turns anonymous access off. ``tls=True`` adds a TLS listener with certificates made on the fly;
    ``websockets=True`` an MQTT-over-websockets listener. A broker somebody else runs (``mqtt://HOST:PORT``) cannot
    grow those for one lesson, so asking for them there starts a private embedded broker instead.
    """
    chosen = resolve_kind(kind)
    options = BrokerOptions(port=port, users=users, tls=tls, websockets=websockets)
    if chosen.startswith("mqtt://"):
        if not (users or tls or websockets):
            return external_broker(chosen)
        chosen = "amqtt"
    if chosen == "mosquitto":
        return start_mosquitto(options)
    return AmqttBroker.start(options)


def resolve_kind(kind: str | None) -> str:
    """The broker kind to use: the argument, else the environment, else amqtt."""
    chosen = (kind or os.environ.get(BROKER_ENV) or "amqtt").strip()
    if chosen in KINDS or chosen.startswith("mqtt://"):
        return chosen
    raise ValueError(
        f"unknown broker {chosen!r} (from {'the kind argument' if kind else BROKER_ENV}): "
        "use 'amqtt', 'mosquitto' or 'mqtt://HOST:PORT'"
    )


def external_broker(url: str) -> BrokerHandle:
    """Point at a broker that is already running; ``stop()`` leaves it alone."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host: write it as mqtt://HOST:PORT")
    return BrokerHandle(kind="external", host=parts.hostname, port=parts.port or 1883)
