"""The daemon's netlink work runs on one dedicated thread.

pyroute2 (0.9) runs its synchronous calls on an asyncio loop of its own, which cannot run in a
thread whose event loop is already running: the daemon's. So the kernel drivers are created,
called and closed on one worker thread, and the event loop waits for each call (a call is one
batch of netlink requests: the same blocking the loop would see if netlink were called
directly, without pyroute2's restriction). One thread for all of them keeps the order of
changes across drivers.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bgpvpn.dataplane.driver import Driver
from bgpvpn.dataplane.model import Change, InstanceState, LearnedMac, ReconcileReport

T = TypeVar("T")


class NetlinkWorker:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the worker thread and return its result (or raise its error)."""
        return self._pool.submit(fn, *args).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class ThreadedDriver:
    """A driver created and used on the worker thread, with the ``Driver`` interface."""

    def __init__(self, worker: NetlinkWorker, factory: Callable[[], Driver]) -> None:
        self._worker = worker
        self.driver = worker.call(factory)
        self.name = self.driver.name

    def apply(self, changes: Sequence[Change]) -> None:
        self._worker.call(self.driver.apply, changes)

    def reconcile(self, desired: Mapping[str, InstanceState]) -> ReconcileReport:
        return self._worker.call(self.driver.reconcile, desired)

    def state(self) -> dict[str, Any]:
        return self._worker.call(self.driver.state)

    def instance_state(self, instance_id: str) -> Any:
        return self._worker.call(self.driver.instance_state, instance_id)

    def close(self, remove: bool) -> None:
        self._worker.call(self.driver.close, remove)

    def learning_socket(self) -> socket.socket | None:
        """The driver's MAC learning socket (see ``bgpvpn.dataplane.driver``), or None."""
        fn = getattr(self.driver, "learning_socket", None)
        return None if fn is None else self._worker.call(fn)

    def read_learned(self, dump: bool = False) -> list[LearnedMac]:
        fn = getattr(self.driver, "read_learned", None)
        return [] if fn is None else self._worker.call(fn, dump)


class ThreadedObject:
    """Any other object whose methods must run on the worker thread (the kernel route table):
    attribute access gives a function that calls the method there."""

    def __init__(self, worker: NetlinkWorker, factory: Callable[[], Any]) -> None:
        self._worker = worker
        self._target = worker.call(factory)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)
        if not callable(method):
            return method

        def call(*args: Any) -> Any:
            return self._worker.call(method, *args)

        return call
