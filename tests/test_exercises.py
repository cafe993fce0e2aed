"""Every exercise's self-check, run against answers a learner would write: praising a wrong answer is a bug.

Each exercise of a numbered lesson is a code cell tagged ``exercise`` (its worked answer in metadata ``solution``);
its self-check is the first later code cell that can say "Well done". The answers to try live in
``tests/exercise_cases/nbNN.py``, one dict per exercise in notebook order::

    EXERCISES = [{"wrong": {label: source, ...}, "right": {label: source, ...}}, ...]

Every case runs in a fresh kernel on each broker: the cells before the exercise (earlier exercises answered with
their official answer), the answer, the cells up to the check, then the check, whose output must hold exactly
one line starting "Well done" or "Not yet", and no error.

- ``empty`` (the ``# Your code here`` placeholder): "Not yet", at once (under EMPTY_BUDGET seconds);
- ``official`` (metadata ``solution``): "Well done", and again after the answer cell and the check are re-run
  (re-running an answer must close the client it made before);
- each ``wrong`` answer (at least MIN_WRONG): "Not yet"; each ``right`` answer (at least MIN_RIGHT): "Well done".

    pytest tests/test_exercises.py -k "nb04 and amqtt"
"""

from __future__ import annotations

import importlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from scripts.run_notebooks import SocketFileKernelManager
from tests.helpers import require
from tests.nb_requirements import declared_requirements

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
BROKERS = ("amqtt", "mosquitto")
MIN_WRONG, MIN_RIGHT = 3, 1
# "At once": a check that waits out a timeout for an empty answer takes seconds; one that answers takes milliseconds.
EMPTY_BUDGET = 0.5
CELL_TIMEOUT = 60  # seconds; no lesson cell comes near it, so reaching it means a hang
VERDICT = re.compile(r"^(Well done|Not yet)", re.MULTILINE)


@dataclass(frozen=True)
class Exercise:
    """One exercise cell of a lesson and the check cell that judges it."""

    path: Path
    number: int  # 1-based among the lesson's exercises
    cell: int  # index of the exercise cell
    check: int | None  # index of its self-check, None when the lesson has none

    @property
    def name(self) -> str:
        return f"nb{self.path.name[:2]}-ex{self.number}"


def read(path: Path) -> nbformat.NotebookNode:
    notebook: nbformat.NotebookNode = nbformat.read(path, as_version=4)
    return notebook


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.metadata.get("tags", []))


def exercises_of(path: Path) -> list[Exercise]:
    cells = read(path).cells
    found = []
    for number, index in enumerate((i for i, c in enumerate(cells) if "exercise" in tags(c)), start=1):
        later = (j for j in range(index + 1, len(cells)) if cells[j].cell_type == "code")
        check = next((j for j in later if "Well done" in cells[j].source), None)
        found.append(Exercise(path, number, index, check))
    return found


def cases_module(path: Path) -> Any:
    """tests/exercise_cases/nbNN.py for lesson NN, or None when it does not exist."""
    try:
        return importlib.import_module(f"tests.exercise_cases.nb{path.name[:2]}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("tests.exercise_cases"):
            return None
        raise


def declared_cases(exercise: Exercise) -> dict[str, dict[str, str]]:
    """The wrong and right answers for one exercise ({} when missing: test_every_exercise_has_cases says so)."""
    module = cases_module(exercise.path)
    entries = getattr(module, "EXERCISES", [])
    if exercise.number > len(entries):
        return {}
    return {kind: dict(entries[exercise.number - 1].get(kind, {})) for kind in ("wrong", "right")}


ALL_EXERCISES = [exercise for path in LESSONS for exercise in exercises_of(path)]


def all_cases() -> list[Any]:
    params = []
    for exercise in ALL_EXERCISES:
        declared = declared_cases(exercise)
        kinds: list[tuple[str, str, str | None]] = [("empty", "empty", None), ("official", "official", None)]
        kinds += [("wrong", label, source) for label, source in declared.get("wrong", {}).items()]
        kinds += [("right", label, source) for label, source in declared.get("right", {}).items()]
        for broker in BROKERS:
            for kind, label, source in kinds:
                slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40]
                case_id = f"{exercise.name}-{kind}-{slug}-{broker}" if kind in ("wrong", "right") else None
                params.append(
                    pytest.param(exercise, kind, source, broker, id=case_id or f"{exercise.name}-{kind}-{broker}")
                )
    return params


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_exercise_has_cases(path: Path) -> None:
    exercises = exercises_of(path)
    if not exercises:
        return
    module = cases_module(path)
    assert module is not None, f"{path.name} has exercises: write tests/exercise_cases/nb{path.name[:2]}.py"
    entries = getattr(module, "EXERCISES", None)
    assert isinstance(entries, list), f"tests/exercise_cases/nb{path.name[:2]}.py must define a list EXERCISES"
    assert len(entries) == len(exercises), (
        f"{path.name} has {len(exercises)} exercise cells but EXERCISES has {len(entries)} entries"
    )
    cells = read(path).cells
    for exercise in exercises:
        assert exercise.check is not None, f"{exercise.name}: no self-check cell (one that can print 'Well done')"
        declared = declared_cases(exercise)
        assert len(declared["wrong"]) >= MIN_WRONG, f"{exercise.name}: at least {MIN_WRONG} wrong answers"
        assert len(declared["right"]) >= MIN_RIGHT, f"{exercise.name}: at least {MIN_RIGHT} right answer"
        official = " ".join(cells[exercise.cell].metadata["solution"].split())
        same = [label for label, source in declared["right"].items() if " ".join(source.split()) == official]
        assert not same, f"{exercise.name}: a 'right' case must be written differently from the official answer: {same}"


