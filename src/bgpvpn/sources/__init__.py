"""Readers that pull BGP messages out of capture files: pcap/pcapng (TCP reassembled per
direction), MRT (RFC6396/RFC8050) and raw BGP byte streams; gzip/bz2/xz input is decompressed.

The readers take the file's bytes and never raise on malformed input: what cannot be read comes
out as a ``SourceError`` record and reading carries on where it can (a truncated file ends the
iteration with one).
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Collection, Iterator
from typing import Any, Protocol

from bgpvpn.sources.mrt import BGP4MP_SUBTYPES, MRT_TYPES, TABLE_DUMP_V2_SUBTYPES, read_mrt
from bgpvpn.sources.pcap import PCAP_MAGICS, PCAPNG_SHB, read_pcap
from bgpvpn.sources.raw import read_raw_stream
from bgpvpn.sources.records import (
    Connection,
    MessageRecord,
    MrtPeer,
    PeerIndexRecord,
    Record,
    RibEntryRecord,
    RibPath,
    SourceError,
    StateChangeRecord,
)
from bgpvpn.sources.tcp import DEFAULT_PORTS
from bgpvpn.wire.constants import MARKER

__all__ = [
    "DEFAULT_PORTS",
    "FORMATS",
    "Connection",
    "MessageRecord",
    "MrtPeer",
    "PeerIndexRecord",
    "Record",
    "RibEntryRecord",
    "RibPath",
    "SourceError",
    "StateChangeRecord",
    "decompress",
    "detect_format",
    "read_mrt",
    "read_pcap",
    "read_raw_stream",
    "read_records",
]

FORMATS = ("pcap", "pcapng", "mrt", "bgp")

_GZIP_MAGIC = b"\x1f\x8b"
_BZ2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


class _Decompressor(Protocol):
    """What zlib, bz2 and lzma decompressor objects have in common."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...


def _decompressor(kind: str) -> _Decompressor:
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor()


def _run(dec: _Decompressor, data: bytes, max_length: int = -1) -> bytes:
    if isinstance(dec, bz2.BZ2Decompressor | lzma.LZMADecompressor):
        return dec.decompress(data, max_length)
    zdec: Any = dec  # zlib's decompressor type is not exposed at run time
    out: bytes = zdec.decompress(data, max(max_length, 0))
    return out


def _compression(data: bytes) -> str | None:
    if data.startswith(_GZIP_MAGIC):
        return "gzip"
    if data.startswith(_BZ2_MAGIC):
        return "bz2"
    if data.startswith(_XZ_MAGIC):
        return "xz"
    return None


_MAGIC_OF = {"gzip": _GZIP_MAGIC, "bz2": _BZ2_MAGIC, "xz": _XZ_MAGIC}
_DECOMPRESS_ERRORS = (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError)


def decompress(data: bytes) -> tuple[bytes, str | None]:
    """Undo gzip/bz2/xz compression (several concatenated streams too).

    Returns the decompressed bytes and ``None``, or what could be decompressed and the reason it
    stopped (corrupt or truncated input). Data without a known magic is returned unchanged.
    """
    kind = _compression(data)
    if kind is None:
        return data, None
    parts: list[bytes] = []
    rest = data
    while True:
        dec = _decompressor(kind)
        try:
            # in chunks, so that what precedes a corrupt spot is kept
            for i in range(0, len(rest), _CHUNK):
                parts.append(_run(dec, rest[i : i + _CHUNK]))
                if dec.eof:
                    break
        except _DECOMPRESS_ERRORS as exc:
            return b"".join(parts), f"{kind} data is corrupt: {exc}"
        if not dec.eof:
            return b"".join(parts), f"{kind} data is truncated"
        rest = dec.unused_data
        if not rest.startswith(_MAGIC_OF[kind]):
            break
    return b"".join(parts), None


_CHUNK = 1 << 20


def _head(data: bytes, size: int = 4096) -> bytes:
    """The first ``size`` decompressed bytes (for format detection)."""
    kind = _compression(data)
    if kind is None:
        return data[:size]
    try:
        return _run(_decompressor(kind), data[:_CHUNK], size)
    except _DECOMPRESS_ERRORS:
        return b""


def _detect_plain(head: bytes) -> str | None:
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_SHB:
        return "pcapng"
    if head[:16] == MARKER:
        return "bgp"
    if len(head) >= 12:
        mtype = (head[4] << 8) | head[5]
        subtype = (head[6] << 8) | head[7]
        if (
            mtype in MRT_TYPES
            and (mtype != 13 or subtype in TABLE_DUMP_V2_SUBTYPES)
            and (mtype not in (16, 17) or subtype in BGP4MP_SUBTYPES)
        ):
            return "mrt"
    return None


def detect_format(data: bytes) -> str:
    """ "pcap", "pcapng", "mrt" or "bgp" (a raw stream starting with the marker); compressed
    data is looked into. Raises ``ValueError`` naming what was found when nothing fits."""
    kind = _compression(data)
    head = _head(data)
    if kind is not None and not head:
        # An MRT file whose first timestamp happens to spell a compression magic (bz2: April
        # 2005) does not decompress: take it as it is.
        head, kind = data[:4096], None
    what = f"{kind}-compressed data" if kind else "data"
    if not head:
        raise ValueError(f"cannot detect the capture format: the {what} is empty")
    fmt = _detect_plain(head)
    if fmt is not None:
        return fmt
    raise ValueError(
        f"cannot detect the capture format: the {what} starts with {head[:16].hex()}, which is "
        "not a pcap or pcapng magic number, a BGP marker (16 x ff) or an MRT record header"
    )


def read_records(
    data: bytes, fmt: str | None = None, *, ports: Collection[int] | None = DEFAULT_PORTS
) -> Iterator[Record]:
    """Every record of a capture file, decompressing gzip/bz2/xz input first.

    ``fmt`` is one of ``FORMATS`` or ``None`` to detect it (an undetectable file yields a single
    ``SourceError``). ``ports`` applies to pcaps (see ``read_pcap``). Raises ``ValueError`` only
    for an unknown ``fmt`` name.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown capture format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return _read_records(data, fmt, ports)


def _read_records(data: bytes, fmt: str | None, ports: Collection[int] | None) -> Iterator[Record]:
    kind = _compression(data)
    plain, problem = decompress(data)
    if problem is not None and not plain and _detect_plain(data[:4096]) is not None:
        problem = None  # not compressed after all (see detect_format)
    else:
        data = plain
    if fmt is None:
        try:
            fmt = detect_format(data)
        except ValueError as exc:
            yield SourceError(0, "format", str(exc) if problem is None else problem)
            return
    reader: Callable[[bytes], Iterator[Record]]
    if fmt in ("pcap", "pcapng"):

        def reader(b: bytes) -> Iterator[Record]:
            return read_pcap(b, ports=ports)

    elif fmt == "mrt":
        reader = read_mrt
    else:
        reader = read_raw_stream
    yield from reader(data)
    if problem is not None:
        yield SourceError(len(data), f"{kind} compression", problem)
