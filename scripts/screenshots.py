"""Take the README's JupyterLab screenshots with the browser code the tests use (`make screenshots`).

Usage: python -m scripts.screenshots [OUT_DIR]   (default: img; from the repository root)

JupyterLab runs with `make lab`'s command on a temporary copy of the repository, in Debian's headless Chromium
(tests/browser/driver.py), so taking pictures never changes a notebook. Writes:
- lab-qos-diagram.png: notebook 06 after Run All, at the live QoS 1 sequence diagram;
- lab-play-panel.png: notebook 00 after Run All, the message monitor and publish panel after a few messages.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.browser.driver import (
    NOTEBOOK,
    Lab,
    clear_and_run_all,
    launch_chromium,
    open_notebook,
    play_section,
    publish,
    status_line,
)

VIEWPORT = {"width": 1280, "height": 1000}
SHOWS = 30_000  # ms; upper bound for the broker round trip to reach the page
# What the panel sends for the picture; garden/light is outside the monitor's house/# and so does not appear.
MESSAGES = [
    ("house/bulbs/bulb1", "ON", 0),
    ("house/kitchen/light", "DIM", 1),
    ("garden/light", "ON", 0),
    ("house/main-light", "OFF", 1),
]


def hide_file_browser(page: Any) -> None:
    """Collapse the left sidebar so the lesson fills the picture (a click on its open tab, as a learner would)."""
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()


def scroll_to_top(element: Any) -> None:
    """Put ``element`` at the top of the notebook's scroll area.

    Cells off screen are laid out lazily (content-visibility), so the first scroll can move heights above the target:
    scroll, let the browser render two frames, and scroll again.
    """
    for _ in range(2):
        element.evaluate("""e => new Promise(done => {
            e.scrollIntoView({block: 'start'});
            requestAnimationFrame(() => requestAnimationFrame(done));
        })""")


def shoot(page: Any, lab: Lab, out: Path, **clip: Any) -> None:
    """Save the page (or ``clip``) as ``out``, unless JupyterLab is showing a dialog over it."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        raise SystemExit(f"not writing {out}: JupyterLab shows a dialog: {dialog.inner_text()!r}\n{lab.log()}")
    page.screenshot(path=out, **clip)


def qos_diagram(page: Any, lab: Lab, out: Path) -> None:
    """Notebook 06 after Run All, scrolled to the live-drawn QoS 1 sequence diagram."""
    open_notebook(page, lab, "notebooks/06-qos-retain-will-sessions.ipynb")
    hide_file_browser(page)
    clear_and_run_all(page)
    cell = page.locator(f"{NOTEBOOK} .jp-CodeCell", has_text="draw_sequence(flow1").first
    cell.locator(".jp-OutputArea-output img").wait_for()
    heading = page.locator(
        f"{NOTEBOOK} .jp-MarkdownCell", has=page.locator("h3", has_text="QoS 1: at least once")
    ).first
    scroll_to_top(heading)  # the prose, the trace, then the diagram drawn from it
    shoot(page, lab, out)


def play_panel(page: Any, lab: Lab, out: Path) -> None:
    """Notebook 00 after Run All: the monitor and the panel after a few messages sent with the panel."""
    from playwright.sync_api import expect

    open_notebook(page, lab, "notebooks/00-getting-started.ipynb")
    hide_file_browser(page)
    clear_and_run_all(page)
    panel, monitor = play_section(page)
    status = status_line(panel)
    for topic, payload, qos in MESSAGES:
        before = status.inner_text()
        publish(panel, topic, payload, qos)
        expect(status).not_to_have_text(before, timeout=SHOWS)  # each answer names a new message id
        if not status.inner_text().startswith(("sent:", "acknowledged:")):
            raise SystemExit(f"the panel could not publish after Run All: {status.inner_text()}")
    last_topic, _last_payload, _ = [m for m in MESSAGES if m[0].startswith("house/")][-1]
    expect(monitor.locator("tr").last).to_contain_text(last_topic, timeout=SHOWS)
    monitor_cell = page.locator(f"{NOTEBOOK} .jp-CodeCell", has=monitor)
    panel_cell = page.locator(f"{NOTEBOOK} .jp-CodeCell", has=panel)
    scroll_to_top(monitor_cell)
    top, bottom = monitor_cell.bounding_box(), panel_cell.bounding_box()
    area = page.locator(NOTEBOOK).bounding_box()
    shoot(
        page,
        lab,
        out,
        clip={
            "x": area["x"],
            "y": top["y"] - 8,
            "width": area["width"],
            "height": bottom["y"] + bottom["height"] - top["y"] + 16,
        },
    )


def main() -> None:
    # A plain `kill` should still stop JupyterLab and Chromium: turn SIGTERM into SystemExit so the `with` blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="img", type=Path, help="directory for the PNG files (default: img)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="screenshots-") as work,
        Lab(Path(work)) as lab,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        try:
            for name, take in [("lab-qos-diagram.png", qos_diagram), ("lab-play-panel.png", play_panel)]:
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                page.set_default_timeout(120_000)
                take(page, lab, args.out / name)
                context.close()
                lab.shutdown_kernels()
                print(f"wrote {args.out / name}")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
