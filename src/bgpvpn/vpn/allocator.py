"""Numbers the vpn layer hands out: instance indexes, VNIs/labels, derived RDs and router MACs.

``NumberPool`` gives the lowest free number from a base in amortised O(log n): numbers below the
high-water mark are either used or waiting in a heap of freed numbers (stale heap entries, taken
again by ``reserve``, are skipped lazily).
"""

from __future__ import annotations

import hashlib
import heapq

MAX_INDEX = 0xFFFF  # the 16-bit number of a type-1 RD
FIRST_VNI = 1000


class NumberPool:
    __slots__ = ("_freed", "_next", "first", "last", "used")

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        self.last = last
        self.used: set[int] = set()
        self._freed: list[int] = []
        self._next = first

    def allocate(self) -> int | None:
        """The lowest free number (marked used), or None when the pool is exhausted."""
        freed = self._freed
        while freed:
            n = heapq.heappop(freed)
            if n not in self.used:
                self.used.add(n)
                return n
        while self._next in self.used:
            self._next += 1
        if self._next > self.last:
            return None
        n = self._next
        self._next += 1
        self.used.add(n)
        return n

    def reserve(self, n: int) -> bool:
        """Mark ``n`` used (a number given by the user or restored); False if it already was."""
        if n in self.used:
            return False
        self.used.add(n)
        return True

    def release(self, n: int) -> None:
        if n in self.used:
            self.used.discard(n)
            if self.first <= n < self._next:
                heapq.heappush(self._freed, n)


def derive_rd(router_id: str, index: int) -> str:
    """The type-1 RD of instance ``index``: ``router-id:index`` (RFC4364 4.2)."""
    return f"{router_id}:{index}"


def derive_router_mac(vtep: str, vni: int) -> str:
    """A stable locally administered unicast MAC for (vtep, vni): 02:xx:xx:xx:xx:xx."""
    digest = hashlib.sha1(f"{vtep}|{vni}".encode()).digest()
    return "02:" + digest[:5].hex(":")
