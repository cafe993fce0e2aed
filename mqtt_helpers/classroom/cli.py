"""The command line of ``python -m mqtt_helpers.classroom``: start, print the addresses, serve until Ctrl-C.

For teachers; learners need not read it.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
import threading

from mqtt_helpers._brokers.classroom import parse_learners, start_classroom
from mqtt_helpers.handle import LOOPBACK, BrokerStartError

DESCRIPTION = "One broker for a whole class: a private namespace per learner, class/ shared, a teacher who sees all."
PASSWORD_ENV = "MQTT_CLASSROOM_TEACHER_PASSWORD"
EPILOG = (
    f"The teacher's password comes from --teacher-password, else the {PASSWORD_ENV} environment variable, else "
    "a prompt (--ask-password), else it is generated and printed. A password on the command line shows in `ps`: "
    "prefer the environment variable or the prompt. Limits per learner port: 32 connections, 1 MiB packets, "
    "10 s to send CONNECT; wrong teacher passwords are answered ever more slowly."
)


def main(argv: list[str] | None = None) -> int:
    """Start the classroom, print where everyone connects, and serve until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m mqtt_helpers.classroom", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--learners", required=True, help="comma-separated names, e.g. alice,bob")
    parser.add_argument("--host", default=LOOPBACK, help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument(
        "--teacher-password",
        help=f"password of user 'teacher' (visible in ps: prefer {PASSWORD_ENV} or --ask-password)",
    )
    parser.add_argument("--ask-password", action="store_true", help="prompt for the teacher's password (not echoed)")
    parser.add_argument(
        "--port", type=int, default=0, help="teacher's port; learners get the next ones (default: free ports)"
    )
    args = parser.parse_args(argv)
    try:
        parse_learners(args.learners)
    except ValueError as exc:
        parser.error(str(exc))  # exits 2 with the usage line
    given = args.teacher_password or os.environ.get(PASSWORD_ENV) or None
    if given is None and args.ask_password:
        given = getpass.getpass("teacher's password: ") or None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        classroom = start_classroom(args.learners, host=args.host, teacher_password=given, port=args.port)
    except BrokerStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        for name, handle in classroom.learners.items():
            print(name, handle.url)
        password = "as given" if given else classroom.teacher_password
        print(TEACHER_LINE.format(url=classroom.teacher.url, password=password), flush=True)
        if args.host not in (LOOPBACK, "localhost"):
            print(
                f"warning: learner ports on {args.host} have no passwords: anyone who can reach them can use them",
                file=sys.stderr,
            )
        print(
            "learners: MQTT_STUDY_BROKER=<their URL> jupyter lab  |  Ctrl-C stops the classroom",
            file=sys.stderr,
            flush=True,
        )
        stop.wait()
    finally:
        classroom.stop()
    return 0


TEACHER_LINE = "teacher {url} (username teacher, password {password})"
