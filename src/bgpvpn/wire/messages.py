"""BGP messages (RFC4271 4): OPEN (RFC5492 capabilities, RFC9072 extended optional parameters),
UPDATE (see ``update``), NOTIFICATION (RFC9003 shutdown communication), KEEPALIVE and
ROUTE-REFRESH (RFC2918, RFC7313). ``decode_message`` / ``encode_message`` are the entry points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bgpvpn.wire.capabilities import (
    Capability,
    CapabilityError,
    FourOctetAs,
    decode_capability,
    encode_capability,
)
from bgpvpn.wire.constants import (
    AS_TRANS,
    HEADER_LEN,
    MARKER,
    CeaseSubcode,
    ErrorCode,
    HeaderError,
    MessageType,
    OpenError,
    OptionalParameterType,
    RouteRefreshError,
    RouteRefreshSubtype,
)
from bgpvpn.wire.context import DEFAULT_CONTEXT, WireContext
from bgpvpn.wire.errors import MessageError
from bgpvpn.wire.family import Family
from bgpvpn.wire.text import ip_to_text
from bgpvpn.wire.update import UpdateMessage, decode_update, encode_update


@dataclass(frozen=True, slots=True)
class CapabilitiesParameter:
    """One optional parameter of type 2 carrying one or more capabilities."""

    capabilities: tuple[Capability, ...]
    type: ClassVar[int] = OptionalParameterType.CAPABILITIES


@dataclass(frozen=True, slots=True)
class UnknownParameter:
    type: int
    value: bytes


OptionalParameter = CapabilitiesParameter | UnknownParameter


@dataclass(frozen=True, slots=True)
class OpenMessage:
    asn: int  # the 2-octet My Autonomous System field (AS_TRANS for a 4-octet AS)
    hold_time: int
    bgp_id: bytes  # 4 octets
    parameters: tuple[OptionalParameter, ...] = ()
    version: int = 4
    extended_parameters: bool = False  # RFC9072 encoding used
    type: ClassVar[MessageType] = MessageType.OPEN

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        return tuple(
            c
            for p in self.parameters
            if isinstance(p, CapabilitiesParameter)
            for c in p.capabilities
        )

    @property
    def four_octet_asn(self) -> int:
        """The speaker's AS: from the 4-octet AS capability when present (RFC6793)."""
        for c in self.capabilities:
            if isinstance(c, FourOctetAs):
                return c.asn
        return self.asn

    @property
    def router_id(self) -> str:
        return ip_to_text(self.bgp_id)

    @staticmethod
    def build(
        asn: int, hold_time: int, bgp_id: bytes, capabilities: tuple[Capability, ...]
    ) -> OpenMessage:
        """An OPEN with all capabilities in one optional parameter (RFC9072 encoding only
        when they do not fit in 255 octets)."""
        size = sum(2 + len(c.encode_value()) for c in capabilities)
        return OpenMessage(
            asn if asn <= 0xFFFF else AS_TRANS,
            hold_time,
            bgp_id,
            (CapabilitiesParameter(capabilities),) if capabilities else (),
            extended_parameters=size + 2 > 255,
        )


@dataclass(frozen=True, slots=True)
class KeepaliveMessage:
    type: ClassVar[MessageType] = MessageType.KEEPALIVE


@dataclass(frozen=True, slots=True)
class NotificationMessage:
    code: int
    subcode: int
    data: bytes = b""
    type: ClassVar[MessageType] = MessageType.NOTIFICATION

    @property
    def shutdown_message(self) -> str | None:
        """RFC9003 shutdown communication of a Cease / administrative shutdown or reset."""
        if self.code != ErrorCode.CEASE or self.subcode not in (
            CeaseSubcode.ADMINISTRATIVE_SHUTDOWN,
            CeaseSubcode.ADMINISTRATIVE_RESET,
        ):
            return None
        if not self.data or self.data[0] + 1 > len(self.data):
            return None
        return self.data[1 : 1 + self.data[0]].decode("utf-8", "replace")

    @staticmethod
    def shutdown(
        message: str, subcode: int = CeaseSubcode.ADMINISTRATIVE_SHUTDOWN
    ) -> NotificationMessage:
        """A Cease with an RFC9003 shutdown communication (cut to 255 octets of UTF-8)."""
        raw = message.encode("utf-8")[:255]
        while raw:
            try:
                raw.decode("utf-8")
                break
            except UnicodeDecodeError:
                raw = raw[:-1]
        return NotificationMessage(ErrorCode.CEASE, subcode, bytes((len(raw),)) + raw)


