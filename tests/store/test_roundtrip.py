"""Everything written comes back equal, in insertion order; transactions are all or nothing."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgpvpn.store import Intent, SqliteStore, StoreError
from bgpvpn.store.codec import dumps, to_json, to_json_value
from bgpvpn.vpn.model import InstanceSpec, PortAttachment

from .helpers import (
    INT64,
    attachments,
    blue,
    instance_specs,
    json_objects,
    leases,
    port,
    texts,
)

fixture_ok = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
    max_examples=60,
)


def reopen(store: SqliteStore) -> Intent:
    """Close, open the same file again and load it."""
    assert store.path is not None
    store.close()
    with SqliteStore(store.path) as again:
        return again.load()


def fresh(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / f"{uuid.uuid4().hex}.db")


@fixture_ok
@given(
    specs=st.lists(st.tuples(instance_specs, INT64, texts, INT64), max_size=4),
    atts=st.lists(attachments, max_size=4),
    routes=st.lists(st.tuples(texts, json_objects, leases), max_size=4),
    statics=st.lists(st.tuples(texts, texts, json_objects), max_size=4),
    meta=st.dictionaries(
        texts.filter(lambda k: k not in ("schema_version", "boot_id", "created")), texts
    ),
)
def test_every_field_of_every_type_round_trips(
    tmp_path: Path,
    specs: list[tuple[InstanceSpec, int, str, int]],
    atts: list[PortAttachment],
    routes: list[tuple[str, dict[str, Any], float | None]],
    statics: list[tuple[str, str, dict[str, Any]]],
    meta: dict[str, str],
) -> None:
    store = fresh(tmp_path)
    with store.transaction() as tx:
        for spec, index, rd, vni in specs:
            tx.put_instance(spec, index, rd, vni)
        for att in atts:
            tx.put_attachment(att)
        for rid, rspec, lease in routes:
            tx.put_route(rid, rspec, lease)
        for iid, prefix, sspec in statics:
            tx.put_static_route(iid, prefix, sspec)
        for k, v in meta.items():
            tx.set_meta(k, v)
    # what a dict keyed like the table keeps: the last write per key, at the first one's place
    want_instances = {s.instance_id: (s, i, rd, vni) for s, i, rd, vni in specs}
    want_atts = {(a.instance_id, a.port, a.mac): a for a in atts}
    want_routes = {rid: (rid, spec, lease) for rid, spec, lease in routes}
    want_statics = {(i, p): (i, p, s) for i, p, s in statics}

    for intent in (store.load(), reopen(store)):
        got = [(s.spec, s.index, s.rd, s.vni) for s in intent.instances]
        assert got == list(want_instances.values())
        assert intent.attachments == list(want_atts.values())
        # PortAttachment.extra is compare=False: check it on its own
        assert [a.extra for a in intent.attachments] == [a.extra for a in want_atts.values()]
        assert intent.routes == list(want_routes.values())
        assert intent.static_routes == list(want_statics.values())
        assert {k: v for k, v in intent.meta.items() if k in meta} == meta
        assert intent.skipped == []


@settings(max_examples=300, deadline=None)
@given(obj=st.one_of(instance_specs, attachments))
def test_to_json_by_orjson_is_the_generic_json(obj: InstanceSpec | PortAttachment) -> None:
    """``to_json`` writes with orjson when it can: the same JSON data as the generic encoder."""
    assert json.loads(to_json(obj)) == json.loads(dumps(to_json_value(obj)))


def test_memory_database(tmp_path: Path) -> None:
    store = SqliteStore(":memory:")
    assert store.path is None
    with store.transaction() as tx:
        tx.put_instance(blue(), 1, "192.0.2.1:1", 5001)
        tx.put_attachment(port(1))
    intent = store.load()
    assert [s.spec for s in intent.instances] == [blue()]
    assert intent.attachments == [port(1)]
    other = SqliteStore(":memory:")  # no lock file for :memory:
    assert other.load().instances == [] and other.boot_id != store.boot_id
    assert not list(tmp_path.iterdir())


def test_replace_keeps_the_place_delete_and_put_moves_to_the_end(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    with store.transaction() as tx:
        for n in (1, 2, 3):
            tx.put_attachment(port(n))
            tx.put_route(f"r{n}", {"n": n})
            tx.put_static_route("blue", f"10.{n}.0.0/16", {"n": n})
        tx.put_instance(blue(), 1, "192.0.2.1:1", 5001)
        tx.put_instance(blue(instance_id="red"), 2, "192.0.2.1:2", 5002)
    with store.transaction() as tx:
        tx.put_attachment(port(1, description="moved"))  # replace
        tx.delete_attachment("blue", "tap2", port(2).mac)
        tx.put_attachment(port(2))  # back, at the end
        tx.put_route("r1", {"n": 10}, 99.5)
        tx.put_static_route("blue", "10.1.0.0/16", {"n": 10})
        tx.put_instance(blue(description="x"), 7, "192.0.2.1:7", 6000)
    intent = reopen(store)
    assert [a.port for a in intent.attachments] == ["tap1", "tap3", "tap2"]
    assert intent.attachments[0].description == "moved"
    assert intent.routes[0] == ("r1", {"n": 10}, 99.5)
    assert [r[0] for r in intent.routes] == ["r1", "r2", "r3"]
    assert intent.static_routes[0] == ("blue", "10.1.0.0/16", {"n": 10})
    assert [(s.spec.instance_id, s.index, s.rd, s.vni) for s in intent.instances] == [
        ("blue", 7, "192.0.2.1:7", 6000),
        ("red", 2, "192.0.2.1:2", 5002),
    ]
    assert intent.instances[0].spec.description == "x"


def test_deletes(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    with store.transaction() as tx:
        tx.put_attachment(port(1))
        tx.put_route("r1", {})
        tx.put_static_route("blue", "10.1.0.0/16", {})
        tx.set_meta("next_index", "3")
    with store.transaction() as tx:
        tx.delete_attachment("blue", "tap1", port(1).mac)
        tx.delete_route("r1")
        tx.delete_static_route("blue", "10.1.0.0/16")
        tx.delete_meta("next_index")
        # deleting what is not there is not an error
        tx.delete_attachment("blue", "tap9", "52:54:00:00:00:09")
        tx.delete_route("nope")
        tx.delete_instance("nope")
    intent = reopen(store)
    assert intent.attachments == [] and intent.routes == [] and intent.static_routes == []
    assert "next_index" not in intent.meta


def test_delete_instance_cascades_to_its_attachments_and_static_routes(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    red = blue(instance_id="red")
    with store.transaction() as tx:
        tx.put_instance(blue(), 1, "192.0.2.1:1", 5001)
        tx.put_instance(red, 2, "192.0.2.1:2", 5002)
        for n in (1, 2):
            tx.put_attachment(port(n))
            tx.put_attachment(port(n, instance_id="red"))
            tx.put_static_route("blue", f"10.{n}.0.0/16", {"n": n})
            tx.put_static_route("red", f"10.{n}.0.0/16", {"n": n})
        tx.put_route("203.0.113.0/24", {"prefix": "203.0.113.0/24"})
    with store.transaction() as tx:
        tx.delete_instance("blue")
    intent = reopen(store)
    assert [s.spec for s in intent.instances] == [red]
    assert intent.attachments == [port(1, instance_id="red"), port(2, instance_id="red")]
    assert [(i, p) for i, p, _ in intent.static_routes] == [
        ("red", "10.1.0.0/16"),
        ("red", "10.2.0.0/16"),
    ]
    assert [r[0] for r in intent.routes] == ["203.0.113.0/24"]  # global, not the instance's


class Boom(Exception):
    pass


def test_exception_rolls_back_everything_and_is_re_raised(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    with store.transaction() as tx:
        tx.put_attachment(port(1))
        tx.set_meta("k", "before")
    with pytest.raises(Boom), store.transaction() as tx:
        tx.put_instance(blue(), 1, "192.0.2.1:1", 5001)
        tx.put_attachment(port(1, description="changed"))
        tx.put_attachment(port(2))
        tx.put_route("r", {})
        tx.put_static_route("blue", "10.0.0.0/8", {})
        tx.set_meta("k", "after")
        tx.delete_attachment("blue", "tap1", port(1).mac)
        raise Boom
    for intent in (store.load(), reopen(store)):
        assert intent.instances == [] and intent.routes == [] and intent.static_routes == []
        assert intent.attachments == [port(1)]
        assert intent.attachments[0].description == ""
        assert intent.meta["k"] == "before"


def test_bad_values_roll_back(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    with pytest.raises(ValueError), store.transaction() as tx:  # NaN is not JSON
        tx.put_route("a", {})
        tx.put_route("b", {"x": float("nan")})
    with pytest.raises(TypeError), store.transaction() as tx:
        tx.put_route("c", {"x": object()})
    with pytest.raises(StoreError, match="write failed"), store.transaction() as tx:
        tx.put_route("d", {}, lease_until=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="belongs to the store"), store.transaction() as tx:
        tx.set_meta("boot_id", "mine")
    assert store.load().routes == []
    # the store is still usable afterwards
    with store.transaction() as tx:
        tx.put_route("e", {})
    assert [r[0] for r in reopen(store).routes] == ["e"]


def test_transaction_misuse(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    with store.transaction() as tx:
        with pytest.raises(RuntimeError, match="nest"), store.transaction():
            pass
        tx.put_attachment(port(1))
    with pytest.raises(StoreError, match="ended"):
        tx.put_attachment(port(2))
    assert store.load().attachments == [port(1)]
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"), store.transaction():
        pass
    with pytest.raises(StoreError, match="closed"):
        store.load()


def test_load_inside_a_transaction_sees_its_writes(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    with store.transaction() as tx:
        tx.put_attachment(port(1))
        assert store.load().attachments == [port(1)]
    assert reopen(store).attachments == [port(1)]


def test_threads_are_serialized(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    errors: list[BaseException] = []

    def work(base: int) -> None:
        try:
            for n in range(base, base + 50):
                with store.transaction() as tx:
                    tx.put_attachment(port(n % 256, instance_id=f"i{base}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(b,)) for b in (0, 100, 200, 300)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(reopen(store).attachments) == 200
