"""``VpnManager``: VPN instances over the RIB, sans-IO (no sockets, no asyncio; the clock is
injected).

Every call goes the same way: validate everything (``VpnError`` naming the field, nothing
changed), then one store transaction (if it raises, nothing changed either), then apply to the
RIB (announce/withdraw, subscriptions, RT memberships) and collect the data-plane ``Change``
values, given to each driver as one batch when the call ends. Best-path changes the RIB reports
while no call is running (received UPDATEs) are applied one change at a time unless the caller
groups them with ``with manager.batch(): rib.receive(...)`` (one batch per UPDATE).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bgpvpn.dataplane.driver import Driver
from bgpvpn.dataplane.dummy import DummyDriver
from bgpvpn.dataplane.model import Change, InstanceState, ReconcileReport
from bgpvpn.rib.decision import PathSource
from bgpvpn.rib.table import LOCAL_PEER, Rib
from bgpvpn.vpn import validate
from bgpvpn.vpn.advertise import Advert
from bgpvpn.vpn.allocator import (
    FIRST_VNI,
    MAX_INDEX,
    NumberPool,
    derive_rd,
    derive_router_mac,
)
from bgpvpn.vpn.instance import FamilyKey, Instance
from bgpvpn.vpn.model import (
    MAX_VNI,
    InstanceSpec,
    InstanceType,
    PortAttachment,
    StaticRoute,
    VpnError,
    parse_mac,
    parse_route_targets,
    rt_raw,
)
from bgpvpn.vpn.view import AdvertisedRoute, InstanceView

# ---------------------------------------------------------------- store interface


class IntentTransaction(Protocol):
    def put_instance(self, spec: InstanceSpec, index: int, rd: str, vni: int) -> None: ...
    def delete_instance(self, instance_id: str) -> None: ...
    def put_attachment(self, att: PortAttachment) -> None: ...
    def delete_attachment(self, instance_id: str, port: str, mac: str) -> None: ...


@runtime_checkable
class StaticRouteTransaction(Protocol):
    """Optional: a store whose transactions also keep static routes (used when present;
    ``spec`` is ``static_route_json`` of the route, given back to ``restore``)."""

    def put_static_route(self, instance_id: str, prefix: str, spec: dict[str, Any]) -> None: ...
    def delete_static_route(self, instance_id: str, prefix: str) -> None: ...


class IntentStore(Protocol):
    def transaction(self) -> AbstractContextManager[IntentTransaction]: ...


@dataclass(frozen=True)
class ChangeResult:
    """What a call did: route text forms (``wire.routes`` str()) announced, withdrawn, and
    re-announced with other attributes or data (``routes_updated``)."""

    routes_added: tuple[str, ...]
    routes_removed: tuple[str, ...]
    instances_created: tuple[str, ...] = ()
    instances_removed: tuple[str, ...] = ()
    routes_updated: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredInstance:
    spec: InstanceSpec
    index: int
    rd: str
    vni: int


class _Source:
    """A path source for the decision process when the RIB knows none (local routes)."""

    __slots__ = ("address", "ibgp", "local", "router_id")

    def __init__(self, local: bool, ibgp: bool, router_id: bytes, address: bytes) -> None:
        self.local = local
        self.ibgp = ibgp
        self.router_id = router_id
        self.address = address


class _Reservation:
    """Numbers taken while planning a call, given back if the call is refused or the store
    fails."""

    def __init__(self) -> None:
        self.undo: list[Callable[[], None]] = []

    def rollback(self) -> None:
        for fn in reversed(self.undo):
            fn()
        self.undo.clear()


@dataclass
class _NewInstance:
    spec: InstanceSpec
    index: int = 0
    rd: str = ""
    vni: int = 0


class VpnManager:
    def __init__(
        self,
        rib: Rib,
        *,
        local_asn: int,
        router_id: str,
        vtep: str,
        drivers: Mapping[InstanceType, Driver],
        now: Callable[[], float],
        store: IntentStore | None = None,
    ) -> None:
        self.rib = rib
        self.local_asn = local_asn
        self.router_id = str(ipaddress.IPv4Address(router_id))
        self.vtep = str(ipaddress.ip_address(vtep))
        default: Driver | None = None
        self.drivers: dict[InstanceType, Driver] = {}
        for t in InstanceType:
            d = drivers.get(t)
            if d is None:
                default = default or DummyDriver()
                d = default
            self.drivers[t] = d
        self.now = now
        self.store = store
        self._instances: dict[str, Instance] = {}
        # instances and attachments made or changed so far (the daemon's GC policy reads it)
        self.intent_made = 0
        self._indexes = NumberPool(1, MAX_INDEX)
        self._vni_pool = NumberPool(FIRST_VNI, MAX_VNI)
        self._rds: dict[str, str] = {}  # rd -> instance id
        self._vnis: dict[int, str] = {}  # vni -> instance id
        self._pending: dict[int, tuple[Driver, list[Change]]] = {}
        self._depth = 0
        self._discard = False  # restore/close: drivers are reconciled/closed instead
        self._recording = False
        self._before: dict[FamilyKey, Advert | None] = {}
        self._after: dict[FamilyKey, Advert | None] = {}
        self._rt_refs: dict[bytes, int] = {}
        self._rt_seen: dict[str, frozenset[bytes]] = {}
        self._rt_dirty: set[str] = set()
        self._local_source = _Source(True, False, rib.router_id, b"")
        self._unknown_source = _Source(False, True, b"\xff" * 4, b"\xff" * 4)
        self.restore_errors: list[str] = []
        self.driver_errors = 0
        self.last_driver_error = ""
        self._emitters: dict[InstanceType, Callable[[Change], None]] = {}
        self._batch = _Batch(self)
        self._one_call = _Call(self)

    # ---------------------------------------------------------------- plumbing

    def _source_of(self, peer_id: str) -> PathSource:
        if peer_id == LOCAL_PEER:
            return self._local_source
        # the RIB's peer objects carry exactly the decision inputs (local, ibgp, router id,
        # address); it has no public accessor for them yet
        peer = self.rib._peers.get(peer_id)
        return peer if peer is not None else self._unknown_source

    def _emitter(self, kind: InstanceType) -> Callable[[Change], None]:
        """The change sink of the instances of ``kind`` (one per kind, shared)."""
        made = self._emitters.get(kind)
        if made is None:
            made = self._emitters[kind] = self._make_emitter(kind)
        return made

    def _make_emitter(self, kind: InstanceType) -> Callable[[Change], None]:
        driver = self.drivers[kind]
        key = id(driver)

        def emit(change: Change) -> None:
            if self._discard:
                return
            if self._depth == 0:
                self._apply(driver, [change])
                return
            slot = self._pending.get(key)
            if slot is None:
                slot = self._pending[key] = (driver, [])
            slot[1].append(change)

        return emit

    def _apply(self, driver: Driver, changes: list[Change]) -> None:
        try:
            driver.apply(changes)
        except Exception as exc:  # a driver must not raise; if it does, the intent stands
            self.driver_errors += 1
            self.last_driver_error = f"{driver.name}: {exc!r}"

    def _journal(self, fk: FamilyKey, before: Advert | None, after: Advert | None) -> None:
        if self._recording:
            if fk not in self._before:
                self._before[fk] = before
            self._after[fk] = after

    def batch(self) -> AbstractContextManager[None]:
        """Group the data-plane changes of everything done inside (e.g. ``rib.receive`` of one
        UPDATE) into one batch per driver."""
        return self._batch

    def flush(self) -> None:
        pending = list(self._pending.values())
        self._pending.clear()
        for driver, changes in pending:
            if changes:
                self._apply(driver, changes)

    def _call(self) -> AbstractContextManager[None]:
        """One API call: record the routes it changes (a batch too)."""
        return self._one_call

    def _result(self, created: Sequence[str] = (), removed: Sequence[str] = ()) -> ChangeResult:
        added: list[str] = []
        gone: list[str] = []
        updated: list[str] = []
        for fk, after in self._after.items():
            before = self._before.get(fk)
            if before is None and after is not None:
                added.append(after.text)
            elif before is not None and after is None:
                gone.append(before.text)
            elif (
                before is not None
                and after is not None
                and (before.attrs is not after.attrs or before.data != after.data)
            ):
                updated.append(after.text)
        self._before.clear()
        self._after.clear()
        return ChangeResult(
            tuple(added), tuple(gone), tuple(created), tuple(removed), tuple(updated)
        )

    def _imports_changed(self, instance_id: str) -> None:
        self._rt_dirty.add(instance_id)

    def _update_rtc(self) -> None:
        """RT constraint: this host asks for the union of its instances' import RTs (never the
        export RTs). Counted per RT, so that a call costs only what it changed."""
        refs = self._rt_refs
        added: list[bytes] = []
        removed: list[bytes] = []
        for iid in self._rt_dirty:
            inst = self._instances.get(iid)
            old = self._rt_seen.pop(iid, frozenset())
            new = inst._import_raw if inst is not None else frozenset()
            if inst is not None:
                self._rt_seen[iid] = new
            for rt in old - new:
                refs[rt] -= 1
                if not refs[rt]:
                    del refs[rt]
                    removed.append(rt)
            for rt in new - old:
                n = refs.get(rt, 0)
                refs[rt] = n + 1
                if n == 0:
                    added.append(rt)
        self._rt_dirty.clear()
        if added or removed:
            # an RT dropped by one instance and taken by another in the same call stays
            gone = set(removed) - set(added)
            self.rib.change_local_memberships(added, [rt for rt in removed if rt in gone])

    def _get(self, instance_id: str) -> Instance:
        inst = self._instances.get(instance_id) if isinstance(instance_id, str) else None
        if inst is None:
            raise VpnError("instance_id", f"no instance {instance_id!r}", 404)
        return inst

    def _transaction(self, write: bool = True) -> AbstractContextManager[IntentTransaction | None]:
        if self.store is None or not write:
            return _NO_TRANSACTION
        return self.store.transaction()

    # ---------------------------------------------------------------- numbers

    def _check_same(self, inst: Instance, spec: InstanceSpec, prefix: str = "") -> None:
        """An instance given again must not contradict the existing one (409)."""
        if spec.instance_type != inst.spec.instance_type:
            raise VpnError(
                prefix + "instance_type",
                f"instance {inst.instance_id!r} is of type {inst.spec.instance_type.value}",
                409,
            )
        if spec.vni is not None and spec.vni != inst.vni:
            raise VpnError(prefix + "vni", f"instance {inst.instance_id!r} has VNI {inst.vni}", 409)
        if spec.rd is not None and spec.rd != inst.rd:
            raise VpnError(prefix + "rd", f"instance {inst.instance_id!r} has RD {inst.rd}", 409)
        if spec.encapsulation != inst.spec.encapsulation:
            raise VpnError(
                prefix + "encapsulation",
                f"instance {inst.instance_id!r} uses {inst.spec.encapsulation.value}",
                409,
            )

    def _number(self, new: _NewInstance, res: _Reservation, prefix: str = "") -> None:
        """Index, RD and VNI of a new instance (given ones checked for conflicts)."""
        spec = new.spec
        if spec.vni is not None:
            owner = self._vnis.get(spec.vni)
            if owner is not None:
                raise VpnError(prefix + "vni", f"VNI {spec.vni} is used by {owner!r}", 409)
            self._vni_pool.reserve(spec.vni)
            new.vni = spec.vni
        else:
            maximum = validate.max_vni(spec.encapsulation, spec.instance_type)
            vni = self._vni_pool.allocate()
            while vni is not None and vni in self._vnis:  # a VNI restored from outside the pool
                vni = self._vni_pool.allocate()
            if vni is None or vni > maximum:
                raise VpnError(prefix + "vni", "no free VNI left", 409)
            new.vni = vni
        self._vnis[new.vni] = spec.instance_id
        vni_taken = new.vni

        def undo_vni() -> None:
            self._vni_pool.release(vni_taken)
            self._vnis.pop(vni_taken, None)

        res.undo.append(undo_vni)
        if spec.rd is not None and spec.rd in self._rds:
            raise VpnError(prefix + "rd", f"RD {spec.rd} is used by {self._rds[spec.rd]!r}", 409)
        skipped: list[int] = []
        while True:
            index = self._indexes.allocate()
            if index is None:
                raise VpnError(prefix + "instance_id", "no free instance index left", 409)
            rd = spec.rd or derive_rd(self.router_id, index)
            if rd not in self._rds:
                break
            skipped.append(index)  # a given RD looks like a derived one
        for n in skipped:
            self._indexes.release(n)
        new.index, new.rd = index, rd
        self._rds[rd] = spec.instance_id

        def undo_index() -> None:
            self._indexes.release(index)
            self._rds.pop(rd, None)

        res.undo.append(undo_index)

    def _start(self, new: _NewInstance) -> Instance:
        spec = new.spec
        inst = Instance(
            spec,
            new.index,
            new.rd,
            new.vni,
            derive_router_mac(self.vtep, new.vni),
            vtep=self.vtep,
            rib=self.rib,
            now=self.now,
            emit=self._emitter(spec.instance_type),
            journal=self._journal,
            source_of=self._source_of,
            on_imports=self._imports_changed,
        )
        self._instances[spec.instance_id] = inst
        inst.start()
        return inst

    def _remove(self, inst: Instance) -> None:
        for port, mac in list(inst.ports):
            inst.detach(port, mac)
        inst.stop()
        del self._instances[inst.instance_id]
        self._rt_dirty.add(inst.instance_id)
        self._indexes.release(inst.index)
        self._vni_pool.release(inst.vni)
        self._rds.pop(inst.rd, None)
        self._vnis.pop(inst.vni, None)

    # ---------------------------------------------------------------- instances

    def create_instance(self, spec: InstanceSpec) -> InstanceView:
        spec = validate.spec(spec)
        existing = self._instances.get(spec.instance_id)
        if existing is not None:
            self._check_same(existing, spec)
            return self._view(existing)  # the same instance again: nothing to do
        res = _Reservation()
        new = _NewInstance(spec)
        try:
            self._number(new, res)
            with self._transaction() as tx:
                if tx is not None:
                    tx.put_instance(spec, new.index, new.rd, new.vni)
        except BaseException:
            res.rollback()
            raise
        self.intent_made += 1
        with self._call():
            inst = self._start(new)
            self._update_rtc()
            self._result()
        return self._view(inst)

    def update_instance(
        self,
        instance_id: str,
        *,
        import_rts: tuple[str, ...] | None = None,
        export_rts: tuple[str, ...] | None = None,
        local_pref: int | None = None,
        description: str | None = None,
        advertise_learned: bool | None = None,
    ) -> ChangeResult:
        """Change route targets (live: routes are imported/dropped, ours re-advertised, RT
        memberships updated), local preference, description, or the advertisement of learned
        MACs (an E-VPN's)."""
        inst = self._get(instance_id)
        spec = inst.spec
        if advertise_learned is not None and not isinstance(advertise_learned, bool):
            raise VpnError("advertise_learned", "must be true or false")
        learn = spec.advertise_learned if advertise_learned is None else advertise_learned
        if learn and spec.instance_type != InstanceType.EVPN:
            raise VpnError("advertise_learned", "only an E-VPN instance advertises learned MACs")
        imports = (
            parse_route_targets(import_rts, "import_rts")
            if import_rts is not None
            else spec.import_rts
        )
        exports = (
            parse_route_targets(export_rts, "export_rts")
            if export_rts is not None
            else spec.export_rts
        )
        lp = validate.u32(local_pref, "local_pref") if local_pref is not None else spec.local_pref
        desc = str(description) if description is not None else spec.description
        fresh = dataclasses.replace(
            spec,
            import_rts=imports,
            export_rts=exports,
            local_pref=lp,
            description=desc,
            advertise_learned=learn,
        )
        with self._call():
            if fresh == spec:
                return self._result()
            with self._transaction() as tx:
                if tx is not None:
                    tx.put_instance(fresh, inst.index, inst.rd, inst.vni)
            inst.set_description(desc)
            inst.set_local_pref(lp)
            inst.set_route_targets(imports, exports)
            inst.set_advertise_learned(learn)
            self._update_rtc()
            return self._result()

    def delete_instance(self, instance_id: str) -> ChangeResult:
        inst = self._get(instance_id)
        with self._call():
            with self._transaction() as tx:
                if tx is not None:
                    for port, mac in inst.ports:
                        tx.delete_attachment(instance_id, port, mac)
                    tx.delete_instance(instance_id)
            self._remove(inst)
            self._update_rtc()
            return self._result(removed=(instance_id,))

    # ---------------------------------------------------------------- ports

    def attach(
        self, att: PortAttachment, instance: InstanceSpec | None = None, *, checked: bool = False
    ) -> ChangeResult:
        """Attach a port (BaGPipe semantics): the instance is created if missing, from
        ``instance`` or from the attachment's type and RTs; an existing one must be of the same
        type and gets the attachment's RTs added. Attaching the same (instance, port, MAC) again
        adds the new addresses. ``checked``: ``att`` is already ``validate.attachment``'s."""
        if instance is not None:
            iid = att.instance_id
            inst = self._instances.get(iid) if isinstance(iid, str) else None
            if inst is not None and _adds_nothing(instance, inst.spec, att):
                instance = None  # the common case, an attach to an existing instance: no checks
        return self._attach_all([att], instance, "", checked=checked)

    def attach_many(self, atts: Sequence[PortAttachment]) -> ChangeResult:
        """Bulk desired state: all validated first (errors name ``[i].field``, ``i`` the
        position in ``atts``), one store transaction, one driver batch."""
        return self._attach_all(list(atts), None, "[{i}].")

    def _attach_all(
        self,
        atts: list[PortAttachment],
        instance: InstanceSpec | None,
        prefix_fmt: str,
        write: bool = True,
        checked: bool = False,
    ) -> ChangeResult:
        new_specs: dict[str, _NewInstance] = {}
        rt_changes: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        merged: dict[tuple[str, str, str], PortAttachment] = {}
        macs: dict[tuple[str, str], str] = {}  # (instance, mac) -> port, planned
        ips: dict[tuple[str, str], tuple[str, str]] = {}  # (instance, ip) -> (port, mac)
        given = validate.spec(instance) if instance is not None else None
        for i, raw in enumerate(atts):
            pre = prefix_fmt.format(i=i)
            try:
                att = raw if checked else validate.attachment(raw)
            except VpnError as e:
                raise VpnError(pre + e.field, e.reason, e.status) from None
            iid = att.instance_id
            inst = self._instances.get(iid)
            if inst is not None:
                if att.instance_type != inst.spec.instance_type:
                    raise VpnError(
                        pre + "instance_type",
                        f"instance {iid!r} is of type {inst.spec.instance_type.value}",
                        409,
                    )
                if given is not None and given.instance_id == iid:
                    self._check_same(inst, given)
                imports, exports = rt_changes.get(iid, (inst.spec.import_rts, inst.spec.export_rts))
                extra_i = given.import_rts if given is not None and given.instance_id == iid else ()
                extra_e = given.export_rts if given is not None and given.instance_id == iid else ()
                imports = _union(imports, extra_i, att.import_rts)
                exports = _union(exports, extra_e, att.export_rts)
                if (imports, exports) != (inst.spec.import_rts, inst.spec.export_rts):
                    rt_changes[iid] = (imports, exports)
            else:
                planned = new_specs.get(iid)
                if planned is None:
                    if given is not None:
                        if given.instance_id != iid:
                            raise VpnError(
                                "instance_id",
                                f"the instance given is {given.instance_id!r}, the attachment's "
                                f"{iid!r}",
                            )
                        base = given
                    else:
                        base = InstanceSpec(iid, att.instance_type)
                    planned = new_specs[iid] = _NewInstance(base)
                if att.instance_type != planned.spec.instance_type:
                    raise VpnError(
                        pre + "instance_type",
                        f"instance {iid!r} is of type {planned.spec.instance_type.value}",
                        409,
                    )
                imports = _union(planned.spec.import_rts, att.import_rts)
                exports = _union(planned.spec.export_rts, att.export_rts)
                if (imports, exports) != (planned.spec.import_rts, planned.spec.export_rts):
                    planned.spec = dataclasses.replace(
                        planned.spec, import_rts=imports, export_rts=exports
                    )
            # the same MAC or address on another port of the instance
            mk = (iid, att.mac)
            holder = macs.get(mk) or (inst.mac_port.get(att.mac) if inst is not None else None)
            if holder is not None and holder != att.port:
                raise VpnError(
                    pre + "mac", f"{att.mac} is attached to port {holder!r} in {iid!r}", 409
                )
            macs[mk] = att.port
            for n, text in enumerate(att.ips):
                ip = validate.iface(text).ip
                owner = ips.get((iid, ip))
                if owner is None and inst is not None:
                    owner = inst.ip_owner.get(ip)
                if owner is not None and owner != (att.port, att.mac):
                    raise VpnError(
                        pre + f"ips[{n}]",
                        f"{ip} is on port {owner[0]!r} ({owner[1]}) in {iid!r}",
                        409,
                    )
                ips[(iid, ip)] = (att.port, att.mac)
            ak = (iid, att.port, att.mac)
            old = merged.get(ak)
            if old is None and inst is not None:
                old = inst.ports.get((att.port, att.mac))
            if old is not None:
                att = dataclasses.replace(att, ips=_union(old.ips, att.ips))
            merged[ak] = att
        res = _Reservation()
        try:
            for new in new_specs.values():
                # new.spec is canonical: the validated ``given`` or InstanceSpec(id, type), with
                # the unions of canonical route target lists
                self._number(new, res)
            with self._transaction(write) as tx:
                if tx is not None:
                    for new in new_specs.values():
                        tx.put_instance(new.spec, new.index, new.rd, new.vni)
                    for iid, (imports, exports) in rt_changes.items():
                        inst = self._instances[iid]
                        spec = dataclasses.replace(
                            inst.spec, import_rts=imports, export_rts=exports
                        )
                        tx.put_instance(spec, inst.index, inst.rd, inst.vni)
                    for att in merged.values():
                        tx.put_attachment(att)
        except BaseException:
            res.rollback()
            raise
        self.intent_made += len(new_specs) + len(merged)
        with self._call():
            for new in new_specs.values():
                self._start(new)
            for iid, (imports, exports) in rt_changes.items():
                self._instances[iid].set_route_targets(imports, exports)
            for att in merged.values():
                self._instances[att.instance_id].attach(att)
            if new_specs or rt_changes:
                self._update_rtc()
            return self._result(created=tuple(new_specs))

    def detach(self, instance_id: str, port: str, mac: str | None = None) -> ChangeResult:
        """Detach a port (one MAC of it, or all); the instance goes with its last port."""
        inst = self._get(instance_id)
        if mac is not None:
            mac = parse_mac(mac, "mac")
            if (port, mac) not in inst.ports:
                if any(p == port for p, _ in inst.ports):
                    raise VpnError("mac", f"{mac} is not attached on {port!r}", 404)
                raise VpnError("port", f"{port!r} is not attached to {instance_id!r}", 404)
            keys = [(port, mac)]
        else:
            keys = [pk for pk in inst.ports if pk[0] == port]
            if not keys:
                raise VpnError("port", f"{port!r} is not attached to {instance_id!r}", 404)
        last = len(keys) == len(inst.ports)
        with self._call():
            with self._transaction() as tx:
                if tx is not None:
                    for p, m in keys:
                        tx.delete_attachment(instance_id, p, m)
                    if last:
                        tx.delete_instance(instance_id)
            for p, m in keys:
                inst.detach(p, m)
            if last:
                self._remove(inst)
                self._update_rtc()
            return self._result(removed=(instance_id,) if last else ())

    # ---------------------------------------------------------------- static routes

    def add_static_route(
        self,
        instance_id: str,
        prefix: str,
        next_hop: str,
        *,
        local_pref: int | None = None,
        med: int | None = None,
        communities: tuple[str, ...] = (),
    ) -> ChangeResult:
        """Advertise ``prefix`` in the instance with its export RTs and RD, our VTEP as next
        hop (IP VPN: VPNv4/VPNv6; E-VPN: type-5), with these attributes."""
        inst = self._get(instance_id)
        static = validate.static_route(instance_id, prefix, next_hop, local_pref, med, communities)
        with self._call():
            if inst.statics.get(static.prefix) == static:
                return self._result()
            with self._transaction() as tx:
                if isinstance(tx, StaticRouteTransaction):
                    tx.put_static_route(instance_id, static.prefix, static_route_json(static))
            inst.add_static(static)
            return self._result()

    def remove_static_route(self, instance_id: str, prefix: str) -> ChangeResult:
        inst = self._get(instance_id)
        try:
            net = str(ipaddress.ip_network(str(prefix).strip(), strict=False))
        except ValueError:
            raise VpnError("prefix", f"{prefix!r} is not an IPv4 or IPv6 prefix") from None
        if net not in inst.statics:
            raise VpnError("prefix", f"no static route {net} in {instance_id!r}", 404)
        with self._call():
            with self._transaction() as tx:
                if isinstance(tx, StaticRouteTransaction):
                    tx.delete_static_route(instance_id, net)
            inst.remove_static(net)
            return self._result()

    # ---------------------------------------------------------------- views

    def _view(self, inst: Instance) -> InstanceView:
        adverts = sorted(inst.advertised(), key=lambda a: (a.family, a.key))
        return InstanceView(
            spec=inst.spec,
            rd=inst.rd,
            vni=inst.vni,
            index=inst.index,
            router_mac=inst.router_mac,
            ports=list(inst.ports.values()),
            advertised=[AdvertisedRoute(a.text, a.family.name, a.to_json()) for a in adverts],
            imported=inst.table.destinations(),
            static_routes=list(inst.statics.values()),
        )

    def instances(self) -> list[InstanceView]:
        return [self._view(i) for i in self._instances.values()]

    def instance(self, instance_id: str) -> InstanceView:
        return self._view(self._get(instance_id))

    def instance_type(self, instance_id: str) -> InstanceType | None:
        """The kind of an existing instance; None when there is none of that id."""
        inst = self._instances.get(instance_id)
        return inst.spec.instance_type if inst is not None else None

    def instance_spec(self, instance_id: str) -> InstanceSpec | None:
        """An existing instance's spec; None when there is none of that id."""
        inst = self._instances.get(instance_id)
        return inst.spec if inst is not None else None

    def instance_summary(self, instance_id: str) -> InstanceView:
        """The instance without its port, route and static-route lists (cheap whatever its
        size: what a change answer carries)."""
        inst = self._get(instance_id)
        return InstanceView(
            spec=inst.spec,
            rd=inst.rd,
            vni=inst.vni,
            index=inst.index,
            router_mac=inst.router_mac,
            ports=[],
            advertised=[],
            imported=[],
        )

    def mac_learned(self, instance_id: str, port: str, mac: str, added: bool) -> bool:
        """The data plane learned ``mac`` on local ``port`` of an E-VPN instance (``added``), or
        forgot it (removed, aged out). With the instance's ``advertise_learned`` a MAC-only
        type-2 route is announced / withdrawn (never for a MAC attached there). Not stored: the
        drivers report the learned MACs again at start. True when a route changed."""
        inst = self._instances.get(instance_id)
        if inst is None:
            return False
        try:
            mac = parse_mac(mac, "mac")
        except VpnError:
            return False
        return inst.learn(port, mac, added)

    def desired_state(self) -> dict[str, InstanceState]:
        return {iid: inst.desired_state() for iid, inst in self._instances.items()}

    def instance_desired_state(self, instance_id: str) -> InstanceState | None:
        """One instance's entry of ``desired_state()`` (None: no such instance)."""
        inst = self._instances.get(instance_id)
        return None if inst is None else inst.desired_state()

    # ---------------------------------------------------------------- start and stop

    def restore(
        self,
        instances: Sequence[StoredInstance],
        attachments: Sequence[PortAttachment],
        static_routes: Sequence[StaticRoute | tuple[str, str, Mapping[str, Any]]] = (),
    ) -> None:
        """At start: rebuild instances, ports and static routes from the store (nothing is
        written to it), then reconcile the drivers with the result. Stored items that no longer
        validate or conflict are skipped and listed in ``restore_errors``."""
        self._discard = True
        try:
            with self.batch():
                for stored in instances:
                    try:
                        self._restore_instance(stored)
                    except VpnError as e:
                        self.restore_errors.append(f"instance {stored.spec.instance_id}: {e}")
                for att in attachments:
                    try:
                        self._attach_all([att], None, "", write=False)
                    except VpnError as e:
                        self.restore_errors.append(
                            f"attachment {att.instance_id}/{att.port}/{att.mac}: {e}"
                        )
                for item in static_routes:
                    try:
                        static = (
                            item
                            if isinstance(item, StaticRoute)
                            else static_route_from_json(item[0], item[1], item[2])
                        )
                        self._get(static.instance_id).add_static(static)
                    except VpnError as e:
                        where = (
                            f"{item.instance_id}/{item.prefix}"
                            if isinstance(item, StaticRoute)
                            else f"{item[0]}/{item[1]}"
                        )
                        self.restore_errors.append(f"static route {where}: {e}")
                self._update_rtc()
            self._pending.clear()
        finally:
            self._discard = False
        self.reconcile()

    def _restore_instance(self, stored: StoredInstance) -> None:
        spec = validate.spec(stored.spec)
        if spec.instance_id in self._instances:
            raise VpnError("instance_id", "restored twice", 409)
        if stored.vni in self._vnis:
            raise VpnError("vni", f"VNI {stored.vni} is used by {self._vnis[stored.vni]!r}", 409)
        if stored.rd in self._rds:
            raise VpnError("rd", f"RD {stored.rd} is used by {self._rds[stored.rd]!r}", 409)
        if not self._indexes.reserve(stored.index):
            raise VpnError("index", f"index {stored.index} is used twice", 409)
        self._vni_pool.reserve(stored.vni)
        self._vnis[stored.vni] = spec.instance_id
        self._rds[stored.rd] = spec.instance_id
        self._start(_NewInstance(spec, stored.index, stored.rd, stored.vni))

    def _unique_drivers(self) -> list[Driver]:
        out: list[Driver] = []
        for d in self.drivers.values():
            if all(d is not o for o in out):
                out.append(d)
        return out

    def reconcile(self) -> dict[str, ReconcileReport]:
        """Give each driver the whole desired state of its instances; its report per name."""
        self.flush()
        reports: dict[str, ReconcileReport] = {}
        for driver in self._unique_drivers():
            desired = {
                iid: inst.desired_state()
                for iid, inst in self._instances.items()
                if self.drivers[inst.spec.instance_type] is driver
            }
            reports[driver.name] = driver.reconcile(desired)
        return reports

    def close(self, remove: bool) -> None:
        """At shutdown: withdraw our routes and RT memberships, drop the subscriptions, and
        close the drivers (``remove``: they delete what they created)."""
        self._discard = True
        try:
            with self.batch():
                for inst in list(self._instances.values()):
                    inst.stop()
                    self._rt_dirty.add(inst.instance_id)
                self._instances.clear()
                self._update_rtc()
            self._pending.clear()
        finally:
            self._discard = False
        for driver in self._unique_drivers():
            driver.close(remove)


def static_route_json(s: StaticRoute) -> dict[str, Any]:
    """What a store keeps of a static route besides its instance and prefix."""
    return {
        "next_hop": s.next_hop,
        "local_pref": s.local_pref,
        "med": s.med,
        "communities": list(s.communities),
    }


def static_route_from_json(instance_id: str, prefix: str, spec: Mapping[str, Any]) -> StaticRoute:
    return validate.static_route(
        instance_id,
        prefix,
        str(spec.get("next_hop", "")),
        spec.get("local_pref"),
        spec.get("med"),
        tuple(spec.get("communities") or ()),
    )


class _Batch:
    """``VpnManager.batch()``: plain context managers (not generators), reused: they are on
    the path of every API call and received UPDATE."""

    __slots__ = ("_vpn",)

    def __init__(self, vpn: VpnManager) -> None:
        self._vpn = vpn

    def __enter__(self) -> None:
        self._vpn._depth += 1

    def __exit__(self, *exc: object) -> None:
        vpn = self._vpn
        vpn._depth -= 1
        if vpn._depth == 0:
            vpn.flush()


class _Call(_Batch):
    """``VpnManager._call()``: the outermost call records the routes changed."""

    __slots__ = ("_calls",)

    def __init__(self, vpn: VpnManager) -> None:
        super().__init__(vpn)
        self._calls = 0

    def __enter__(self) -> None:
        if not self._calls:
            vpn = self._vpn
            vpn._recording = True
            vpn._before.clear()
            vpn._after.clear()
        self._calls += 1
        super().__enter__()

    def __exit__(self, *exc: object) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self._calls -= 1
            if not self._calls:
                self._vpn._recording = False


_NO_TRANSACTION: AbstractContextManager[None] = contextlib.nullcontext()


def _adds_nothing(given: InstanceSpec, spec: InstanceSpec, att: PortAttachment) -> bool:
    """Whether the instance spec given with an attachment to the existing instance ``spec``
    carries only what the attachment does (its id, type and route targets) and the defaults,
    so that checking it could neither refuse the attach nor change the instance."""
    return (
        given.instance_id == spec.instance_id
        and given.instance_type is spec.instance_type
        and given.rd is None
        and given.vni is None
        and given.encapsulation is spec.encapsulation
        and given.import_rts == att.import_rts
        and given.export_rts == att.export_rts
        and not given.advertise_type5
        and not given.advertise_learned
        and given.local_pref is None
        and given.description == ""
    )


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for g in groups:
        out.update(dict.fromkeys(g))
    return tuple(out)


__all__ = [
    "ChangeResult",
    "IntentStore",
    "IntentTransaction",
    "StaticRouteTransaction",
    "StoredInstance",
    "VpnManager",
    "rt_raw",
    "static_route_from_json",
    "static_route_json",
]
