"""A notebook says what it needs; its nbval test skips (locally) or fails (CI) when that is missing.

A notebook declares its needs in its metadata (JupyterLab: the property inspector)::

    "metadata": {"mqtt_study": {"requires": ["mosquitto"]}}

When a need cannot be met, every cell of that notebook is skipped with the reason
(which says how to install it) on a learner's machine, and fails under
``CI=true``: a green CI run must mean the notebook really ran. ``unavailable()``
is that policy, for the unit tests (``tests/helpers.py``, ``require()``) and the
browser tests too.

The root ``conftest.py`` loads this plugin, so it applies to ``pytest --nbval
notebooks`` as well as to runs under ``tests/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import pytest

from mqtt_helpers._brokers.mosquitto import mosquitto_binary

METADATA_KEY = "mqtt_study"


def _mosquitto() -> None:
    mosquitto_binary()  # raises BrokerStartError with the install hint


# Each need a notebook may declare, and a check that raises (saying what to do) when it is missing.
CHECKS: dict[str, Callable[[], object]] = {"mosquitto": _mosquitto}


def declared_requirements(metadata: Mapping[str, Any], notebook: str = "the notebook") -> list[str]:
    """The needs listed under metadata["mqtt_study"]["requires"]; a clear error for a bad entry."""
    requires = metadata.get(METADATA_KEY, {}).get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(name, str) for name in requires):
        raise ValueError(f'{notebook}: metadata {METADATA_KEY}.requires must be a list of names, e.g. ["mosquitto"]')
    unknown = sorted(set(requires) - set(CHECKS))
    if unknown:
        raise ValueError(
            f"{notebook}: unknown requirement(s) {unknown} in metadata {METADATA_KEY}.requires; known: {sorted(CHECKS)}"
        )
    return list(requires)


def missing_requirements(requires: list[str], checks: Mapping[str, Callable[[], object]] = CHECKS) -> list[str]:
    """One message per need that cannot be met here, from its check's error."""
    missing = []
    for name in requires:
        try:
            checks[name]()
        except Exception as exc:  # noqa: BLE001 - the check's message says how to fix it
            missing.append(f"{name}: {exc}")
    return missing


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str, *, must: str) -> NoReturn:
    """Skip with ``reason`` on a learner's machine; under CI=true fail, saying what CI ``must`` do."""
    if running_in_ci():
        pytest.fail(f"CI must {must}, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before an nbval cell runs (and before its notebook's kernel starts), check the notebook's needs."""
    notebook = getattr(item.parent, "nb", None)  # nbval's IPyNbFile holds the parsed notebook
    if notebook is None:
        return
    requires = declared_requirements(notebook.metadata, str(item.path))
    missing = missing_requirements(requires)
    if missing:
        unavailable("; ".join(missing), must="run this notebook")
