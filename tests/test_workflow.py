"""The GitHub workflow runs what `.ci/run` runs: the same make targets, on the same Pythons, with the same packages.

Both files are parsed, not compared as text: a target added to one and not the other fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no type information

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
CI_RUN = ROOT / ".ci" / "run"
TEST_PYTHONS = ROOT / "scripts" / "test_pythons.sh"


def make_targets(command: str) -> list[str]:
    """The targets of one `make ...` command (options and NAME=value words left out); [] if it is not make."""
    words = shlex.split(command, comments=True)
    if not words or words[0] not in {"make", "$make_cmd"}:
        return []
    return [w for w in words[1:] if not w.startswith("-") and "=" not in w]


def workflow() -> dict[str, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text()))


def job_targets(job: dict[str, Any]) -> list[str]:
    """The make targets a job's `run:` steps call, in order."""
    return [t for step in job["steps"] for line in step.get("run", "").splitlines() for t in make_targets(line)]


def ci_run_targets() -> list[str]:
    """The targets of .ci/run's `step make ...` lines, in order."""
    lines = [line.strip() for line in CI_RUN.read_text().splitlines()]
    return [t for line in lines if line.startswith("step make ") for t in make_targets(line[len("step ") :])]


def pythons_script_targets() -> list[str]:
    """The targets of the one make command scripts/test_pythons.sh runs per Python (`if "$make_cmd" ...; then`)."""
    found = re.search(r'"\$make_cmd"[^;\n]*', TEST_PYTHONS.read_text())
    return make_targets(found.group(0)) if found else []


def test_the_parsers_read_what_the_scripts_run() -> None:
    # The parsers themselves: if .ci/run or test_pythons.sh changed form, every comparison below would be vacuous.
    assert "test" in ci_run_targets(), ci_run_targets()
    assert "test-pythons" in ci_run_targets(), ci_run_targets()
    assert pythons_script_targets() == ["test-unit", "test-lessons"], pythons_script_targets()
    assert make_targets("make --no-print-directory test-unit PYTHON=python3.12 VENV=.venv-3.12") == ["test-unit"]


def test_default_python_job_runs_what_ci_run_runs() -> None:
    # .ci/run's steps on the default Python, in the same order; `make test-pythons` is the matrix job below.
    expected = [t for t in ci_run_targets() if t != "test-pythons"]
    assert job_targets(workflow()["jobs"]["test"]) == expected


def test_matrix_runs_what_test_pythons_runs_on_every_other_python() -> None:
    jobs = workflow()["jobs"]
    assert job_targets(jobs["lessons"]) == pythons_script_targets()
    supported = re.search(r"^SUPPORTED=\(([^)]*)\)", TEST_PYTHONS.read_text(), flags=re.M)
    assert supported, "scripts/test_pythons.sh no longer lists SUPPORTED=(...)"
    default = re.fullmatch(r"python:(3\.\d+)-\w+", jobs["test"]["container"]["image"])
    assert default, jobs["test"]["container"]
    others = [v for v in supported.group(1).split() if v != default.group(1)]
    assert jobs["lessons"]["strategy"]["matrix"]["python"] == others
    assert jobs["lessons"]["container"]["image"].startswith("python:${{ matrix.python }}-")


def test_every_make_target_of_the_workflow_is_one_ci_runs() -> None:
    # The only extra is the Pages job's `make site`, which `make test` also runs (tests/browser/test_site.py).
    ran = set(ci_run_targets()) | set(pythons_script_targets())
    called = {t for job in workflow()["jobs"].values() if "steps" in job for t in job_targets(job)}
    assert called - ran == {"site"}, called - ran
    assert '["make", "-s", "-C", str(ROOT), "site"' in (ROOT / "tests" / "browser" / "test_site.py").read_text()


def test_jobs_install_what_ci_run_installs() -> None:
    ci = CI_RUN.read_text()
    jobs = workflow()["jobs"]
    for name, needs in {"test": {"mosquitto", "chromium"}, "lessons": {"mosquitto"}}.items():
        install = jobs[name]["steps"][0]["run"]
        for package in needs:
            assert package in install, (name, package)
            assert package in ci, package
        assert "service mosquitto stop" in install, name
        assert "service mosquitto stop" in ci
    assert jobs["pages"]["needs"] == ["test", "lessons", "site"], "publish only what passed"
    uses = [step.get("uses", "") for step in jobs["site"]["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses), uses
