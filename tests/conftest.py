"""Shared fixtures: the brokers every behaviour is checked against.

Tests that need mosquitto skip on a laptop without it, but fail under CI=true:
a green CI run must mean both brokers were really tested.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mqtt_helpers import BrokerHandle, start_broker
from mqtt_helpers.broker import KINDS
from tests.helpers import require


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
