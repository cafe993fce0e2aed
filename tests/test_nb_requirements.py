"""A notebook's declared needs: skipped with the reason locally, an error (a failed run) under CI=true, run when met."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from mqtt_helpers import BrokerStartError
from tests import nb_requirements
from tests.nb_requirements import declared_requirements, missing_requirements, unavailable

HINT = "the mosquitto broker is not installed: install it with `sudo apt-get install mosquitto`"


def absent() -> None:
    raise BrokerStartError(HINT)


def test_declared_requirements_are_read_from_the_metadata() -> None:
    assert declared_requirements({"mqtt_study": {"requires": ["mosquitto"]}}) == ["mosquitto"]
    assert declared_requirements({"kernelspec": {}}) == []


@pytest.mark.parametrize("requires", [["chromium"], "mosquitto", [1]])
def test_a_bad_declaration_is_a_clear_error(requires: object) -> None:
    with pytest.raises(ValueError, match=r"11-x\.ipynb: .*mqtt_study\.requires"):
        declared_requirements({"mqtt_study": {"requires": requires}}, "11-x.ipynb")


def test_missing_requirements_carry_the_checks_message() -> None:
    assert missing_requirements(["mosquitto"], {"mosquitto": absent}) == [f"mosquitto: {HINT}"]
    assert missing_requirements(["mosquitto"], {"mosquitto": lambda: "/usr/sbin/mosquitto"}) == []


@pytest.mark.parametrize(("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_unavailable_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome) as caught:
        unavailable("mosquitto: gone", must="run this notebook")
    expected = "CI must run this notebook, but mosquitto: gone" if ci else "mosquitto: gone"
    assert str(caught.value) == expected


def write_notebook(folder: Path, requires: list[str]) -> Path:
    notebook = nbformat.v4.new_notebook(metadata={"mqtt_study": {"requires": requires}})
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "print('ran')", execution_count=1, outputs=[nbformat.v4.new_output("stream", text="ran\n")]
        )
    ]
    path = folder / "needs.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize(("ci", "outcome"), [("", {"skipped": 1}), ("true", {"errors": 1})])
def test_nbval_cells_of_a_notebook_whose_need_is_missing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, outcome: dict[str, int]
) -> None:
    monkeypatch.setitem(nb_requirements.CHECKS, "mosquitto", absent)
    monkeypatch.setenv("CI", ci)
    path = write_notebook(pytester.path, ["mosquitto"])
    result = pytester.runpytest_inprocess("-p", "tests.nb_requirements", "--nbval", "-rsf", str(path))
    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines(["*sudo apt-get install mosquitto*"])


def test_nbval_cells_run_when_the_need_is_met(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(nb_requirements.CHECKS, "mosquitto", lambda: "/usr/sbin/mosquitto")
    monkeypatch.setenv("CI", "true")
    path = write_notebook(pytester.path, ["mosquitto"])
    result = pytester.runpytest_inprocess("-p", "tests.nb_requirements", "--nbval", str(path))
    result.assert_outcomes(passed=1)
