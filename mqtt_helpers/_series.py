"""Where the series lives in this repository: the numbered lessons and their solutions, in order.

One definition of "a lesson" (``notebooks/NN-*.ipynb``) for the scripts, tests and benchmarks that walk the series;
the lessons never import it. Learners need not read it.
"""

from __future__ import annotations

from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSON_GLOB = "[0-9][0-9]-*.ipynb"  # 00-getting-started.ipynb, ...; not classroom-dashboard.ipynb


def lessons(folder: Path = NOTEBOOKS) -> list[Path]:
    """The numbered lessons in ``folder``, in order."""
    return sorted(folder.glob(LESSON_GLOB))


def solutions(folder: Path = NOTEBOOKS) -> list[Path]:
    """The solutions notebooks scripts/make_solutions.py wrote for them (``solutions/NN-...-solutions.ipynb``)."""
    return sorted((folder / "solutions").glob(LESSON_GLOB))
