"""Drive JupyterLab in Debian's Chromium the way a learner does (shared by tests/browser and scripts/screenshots.py).

JupyterLab runs with the exact command `make lab` runs, on a temporary copy of the repository, so that autosave and
Run All never touch the working tree. Chromium is the system one (no browser is downloaded): Playwright drives it
through `executable_path`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mqtt_helpers._brokers.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Not copied into the temporary repository: they are large, machine-specific or rebuilt on demand.
SKIP_COPY = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".mypy_cache")
START_TIMEOUT = 90.0
# The server is on 127.0.0.1: never send its requests through an http_proxy from the environment.
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))
RUN_ALL_TIMEOUT = 300.0  # s; the slowest lesson takes about 20 s


def chromium_path() -> str | None:
    """$CHROMIUM when set, else Debian's Chromium; None when that is not an executable file."""
    chosen = os.environ.get("CHROMIUM")
    for candidate in [chosen] if chosen else [shutil.which("chromium"), "/usr/bin/chromium"]:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def copy_repository(dest: Path) -> Path:
    """A copy of the working tree (tracked or not, without .git/.venv) for JupyterLab to save into."""
    shutil.copytree(ROOT, dest, ignore=SKIP_COPY)
    return dest


def lab_command(repo: Path = ROOT, venv: Path = Path(sys.prefix)) -> tuple[dict[str, str], list[str]]:
    """The environment settings and the command `make lab` runs in ``repo`` (as `make -n` prints it, without the
    set-up step), with ``venv`` (default: this interpreter's) as the virtual environment."""
    dry_run = subprocess.run(
        ["make", "-s", "-n", "-C", str(repo), "lab", "-o", "setup", f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    lines = [line for line in dry_run.stdout.splitlines() if " lab " in line and "jupyter" in line]
    if len(lines) != 1:
        raise RuntimeError(f"expected one `jupyter lab` line from `make -n lab`, got:\n{dry_run.stdout}")
    words = shlex.split(lines[0])
    # Leading NAME=value words are the environment the Makefile sets (the project's JupyterLab settings).
    settings = dict(word.split("=", 1) for word in itertools.takewhile(lambda w: re.match(r"[A-Z_]+=", w), words))
    return settings, words[len(settings) :]


class Lab:
    """A JupyterLab server started by `make lab`'s command in a copy of the repository; ``stop()`` ends it."""

    def __init__(self, workdir: Path, prepare: Callable[[Path], None] | None = None) -> None:
        self.repo = copy_repository(workdir / "repo")
        if prepare is not None:
            prepare(self.repo)  # a test's change to the copy, made before the server starts
        self.home = workdir / "home"  # a learner with no JupyterLab settings of their own
        self.home.mkdir()
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}/"
        flags = [
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
        ]
        settings, command = lab_command(self.repo)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("JUPYTER", "JPY_"))}
        env.update(settings, HOME=str(self.home), JUPYTER_RUNTIME_DIR=str(workdir / "runtime"))
        self.log_path = workdir / "lab.log"
        self._log = self.log_path.open("w")
        # JupyterLab is the child itself, so stopping (or Ctrl-C on the test run) reaches the server.
        self.process = subprocess.Popen(
            [*command, *flags], cwd=self.repo, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.log()}")
            try:
                self.api("api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)  # polling a server that is starting; there is no event to wait on
        self.stop()
        raise TimeoutError(f"jupyter lab did not answer on {self.base} within {START_TIMEOUT:.0f} s:\n{self.log()}")

    def log(self) -> str:
        """The server's output so far (the end of it)."""
        return self.log_path.read_text(errors="replace")[-4000:]

    def url(self, path: str) -> str:
        """``path`` on the server, with the token (which also logs the browser in)."""
        return f"{self.base}{path}?token={self.token}"

    def api(self, path: str) -> Any:
        """GET a REST endpoint and decode its JSON."""
        request = urllib.request.Request(f"{self.base}{path}", headers={"Authorization": f"token {self.token}"})
        with LOCAL.open(request, timeout=10) as response:
            return json.load(response)

    def saved_notebook(self, path: str) -> dict[str, Any]:
        """The notebook at ``path`` (relative to the repository) as JupyterLab saved it, via the contents API."""
        model = self.api(f"api/contents/{path}?content=1&type=notebook")
        return dict(model["content"])

    def shutdown_kernels(self) -> None:
        """Shut down every kernel (a closed browser tab leaves its kernel running, as in real life)."""
        for session in self.api("api/sessions"):
            request = urllib.request.Request(
                f"{self.base}api/sessions/{session['id']}",
                method="DELETE",
                headers={"Authorization": f"token {self.token}"},
            )
            LOCAL.open(request, timeout=30).close()

    def stop(self) -> None:
        """Shut down the kernels, then end the server."""
        if self.process.poll() is None:
            # the server is going away anyway; its own shutdown stops the kernels too
            with contextlib.suppress(urllib.error.URLError, ConnectionError):
                self.shutdown_kernels()
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the browser side -------------------------------------------------------------------------------------------------
# Typed loosely: Playwright is imported only where it is installed (the suite skips or fails cleanly without it).

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# How far Run All got in the visible notebook: "finished" once the kernel is idle (the status bar's "| Idle", as a
# learner reads it), no cell is queued or running ("[*]") and the last code cell has its number. Not just "no cell
# shows [*]": after any error, even in a cell tagged raises-exception that Run All runs past, JupyterLab clears the [*]
# of every queued cell, and the kernel shows Idle for a moment between cells (4 times in one run of notebook 00), so a
# run looked finished with cells still to come. "stopped: ..." is the same idle state with the last cell not run (Run
# All stopped at an error, if it lasts); "stalled" while the kernel is idle yet every cell still waits; the text of a
# dialog if JupyterLab asks something instead (a dead kernel, say).
RUN_FINISHED = (
    """() => {
    const dialog = document.querySelector('.jp-Dialog');
    if (dialog) return 'dialog: ' + dialog.innerText.replace(/\\s+/g, ' ');
    const panel = document.querySelector('%s');
    if (!panel) return false;
    const idle = [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(t => /\\|\\s*Idle/.test(t.textContent));
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
    if (!idle || prompts.length === 0) return false;
    if (prompts.every(p => p.includes('*'))) return 'stalled';
    if (prompts.some(p => p.includes('*'))) return false;
    return /\\d/.test(prompts[prompts.length - 1]) ? 'finished' : 'stopped: ' + prompts.join(' ');
}"""
    % NOTEBOOK
)
STALL_SECONDS = 20.0  # every cell queued, the kernel idle: the run requests never reached the kernel
STOP_SECONDS = 5.0  # kernel idle, no cell queued, the last cell not run: Run All stopped at an error


# What a stuck Run All looks like: the kernel's state and the cells still queued or running.
RUN_STATE = (
    """() => {
    const panel = document.querySelector('%s');
    if (!panel) return 'no notebook is showing';
    const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
    const kernel = document.querySelector('.jp-StatusBar-Widget')?.innerText.replace(/\\s+/g, ' ');
    const cells = [...panel.querySelectorAll('.jp-CodeCell')];
    const waiting = cells.map((c, i) => [i, c]).filter(([i, c]) =>
        (c.querySelector('.jp-InputArea-prompt')?.textContent || '').includes('*'));
    const first = waiting.length ? waiting[0][1].querySelector('.jp-InputArea-editor')?.innerText.slice(0, 200) : '';
    return `execution indicator ${indicator?.dataset.status}; status bar: ${kernel}; `
        + `${waiting.length} of ${cells.length} code cells queued or running, the first (code cell ${waiting.length ? waiting[0][0] + 1 : '-'}): ${first}`;
}"""
    % NOTEBOOK
)


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, with nothing that phones home."""
    path = chromium_path()
    if path is None:
        raise FileNotFoundError("Chromium is not installed: sudo apt-get install chromium")
    return playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)


# "ready" once the notebook's kernel is up and idle (the status bar's "Python 3 (ipykernel) | Idle"); "select" when
# JupyterLab asks which kernel to start instead; another dialog's text otherwise.
KERNEL_READY = (
    """() => {
    const dialog = document.querySelector('.jp-Dialog');
    if (dialog) return dialog.innerText.includes('Select Kernel') ? 'select' : 'dialog: ' + dialog.innerText;
    const items = [...document.querySelectorAll('.jp-StatusBar-TextItem')].map(e => e.textContent);
    return document.querySelector('%s') !== null && items.some(t => /\\|\\s*Idle/.test(t)) && 'ready';
}"""
    % NOTEBOOK
)


def open_notebook(page: Any, lab: Lab, path: str) -> None:
    """Open ``path`` in JupyterLab (in a fresh workspace, so no earlier tab reopens) and wait until its kernel is idle.

    On a busy machine JupyterLab sometimes asks "Select Kernel" for a notebook that names its kernel (it looked
    before the kernel list had loaded); a learner accepts the suggested Python 3, and so does this.
    """
    page.goto(lab.url(f"lab/workspaces/{secrets.token_hex(4)}/tree/{path}"))
    wait_for_kernel(page, path)


def wait_for_kernel(page: Any, path: str) -> None:
    """Wait until the visible notebook's kernel is idle, accepting JupyterLab's suggested kernel if it asks."""
    for _ in range(2):
        state = page.wait_for_function(KERNEL_READY, timeout=120_000, polling=250).json_value()
        if state != "select":
            break
        page.locator(".jp-Dialog .jp-mod-accept").click()
    if state != "ready":
        raise RuntimeError(f"{path}: the kernel did not start; JupyterLab shows {state!r}")


def menu(page: Any, top: str, item: str) -> None:
    """Click ``top`` in the menu bar, then ``item`` in its menu, as a learner does."""
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def clear_and_run_all(page: Any, timeout: float = RUN_ALL_TIMEOUT) -> None:
    """Edit > Clear Outputs of All Cells, Run > Run All Cells, then wait until the last cell ran and the kernel is idle.

    Returns early when Run All stopped (an untagged error): the same idle state without progress for STOP_SECONDS.
    Rarely, on a busy machine, JupyterLab marks every cell queued while its kernel stays idle: the requests went to a
    kernel connection that was being replaced. A learner presses Run All again, and so does this, once.
    """
    menu(page, "Edit", "Clear Outputs of All Cells")
    menu(page, "Run", "Run All Cells")
    deadline, retried = time.monotonic() + timeout, False
    unchanged: tuple[object, float] = (None, time.monotonic())  # the last state seen and since when
    while (outcome := page.evaluate(RUN_FINISHED)) != "finished":
        if isinstance(outcome, str) and outcome.startswith("dialog"):
            raise RuntimeError(f"Run All did not finish: JupyterLab shows a {outcome}")
        if outcome != unchanged[0]:
            unchanged = (outcome, time.monotonic())
        lasted = time.monotonic() - unchanged[1]
        if outcome == "stalled" and lasted > STALL_SECONDS and not retried:
            menu(page, "Run", "Run All Cells")
            unchanged, retried = (None, time.monotonic()), True
        if isinstance(outcome, str) and outcome.startswith("stopped") and lasted > STOP_SECONDS:
            return  # the caller reads the saved notebook to say which cells never ran and why
        if time.monotonic() > deadline:
            raise TimeoutError(f"Run All did not finish within {timeout:.0f} s: {page.evaluate(RUN_STATE)}")
        time.sleep(0.25)  # polling the page: JupyterLab offers no event to wait on from here


def save(page: Any, lab: Lab, path: str) -> dict[str, Any]:
    """File > Save Notebook; returns the notebook as saved on the server."""
    before = lab.api(f"api/contents/{path}?content=0")["last_modified"]
    menu(page, "File", "Save Notebook")
    deadline = time.monotonic() + 30
    while lab.api(f"api/contents/{path}?content=0")["last_modified"] == before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} was not saved within 30 s")
        time.sleep(0.2)  # polling the server's file; the save is an HTTP request we cannot hook from here
    return lab.saved_notebook(path)


# --- notebook 00's play section (mqtt_helpers.widgets.PublishPanel and MessageMonitor) --------------------------------


def play_section(page: Any) -> tuple[Any, Any]:
    """The publish panel (the widget box around the Publish button) and the monitor's message table."""
    panel = page.get_by_role("button", name="Publish").locator("xpath=..")
    monitor = page.locator(".widget-html table", has=page.locator("th", has_text="payload"))
    return panel, monitor


def status_line(panel: Any) -> Any:
    """The panel's answer to the last Publish (a Label widget below the button)."""
    return panel.locator(":scope > .widget-label")


def publish(panel: Any, topic: str, payload: str, qos: int | None = None) -> None:
    """Type ``topic`` and ``payload`` into the panel (and pick ``qos``), then press Publish."""
    panel.get_by_label("topic", exact=True).fill(topic)
    panel.get_by_label("payload", exact=True).fill(payload)
    if qos is not None:
        panel.get_by_label("QoS", exact=True).select_option(str(qos))
    panel.get_by_role("button", name="Publish").click()
