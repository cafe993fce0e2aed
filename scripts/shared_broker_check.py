"""Run the numbered lessons twice in a row against ONE running broker, as a learner on a shared broker would.

    python -m scripts.shared_broker_check                 # a plain Mosquitto on a free loopback port
    python -m scripts.shared_broker_check --classroom     # one learner's listener of a classroom broker
    python -m scripts.shared_broker_check --solutions     # the solutions notebooks too, after the lessons

On a shared broker, state outlives a notebook: a retained message, persistent session or will a lesson leaves
behind changes what the next lesson (or the next run) prints. Both passes use strict nbval with the stored outputs,
so this passes only if every lesson cleans up after itself. Exits non-zero on the first failing pass.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mqtt_helpers._series import lessons, solutions
from tests.helpers import OutputLines

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0  # seconds for the classroom broker to print its learners' addresses


def notebooks(with_solutions: bool) -> list[str]:
    """The numbered lessons in order, then (optionally) their solutions in order."""
    return [str(p.relative_to(ROOT)) for p in lessons() + (solutions() if with_solutions else [])]


@contextmanager
def mosquitto() -> Iterator[str]:
    """A plain Mosquitto (anonymous, 127.0.0.1, free port), accepting connections; its URL."""
    import mqtt_helpers

    broker = mqtt_helpers.start_broker("mosquitto")  # returns once the port accepts connections
    try:
        yield f"mqtt://{broker.host}:{broker.port}"
    finally:
        broker.stop()


@contextmanager
def classroom() -> Iterator[str]:
    """A classroom broker for alice and bob; alice's URL, read from the line it prints once listening."""
    command = [sys.executable, "-m", "mqtt_helpers.classroom", "--learners", "alice,bob"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = OutputLines(process.stdout, "the classroom broker")
    try:
        yield alice_url(lines)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=START_TIMEOUT)
        if code != 0:
            raise SystemExit(f"the classroom broker exited with {code} on SIGTERM (expected 0)")


def alice_url(lines: OutputLines) -> str:
    """The URL on the classroom's `alice mqtt://HOST:PORT` line, or SystemExit naming what it printed."""
    try:
        return lines.expect("alice mqtt://", START_TIMEOUT).split()[1]
    except (TimeoutError, EOFError) as exc:
        raise SystemExit(str(exc)) from None


def run_twice(url: str, paths: list[str], pytest_args: list[str]) -> int:
    """Strict nbval on paths twice, both against url; the first failing pass's exit code, else 0."""
    env = {**os.environ, "MQTT_STUDY_BROKER": url}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval"]
    command += ["--nbval-sanitize-with", "tests/sanitize.cfg", *pytest_args, *paths]
    for attempt in (1, 2):
        print(f"pass {attempt} of 2 against {url}: {len(paths)} notebooks", flush=True)
        started = time.monotonic()
        code = subprocess.call(command, cwd=ROOT, env=env)
        print(f"pass {attempt}: exit code {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            return code
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classroom", action="store_true", help="use a classroom learner's port, not Mosquitto")
    parser.add_argument("--solutions", action="store_true", help="run the solutions notebooks too, after the lessons")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    with classroom() if args.classroom else mosquitto() as url:
        return run_twice(url, notebooks(args.solutions), args.pytest_args)


if __name__ == "__main__":
    sys.exit(main())
