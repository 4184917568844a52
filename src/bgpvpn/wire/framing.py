"""Splitting a byte stream into BGP messages (RFC4271 4.1 header), sans-IO.

``MessageFramer`` is fed bytes as they arrive (from a socket, a reassembled TCP stream or a file)
and hands out whole messages. A header that is wrong (marker not all ones, length out of range)
is a ``FramingError`` naming the offset and the field: a session answers it with a NOTIFICATION
(Message Header Error); a file decoder reports it and resynchronises on the next marker.
"""

from __future__ import annotations

from dataclasses import dataclass

from bgpvpn.wire.constants import (
    HEADER_LEN,
    MARKER,
    MAX_EXTENDED_MESSAGE_LEN,
    MAX_MESSAGE_LEN,
    ErrorCode,
    HeaderError,
)


@dataclass(frozen=True, slots=True)
class FramingError:
    """A message header that cannot be framed; ``offset`` is relative to the stream start."""

    offset: int
    field: str
    reason: str
    code: ErrorCode = ErrorCode.MESSAGE_HEADER
    subcode: int = HeaderError.CONNECTION_NOT_SYNCHRONIZED
    data: bytes = b""

    def __str__(self) -> str:
        return f"offset {self.offset}: {self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class FramedMessage:
    """One whole BGP message (header included) and where it started in the stream."""

    offset: int
    data: bytes


class MessageFramer:
    """Accumulates bytes and yields whole BGP messages.

    ``max_length`` is 4096 until RFC8654 extended messages are negotiated, then 65535. After a
    framing error the framer stays failed for a session (``resync=False``) or skips to the next
    marker (``resync=True``, for capture files).
    """

    __slots__ = ("_base", "_buf", "_pos", "failed", "max_length", "resync")

    def __init__(self, max_length: int = MAX_MESSAGE_LEN, resync: bool = False) -> None:
        self._buf = bytearray()
        self._pos = 0  # read position in _buf
        self._base = 0  # stream offset of _buf[0]
        self.max_length = max_length
        self.resync = resync
        self.failed = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet handed out as a message."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        self._buf += data

    def messages(self) -> list[FramedMessage | FramingError]:
        """Whole messages (and framing errors) available now, in stream order."""
        out: list[FramedMessage | FramingError] = []
        buf = self._buf
        pos = self._pos
        end = len(buf)
        while not self.failed and end - pos >= HEADER_LEN:
            if buf[pos : pos + 16] != MARKER:
                out.append(
                    FramingError(self._base + pos, "marker", "the 16-octet marker is not all ones")
                )
                if not self.resync:
                    self.failed = True
                    break
                nxt = buf.find(MARKER, pos + 1)
                pos = nxt if nxt >= 0 else max(pos + 1, end - 15)
                continue
            length = (buf[pos + 16] << 8) | buf[pos + 17]
            if length < HEADER_LEN or length > self.max_length:
                out.append(
                    FramingError(
                        self._base + pos,
                        "length",
                        f"message length {length} is outside {HEADER_LEN}..{self.max_length}",
                        subcode=HeaderError.BAD_MESSAGE_LENGTH,
                        data=bytes(buf[pos + 16 : pos + 18]),
                    )
                )
                if not self.resync:
                    self.failed = True
                    break
                nxt = buf.find(MARKER, pos + 1)
                pos = nxt if nxt >= 0 else max(pos + 1, end - 15)
                continue
            if end - pos < length:
                break
            out.append(FramedMessage(self._base + pos, bytes(buf[pos : pos + length])))
            pos += length
        if pos > 65536 or pos == end:
            del buf[:pos]
            self._base += pos
            pos = 0
        self._pos = pos
        return out


def split_messages(
    data: bytes, max_length: int = MAX_EXTENDED_MESSAGE_LEN
) -> tuple[list[FramedMessage | FramingError], int]:
    """Frame a whole buffer (e.g. a file); returns the messages and errors, and the count of
    trailing bytes that do not form a whole message."""
    framer = MessageFramer(max_length=max_length, resync=True)
    framer.feed(data)
    out = framer.messages()
    return out, framer.buffered
