"""The README's set-up without make: its commands are make's, Windows mirrors Linux, and they work on a fresh clone.

`make test-no-make` runs this file (`.ci/run` and the GitHub workflow, once, on the default Python): the fresh-clone
test installs the project into a new venv (pip's own cache makes that about two minutes), too slow for every Python.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.test_lab import wait_for_url

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Without make"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", flags=re.M | re.S)


def blocks() -> list[tuple[str, list[str]]]:
    """The code blocks of the README's set-up section: (language, command lines)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    section = text[start : text.index("\n## ", start + 1)]
    return [(lang, body.strip().splitlines()) for lang, body in FENCE.findall(section)]


def by_language(lang: str) -> list[list[str]]:
    return [lines for language, lines in blocks() if language == lang]


def linux() -> tuple[list[str], list[str], list[str]]:
    setup, lab, tests = by_language("sh")[:3]
    return setup, lab, tests


def make_dry_run(*targets: str) -> list[str]:
    """What make would run for ``targets`` in this checkout with VENV=.venv (set-up left out)."""
    printed = subprocess.run(
        ["make", "-s", "-n", *targets, "-o", "setup", "VENV=.venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MAKEFLAGS": ""},
    ).stdout
    return [line.split("  #")[0].strip() for line in printed.splitlines() if line.strip()]


def test_readme_section_has_every_block() -> None:
    assert [lang for lang, _ in blocks()] == ["sh"] * 3 + ["powershell"] * 3 + ["sh"], blocks()


def test_linux_commands_are_the_ones_make_runs() -> None:
    setup, lab, tests = linux()
    assert setup[-1] == ".venv/bin/python -m pip install -e '.[test]'"  # the Makefile's $(STAMP) recipe
    # make lab: the same command, JUPYTER_CONFIG_PATH pointing at this repository's jupyter-config/, and
    # --allow-root only because make adds it for root.
    (made,) = make_dry_run("lab")
    assert lab == [made.replace(f'"{ROOT}/jupyter-config"', '"$PWD/jupyter-config"').replace(" --allow-root", "")]
    # make test's unit, exercise and notebook steps, in order.
    assert tests == make_dry_run("test-unit", "test-exercises", "test-notebooks")


def windows(line: str) -> str:
    """A Linux line of the README as it reads in PowerShell."""
    line = line.replace("python3 -m venv", "py -m venv").replace(".venv/bin/", ".venv\\Scripts\\")
    posix_env = 'JUPYTER_CONFIG_PATH="$PWD/jupyter-config" '
    return line.replace(posix_env, '$env:JUPYTER_CONFIG_PATH = "$PWD\\jupyter-config"; ')


def test_windows_commands_mirror_the_linux_ones() -> None:
    assert by_language("powershell") == [[windows(line) for line in block] for block in linux()]


def test_conda_environment_installs_the_project_and_its_test_extra() -> None:
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*-e \.\[test\]", env, flags=re.M), "environment.yml must pip-install -e .[test]"
    python = re.search(r"^\s*-\s*python=(3\.\d+)", env, flags=re.M)
    assert python, "environment.yml must pin a Python"
    requires = re.search(r'requires-python = ">=3\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert requires, "pyproject.toml must say requires-python"
    assert int(python.group(1).split(".")[1]) >= int(requires.group(1))
    conda = by_language("sh")[3]
    assert conda[:2] == ["conda env create -f environment.yml", "conda activate mqtt-client-study"]
    assert re.search(r"^name: mqtt-client-study$", env, flags=re.M)
    assert conda[2] == linux()[1][0].replace(".venv/bin/", "")


@pytest.mark.slow
def test_fresh_clone_sets_up_and_runs_notebook_00_without_make(tmp_path: Path) -> None:
    clone = tmp_path / "mqtt-client-study"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # PATH: `python3` is the interpreter running these tests (its base, not its venv), and `make` fails loudly.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(getattr(sys, "_base_executable", sys.executable))
    (bin_dir / "make").write_text("#!/bin/sh\necho 'make was called, but this set-up must not need it' >&2\nexit 97\n")
    (bin_dir / "make").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "JUPYTER", "MAKE"))}
    env.update(PATH=f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", PIP_DISABLE_PIP_VERSION_CHECK="1")
    setup, lab, tests = linux()
    script = "set -eux\n" + "\n".join(setup)
    done = subprocess.run(["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"set-up failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert (clone / ".venv" / "bin" / "jupyter").exists()

    # Notebook 00 under strict nbval, with the README's own notebook command.
    nbval = next(line for line in tests if "--nbval" in line)
    command = [*shlex.split(nbval)[:-1], "notebooks/00-getting-started.ipynb"]
    ran = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout, ran.stdout[-2000:]
    assert "failed" not in ran.stdout.splitlines()[-1], ran.stdout[-2000:]

    # The README's JupyterLab command serves the lesson (with a free port and a known token added).
    words = shlex.split(lab[0].replace("$PWD", str(clone)))
    settings = dict(w.split("=", 1) for w in words[:1])
    flags = ["--no-browser", "--ServerApp.port=0", "--ServerApp.token=study", "--ServerApp.ip=127.0.0.1"]
    if os.geteuid() == 0:
        flags.append("--allow-root")  # the README says so for root
    log_path = tmp_path / "lab.log"
    with log_path.open("w") as log:
        lab_env = {**env, **settings, "HOME": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
        server = subprocess.Popen(words[1:] + flags, cwd=clone, env=lab_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = wait_for_url(log_path, server)
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            page = opener.open(f"{base}lab/tree/notebooks/00-getting-started.ipynb?token=study", timeout=10)
            assert page.status == 200
            image = opener.open(f"{base}files/img/qos1-flow.png?token=study", timeout=10)
            assert image.status == 200, "the server root must be the repository (notebooks link ../img/)"
        finally:
            server.terminate()
            server.wait(timeout=20)


# The embedded broker where uvloop is missing (Windows, where pyproject.toml does not install it): asyncio's own loop.
NO_UVLOOP = textwrap.dedent(
    """
    import sys, threading
    sys.modules["uvloop"] = None  # `import uvloop` now raises ImportError, as on Windows
    import paho.mqtt.client as mqtt
    import mqtt_helpers

    subscribed, got = threading.Event(), threading.Event()
    with mqtt_helpers.start_broker("amqtt") as broker:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, "no-uvloop")
        client.on_message = lambda c, u, m: m.payload == b"hello" and got.set()
        client.on_subscribe = lambda *args: subscribed.set()
        client.connect(broker.host, broker.port)
        client.loop_start()
        client.subscribe("windows/like", qos=1)
        assert subscribed.wait(5), "no SUBACK within 5 s"
        info = client.publish("windows/like", "hello", qos=1)
        info.wait_for_publish(5)
        ok = got.wait(5)
        client.disconnect()
        client.loop_stop()
    print("uvloop loaded:", "uvloop" in sys.modules and sys.modules["uvloop"] is not None, "delivered:", ok)
    """
)


def test_embedded_broker_runs_without_uvloop() -> None:
    ran = subprocess.run([sys.executable, "-c", NO_UVLOOP], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip() == "uvloop loaded: False delivered: True", ran.stdout + ran.stderr[-2000:]
