"""One bgpvpn host: the BGP speaker, the VPN instances over its RIB, the data-plane drivers and
the intent store, started and stopped together.

Start order matters for a restart without loss: the stored intent (instances, attachments,
announced routes) is put back into the RIB and the drivers reconcile the data plane *before*
the sessions come up, so the first UPDATEs and the End-of-RIB a peer gets after a restart carry
the full table (what graceful restart on the peers relies on).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from bgpvpn.api.context import ApiContext, LogBuffer
from bgpvpn.api.routespec import RouteSpec, RouteSpecError, build_route
from bgpvpn.config import Config
from bgpvpn.dataplane.driver import Driver
from bgpvpn.dataplane.dummy import DummyDriver
from bgpvpn.dataplane.installer import RouteInstaller, enabled_families
from bgpvpn.dataplane.worker import NetlinkWorker, ThreadedDriver, ThreadedObject
from bgpvpn.runtime.speaker import Speaker
from bgpvpn.store.sqlite import SqliteStore
from bgpvpn.vpn.manager import StoredInstance, VpnManager
from bgpvpn.vpn.model import InstanceType

log = logging.getLogger("bgpvpn.service")


class DriverUnavailable(Exception):
    """A configured data-plane driver cannot run here (the reason says why)."""


def make_drivers(config: Config, worker: NetlinkWorker) -> dict[InstanceType, Driver]:
    """The driver of each instance kind; ``dummy`` is one object shared by both kinds; the
    kernel drivers live on the netlink worker thread."""
    dp = config.dataplane
    dummy: DummyDriver | None = None
    out: dict[InstanceType, Driver] = {}
    for kind, name in ((InstanceType.EVPN, dp.evpn), (InstanceType.IPVPN, dp.ipvpn)):
        if name == "dummy":
            dummy = dummy or DummyDriver()
            out[kind] = dummy
        else:
            out[kind] = _linux_driver(kind, worker)
    return out


def _linux_driver(kind: InstanceType, worker: NetlinkWorker) -> Driver:
    try:
        from bgpvpn.dataplane import linux
    except ImportError as exc:  # pyroute2 missing
        raise DriverUnavailable(f"dataplane.{kind.value}: linux driver: {exc}") from None
    factory: Callable[[], Driver] = (
        linux.LinuxEvpnDriver if kind is InstanceType.EVPN else linux.LinuxIpvpnDriver
    )
    try:
        return ThreadedDriver(worker, factory)
    except OSError as exc:
        raise DriverUnavailable(f"dataplane.{kind.value}: linux driver: {exc}") from None


class Service:
    def __init__(self, config: Config, logs: LogBuffer | None = None) -> None:
        self.config = config
        self.speaker = Speaker(config)
        self.store = (
            SqliteStore(config.store.path, synchronous=config.store.synchronous)
            if config.store.path
            else None
        )
        boot_id = self.store.boot_id if self.store is not None else uuid.uuid4().hex
        self.speaker.boot_id = boot_id
        self.worker = NetlinkWorker()
        self.drivers = make_drivers(config, self.worker)
        self.vpn = VpnManager(
            self.speaker.rib,
            local_asn=config.bgp.asn,
            router_id=config.bgp.router_id,
            vtep=config.vtep,
            drivers=self.drivers,
            now=self._now,
            store=self.store,
        )
        # the data-plane changes of one received UPDATE (or a session going down) go to the
        # drivers as one batch
        self.speaker.around_changes = self.vpn.batch
        self.context = ApiContext(self.speaker, self.vpn, boot_id, self.store, logs or LogBuffer())
        self.installer: RouteInstaller | None = None
        self._learning: list[tuple[Any, int]] = []  # (driver, fd) watched for learned MACs
        kernel = config.kernel
        families = enabled_families(kernel.ipv4, kernel.ipv6)
        if families:
            try:
                from bgpvpn.dataplane.routes import KernelRouteTable
            except ImportError as exc:
                raise DriverUnavailable(f"kernel: cannot program kernel routes: {exc}") from None
            table = ThreadedObject(
                self.worker,
                lambda: KernelRouteTable(
                    table=kernel.table, protocol=kernel.protocol, metric=kernel.metric
                ),
            )
            self.installer = RouteInstaller(self.speaker.rib, table, families, self._call_soon)

    def _call_soon(self, fn: Callable[[], None]) -> None:
        loop = self.speaker.loop
        if loop is None:
            fn()
        else:
            loop.call_soon(fn)

    def _now(self) -> float:
        return self.speaker.now() if self.speaker.loop is not None else time.monotonic()

    async def start(self) -> None:
        self.restore()
        if self.installer is not None:
            report = self.installer.start()
            if report.changed:
                log.info("kernel routes reconciled: %s", report)
        self._start_learning()
        await self.speaker.start()

    def _start_learning(self) -> None:
        """Drivers that learn MACs (``advertise_learned``): their socket is watched on the event
        loop; one dump first, so MACs learned before a restart are advertised."""
        loop = asyncio.get_running_loop()
        seen: set[int] = set()
        for driver in self.drivers.values():
            if id(driver) in seen:
                continue
            seen.add(id(driver))
            get_socket = getattr(driver, "learning_socket", None)
            if get_socket is None:
                continue
            try:
                sock = get_socket()
            except OSError as exc:
                log.error("%s: no MAC learning: %s", driver.name, exc)
                continue
            if sock is None:
                continue
            self._read_learned(driver, True)
            loop.add_reader(sock.fileno(), self._read_learned, driver, False)
            self._learning.append((driver, sock.fileno()))

    def _read_learned(self, driver: Any, dump: bool) -> None:
        try:
            learned = driver.read_learned(dump)
        except Exception as exc:  # never stop the loop's reader for one bad read
            log.error("%s: reading learned MACs: %r", driver.name, exc)
            return
        if not learned:
            return
        with self.vpn.batch():
            for m in learned:
                self.vpn.mac_learned(m.instance_id, m.port, m.mac, m.added)
        self.speaker.wake()

    def _stop_learning(self) -> None:
        loop = self.speaker.loop or asyncio.get_running_loop()
        for _driver, fd in self._learning:
            loop.remove_reader(fd)
        self._learning.clear()

    def restore(self) -> None:
        """Put the stored intent back: instances and attachments (the drivers reconcile), then
        the routes announced through ``/v1/routes`` with what is left of their lease."""
        if self.store is None:
            self.vpn.reconcile()
            return
        intent = self.store.load(skip_corrupt=True)
        for what in intent.skipped:
            log.error("stored intent cannot be read, skipped: %s", what)
        self.vpn.restore(
            [StoredInstance(i.spec, i.index, i.rd, i.vni) for i in intent.instances],
            intent.attachments,
            intent.static_routes,
        )
        for problem in self.vpn.restore_errors:
            log.error("stored intent not restored: %s", problem)
        wall = time.time()
        restored = 0
        for route_id, spec_json, lease_until in intent.routes:
            try:
                spec = RouteSpec.model_validate(spec_json)
                built = build_route(spec, self.config.bgp.asn)
            except (RouteSpecError, ValueError) as exc:
                log.warning("stored route %s cannot be restored: %s", route_id, exc)
                continue
            lease = None if lease_until is None else lease_until - wall
            if lease is not None and lease <= 0:
                with self.store.transaction() as tx:
                    tx.delete_route(route_id)
                continue
            self.speaker.rib.announce(
                built.family, built.key, built.data, built.attributes, self._now(), lease
            )
            restored += 1
        log.info(
            "restored %d instances, %d attachments, %d routes from %s",
            len(intent.instances),
            len(intent.attachments),
            restored,
            self.config.store.path,
        )

    async def stop(self, message: str = "") -> None:
        self._stop_learning()
        await self.speaker.stop(message)
        self.vpn.close(remove=True)
        if self.installer is not None:
            self.installer.close(remove=True)
        self.worker.close()
        if self.store is not None:
            self.store.close()
