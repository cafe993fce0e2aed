"""A strict MQTT 3.1.1 codec for what a client sends: every packet checked completely, no I/O.

amqtt reads a packet field by field and never checks that the remaining length
was used up, so whatever it leaves unread is parsed as further packets. Every
listener therefore runs a client's bytes through :func:`parse` first: a packet
is accepted only when each field is valid and the fields use up the packet
exactly. Anything else raises :class:`MalformedPacket`, and the connection is
closed ([MQTT-4.8.0-1]: a protocol violation closes the network connection).
The clause of each check is cited next to it.
"""

from __future__ import annotations

from dataclasses import dataclass

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

MAX_STRING = 65_535  # a length-prefixed string holds at most 65,535 bytes (§1.5.3)
MAX_REMAINING_LENGTH = 268_435_455  # four length bytes (§2.2.3)

# CONNACK return codes (§3.2.2.3)
UNACCEPTABLE_PROTOCOL, IDENTIFIER_REJECTED, BAD_CREDENTIALS, NOT_AUTHORIZED = 1, 2, 4, 5

# Fixed-header flags a client must send, by packet type (§2.2.2, [MQTT-2.2.2-1], [MQTT-2.2.2-2]);
# PUBLISH carries DUP/QoS/RETAIN and is checked on its own.
_FLAGS = {
    CONNECT: 0,
    PUBACK: 0,
    PUBREC: 0,
    PUBREL: 0b0010,  # [MQTT-3.6.1-1]
    PUBCOMP: 0,
    SUBSCRIBE: 0b0010,  # [MQTT-3.8.1-1]
    UNSUBSCRIBE: 0b0010,  # [MQTT-3.10.1-1]
    PINGREQ: 0,
    DISCONNECT: 0,
}
# Packets of a fixed remaining length: a packet identifier only, or nothing at all.
_FIXED_LENGTH = {PUBACK: 2, PUBREC: 2, PUBREL: 2, PUBCOMP: 2, PINGREQ: 0, DISCONNECT: 0}


class MalformedPacket(ValueError):
    """A packet that breaks MQTT 3.1.1; the connection is closed ([MQTT-4.8.0-1])."""


class Refused(Exception):
    """A CONNECT to answer with a CONNACK return code (§3.2.2.3), then close."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class PacketTooLarge(MalformedPacket):
    """A packet announcing more bytes than the listener's maximum packet size."""


@dataclass(frozen=True)
class Will:
    """The will of a CONNECT."""

    topic: bytes
    message: bytes
    qos: int
    retain: bool


@dataclass(frozen=True)
class Connect:
    """A checked CONNECT (protocol level 4)."""

    client_id: bytes
    clean_session: bool
    keep_alive: int
    will: Will | None
    username: bytes | None
    password: bytes | None


@dataclass(frozen=True)
class Packet:
    """A checked packet: its type, fixed-header flags and body (everything after the remaining length)."""

    kind: int
    flags: int
    body: bytes

    @property
    def qos(self) -> int:
        """A PUBLISH's QoS."""
        return (self.flags >> 1) & 3


class UnsupportedProtocol(MalformedPacket):
    """A CONNECT of another protocol level: answered with CONNACK 1, then closed ([MQTT-3.1.2-2])."""


# --- the fixed header ------------------------------------------------------------------


