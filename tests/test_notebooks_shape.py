"""The lessons' shape, as the project's standards for lessons set it: short code cells, a bounded core path, the
fixed sections (H1, "You will learn", "Key points", "Next"), real exercises.

Line counts are taken after `ruff format` (which `make lint` enforces), so two blank lines between top-level
definitions count too.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from mqtt_helpers._series import NOTEBOOKS, lessons

LESSONS = lessons()
MAX_CELL_LINES = 15
MAX_CORE_CELLS = 55
# The core path ends where the optional part starts: a "Going further" or "Play" heading.
OPTIONAL = re.compile(r"^#+ +(Going further|Play)\b", re.MULTILINE)


def lines(source: str) -> int:
    return len(source.strip().splitlines())


def read(path: Path) -> nbformat.NotebookNode:
    notebook: nbformat.NotebookNode = nbformat.read(path, as_version=4)
    return notebook


def markdown(notebook: nbformat.NotebookNode) -> str:
    return "\n\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def test_the_lessons_are_found() -> None:
    assert len(LESSONS) >= 12, f"expected notebooks 00-11 in {NOTEBOOKS}, found {[p.name for p in LESSONS]}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_code_cells_are_short(path: Path) -> None:
    long = [(i, lines(c.source)) for i, c in enumerate(read(path).cells) if c.cell_type == "code"]
    long = [(i, n) for i, n in long if n > MAX_CELL_LINES]
    assert not long, f"{path.name}: code cells (index, lines) over {MAX_CELL_LINES} lines: {long}; split or tighten"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_exercise_answers_are_short(path: Path) -> None:
    """An answer becomes a solution cell; a `%%writefile` answer is a whole program file and is exempt."""
    answers = [(i, c.metadata.get("solution", "")) for i, c in enumerate(read(path).cells)]
    long = [(i, lines(a)) for i, a in answers if not a.startswith("%%") and lines(a) > MAX_CELL_LINES]
    assert not long, f"{path.name}: exercise answers (cell index, lines) over {MAX_CELL_LINES} lines: {long}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_core_path_is_bounded(path: Path) -> None:
    cells = read(path).cells
    optional = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and OPTIONAL.search(c.source)]
    core = optional[0] if optional else len(cells)
    assert core <= MAX_CORE_CELLS, (
        f"{path.name}: {core} cells before 'Going further'/'Play' (at most {MAX_CORE_CELLS}); "
        "move a deep dive under '## Going further' after the exercises, or tighten"
    )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_fixed_sections(path: Path) -> None:
    notebook = read(path)
    first = notebook.cells[0]
    assert first.cell_type == "markdown", f"{path.name}: must open with an H1"
    assert first.source.startswith("# "), f"{path.name}: must open with an H1"
    text = markdown(notebook)
    assert "You will learn" in text, f"{path.name}: no 'You will learn' list"
    for heading in ("Key points", "Next"):
        assert re.search(rf"^## +{heading}\b", text, re.MULTILINE), f"{path.name}: no '## {heading}' section"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_exercises_leave_room_for_the_learner(path: Path) -> None:
    cells = read(path).cells
    exercises = [(i, c) for i, c in enumerate(cells) if "exercise" in c.metadata.get("tags", [])]
    for i, cell in exercises:
        assert cell.cell_type == "code", f"{path.name}: cell {i} is tagged exercise but is not a code cell"
        assert "# Your code here" in cell.source, f"{path.name}: exercise cell {i} lacks '# Your code here'"
        assert cell.metadata.get("solution", "").strip(), f"{path.name}: exercise cell {i} has no metadata 'solution'"
