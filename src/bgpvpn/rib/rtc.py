"""Route Target Constraint (RFC4684): which route targets a peer asked for.

An RT membership route's key (wire form, ``bgpvpn.wire.nlri``) is a prefix length in bits, then
up to 12 octets: origin AS (4) and a prefix of the route target (8). Length 0 is the default
membership (every route target); lengths 32..96 cover the origin AS and ``length - 32`` bits of
the route target (RFC4684 4.1). A route matches a membership when one of its route targets
starts with the membership's route target bits (RFC4684 4.3); the origin AS plays no part.
"""

from __future__ import annotations

from collections.abc import Iterable


class Memberships:
    """The RT memberships one peer advertised, indexed for matching: the default, exact
    (96-bit) route targets in a set, shorter prefixes in a list."""

    __slots__ = ("default", "exact", "prefixes")

    def __init__(self, keys: Iterable[bytes] = ()) -> None:
        self.default = False
        self.exact: set[bytes] = set()
        self.prefixes: set[tuple[int, bytes]] = set()
        for key in keys:
            self.add(key)

    def add(self, key: bytes) -> None:
        plen = key[0]
        if plen == 0 or plen <= 32:
            self.default = True  # no route target bits: matches every route target
        elif plen == 96:
            self.exact.add(key[5:13])
        else:
            bits = plen - 32
            self.prefixes.add((bits, _mask(key[5:], bits)))

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