@dataclass
class Ran:
    """What one executed cell left behind."""

    role: str
    index: int
    stdout: str
    errors: list[str]
    seconds: float


def plan(exercise: Exercise, answer: str, rerun: bool) -> list[tuple[str, int, nbformat.NotebookNode]]:
    """The cells to run, with their role: prefix, answer, middle, check (and again when rerun)."""
    cells = read(exercise.path).cells
    assert exercise.check is not None
    steps = []
    for index, cell in enumerate(cells[: exercise.cell]):
        if cell.cell_type == "code":
            if "exercise" in tags(cell):
                cell = nbformat.from_dict({**cell, "source": cell.metadata["solution"]})
            steps.append(("prefix", index, cell))
    answered = nbformat.from_dict({**cells[exercise.cell], "source": answer})
    tail = [("answer", exercise.cell, answered)]
    tail += [("middle", i, cells[i]) for i in range(exercise.cell + 1, exercise.check) if cells[i].cell_type == "code"]
    tail += [("check", exercise.check, cells[exercise.check])]
    return steps + tail + (tail if rerun else [])


def execute(exercise: Exercise, answer: str, rerun: bool) -> list[Ran]:
    """Run the planned cells in one fresh kernel, from the notebooks' folder, and return what each printed."""
    steps = plan(exercise, answer, rerun)
    # A cell may run twice (rerun): each copy gets a fresh id so the notebook stays valid.
    copies = [{**cell, "id": f"step-{n}"} for n, (_, _, cell) in enumerate(steps)]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in copies])
    notebook.metadata = read(exercise.path).metadata
    ran = []
    client = NotebookClient(
        notebook,
        km=SocketFileKernelManager(kernel_name="python3"),
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    with client.setup_kernel(cleanup_kc=True):  # shut the kernel down: nbclient leaves a km it was given running
        for position, (role, index, _) in enumerate(steps):
            cell = notebook.cells[position]
            started = time.perf_counter()
            client.execute_cell(cell, position)
            seconds = time.perf_counter() - started
            stdout = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
            errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
            ran.append(Ran(role, index, stdout, errors, seconds))
            if role == "prefix" and errors and "raises-exception" not in tags(cell):
                raise AssertionError(f"{exercise.path.name} cell {index} failed before the exercise: {errors}")
    return ran


def verdict(exercise: Exercise, run: Ran) -> str:
    assert not run.errors, f"{exercise.name}: the check raised {run.errors}; a check must never raise"
    found = VERDICT.findall(run.stdout)
    assert len(found) == 1, (
        f"{exercise.name}: the check must print one 'Well done'/'Not yet' line; it printed {run.stdout!r}"
    )
    return str(found[0])


@pytest.mark.slow
@pytest.mark.parametrize(("exercise", "kind", "source", "broker"), all_cases())
def test_check(exercise: Exercise, kind: str, source: str | None, broker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    require(broker)
    for need in declared_requirements(read(exercise.path).metadata, exercise.path.name):
        require(need)
    monkeypatch.setenv("MQTT_STUDY_BROKER", broker)
    cell = read(exercise.path).cells[exercise.cell]
    answer = {"empty": cell.source, "official": cell.metadata["solution"]}.get(kind, source or "")
    ran = execute(exercise, answer, rerun=kind == "official")
    checks = [r for r in ran if r.role == "check"]
    expected = "Not yet" if kind in ("empty", "wrong") else "Well done"
    for attempt, check in enumerate(checks, start=1):
        said = verdict(exercise, check)
        again = " when re-run" if attempt > 1 else ""
        answer_shown = source if kind in ("wrong", "right") else kind
        assert said == expected, f"{exercise.name} ({kind}: {answer_shown}) got {check.stdout!r}{again}"
    if kind == "empty":
        seconds = checks[0].seconds
        assert seconds < EMPTY_BUDGET, (
            f"{exercise.name}: the check took {seconds:.2f} s for an empty answer; answer at once"
        )