@dataclass(frozen=True, slots=True)
class RouteRefreshMessage:
    family: Family
    subtype: int = RouteRefreshSubtype.NORMAL
    orf: bytes = b""  # RFC5291 ORF entries, kept raw
    type: ClassVar[MessageType] = MessageType.ROUTE_REFRESH


Message = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage

_MIN_LEN = {
    MessageType.OPEN: 29,
    MessageType.UPDATE: 23,
    MessageType.NOTIFICATION: 21,
    MessageType.KEEPALIVE: 19,
    MessageType.ROUTE_REFRESH: 23,
}


def decode_message(data: bytes, ctx: WireContext = DEFAULT_CONTEXT) -> Message:
    """Decode one whole message (header included). An UPDATE never raises (its problems are in
    ``UpdateMessage.problems``); anything else malformed raises ``MessageError``."""
    n = len(data)
    if n < HEADER_LEN or data[:16] != MARKER:
        raise MessageError(
            ErrorCode.MESSAGE_HEADER,
            HeaderError.CONNECTION_NOT_SYNCHRONIZED,
            0,
            "marker",
            "the 16-octet marker is not all ones",
        )
    length = (data[16] << 8) | data[17]
    if length != n:
        raise MessageError(
            ErrorCode.MESSAGE_HEADER,
            HeaderError.BAD_MESSAGE_LENGTH,
            16,
            "length",
            f"header says {length} octets, message has {n}",
            data[16:18],
        )
    mtype = data[18]
    min_len = _MIN_LEN.get(mtype)  # type: ignore[call-overload]
    if min_len is None:
        raise MessageError(
            ErrorCode.MESSAGE_HEADER,
            HeaderError.BAD_MESSAGE_TYPE,
            18,
            "type",
            f"unknown message type {mtype}",
            bytes((mtype,)),
        )
    if n < min_len or (mtype == MessageType.KEEPALIVE and n != 19) or n > ctx.max_message_len:
        raise MessageError(
            ErrorCode.MESSAGE_HEADER,
            HeaderError.BAD_MESSAGE_LENGTH,
            16,
            "length",
            f"length {n} is invalid for a {MessageType(mtype).name} message",
            data[16:18],
        )
    if mtype == MessageType.UPDATE:
        return decode_update(data, ctx)
    if mtype == MessageType.KEEPALIVE:
        return KeepaliveMessage()
    if mtype == MessageType.NOTIFICATION:
        return NotificationMessage(data[19], data[20], data[21:])
    if mtype == MessageType.ROUTE_REFRESH:
        afi = (data[19] << 8) | data[20]
        subtype = data[21]
        if subtype in (RouteRefreshSubtype.BORR, RouteRefreshSubtype.EORR) and n != 23:
            raise MessageError(
                ErrorCode.ROUTE_REFRESH_MESSAGE,
                RouteRefreshError.INVALID_MESSAGE_LENGTH,
                16,
                "length",
                f"a BoRR/EoRR message is 23 octets, not {n}",
                data,
            )
        return RouteRefreshMessage(Family(afi, data[22]), subtype, data[23:])
    return decode_open(data)


def _open_error(offset: int, field: str, reason: str, subcode: int = 0) -> MessageError:
    return MessageError(ErrorCode.OPEN_MESSAGE, subcode, offset, field, reason)


