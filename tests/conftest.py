"""Shared fixtures: the brokers every behaviour is checked against.

Tests that need mosquitto skip on a laptop without it, but fail under CI=true:
a green CI run must mean both brokers were really tested.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mqtt_helpers import BrokerHandle, start_broker
from mqtt_helpers.broker import KINDS
from mqtt_helpers.mosquitto import mosquitto_binary


def require(kind: str) -> None:
    """Skip (locally) or fail (CI) when ``kind`` cannot run here."""
    if kind != "mosquitto":
        return
    try:
        mosquitto_binary()
    except Exception as exc:  # noqa: BLE001 - the message says how to install it
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must test on mosquitto, but: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(params=KINDS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    """Each broker the helpers can start, by name."""
    require(request.param)
    return str(request.param)


@pytest.fixture
def broker(broker_kind: str) -> Iterator[BrokerHandle]:
    """A fresh anonymous broker of each kind, stopped after the test."""
    with start_broker(broker_kind) as handle:
        yield handle
