"""unique_client_id: the notes' four schemes, reproducible on demand, accepted by both brokers."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

import mqtt_helpers
from mqtt_helpers import close_client, connect_client, subscribe, unique_client_id
from mqtt_helpers.ids import SCHEMES, Scheme


def test_random_scheme_is_prefix_dash_six_digits() -> None:
    assert re.fullmatch(r"Myclient-\d{6}", unique_client_id("Myclient"))


def test_seeded_rng_and_fixed_clock_give_the_same_ids() -> None:
    def make(scheme: Scheme) -> str:
        return unique_client_id("Myclient", scheme, rng=random.Random(1), clock=lambda: 1700000000.9)

    assert [make(s) for s in ("random", "time", "time+random")] == [make(s) for s in ("random", "time", "time+random")]
    assert make("time") == "Myclient-1700000000"
    assert re.fullmatch(r"Myclient-1700000000-\d{4}", make("time+random"))


def test_serial_scheme_uses_the_serial_or_the_mac() -> None:
    assert unique_client_id("sensor", "serial", serial="A1B2") == "sensor-A1B2"
    assert re.fullmatch(r"sensor-[0-9a-f]{12}", unique_client_id("sensor", "serial"))


def test_random_ids_differ() -> None:
    assert len({unique_client_id("c") for _ in range(50)}) > 45


@pytest.mark.parametrize("bad", [{"prefix": ""}, {"scheme": "uuid"}, {"scheme": "serial", "serial": ""}])
def test_bad_arguments_say_what_to_do(bad: dict[str, str]) -> None:
    args: dict[str, Any] = {"prefix": "Myclient", **bad}
    with pytest.raises(ValueError, match=r"prefix|scheme|serial"):
        unique_client_id(**args)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_brokers_accept_every_scheme(broker: mqtt_helpers.BrokerHandle, scheme: Scheme) -> None:
    inbox = mqtt_helpers.Inbox()
    client = connect_client(broker, unique_client_id("Myclient", scheme), inbox=inbox)
    try:
        subscribe(client, "ids/test", qos=1)
        client.publish("ids/test", scheme, qos=1).wait_for_publish(5)
        assert inbox.wait(1)[0].payload.decode() == scheme
    finally:
        close_client(client)
