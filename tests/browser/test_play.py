"""Notebook 00's play section works for a learner who pressed Run All: the panel publishes, the monitor shows it."""

from __future__ import annotations

import re
import secrets
from typing import Any

from tests.browser.driver import Lab, clear_and_run_all, open_notebook

NOTEBOOK = "notebooks/00-getting-started.ipynb"
SHOWS = 30_000  # ms; an upper bound for a round trip through the broker to reach the page, not a pause


def play_section(page: Any) -> tuple[Any, Any]:
    """The publish panel (the widget box around the Publish button) and the monitor's message table."""
    panel = page.get_by_role("button", name="Publish").locator("xpath=..")
    monitor = page.locator(".widget-html table", has=page.locator("th", has_text="payload"))
    return panel, monitor


def status_line(panel: Any) -> Any:
    """The panel's answer to the last Publish (a Label widget below the button)."""
    return panel.locator(":scope > .widget-label")


def publish(panel: Any, topic: str, payload: str) -> None:
    """Type ``topic`` and ``payload`` into the panel and press Publish."""
    panel.get_by_label("topic", exact=True).fill(topic)
    panel.get_by_label("payload", exact=True).fill(payload)
    panel.get_by_role("button", name="Publish").click()


def test_publish_after_run_all_shows_in_monitor(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    open_notebook(page, lab, NOTEBOOK)
    clear_and_run_all(page)
    panel, monitor = play_section(page)
    topic = panel.get_by_label("topic", exact=True).input_value()  # the panel's own example
    payload = f"browser-{secrets.token_hex(3)}"

    publish(panel, topic, payload)

    status = status_line(panel)
    expect(status).to_have_text(re.compile(r"\S"), timeout=SHOWS)  # the panel answered
    assert "not published" not in status.inner_text(), f"the panel could not publish after Run All: {status.inner_text()}"
    expect(monitor.locator("tr", has_text=payload)).to_contain_text(topic, timeout=SHOWS)


def test_wildcard_topic_shows_the_panels_error(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    open_notebook(page, lab, NOTEBOOK)
    clear_and_run_all(page)
    panel, _ = play_section(page)

    publish(panel, "house/+/light", "ON")

    expect(status_line(panel)).to_contain_text("not published: Publish topic cannot contain wildcards",
                                                           timeout=SHOWS)
