"""A raw BGP byte stream (a file of concatenated messages, e.g. one direction of a session)."""

from __future__ import annotations

from collections.abc import Iterator

from bgpvpn.sources.records import MessageRecord, SourceError
from bgpvpn.wire.constants import MAX_EXTENDED_MESSAGE_LEN
from bgpvpn.wire.framing import FramingError, split_messages


def read_raw_stream(data: bytes) -> Iterator[MessageRecord | SourceError]:
    """Yield every message of ``data``; framing errors and a trailing partial message become
    ``SourceError`` records (the framer resynchronises on the next marker)."""
    items, trailing = split_messages(data, max_length=MAX_EXTENDED_MESSAGE_LEN)
    for item in items:
        if isinstance(item, FramingError):
            yield SourceError(item.offset, item.field, item.reason)
        else:
            yield MessageRecord(item.data, item.offset, None, None)
    if trailing:
        yield SourceError(
            len(data) - trailing,
            "message",
            f"truncated: the last {trailing} bytes do not form a whole message",
        )
