"""The embedded amqtt broker, corrected by :mod:`.amqtt_fixes`, behind a strict :class:`~.front.Front`.

It runs on its own :class:`~.loop.BrokerLoop`. amqtt opens no socket itself:
every listener (plain, TLS, websockets) is the front's, which checks each
packet and the credentials before handing the connection to amqtt's
``external_connected()`` (one mechanism with the classroom).
"""

from __future__ import annotations

import hmac
import ssl
from typing import Any

from mqtt_helpers._brokers import mqtt311
from mqtt_helpers._brokers.amqtt_fixes import ConformantBroker, conformance_config
from mqtt_helpers._brokers.certs import Certificates, make_certificates
from mqtt_helpers._brokers.front import Front, Limits
from mqtt_helpers._brokers.loop import BrokerLoop
from mqtt_helpers._brokers.mqtt311 import Connect
from mqtt_helpers._brokers.ports import start_error
from mqtt_helpers.handle import LOOPBACK, BrokerHandle, BrokerOptions

EMBEDDED_LIMITS = Limits(refusal_delay=0.05, refusal_ceiling=1.0)
"""A lesson's broker listens on 127.0.0.1 only: refusals slow down gently, so wrong-password demos stay quick."""


class AmqttBroker(BrokerHandle):
    """amqtt on a private event loop in a daemon thread, every listener behind a strict front."""

    _loop: BrokerLoop
    _broker: Any
    _front: Front
    _certs: Certificates | None
    _stopped: bool

    @classmethod
    def start(cls, options: BrokerOptions, limits: Limits | None = None) -> AmqttBroker:
        """Start amqtt with the listeners ``options`` asks for; ``limits`` bounds each connection."""
        certs = make_certificates() if options.tls else None
        loop = BrokerLoop()
        try:
            broker, front, ports = loop.run(
                _start(options, certs, limits or EMBEDDED_LIMITS), what=f"amqtt start on {LOOPBACK}:{options.port}"
            )
        except BaseException as exc:
            loop.close()
            if certs is not None:
                certs.cleanup()
            raise start_error("amqtt", f"{LOOPBACK}:{options.port}", exc) from exc
        handle = cls(
            kind="amqtt",
            host=LOOPBACK,
            port=ports["default"],
            tls_port=ports.get("tls"),
            ws_port=ports.get("ws"),
            ca_file=certs.ca_file if certs else None,
        )
        handle._loop, handle._broker, handle._front = loop, broker, front
        handle._certs, handle._stopped = certs, False
        return handle

    def stop(self) -> None:
        """Close the listeners, shut amqtt down, end its loop and thread, and delete the certificates."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._loop.run(_stop(self._front, self._broker), what=f"amqtt shutdown at {self.address}")
        finally:
            self._loop.close()
            if self._certs is not None:
                self._certs.cleanup()


def amqtt_config(options: BrokerOptions) -> dict[str, Any]:
    """The amqtt configuration for ``options``: external listeners (the front's), auth as asked."""
    names = ["default", *(["tls"] if options.tls else []), *(["ws"] if options.websockets else [])]
    auth: dict[str, Any]
    if options.users:
        # a second check behind the front's (which already refused wrong credentials before any session)
        auth = {"mqtt_helpers._brokers.amqtt_auth.PasswordAuthPlugin": {"users": dict(options.users)}}
    else:
        auth = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
    return {"listeners": {name: {"type": "external"} for name in names}, "plugins": auth}


def admission(options: BrokerOptions) -> Any:
    """The front's credentials check: anyone without ``users``, else a matching user name and password."""
    users = {name.encode(): password.encode() for name, password in (options.users or {}).items()}

    def admit(listener: str, connect: Connect) -> int:
        if not users:
            return 0
        if connect.username is None:
            return mqtt311.NOT_AUTHORIZED
        expected = users.get(connect.username)
        # compare even for an unknown user, so the answer takes as long
        matched = hmac.compare_digest(expected or b"\x00", connect.password or b"")
        return 0 if expected is not None and matched else mqtt311.NOT_AUTHORIZED  # what Mosquitto answers

    return admit


async def _start(
    options: BrokerOptions, certs: Certificates | None, limits: Limits
) -> tuple[Any, Front, dict[str, int]]:
    # Broker() must be built inside the running loop it will serve.
    broker = ConformantBroker(conformance_config(amqtt_config(options)))
    await broker.start()
    front = Front(broker.external_connected, admission(options), limits)
    try:
        ports = {"default": await front.listen("default", LOOPBACK, options.port)}
        if certs is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certs.cert_file, certs.key_file)
            ports["tls"] = await front.listen("tls", LOOPBACK, 0, ssl_context=context)
        if options.websockets:
            ports["ws"] = await front.listen_websockets("ws", LOOPBACK, 0)
    except BaseException:
        await _stop(front, broker)
        raise
    return broker, front, ports


async def _stop(front: Front, broker: Any) -> None:
    await front.close()
    await broker.shutdown()
