"""Mosquitto, the reference broker, as a child process on 127.0.0.1.

The helper writes its own config file (never the system one), picks free
ports, waits until the broker accepts connections, and kills it on ``stop()``
and at interpreter exit, so no broker outlives the notebook or test run.
"""

from __future__ import annotations

import ctypes
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from mqtt_helpers.broker import START_TIMEOUT, BrokerOptions, BrokerStartError
from mqtt_helpers.child import ChildBroker
from mqtt_helpers.certs import Certificates, make_certificates

INSTALL_HINT = (
    "install it with `sudo apt-get install mosquitto` (Debian/Ubuntu), "
    "`brew install mosquitto` (macOS) or `conda install -c conda-forge mosquitto`, "
    "or use the embedded broker: MQTT_STUDY_BROKER=amqtt"
)


def mosquitto_binary() -> str:
    """Path of the mosquitto executable, or a BrokerStartError saying how to install it."""
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise BrokerStartError(f"the mosquitto broker is not installed: {INSTALL_HINT}")
    return found


class MosquittoBroker(ChildBroker):
    """A mosquitto child process and the folder holding its config."""

    _folder: Path

    def _cleanup(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


def start_mosquitto(options: BrokerOptions) -> MosquittoBroker:
    """Start mosquitto for ``options``; retry on a fresh port if another process took ours."""
    binary = mosquitto_binary()
    attempts = 1 if options.port else 3
    for attempt in range(attempts):
        try:
            return _start_once(binary, options)
        except _PortTaken:
            if attempt == attempts - 1:
                raise BrokerStartError(
                    f"cannot start mosquitto on {options.host}:{options.port}: the address is already in use "
                    "(another broker is running there; stop it, or pass port=0 for a free port)"
                ) from None
    raise AssertionError("unreachable")


class _PortTaken(Exception):
    pass


def _start_once(binary: str, options: BrokerOptions) -> MosquittoBroker:
    if options.port and not _bindable(options.host, options.port):
        raise _PortTaken()
    folder = Path(tempfile.mkdtemp(prefix="mqtt-study-mosquitto-"))
    certs = make_certificates(folder) if options.tls else None
    port = options.port or free_port(options.host)
    tls_port = free_port(options.host) if certs else None
    ws_port = free_port(options.host) if options.websockets else None
    config = folder / "mosquitto.conf"
    config.write_text(_config_text(options, folder, certs, port=port, tls_port=tls_port, ws_port=ws_port))
    log = (folder / "mosquitto.log").open("wb")
    process = subprocess.Popen(
        [binary, "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread() else None,
    )
    log.close()
    broker = MosquittoBroker(
        kind="mosquitto",
        host=options.host,
        port=port,
        tls_port=tls_port,
        ws_port=ws_port,
        ca_file=certs.ca_file if certs else None,
        users=dict(options.users or {}),
    )
    broker._folder = folder
    broker.adopt(process)
    try:
        _wait_until_listening(broker, folder / "mosquitto.log")
    except BaseException:
        broker.stop()
        raise
    return broker


def _config_text(
    options: BrokerOptions, folder: Path, certs: Certificates | None, *, port: int, tls_port: int | None, ws_port: int | None
) -> str:
    lines = [
        "persistence false",
        "log_dest stdout",
        "log_type error",
        "log_type warning",
        f"user {getpass.getuser()}",  # stay the current user: it owns the config folder
        f"allow_anonymous {'true' if options.anonymous else 'false'}",
    ]
    if not options.anonymous:
        lines.append(f"password_file {_password_file(folder, options.users or {})}")
    lines.append(f"listener {port} {options.host}")
    if certs is not None and tls_port is not None:
        lines += [
            f"listener {tls_port} {options.host}",
            f"cafile {certs.ca_file}",
            f"certfile {certs.cert_file}",
            f"keyfile {certs.key_file}",
        ]
    if ws_port is not None:
        # socket_domain makes libwebsockets honour the bind address instead of listening on all interfaces
        lines += [f"listener {ws_port} {options.host}", "protocol websockets", "socket_domain ipv4"]
    return "\n".join(lines) + "\n"


def _password_file(folder: Path, users: Mapping[str, str]) -> Path:
    """Write users in clear text, then let mosquitto_passwd hash them in place."""
    path = folder / "passwd"
    path.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
    path.chmod(0o600)
    tool = shutil.which("mosquitto_passwd")
    if not tool:
        raise BrokerStartError(f"mosquitto_passwd is missing (it ships with mosquitto): {INSTALL_HINT}")
    subprocess.run([tool, "-U", str(path)], check=True, capture_output=True)
    return path


def free_port(host: str) -> int:
    """A port nobody listens on right now (mosquitto cannot report a port-0 bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _bindable(host: str, port: int) -> bool:
    """Whether mosquitto could bind ``port``: someone else listening there would
    otherwise answer our readiness probe in its place."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _wait_until_listening(broker: MosquittoBroker, log: Path) -> None:
    """Return once every listener accepts TCP connections; fail fast if mosquitto exits."""
    ports = [p for p in (broker.port, broker.tls_port, broker.ws_port) if p]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if broker._process.poll() is not None:
            text = log.read_text(errors="replace")
            if "in use" in text:
                raise _PortTaken()
            raise BrokerStartError(
                f"mosquitto exited with code {broker._process.returncode} while starting on {broker.address}: "
                f"{text.strip() or 'no message'}"
            )
        if all(_accepts(broker.host, p) for p in ports):
            return
        time.sleep(0.01)  # polling a socket that is not open yet; no MQTT event to wait on
    raise BrokerStartError(f"mosquitto did not listen on {broker.address} within {START_TIMEOUT:g} s")


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child: ask Linux to end mosquitto if the Python process dies first."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
