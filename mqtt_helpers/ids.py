"""Unique client ids: a fixed prefix plus a part that differs per device or per run.

A broker lets only one connection use a client id at a time: a second client with the same id takes over and the
first is disconnected. Four common ways to make the varying part::

    >>> unique_client_id("Myclient", "serial", serial="0042")
    'Myclient-0042'
    >>> import random
    >>> unique_client_id("Myclient", "random", rng=random.Random(7))
    'Myclient-339563'

MQTT 3.1.1 (§3.1.3.1) only promises that brokers accept ids of 1 to 23 letters and digits; most (mosquitto, amqtt)
accept longer ids and the ``-`` used here.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import Literal

Scheme = Literal["serial", "random", "time", "time+random"]
SCHEMES: tuple[Scheme, ...] = ("serial", "random", "time", "time+random")

_system_random = random.SystemRandom()


def unique_client_id(
    prefix: str,
    scheme: Scheme = "random",
    *,
    serial: str | None = None,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.time,
) -> str:
    """Return ``prefix``, a dash, and a part chosen by ``scheme``.

    - ``"serial"``: the device's serial number, ``serial`` (default: this machine's MAC address in hex);
    - ``"random"``: a random 6-digit number, as in ``Myclient-902314``;
    - ``"time"``: the current Unix time in whole seconds;
    - ``"time+random"``: the time, then a random 4-digit number.

    ``rng`` and ``clock`` replace the randomness and the clock, for ids that are the same every run (tests, lessons).
    """
    if not prefix:
        raise ValueError("unique_client_id needs a non-empty prefix, such as 'Myclient'")
    source = rng or _system_random
    if scheme == "serial":
        part = serial if serial is not None else f"{uuid.getnode():012x}"
        if not part:
            raise ValueError("the 'serial' scheme needs a non-empty serial number")
    elif scheme == "random":
        part = f"{source.randrange(1_000_000):06d}"
    elif scheme == "time":
        part = str(int(clock()))
    elif scheme == "time+random":
        part = f"{int(clock())}-{source.randrange(10_000):04d}"
    else:
        raise ValueError(f"unknown scheme {scheme!r}: use one of {', '.join(SCHEMES)}")
    return f"{prefix}-{part}"