def encode_length(n: int) -> bytes:
    """The fixed header's remaining length, as MQTT's variable-length integer (§2.2.3)."""
    if not 0 <= n <= MAX_REMAINING_LENGTH:
        raise MalformedPacket(f"a remaining length of {n} bytes cannot be encoded (at most {MAX_REMAINING_LENGTH})")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def decode_length(header: bytes) -> int | None:
    """The remaining length encoded in ``header[1:]``, or None while more length bytes are due."""
    length = 0
    for index, byte in enumerate(header[1:5]):
        length += (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if index and byte == 0:
                # §2.2.3's algorithm writes each length one way, in the fewest bytes (MQTT 5 names it
                # [MQTT-1.5.5-1]); a trailing zero byte would give one packet two encodings
                raise MalformedPacket("the remaining length is not in its shortest form")
            return length
    if len(header) >= 5:
        raise MalformedPacket("the remaining length is longer than 4 bytes")  # §2.2.3
    return None


def packet(kind: int, flags: int, body: bytes) -> bytes:
    """A whole packet: fixed header and body."""
    return bytes([kind << 4 | flags]) + encode_length(len(body)) + body


def string(value: bytes) -> bytes:
    """A length-prefixed string (§1.5.3); too long raises MalformedPacket."""
    if len(value) > MAX_STRING:
        raise MalformedPacket(f"a string of {len(value)} bytes does not fit MQTT's 65,535")
    return len(value).to_bytes(2, "big") + value


def connack(code: int, *, session_present: bool = False) -> bytes:
    """A CONNACK; a refusal always says session-present 0 ([MQTT-3.2.2-4])."""
    return packet(CONNACK, 0, bytes([1 if session_present and code == 0 else 0, code]))


# --- reading fields ----------------------------------------------------------------------


class _Fields:
    """Reads a packet body field by field; ``end()`` checks that nothing is left."""

    def __init__(self, body: bytes) -> None:
        self.body, self.at = body, 0

    def take(self, n: int, what: str) -> bytes:
        if self.at + n > len(self.body):
            raise MalformedPacket(f"the {what} runs past the end of the packet")
        value = self.body[self.at : self.at + n]
        self.at += n
        return value

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "big")

    def binary(self, what: str) -> bytes:
        return self.take(self.u16(what), what)

    def text(self, what: str) -> bytes:
        value = self.binary(what)
        check_utf8(value, what)
        return value

    def packet_id(self) -> int:
        pid = self.u16("packet identifier")
        if pid == 0:
            raise MalformedPacket("packet identifier 0")  # [MQTT-2.3.1-1] non-zero
        return pid

    def left(self) -> bool:
        return self.at < len(self.body)

    def rest(self) -> bytes:
        value = self.body[self.at :]
        self.at = len(self.body)
        return value

    def end(self) -> None:
        if self.left():
            # amqtt would parse these bytes as further packets: the smuggling channel
            raise MalformedPacket(f"{len(self.body) - self.at} bytes after the packet's last field")


def check_utf8(value: bytes, what: str) -> str:
    """``value`` as text: well-formed UTF-8 without U+0000 ([MQTT-1.5.3-1], [MQTT-1.5.3-2])."""
    try:
        text = value.decode("utf-8")  # strict: rejects overlong forms and surrogates ([MQTT-1.5.3-1])
    except UnicodeDecodeError:
        raise MalformedPacket(f"the {what} is not valid UTF-8") from None
    if "\x00" in text:
        raise MalformedPacket(f"the {what} contains U+0000")  # [MQTT-1.5.3-2]
    return text


def check_topic_name(topic: bytes, what: str = "topic name") -> None:
    """A topic name to publish to: at least one character, no wildcard ([MQTT-4.7.3-1], [MQTT-3.3.2-2])."""
    if not topic:
        raise MalformedPacket(f"an empty {what}")  # [MQTT-4.7.3-1]
    if b"+" in topic or b"#" in topic:
        raise MalformedPacket(
            f"a wildcard in the {what}"
        )  # [MQTT-3.3.2-2]; a will topic is a topic name too (§3.1.3.2)


def check_topic_filter(topic_filter: bytes) -> None:
    """A subscription filter: non-empty, wildcards only as whole levels, ``#`` last ([MQTT-4.7.1-2], [MQTT-4.7.1-3])."""
    if not topic_filter:
        raise MalformedPacket("an empty topic filter")  # [MQTT-4.7.3-1]
    levels = topic_filter.split(b"/")
    for index, level in enumerate(levels):
        if b"#" in level and (level != b"#" or index != len(levels) - 1):
            raise MalformedPacket("'#' that is not the whole last level of a filter")  # [MQTT-4.7.1-2]
        if b"+" in level and level != b"+":
            raise MalformedPacket("'+' that is not a whole level of a filter")  # [MQTT-4.7.1-3]


