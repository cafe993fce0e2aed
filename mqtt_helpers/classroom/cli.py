"""The command line of ``python -m mqtt_helpers.classroom``: start, print the addresses, serve until Ctrl-C.

For teachers; learners need not read it.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import signal
import sys
import threading

from mqtt_helpers._brokers.classroom import BROKERS, parse_learners, start_classroom
from mqtt_helpers.handle import LOOPBACK, BrokerStartError

DESCRIPTION = "One broker for a whole class: a private namespace per learner, class/ shared, a teacher who sees all."
PASSWORD_ENV = "MQTT_CLASSROOM_TEACHER_PASSWORD"
BROKER_ENV = "MQTT_CLASSROOM_BROKER"
EPILOG = (
    f"The teacher's password comes from --teacher-password, else the {PASSWORD_ENV} environment variable, else "
    "a prompt (--ask-password), else it is generated and printed. A password on the command line shows in `ps`: "
    "prefer the environment variable or the prompt. Limits per learner port: 32 connections, 1 MiB packets, "
    "10 s to send CONNECT; wrong teacher passwords are answered ever more slowly. "
    f"--broker mosquitto (or {BROKER_ENV}=mosquitto) puts Mosquitto behind the same ports: for classes over 90."
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
    parser.add_argument(
        "--broker",
        choices=BROKERS,
        default=os.environ.get(BROKER_ENV) or "amqtt",
        help="the broker behind the learner ports: amqtt (embedded, default, up to ~90 learners) or mosquitto "
        "(installed separately; 120 and more)",
    )
    args = parser.parse_args(argv)
    try:
        parse_learners(args.learners)
    except ValueError as exc:
        parser.error(str(exc))  # exits 2 with the usage line
    given = args.teacher_password or os.environ.get(PASSWORD_ENV) or None
    if given is None and args.ask_password:
        given = getpass.getpass("teacher's password: ") or None
    raise_open_file_limit()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        classroom = start_classroom(
            args.learners, host=args.host, teacher_password=given, port=args.port, broker=args.broker
        )
    except (BrokerStartError, ValueError) as exc:
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
        while not stop.wait(1.0):  # a supervisor's poll: the broker could exit, and no event says so here
            if not classroom.alive():
                print(f"error: the {classroom.broker} broker exited; the classroom stopped", file=sys.stderr)
                return 1
    finally:
        classroom.stop()
    return 0


def raise_open_file_limit() -> None:
    """Allow as many open sockets as the system lets this user have: a class of 120 holds ~700 (macOS allows 256)."""
    try:
        import resource  # Unix only
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # macOS caps it below "hard" at times: keep what we have
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


TEACHER_LINE = "teacher {url} (username teacher, password {password})"
