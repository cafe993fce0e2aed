"""The embedded amqtt broker in a child Python process.

In a thread, amqtt shares the interpreter lock with the notebook and the paho
clients it serves; in its own process it does not, which roughly doubles its
throughput (README, Performance). The child reports its ports as one JSON
line, then serves until its stdin closes: when the parent stops it, exits or
dies, the pipe closes and the child shuts down, so no broker is orphaned.

    python -m mqtt_helpers.amqtt_process '{"port": 0, "users": null, ...}'
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mqtt_helpers.broker import START_TIMEOUT, AmqttBroker, BrokerOptions, BrokerStartError
from mqtt_helpers.child import ChildBroker

class AmqttProcess(ChildBroker):
    """Handle on a child process running amqtt."""

    def _ask_to_exit(self) -> None:
        """Closing its stdin makes the child stop amqtt (deleting its certificates) and exit."""
        if self._process.stdin:
            self._process.stdin.close()


def start_amqtt_process(options: BrokerOptions) -> AmqttProcess:
    """Start the child, read back where it listens, and return its handle."""
    settings = asdict(options) | {"users": dict(options.users or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", __name__, json.dumps(settings)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=START_TIMEOUT)
        raise BrokerStartError(f"the amqtt child process exited ({process.returncode}) while starting on {options.host}:{options.port}")
    report = json.loads(line)
    if "error" in report:
        process.wait(timeout=START_TIMEOUT)
        raise BrokerStartError(report["error"])
    handle = AmqttProcess(
        kind="amqtt",
        host=options.host,
        port=report["port"],
        tls_port=report["tls_port"],
        ws_port=report["ws_port"],
        ca_file=Path(report["ca_file"]) if report["ca_file"] else None,
        users=dict(options.users or {}),
    )
    handle.adopt(process)
    return handle


def serve(settings: dict[str, Any]) -> int:
    """In the child: run the broker until stdin closes."""
    options = BrokerOptions(**settings)
    try:
        broker = AmqttBroker.start(options)
    except BrokerStartError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 1
    report = {"port": broker.port, "tls_port": broker.tls_port, "ws_port": broker.ws_port,
              "ca_file": str(broker.ca_file) if broker.ca_file else None}
    print(json.dumps(report), flush=True)
    try:
        sys.stdin.read()  # returns when the parent closes the pipe or dies
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve(json.loads(sys.argv[1])))
