"""`make lab` serves JupyterLab rooted at the repository, with the series in notebooks/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.driver import lab_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_jupyterlab_serves_the_series(tmp_path: Path) -> None:
    # The Makefile's own `make lab` command (printed by make -n, with this interpreter's environment and
    # without re-running setup), plus what a test needs: no browser, a free port, a known token.
    venv = Path(sys.prefix)
    settings, command = lab_command(ROOT, venv)
    assert "jupyter-config" in settings.get("JUPYTER_CONFIG_PATH", ""), settings
    assert command[:2] == [str(venv / "bin" / "jupyter"), "lab"], command
    command += [
        "--no-browser",
        "--allow-root",
        "--ServerApp.port=0",
        "--ServerApp.token=study",
        "--ServerApp.ip=127.0.0.1",
    ]
    log = (tmp_path / "lab.log").open("w+")
    env = {"JUPYTER_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin", **settings}
    server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        base = wait_for_url(tmp_path / "lab.log", server)
        listing = json.load(urllib.request.urlopen(f"{base}api/contents/notebooks?token=study", timeout=10))
        names = sorted(item["name"] for item in listing["content"])
        assert "00-getting-started.ipynb" in names
        assert "solutions" in names
        assert len([n for n in names if re.match(r"\d\d-.*\.ipynb$", n)]) >= 8
        page = urllib.request.urlopen(f"{base}lab/tree/notebooks/00-getting-started.ipynb?token=study", timeout=10)
        assert page.status == 200
        image = urllib.request.urlopen(f"{base}files/img/qos1-flow.png?token=study", timeout=10)
        assert image.status == 200, "notebooks link ../img/: the server root must be the repository"
    finally:
        server.terminate()
        server.wait(timeout=20)


def wait_for_url(log: Path, server: subprocess.Popen[bytes]) -> str:
    """The server's base URL, read from its log once it is listening (bounded wait)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"(http://127\.0\.0\.1:\d+/)", log.read_text())
        if found:
            return found.group(1)
        assert server.poll() is None, f"jupyter lab exited: {log.read_text()[-2000:]}"
        time.sleep(0.2)  # polling a log file for a line; no event to wait on
    raise TimeoutError(f"jupyter lab did not report its URL within 60 s: {log.read_text()[-2000:]}")
