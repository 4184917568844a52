"""Fixtures for the Linux data-plane tests: two "hosts" as network namespaces joined by a veth
(underlay 203.0.113.0/24, VTEPs .1 and .2), each driven by a driver object whose netlink
sockets live in that namespace (``netns=`` argument: the test process itself never changes
namespace). Every namespace a test creates, or asks a driver to create, is deleted at the end,
also on failure. Names carry the test process id so parallel runs never meet. The helpers the
tests import (``Lab``, ``pings``, ``run``, ...) are in nslab.py: a conftest module is not
importable by name once another test directory's conftest is loaded."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from nslab import Lab, make_underlay, remove_namespaces


@pytest.fixture
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    pid = os.getpid() % 100000
    lab = Lab(a=f"bvt-a-{pid}", b=f"bvt-b-{pid}")
    lab.namespaces += [lab.a, lab.b]
    try:
        make_underlay(lab.a, lab.b)
        yield lab
    finally:
        remove_namespaces(lab.namespaces)
