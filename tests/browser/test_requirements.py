"""Without Chromium or playwright the browser tests skip on a learner's machine, with the reason, and fail under CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.driver import ROOT

# A test that needs the browser; which one does not matter.
ONE_BROWSER_TEST = "tests/browser/test_links.py::test_clicking_next_opens_the_next_lesson"


def run_browser_test(ci: bool, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "CHROMIUM", "PYTHONPATH")}
    environment.update(env, CI="true" if ci else "false")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rsE", ONE_BROWSER_TEST],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def without(missing: str, tmp_path: Path) -> dict[str, str]:
    """Environment variables that make ``missing`` look uninstalled."""
    if missing == "chromium":
        return {"CHROMIUM": str(tmp_path / "no-chromium")}
    # A PYTHONPATH on which `import playwright` fails, as on a machine without the package.
    (tmp_path / "playwright").mkdir()
    (tmp_path / "playwright" / "__init__.py").write_text("raise ImportError('playwright hidden by the test')\n")
    return {"PYTHONPATH": str(tmp_path)}


@pytest.mark.slow  # runs pytest in a subprocess
@pytest.mark.parametrize("missing", ["chromium", "playwright"])
def test_missing_requirement_skips_locally(tmp_path: Path, missing: str) -> None:
    result = run_browser_test(ci=False, **without(missing, tmp_path))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout, result.stdout[-2000:]
    assert "is not installed" in result.stdout  # the reason, with what to install


@pytest.mark.slow  # runs pytest in a subprocess
@pytest.mark.parametrize("missing", ["chromium", "playwright"])
def test_missing_requirement_fails_under_ci(tmp_path: Path, missing: str) -> None:
    result = run_browser_test(ci=True, **without(missing, tmp_path))
    assert result.returncode != 0, result.stdout[-2000:]
    assert "skipped" not in result.stdout, result.stdout[-2000:]
    assert "CI must run the browser tests" in result.stdout
