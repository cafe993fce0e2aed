"""unique_client_id: the notes' four schemes, reproducible on demand, made of what brokers accept."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from mqtt_helpers import unique_client_id
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
def test_every_scheme_uses_only_letters_digits_and_dashes(scheme: Scheme) -> None:
    """What a broker must accept is 1-23 letters and digits [MQTT-3.1.3-5]; beyond that, only the dash (and the
    length) that the module docstring says common brokers accept. Notebook 01 connects with these ids on both
    brokers under nbval: that, not a broker start per scheme here, shows the brokers accept them."""
    client_id = unique_client_id("Myclient", scheme, serial="0042", rng=random.Random(3), clock=lambda: 1.7e9)
    assert re.fullmatch(r"Myclient-[0-9A-Za-z-]+", client_id), client_id
