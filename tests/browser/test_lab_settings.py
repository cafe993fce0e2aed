"""`make lab` opens without JupyterLab's "get notified about official Jupyter news?" pop-up.

The project ships the default in jupyter-config/labconfig/ and `make lab` points JUPYTER_CONFIG_PATH at it; the
learner's own JupyterLab settings are neither read from nor written to the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.browser.driver import Lab, open_notebook

PLUGIN = "@jupyterlab/apputils-extension:notification"
NEWS_POPUP = "official Jupyter news"


def test_project_setting_turns_news_off(lab: Lab) -> None:
    setting = lab.api(f"lab/api/settings/{PLUGIN}")
    # The project changes the default; the learner's own settings (none here) would still win.
    assert setting["schema"]["properties"]["fetchNews"]["default"] == "false"  # "none" makes JupyterLab ask
    assert setting["settings"] == {}


def test_without_the_project_setting_jupyterlab_asks(browser: Any, tmp_path: Path) -> None:
    """The control for the absence checks in test_lessons: the pop-up is real and the browser sees it."""
    with Lab(tmp_path, prepare=lambda repo: shutil.rmtree(repo / "jupyter-config")) as bare:
        context = browser.new_context()
        try:
            page = context.new_page()
            open_notebook(page, bare, "notebooks/00-getting-started.ipynb")
            page.get_by_text(NEWS_POPUP).wait_for(timeout=60_000)
            assert bare.api(f"lab/api/settings/{PLUGIN}")["schema"]["properties"]["fetchNews"]["default"] == "none"
        finally:
            context.close()
