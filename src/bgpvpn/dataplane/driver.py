"""The data-plane driver interface. One driver instance per host serves one or both instance
kinds (``[dataplane] evpn = ...`` / ``ipvpn = ...`` name the drivers).

Calls come from the event loop, synchronously, in order; a driver batches each ``apply`` (one
netlink round trip where it can) and must not raise for one bad entry: it logs it, counts it in
``state()`` and goes on with the rest.

Optional (look for it with ``getattr``; the dummy driver has none): MAC learning, for E-VPN
instances with ``advertise_learned``. ``learning_socket() -> socket | None`` is a nonblocking
socket the event loop watches (``loop.add_reader``); when it is readable, or once at start,
``read_learned(dump: bool) -> list[LearnedMac]`` gives the MACs learned or forgotten since the
last call (``dump``: every MAC learned now, and the ones reported before that are gone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bgpvpn.dataplane.model import Change, InstanceState, ReconcileReport


class Driver(Protocol):
    name: str

    def apply(self, changes: Sequence[Change]) -> None:
        """Program a batch of changes, in order."""

    def reconcile(self, desired: Mapping[str, InstanceState]) -> ReconcileReport:
        """Make the data plane hold exactly ``desired`` (instance id -> state): remove what this
        driver created that is not desired (also after a crash), add what is missing."""

    def state(self) -> dict[str, Any]:
        """What is programmed, as JSON for the looking glass."""

    def instance_state(self, instance_id: str) -> Any:
        """One instance's entry of ``state()["instances"]`` (None when the driver has no such
        instance), without building the whole state, which grows with the number of
        instances."""

    def close(self, remove: bool) -> None:
        """At shutdown; ``remove`` deletes every object the driver created."""