# --- whole packets ---------------------------------------------------------------------------


def split(data: bytes | bytearray, max_size: int = MAX_REMAINING_LENGTH) -> tuple[bytes, bytes, bytes] | None:
    """``(header, body, rest)`` of the first whole packet in ``data``, or None while it is incomplete."""
    for end in range(2, min(len(data), 5) + 1):
        length = decode_length(bytes(data[:end]))
        if length is None:
            continue
        if length > max_size:
            raise PacketTooLarge(f"a packet of {length} bytes is over the maximum of {max_size}")
        if end + length > len(data):
            return None
        return bytes(data[:end]), bytes(data[end : end + length]), bytes(data[end + length :])
    if len(data) >= 5:
        raise MalformedPacket("the remaining length is longer than 4 bytes")
    return None


def parse(first: int, body: bytes) -> Packet:
    """Check a packet from a client (not a CONNECT: see :func:`parse_connect`) and return it."""
    kind, flags = first >> 4, first & 0x0F
    if kind == PUBLISH:
        _check_publish(flags, body)
    elif kind in _FLAGS and kind != CONNECT:
        if flags != _FLAGS[kind]:
            raise MalformedPacket(f"packet type {kind} with reserved flags {flags:04b}")  # [MQTT-2.2.2-2]
        if kind in _FIXED_LENGTH and len(body) != _FIXED_LENGTH[kind]:
            raise MalformedPacket(f"packet type {kind} of {len(body)} bytes, not {_FIXED_LENGTH[kind]}")
        if kind in (PUBACK, PUBREC, PUBREL, PUBCOMP):
            _Fields(body).packet_id()
        elif kind in (SUBSCRIBE, UNSUBSCRIBE):
            subscriptions(Packet(kind, flags, body))
    elif kind == CONNECT:
        raise MalformedPacket("a second CONNECT")  # [MQTT-3.1.0-2]
    else:
        # CONNACK, SUBACK, UNSUBACK, PINGRESP go only from server to client; 0 and 15 are reserved (§2.2.1)
        raise MalformedPacket(f"packet type {kind}, which a client may not send")
    return Packet(kind, flags, body)


def _check_publish(flags: int, body: bytes) -> None:
    qos = (flags >> 1) & 3
    if qos == 3:
        raise MalformedPacket("a PUBLISH with QoS 3")  # [MQTT-3.3.1-4]
    if qos == 0 and flags & 0x08:
        raise MalformedPacket("a QoS 0 PUBLISH with DUP set")  # [MQTT-3.3.1-2]
    fields = _Fields(body)
    check_topic_name(fields.text("topic name"))
    if qos:
        fields.packet_id()


def publish_topic(pkt: Packet) -> tuple[bytes, bytes]:
    """A checked PUBLISH's topic and everything after it (packet identifier, payload)."""
    fields = _Fields(pkt.body)
    topic = fields.binary("topic name")
    return topic, fields.rest()


def subscriptions(pkt: Packet) -> tuple[int, list[tuple[bytes, int | None]]]:
    """A SUBSCRIBE's (or UNSUBSCRIBE's) packet identifier and (filter, requested QoS or None) pairs."""
    fields = _Fields(pkt.body)
    pid = fields.packet_id()
    pairs: list[tuple[bytes, int | None]] = []
    while fields.left():
        topic_filter = fields.text("topic filter")
        check_topic_filter(topic_filter)
        qos = None
        if pkt.kind == SUBSCRIBE:
            qos = fields.take(1, "requested QoS")[0]
            if qos > 2:
                raise MalformedPacket(f"requested QoS byte {qos:#04x}")  # [MQTT-3.8.3-4] (reserved bits and QoS)
        pairs.append((topic_filter, qos))
    if not pairs:
        raise MalformedPacket("a (UN)SUBSCRIBE without a topic filter")  # [MQTT-3.8.3-3], [MQTT-3.10.3-2]
    return pid, pairs


