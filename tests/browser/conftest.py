"""Fixtures for the browser tests: one JupyterLab server (started like `make lab`) and Debian's Chromium.

Without Chromium or the playwright package these tests skip on a learner's machine, with the reason, but fail
under CI=true: a green CI run must mean the notebooks really ran in a browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests import nb_requirements
from tests.browser.driver import Lab, chromium_path, launch_chromium


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail under CI=true."""
    nb_requirements.unavailable(reason, must="run the browser tests")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """Playwright's synchronous API, when the package and a Chromium to drive are installed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed: pip install -e '.[test]'")
    if chromium_path() is None:
        unavailable("Chromium is not installed: sudo apt-get install chromium (Debian/Ubuntu), or set CHROMIUM=/path")
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    """Headless Debian Chromium."""
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def lab(playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab, started with `make lab`'s command on a temporary copy of the repository."""
    with Lab(tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    """A fresh browser page (own cookies and storage); its kernels are shut down afterwards."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(60_000)  # a shared 2-core machine can be slow to render a big notebook
    yield tab
    context.close()
    lab.shutdown_kernels()


def notebook_id(path: Path) -> str:
    """Test ids by notebook name: test_run_all[00-getting-started]."""
    return path.stem


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives JupyterLab in Chromium takes seconds: ``pytest -m "not slow"`` leaves it out."""
    for item in items:
        if {"lab", "browser", "page"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
