"""How long the series takes under strict nbval, against the floor of as many one-cell notebooks, in one run.

Each lesson and solution is interleaved with a one-cell ``print("hello")`` notebook, so both groups see the same
machine load; pytest's JUnit times (set-up, call and tear-down) are summed per group. The ratio is the figure the
notebook issues bound (2.5x on amqtt, 3.5x on Mosquitto); ``--durations=15`` names the slowest cells.

    python benchmarks/series_speed.py                      # the broker MQTT_STUDY_BROKER names (default amqtt)
    MQTT_STUDY_BROKER=mosquitto python benchmarks/series_speed.py
    python benchmarks/series_speed.py --upto 7             # lessons 00-07 and their solutions only
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat

from mqtt_helpers._series import lessons, solutions

ROOT = Path(__file__).resolve().parent.parent


def one_cell_notebook(path: Path) -> None:
    """The floor: a kernel start and one trivial cell, checked by nbval like any lesson."""
    cell = nbformat.v4.new_code_cell('print("hello")', execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


def series(upto: int) -> list[Path]:
    return [p for p in lessons() + solutions() if int(p.name[:2]) <= upto]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upto", type=int, default=99, help="last lesson number to include (default: all)")
    args = parser.parse_args()
    notebooks = series(args.upto)
    with tempfile.TemporaryDirectory() as folder:
        files: list[str] = []
        for i, notebook in enumerate(notebooks):
            floor = Path(folder) / f"floor-{i:02d}.ipynb"
            one_cell_notebook(floor)
            files += [str(notebook), str(floor)]
        report = Path(folder) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval"]
        command += ["--nbval-sanitize-with", "tests/sanitize.cfg", f"--junitxml={report}", "--durations=15", *files]
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        print("\n".join(line for line in run.stdout.splitlines() if re.match(r"\d+\.\d+s ", line)))
        print(run.stdout.strip().splitlines()[-1])
        seconds: dict[str, float] = {"series": 0.0, "floor": 0.0}  # a Counter holds ints, not seconds
        for case in ET.parse(report).iter("testcase"):
            seconds["series" if "notebooks" in case.get("classname", "") else "floor"] += float(case.get("time", 0))
    ratio = seconds["series"] / seconds["floor"]
    print(
        f"{len(notebooks)} notebooks: {seconds['series']:.1f} s; as many one-cell notebooks: "
        f"{seconds['floor']:.1f} s; ratio {ratio:.2f}x"
    )
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
