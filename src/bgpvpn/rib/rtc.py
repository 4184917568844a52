"""Route Target Constraint (RFC4684): which route targets a peer asked for.

An RT membership route's key (wire form, ``bgpvpn.wire.nlri``) is a prefix length in bits, then
up to 12 octets: origin AS (4) and a prefix of the route target (8). Length 0 is the default
membership (every route target); lengths 32..96 cover the origin AS and ``length - 32`` bits of
the route target (RFC4684 4.1). A route matches a membership when one of its route targets
starts with the membership's route target bits (RFC4684 4.3); the origin AS plays no part.
"""

from __future__ import annotations

from collections.abc import Iterable

# a membership as matched: (bits of route target, their value); (0, b"") is the default
Value = tuple[int, bytes]
DEFAULT: Value = (0, b"")


def membership_value(key: bytes) -> Value:
    """What an RT membership route's key asks for (the origin AS plays no part)."""
    plen = key[0]
    if plen <= 32:
        return DEFAULT  # no route target bits: matches every route target
    bits = plen - 32
    if bits >= 64:
        return (64, key[5:13])
    return (bits, _mask(key[5:], bits))


class Memberships:
    """The RT memberships one peer advertised, indexed for matching: the default, exact
    (96-bit) route targets in a set, shorter prefixes in a set. Counted per value (two routes
    may ask for the same route targets, from different origin ASes), so that routes come and
    go one at a time: ``add``/``discard`` return the value when it appeared/disappeared."""

    __slots__ = ("_counts", "default", "exact", "prefixes")

    def __init__(self, keys: Iterable[bytes] = ()) -> None:
        self.default = False
        self.exact: set[bytes] = set()
        self.prefixes: set[tuple[int, bytes]] = set()
        self._counts: dict[Value, int] = {}
        for key in keys:
            self.add(key)

    def add(self, key: bytes) -> Value | None:
        value = membership_value(key)
        n = self._counts.get(value, 0)
        self._counts[value] = n + 1
        if n:
            return None
        self._index(value, True)
        return value

    def discard(self, key: bytes) -> Value | None:
        value = membership_value(key)
        n = self._counts.get(value, 0)
        if n > 1:
            self._counts[value] = n - 1
            return None
        if n == 0:
            return None
        del self._counts[value]
        self._index(value, False)
        return value

    def _index(self, value: Value, present: bool) -> None:
        bits, rt = value
        if bits == 0:
            self.default = present
        elif bits == 64:
            (self.exact.add if present else self.exact.discard)(rt)
        else:
            (self.prefixes.add if present else self.prefixes.discard)(value)

    def matches(self, route_targets: tuple[bytes, ...]) -> bool:
        if self.default:
            return True
        exact = self.exact
        for rt in route_targets:
            if rt in exact:
                return True
        for bits, prefix in self.prefixes:
            for rt in route_targets:
                if _mask(rt, bits) == prefix:
                    return True
        return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Memberships):
            return NotImplemented
        return (self.default, self.exact, self.prefixes) == (
            other.default,
            other.exact,
            other.prefixes,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Memberships(default={self.default}, exact={len(self.exact)}, "
            f"prefixes={len(self.prefixes)})"
        )


def matches_any(values: Iterable[Value], route_targets: tuple[bytes, ...]) -> bool:
    """Whether one of the route targets is asked for by one of the membership values."""
    for bits, want in values:
        if bits == 0:
            return True
        for rt in route_targets:
            if (rt == want) if bits == 64 else (_mask(rt, bits) == want):
                return True
    return False


def _mask(value: bytes, bits: int) -> bytes:
    """The first ``bits`` bits of ``value``, the rest of the last octet cleared."""
    n = (bits + 7) >> 3
    head = value[:n]
    if bits & 7 and len(head) == n:
        head = head[:-1] + bytes((head[-1] & (0xFF << (8 - (bits & 7))) & 0xFF,))
    return head


def membership_key(origin_as: int, route_target: bytes | None) -> bytes:
    """The key of our RT membership route for ``route_target`` (None: the default membership)."""
    if route_target is None:
        return b"\x00"
    return bytes((96,)) + origin_as.to_bytes(4, "big") + route_target
