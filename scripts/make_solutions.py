"""Write notebooks/solutions/NN-...-solutions.ipynb from the lessons' exercise cells.

Each exercise in a lesson is a code cell tagged ``exercise`` that shows
``# Your code here``; its worked answer lives in the cell's metadata under
``solution`` (in JupyterLab: the property inspector). This script copies the
lesson, puts each answer in place of its placeholder, and fixes relative links,
so the solutions notebook runs top to bottom, self-checks included, and is
tested by nbval like any lesson.

    python scripts/make_solutions.py notebooks
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from mqtt_helpers import _series as series

BANNER = (
    "> **Solutions.** This is lesson [{name}](../{name}) with every exercise answered; "
    "the self-check cells show what a working answer prints. Try the exercises yourself first!\n\n"
)

# "The solution is in [solutions/NN-...-solutions.ipynb](solutions/...)." on a line of its own
SELF_POINTER = re.compile(r"^The solution is in \[solutions/[^\]]*\]\(solutions/[^)]*\)\.[ \t]*\n*", re.MULTILINE)


def solved(lesson: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode | None:
    """The lesson with answers filled in, or None when it has no exercises."""
    notebook: nbformat.NotebookNode = nbformat.from_dict(lesson)
    exercises = [c for c in notebook.cells if "exercise" in c.metadata.get("tags", [])]
    if not exercises:
        return None
    for cell in exercises:
        if "solution" not in cell.metadata:
            raise ValueError(f"{name}: an exercise cell has no metadata['solution']: {cell.source[:60]!r}")
        cell.source = cell.metadata.pop("solution")
        cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != "exercise"] + ["solution"]
    for cell in notebook.cells:
        if cell.cell_type == "markdown":  # a lesson's pointer to its solutions would point at itself here
            cell.source = SELF_POINTER.sub("", cell.source).lstrip("\n")
    notebook.cells = [c for c in notebook.cells if c.cell_type != "markdown" or c.source.strip()]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if cell.cell_type == "markdown":
            cell.source = re.sub(r"\]\((?!https?:|#|solutions/)([^)]+)\)", r"](../\1)", cell.source)
            cell.source = cell.source.replace("](solutions/", "](")
    notebook.cells[0].source = BANNER.format(name=name) + notebook.cells[0].source
    return notebook


def same_cells(notebook: nbformat.NotebookNode, target: Path) -> bool:
    """Whether ``target`` already has these cells, so its stored outputs can stay."""
    if not target.exists():
        return False
    existing = nbformat.read(target, as_version=4)

    def shape(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
        return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]

    return shape(existing) == shape(notebook)


def main(folder: str = "notebooks") -> int:
    lessons = Path(folder)
    out = lessons / "solutions"
    out.mkdir(exist_ok=True)
    for path in series.lessons(lessons):
        notebook = solved(nbformat.read(path, as_version=4), path.name)
        target = out / f"{path.stem}-solutions.ipynb"
        if notebook is not None and not same_cells(notebook, target):
            nbformat.write(notebook, target)
            print(f"wrote {target} (re-execute it: make notebooks)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
