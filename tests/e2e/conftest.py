"""Fixtures of the end-to-end tests: one lab per module (namespaces, GoBGP route reflector, FRR
host), reset after each test (its daemons stopped, its VMs deleted), deleted at the end, also
on failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2elab import FRR_BGPD, FRR_ZEBRA, Net
from harness import require


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    require("gobgpd", "gobgp", "bridge", "ping", "vtysh", FRR_ZEBRA, FRR_BGPD)
    n = Net.build()
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def lab(net: Net) -> Iterator[Net]:
    """The module's lab, reset after the test."""
    try:
        yield net
    finally:
        net.reset()
