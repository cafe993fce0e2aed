"""Re-execute notebooks in place, each top to bottom in a fresh kernel.

Stored outputs are what nbval compares against, so they are only ever written
by this script, never edited by hand. Cells tagged ``raises-exception`` may
fail; any other error stops the run and names the notebook and cell.

    python scripts/run_notebooks.py notebooks            # every notebook
    python scripts/run_notebooks.py notebooks/00-*.ipynb # some
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def notebooks_in(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for arg in paths:
        path = Path(arg)
        found += sorted(path.rglob("*.ipynb")) if path.is_dir() else [path]
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


def execute(path: Path) -> float:
    """Run one notebook in a fresh kernel, from its own folder, and save it."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    client.execute()
    nbformat.write(notebook, path)
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    os.environ.setdefault("MQTT_STUDY_BROKER", "amqtt")
    paths = notebooks_in(argv or ["notebooks"])
    if not paths:
        print(f"no notebooks found in {argv}", file=sys.stderr)
        return 1
    for path in paths:
        try:
            seconds = execute(path)
        except CellExecutionError as exc:
            print(f"FAILED {path}:\n{exc}", file=sys.stderr)
            return 1
        print(f"ran {path} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
