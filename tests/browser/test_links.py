"""The links between notebooks lead somewhere: every "Next" and every solution link opens an existing notebook."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from mqtt_helpers._series import NOTEBOOKS, lessons, solutions
from tests.browser.conftest import notebook_id
from tests.browser.driver import NOTEBOOK, ROOT, Lab, open_notebook, wait_for_kernel

LESSONS = lessons()
SOLUTIONS = solutions()
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def markdown(notebook: Path) -> list[str]:
    """The source of every markdown cell."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


def local_targets(text: str) -> list[str]:
    """Relative link and image targets in ``text`` (web links and in-page anchors left out), without #anchors."""
    targets = []
    for target in MARKDOWN_LINK.findall(text):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        targets.append(unquote(parts.path))
    return targets


def next_section(notebook: Path) -> str:
    """The "## Next" section of a lesson (up to the next heading of the same level)."""
    for text in markdown(notebook):
        found = re.search(r"^## Next\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
        if found:
            return found.group(1)
    raise AssertionError(f"{notebook.name} has no '## Next' section")


@pytest.mark.parametrize("notebook", LESSONS + SOLUTIONS, ids=notebook_id)
def test_every_local_link_exists(notebook: Path) -> None:
    missing = [t for text in markdown(notebook) for t in local_targets(text) if not (notebook.parent / t).exists()]
    assert not missing, f"{notebook.relative_to(ROOT)} links to files that do not exist: {missing}"


@pytest.mark.parametrize("notebook", LESSONS, ids=notebook_id)
def test_next_links_the_following_lesson(notebook: Path) -> None:
    links = [t for t in local_targets(next_section(notebook)) if t.endswith(".ipynb")]
    assert links, f"{notebook.name}: its Next section links no notebook"
    following = [n for n in LESSONS if n.name[:2] == f"{int(notebook.name[:2]) + 1:02d}"]
    if following:
        assert following[0].name in links, f"{notebook.name}: Next should lead to {following[0].name}, links {links}"


def has_exercise(notebook: Path) -> bool:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return any("exercise" in cell["metadata"].get("tags", []) for cell in cells)


@pytest.mark.parametrize("notebook", [n for n in LESSONS if has_exercise(n)], ids=notebook_id)
def test_exercises_link_their_solutions(notebook: Path) -> None:
    solution = f"solutions/{notebook.stem}-solutions.ipynb"
    links = {t for text in markdown(notebook) for t in local_targets(text)}
    assert solution in links, f"{notebook.name} has exercises but no link to {solution}"
    assert (NOTEBOOKS / solution).exists(), f"{notebook.name} links {solution}, which `make notebooks` did not build"


def test_clicking_next_opens_the_next_lesson(page: Any, lab: Lab) -> None:
    first, second = LESSONS[0], LESSONS[1]
    text = re.search(r"\[([^\]]+)\]\(" + re.escape(second.name), next_section(first))
    assert text, f"{first.name}: Next has no link to {second.name}"
    open_notebook(page, lab, first.relative_to(ROOT).as_posix())
    page.locator(NOTEBOOK).get_by_role("link", name=text.group(1)).last.click()
    # JupyterLab opens the linked notebook in a new tab, which becomes the visible one.
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text=second.name).wait_for()
    wait_for_kernel(page, second.name)
