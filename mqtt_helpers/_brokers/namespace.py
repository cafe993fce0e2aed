"""The classroom's namespace rewriter: a learner's topics and client ids gain ``learners/NAME/`` inside the broker.

It works on packets :mod:`.mqtt311` already checked (the :mod:`.front` reads
them), so every field is where it should be and nothing follows the last one:

- client ids, will topics and the topics and filters of PUBLISH, SUBSCRIBE and
  UNSUBSCRIBE gain the prefix on the way in; PUBLISH topics lose it on the way
  out. A learner's ``#`` becomes ``learners/NAME/#``: only their own.
- topics and filters under ``class/`` stay as they are (the shared board); a
  ``$`` topic or filter stays too (the broker's own, e.g. the presence topics),
  except a will's, which could otherwise forge them.
- a name that would pass 65,535 bytes once prefixed is refused (CONNACK 2 for
  a client id, a close for a topic), never an encoding error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from mqtt_helpers._brokers import mqtt311
from mqtt_helpers._brokers.mqtt311 import Connect, MalformedPacket, Packet, Refused, Will

CLASS_TOPICS = b"class/"
LEARNER_ROOT = "learners"


def prefix_of(name: str) -> bytes:
    """The topic prefix of learner ``name``."""
    return f"{LEARNER_ROOT}/{name}/".encode()


@dataclass
class Namespace:
    """One learner connection's namespace: how their packets look inside the broker and back."""

    name: str
    client_id: str | None = None  # of this connection, once its CONNECT was admitted

    @cached_property
    def prefix(self) -> bytes:
        return prefix_of(self.name)

    def inside(self, topic: bytes) -> bytes:
        """A learner's (checked, non-empty) topic or filter as the broker stores it."""
        if topic.startswith((CLASS_TOPICS, b"$")):
            return topic  # class/ is shared; "$" names are the broker's own (a client may not publish them)
        return self._prefixed(topic)

    def outside(self, topic: bytes) -> bytes:
        """A topic the broker delivers, as the learner sees it."""
        return topic[len(self.prefix) :] if topic.startswith(self.prefix) else topic

    def _prefixed(self, name: bytes) -> bytes:
        inside = self.prefix + name
        if len(inside) > mqtt311.MAX_STRING:
            raise MalformedPacket(f"{name[:20]!r}... is over 65,535 bytes once prefixed")
        return inside

    # --- the Rewriter protocol (front.Rewriter) -----------------------------------------------

    def connect(self, connect: Connect) -> Connect:
        """The CONNECT with the client id and will topic inside the namespace."""
        if len(self.prefix + connect.client_id) > mqtt311.MAX_STRING:
            raise Refused(mqtt311.IDENTIFIER_REJECTED)  # [MQTT-3.1.3-5] the server may reject an id
        will = connect.will
        if will is not None:
            # A will's "$" topic goes into the namespace too, or it could forge $SYS/classroom/...
            topic = self._prefixed(will.topic) if will.topic.startswith(b"$") else self.inside(will.topic)
            will = Will(topic, will.message, will.qos, will.retain)
        self.client_id = connect.client_id.decode()
        client_id = self.prefix + connect.client_id
        return Connect(client_id, connect.clean_session, connect.keep_alive, will, connect.username, connect.password)

    def inbound(self, pkt: Packet) -> bytes:
        """Rewrite one checked packet from the learner's client for the broker."""
        if pkt.kind == mqtt311.PUBLISH:
            topic, _ = mqtt311.publish_topic(pkt)
            return mqtt311.encode_publish(pkt, self.inside(topic))
        if pkt.kind in (mqtt311.SUBSCRIBE, mqtt311.UNSUBSCRIBE):
            _, pairs = mqtt311.subscriptions(pkt)
            return mqtt311.encode_subscriptions(pkt, [self.inside(f) for f, _ in pairs])
        return mqtt311.packet(pkt.kind, pkt.flags, pkt.body)

    def outbound(self, whole: bytes) -> bytes:
        """Rewrite one packet from the broker for the learner's client."""
        if whole[0] >> 4 != mqtt311.PUBLISH:
            return whole
        split = mqtt311.split(whole)
        assert split is not None, "the writer hands over whole packets"
        header, body, _ = split
        topic, rest = mqtt311.publish_topic(Packet(mqtt311.PUBLISH, header[0] & 0x0F, body))
        return mqtt311.packet(mqtt311.PUBLISH, header[0] & 0x0F, mqtt311.string(self.outside(topic)) + rest)


@dataclass
class TeacherRules:
    """The teacher's port: packets pass unchanged, except a topic a learner could not receive.

    ``learners/NAME/`` itself is the empty topic in NAME's namespace, which no
    MQTT client can receive ([MQTT-4.7.3-1]): publishing there closes the
    teacher's connection rather than the learner's.
    """

    names: list[str]

    def connect(self, connect: Connect) -> Connect:
        if connect.will is not None:
            self._check(connect.will.topic)
        return connect

    def inbound(self, pkt: Packet) -> bytes:
        if pkt.kind == mqtt311.PUBLISH:
            self._check(mqtt311.publish_topic(pkt)[0])
        return mqtt311.packet(pkt.kind, pkt.flags, pkt.body)

    def outbound(self, whole: bytes) -> bytes:
        return whole

    def _check(self, topic: bytes) -> None:
        if topic in {prefix_of(name) for name in self.names}:
            raise MalformedPacket(f"{topic!r} is a learner's empty topic: publish under it, e.g. {topic!r}hello")
