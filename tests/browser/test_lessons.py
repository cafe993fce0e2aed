"""Every lesson runs to the end with Run All in real JupyterLab, as a learner runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from mqtt_helpers._series import lessons
from tests.browser.conftest import notebook_id
from tests.browser.driver import ROOT, Lab, clear_and_run_all, open_notebook, save

LESSONS = lessons()
NEWS_POPUP = "official Jupyter news"


def test_every_lesson_is_collected() -> None:
    assert len(LESSONS) >= 8, f"expected the numbered lessons in {ROOT / 'notebooks'}, found {LESSONS}"


@pytest.mark.parametrize("notebook", LESSONS, ids=notebook_id)
def test_run_all(page: Any, lab: Lab, notebook: Path) -> None:
    path = notebook.relative_to(ROOT).as_posix()
    open_notebook(page, lab, path)
    clear_and_run_all(page)
    saved = save(page, lab, path)

    code = [(number, cell) for number, cell in enumerate(saved["cells"], 1) if cell["cell_type"] == "code"]
    unexpected = {
        number: f"{output['ename']}: {output['evalue']}"
        for number, cell in code
        for output in cell["outputs"]
        if output["output_type"] == "error" and "raises-exception" not in cell["metadata"].get("tags", [])
    }
    assert not unexpected, f"{path}: errors in cells not tagged raises-exception: {unexpected}"
    never_ran = [number for number, cell in code if cell["execution_count"] is None]
    assert not never_ran, f"{path}: Run All stopped before cells {never_ran} (cell numbers count markdown too)"
    # The news pop-up comes right after JupyterLab starts; Run All finished long after, so it would be showing now.
    assert page.get_by_text(NEWS_POPUP).count() == 0, "JupyterLab asked about Jupyter news: jupyter-config/ not used?"


def test_run_all_is_followed_to_the_end(page: Any, lab: Lab) -> None:
    """The driver waits past a tagged error (JupyterLab then shows no [*] on the cells still to run) and returns,
    without waiting for its time-out, when an untagged error stops Run All: the saved notebook shows which cells ran."""
    cells = [
        nbformat.v4.new_code_cell("import time"),
        nbformat.v4.new_code_cell("raise ValueError('tagged')", metadata={"tags": ["raises-exception"]}),
        *[nbformat.v4.new_code_cell("time.sleep(0.3)") for _ in range(3)],  # what a lesson's cells take, roughly
        nbformat.v4.new_code_cell("raise ValueError('untagged')"),
        nbformat.v4.new_code_cell("'never runs'"),
    ]
    path = "driver-check.ipynb"  # in the server's copy of the repository, beside (not among) the lessons
    nbformat.write(nbformat.v4.new_notebook(cells=cells), lab.repo / path)
    open_notebook(page, lab, path)
    clear_and_run_all(page)

    counts = [cell["execution_count"] for cell in save(page, lab, path)["cells"]]
    assert counts == [1, 2, 3, 4, 5, 6, None], f"Run All should stop after the untagged error only: {counts}"