def parse_connect(first: int, body: bytes) -> Connect:
    """Check the first packet of a connection, which must be a CONNECT ([MQTT-3.1.0-1])."""
    if first >> 4 != CONNECT:
        raise MalformedPacket(f"packet type {first >> 4} before CONNECT")  # [MQTT-3.1.0-1]
    if first & 0x0F:
        raise MalformedPacket("a CONNECT with reserved flags set")  # [MQTT-2.2.2-2]
    fields = _Fields(body)
    if fields.binary("protocol name") != b"MQTT":
        raise MalformedPacket("not the MQTT protocol")  # [MQTT-3.1.2-1] may disconnect
    level = fields.take(1, "protocol level")[0]
    if level != 4:
        raise UnsupportedProtocol(f"protocol level {level}, not 4 (MQTT 3.1.1)")  # [MQTT-3.1.2-2]
    flags = fields.take(1, "connect flags")[0]
    if flags & 0x01:
        raise MalformedPacket("the reserved CONNECT flag is set")  # [MQTT-3.1.2-3]
    keep_alive = fields.u16("keep alive")
    client_id = fields.text("client identifier")
    will = None
    will_qos, will_retain = (flags >> 3) & 3, bool(flags & 0x20)
    if flags & 0x04:
        if will_qos == 3:
            raise MalformedPacket("will QoS 3")  # [MQTT-3.1.2-14]
        topic = fields.text("will topic")
        check_topic_name(topic, "will topic")  # §3.1.3.2: a will topic is a topic name
        will = Will(topic, fields.binary("will message"), will_qos, will_retain)
    elif will_qos or will_retain:
        raise MalformedPacket("will QoS or retain set without a will")  # [MQTT-3.1.2-13], [MQTT-3.1.2-15]
    username = fields.text("user name") if flags & 0x80 else None
    if flags & 0x40 and username is None:
        raise MalformedPacket("a password without a user name")  # [MQTT-3.1.2-22]
    password = fields.binary("password") if flags & 0x40 else None
    fields.end()
    return Connect(client_id, bool(flags & 0x02), keep_alive, will, username, password)


def encode_connect(connect: Connect) -> bytes:
    """A CONNECT packet for ``connect`` (how the checked CONNECT is handed on)."""
    flags = 0x02 if connect.clean_session else 0
    parts = [string(b"MQTT"), b"\x04", b"", connect.keep_alive.to_bytes(2, "big"), string(connect.client_id)]
    if connect.will is not None:
        flags |= 0x04 | connect.will.qos << 3 | (0x20 if connect.will.retain else 0)
        parts += [string(connect.will.topic), string(connect.will.message)]
    if connect.username is not None:
        flags |= 0x80
        parts.append(string(connect.username))
    if connect.password is not None:
        flags |= 0x40
        parts.append(string(connect.password))
    parts[2] = bytes([flags])
    return packet(CONNECT, 0, b"".join(parts))


def encode_publish(pkt: Packet, topic: bytes) -> bytes:
    """A PUBLISH like ``pkt`` with another topic."""
    _, rest = publish_topic(pkt)
    return packet(PUBLISH, pkt.flags, string(topic) + rest)


def encode_subscriptions(pkt: Packet, filters: list[bytes]) -> bytes:
    """A (UN)SUBSCRIBE like ``pkt`` with other filters (same order, same QoS)."""
    pid, pairs = subscriptions(pkt)
    body = pid.to_bytes(2, "big") + b"".join(
        string(f) + (bytes([qos]) if qos is not None else b"") for f, (_, qos) in zip(filters, pairs, strict=True)
    )
    return packet(pkt.kind, pkt.flags, body)
