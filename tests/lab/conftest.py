"""The ``labenv`` fixture: a lab state directory of the test's own, emptied by ``lab down``
of every lab the test named, also when it fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from labtest import LabEnv


@pytest.fixture
def labenv() -> Iterator[LabEnv]:
    env = LabEnv()
    try:
        yield env
    finally:
        env.close()
