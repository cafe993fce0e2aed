"""Notebook 00's play section works for a learner who pressed Run All: the panel publishes, the monitor shows it."""

from __future__ import annotations

import re
import secrets
from typing import Any

from tests.browser.driver import Lab, clear_and_run_all, open_notebook, play_section, publish, status_line

NOTEBOOK = "notebooks/00-getting-started.ipynb"
SHOWS = 30_000  # ms; an upper bound for a round trip through the broker to reach the page, not a pause


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
    # "sent" at QoS 0, "acknowledged" once a PUBACK/PUBCOMP came; anything else is a failure the panel reports
    assert status.inner_text().startswith(("sent:", "acknowledged:")), (
        f"the panel could not publish after Run All: {status.inner_text()}"
    )
    expect(monitor.locator("tr", has_text=payload)).to_contain_text(topic, timeout=SHOWS)


def test_wildcard_topic_shows_the_panels_error(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    open_notebook(page, lab, NOTEBOOK)
    clear_and_run_all(page)
    panel, _ = play_section(page)

    publish(panel, "house/+/light", "ON")

    expect(status_line(panel)).to_contain_text("not published: Publish topic cannot contain wildcards", timeout=SHOWS)
