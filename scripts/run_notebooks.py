"""Re-execute notebooks in place, each top to bottom in a fresh kernel.

Stored outputs are what nbval compares against, so they are only ever written
by this script, never edited by hand. Cells tagged ``raises-exception`` may
fail; any other error stops the run and names the notebook and cell.

    python scripts/run_notebooks.py notebooks            # every notebook
    python scripts/run_notebooks.py notebooks/00-*.ipynb # some
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def notebooks_in(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for arg in paths:
        path = Path(arg)
        found += sorted(path.rglob("*.ipynb")) if path.is_dir() else [path]
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


class SocketFileKernelManager(KernelManager):
    """A kernel manager whose kernel talks over Unix socket files in a private folder (where there are any).

    Over TCP, jupyter_client picks five free ports and the kernel binds them a moment later; on a busy machine
    (brokers and clients taking ports too) another process sometimes takes one in between ("Address already in
    use", "Kernel died before replying"). Socket files in a fresh folder of our own cannot be taken. The folder
    is short (a socket path has about 100 characters at most) and removed when the process exits.
    nbval starts its kernels with this class too (the root conftest.py), so every notebook test avoids the race.
    """

    def __init__(self, **kwargs: Any) -> None:
        if os.name == "posix":
            folder = tempfile.mkdtemp(prefix="mqtt-study-kernel-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(folder, "k"))
        super().__init__(**kwargs)


def execute(path: Path) -> float:
    """Run one notebook in a fresh kernel, from its own folder, and save it."""
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    client = NotebookClient(
        notebook,
        km=SocketFileKernelManager(kernel_name="python3"),
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(cleanup_kc=True)  # we made the kernel manager, so nbclient would leave the kernel running
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