def decode_open(data: bytes) -> OpenMessage:
    version = data[19]
    if version != 4:
        raise MessageError(
            ErrorCode.OPEN_MESSAGE,
            OpenError.UNSUPPORTED_VERSION,
            19,
            "version",
            f"BGP version {version} is not supported",
            b"\x00\x04",
        )
    asn = (data[20] << 8) | data[21]
    hold = (data[22] << 8) | data[23]
    bgp_id = data[24:28]
    opt_len = data[28]
    i = 29
    extended = False
    if opt_len and len(data) > 29 and data[29] == OptionalParameterType.EXTENDED_LENGTH:
        # RFC9072: Non-Ext OP Type 255, then a 2-octet length, then 2-octet parameter lengths
        if len(data) < 32:
            raise _open_error(29, "optional parameters", "truncated RFC9072 length")
        extended = True
        opt_len = (data[30] << 8) | data[31]
        i = 32
    end = i + opt_len
    if end != len(data):
        raise _open_error(
            28,
            "optional parameters length",
            f"{opt_len} does not match the {len(data) - i} octets that follow",
        )
    params: list[OptionalParameter] = []
    hdr = 3 if extended else 2
    while i < end:
        if i + hdr > end:
            raise _open_error(i, "optional parameter", "truncated header")
        ptype = data[i]
        plen = ((data[i + 1] << 8) | data[i + 2]) if extended else data[i + 1]
        v = i + hdr
        if v + plen > end:
            raise _open_error(i, "optional parameter", f"length {plen} overruns the parameters")
        value = data[v : v + plen]
        if ptype == OptionalParameterType.CAPABILITIES:
            params.append(CapabilitiesParameter(_decode_capabilities(value, v)))
        else:
            params.append(UnknownParameter(ptype, value))
        i = v + plen
    return OpenMessage(asn, hold, bgp_id, tuple(params), version, extended)


def _decode_capabilities(value: bytes, base: int) -> tuple[Capability, ...]:
    caps: list[Capability] = []
    i = 0
    while i < len(value):
        if i + 2 > len(value):
            raise _open_error(base + i, "capability", "truncated capability header")
        code, clen = value[i], value[i + 1]
        if i + 2 + clen > len(value):
            raise _open_error(base + i, "capability", f"code {code} length {clen} overruns")
        try:
            caps.append(decode_capability(code, value[i + 2 : i + 2 + clen]))
        except CapabilityError as e:
            raise _open_error(base + i, f"capability {code}", str(e)) from None
        i += 2 + clen
    return tuple(caps)


def _header(mtype: int, body: bytes) -> bytes:
    length = HEADER_LEN + len(body)
    return MARKER + bytes((length >> 8, length & 0xFF, mtype)) + body


def encode_open(msg: OpenMessage) -> bytes:
    parts = []
    for p in msg.parameters:
        if isinstance(p, CapabilitiesParameter):
            value = b"".join(encode_capability(c) for c in p.capabilities)
        else:
            value = p.value
        if msg.extended_parameters:
            parts.append(bytes((p.type,)) + len(value).to_bytes(2, "big") + value)
        else:
            if len(value) > 255:
                raise ValueError("optional parameter over 255 octets needs RFC9072 encoding")
            parts.append(bytes((p.type, len(value))) + value)
    params = b"".join(parts)
    if msg.extended_parameters:
        opt = b"\xff\xff" + len(params).to_bytes(2, "big") + params
    else:
        if len(params) > 255:
            raise ValueError("optional parameters over 255 octets need RFC9072 encoding")
        opt = bytes((len(params),)) + params
    body = (
        bytes((msg.version,))
        + msg.asn.to_bytes(2, "big")
        + msg.hold_time.to_bytes(2, "big")
        + msg.bgp_id
        + opt
    )
    return _header(MessageType.OPEN, body)


KEEPALIVE = _header(MessageType.KEEPALIVE, b"")


def encode_message(msg: Message, ctx: WireContext = DEFAULT_CONTEXT) -> bytes:
    if isinstance(msg, UpdateMessage):
        return encode_update(msg, ctx)
    if isinstance(msg, KeepaliveMessage):
        return KEEPALIVE
    if isinstance(msg, NotificationMessage):
        return _header(MessageType.NOTIFICATION, bytes((msg.code, msg.subcode)) + msg.data)
    if isinstance(msg, RouteRefreshMessage):
        fam = msg.family
        return _header(
            MessageType.ROUTE_REFRESH,
            bytes((fam.afi >> 8, fam.afi & 0xFF, msg.subtype, fam.safi)) + msg.orf,
        )
    return encode_open(msg)
