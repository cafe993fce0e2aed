"""Mosquitto, the reference broker, as a child process on 127.0.0.1.

The helper writes its own config file (never the system one), picks free
ports, waits until the broker accepts connections, and kills it on ``stop()``
and at interpreter exit, so no broker outlives the notebook or test run.
"""

from __future__ import annotations

import atexit
import ctypes
import getpass
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mqtt_helpers._brokers.certs import Certificates, make_certificates
from mqtt_helpers._brokers.ports import accepts, bindable, free_port, in_use
from mqtt_helpers.handle import LOOPBACK, START_TIMEOUT, BrokerHandle, BrokerOptions, BrokerStartError

INSTALL_HINT = (
    "install it with `sudo apt-get install mosquitto` (Debian/Ubuntu), "
    "`brew install mosquitto` (macOS), `conda install -c conda-forge mosquitto` or mosquitto.org's Windows installer "
    "(notebooks 00-10 also run on the embedded broker: MQTT_STUDY_BROKER=amqtt; notebook 11 needs Mosquitto)"
)


# Where installers put mosquitto off the PATH: Debian's sbin, /usr/local; on Windows, its installer's folder.
INSTALLED = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
if os.name == "nt":
    INSTALLED.append(os.path.join(os.environ.get("PROGRAMFILES", r"C:\Program Files"), "mosquitto", "mosquitto.exe"))


def mosquitto_binary() -> str:
    """Path of the mosquitto executable, or a BrokerStartError saying how to install it."""
    found = shutil.which("mosquitto") or next((p for p in INSTALLED if os.access(p, os.X_OK)), None)
    if not found:
        raise BrokerStartError(f"the mosquitto broker is not installed: {INSTALL_HINT}")
    return found


@dataclass(eq=False)
class MosquittoBroker(BrokerHandle):
    """A mosquitto child process and the folder holding its config."""

    process: subprocess.Popen[bytes] = field(kw_only=True, repr=False)
    folder: Path = field(kw_only=True, repr=False)
    _stopped: bool = field(default=False, init=False, repr=False)

    def stop(self) -> None:
        """End mosquitto (SIGTERM, then SIGKILL) and delete its folder; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        _RUNNING.discard(self)
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=START_TIMEOUT)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __hash__(self) -> int:  # by identity: _RUNNING holds each running broker once
        return id(self)


_RUNNING: set[MosquittoBroker] = set()


@atexit.register
def _stop_all() -> None:
    for broker in list(_RUNNING):
        broker.stop()


def start_mosquitto(options: BrokerOptions, extra_config: Sequence[str] = ()) -> MosquittoBroker:
    """Start mosquitto for ``options`` (``extra_config``: more config lines); retry on a fresh port if taken."""
    binary = mosquitto_binary()
    attempts = 1 if options.port else 3
    for attempt in range(attempts):
        try:
            return _start_once(binary, options, extra_config)
        except _PortTaken:
            if attempt == attempts - 1:
                raise in_use("mosquitto", f"{LOOPBACK}:{options.port}") from None
    raise AssertionError("unreachable")


class _PortTaken(Exception):
    pass


def _start_once(binary: str, options: BrokerOptions, extra_config: Sequence[str] = ()) -> MosquittoBroker:
    if options.port and not bindable(LOOPBACK, options.port):
        raise _PortTaken()
    folder = Path(tempfile.mkdtemp(prefix="mqtt-study-mosquitto-"))
    certs = make_certificates(folder) if options.tls else None
    port = options.port or free_port(LOOPBACK)
    tls_port = free_port(LOOPBACK) if certs else None
    ws_port = free_port(LOOPBACK) if options.websockets else None
    config = folder / "mosquitto.conf"
    config.write_text(
        _config_text(options, folder, certs, port=port, tls_port=tls_port, ws_port=ws_port, extra=extra_config)
    )
    log = (folder / "mosquitto.log").open("wb")
    process = subprocess.Popen(
        [binary, "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_parent_death_signal(),
    )
    log.close()
    broker = MosquittoBroker(
        kind="mosquitto",
        host=LOOPBACK,
        port=port,
        tls_port=tls_port,
        ws_port=ws_port,
        ca_file=certs.ca_file if certs else None,
        process=process,
        folder=folder,
    )
    _RUNNING.add(broker)
    try:
        _wait_until_listening(broker, folder / "mosquitto.log")
    except BaseException:
        broker.stop()
        raise
    return broker


def _config_text(
    options: BrokerOptions,
    folder: Path,
    certs: Certificates | None,
    *,
    port: int,
    tls_port: int | None,
    ws_port: int | None,
    extra: Sequence[str] = (),
) -> str:
    lines = [
        "persistence false",
        "log_dest stdout",
        "log_type error",
        "log_type warning",
        f"user {getpass.getuser()}",  # stay the current user: it owns the config folder
        f"allow_anonymous {'false' if options.users else 'true'}",
        *extra,
    ]
    if options.users:
        lines.append(f"password_file {_password_file(folder, options.users)}")
    lines.append(f"listener {port} {LOOPBACK}")
    if certs is not None and tls_port is not None:
        lines += [
            f"listener {tls_port} {LOOPBACK}",
            f"cafile {certs.ca_file}",
            f"certfile {certs.cert_file}",
            f"keyfile {certs.key_file}",
        ]
    if ws_port is not None:
        # socket_domain makes libwebsockets honour the bind address instead of listening on all interfaces
        lines += [f"listener {ws_port} {LOOPBACK}", "protocol websockets", "socket_domain ipv4"]
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


def _wait_until_listening(broker: MosquittoBroker, log: Path) -> None:
    """Return once every listener accepts TCP connections; fail fast if mosquitto exits."""
    ports = [p for p in (broker.port, broker.tls_port, broker.ws_port) if p]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if broker.process.poll() is not None:
            text = log.read_text(errors="replace")
            if "in use" in text:
                raise _PortTaken()
            raise BrokerStartError(
                f"mosquitto exited with code {broker.process.returncode} while starting on {broker.address}: "
                f"{text.strip() or 'no message'}"
            )
        if all(accepts(broker.host, p, timeout=0.2) for p in ports):
            return
        time.sleep(0.01)  # polling a socket that is not open yet; no MQTT event to wait on
    raise BrokerStartError(f"mosquitto did not listen on {broker.address} within {START_TIMEOUT:g} s")


def _parent_death_signal() -> Callable[[], None] | None:
    """What the child runs before mosquitto starts so that it ends with its parent, if anything.

    Linux only, on purpose: the parent-death signal is a Linux prctl. Elsewhere a
    killed Python process leaves mosquitto running (a normal exit still stops it,
    through atexit). preexec_fn is only safe when called from the main thread.
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    return _die_with_parent


def _die_with_parent() -> None:
    """In the child, on Linux: have the kernel send SIGTERM to mosquitto when its parent dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
