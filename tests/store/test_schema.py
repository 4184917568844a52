"""Files from other versions, other programs, or damaged by hand: clear errors naming the file,
unknown fields ignored with a warning, missing fields defaulted."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bgpvpn.store import SCHEMA_VERSION, SqliteStore, StoreCorruptError, StoreVersionError
from bgpvpn.store.codec import CodecError, check_supported, from_data, to_json_value
from bgpvpn.vpn.model import (
    Encapsulation,
    InstanceSpec,
    InstanceType,
    PortAttachment,
    Readvertise,
)

from .helpers import blue, port


def make(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    with SqliteStore(path) as store, store.transaction() as tx:
        tx.put_instance(blue(), 1, "192.0.2.1:1", 5001)
        tx.put_attachment(port(1))
        tx.put_attachment(port(2))
        tx.put_route("r1", {"prefix": "203.0.113.0/24"})
        tx.put_static_route("blue", "10.0.0.0/8", {"next_hop": "192.0.2.9"})
    return path


def raw(path: Path, sql: str, *params: Any) -> None:
    """Change the file behind the store's back (the store is closed: no lock held)."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def test_newer_schema_version_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = make(tmp_path)
    raw(path, "UPDATE meta SET value = ? WHERE key = 'schema_version'", str(SCHEMA_VERSION + 1))
    with pytest.raises(StoreVersionError) as info:
        SqliteStore(path)
    msg = str(info.value)
    assert str(path) in msg and "newer bgpvpn" in msg and f"version {SCHEMA_VERSION + 1}" in msg
    # the failed open released the lock: once fixed, it opens
    raw(path, "UPDATE meta SET value = ? WHERE key = 'schema_version'", str(SCHEMA_VERSION))
    with SqliteStore(path) as store:
        assert len(store.load().attachments) == 2


def test_bad_schema_version(tmp_path: Path) -> None:
    path = make(tmp_path)
    raw(path, "DELETE FROM meta WHERE key = 'schema_version'")
    with pytest.raises(StoreVersionError, match="no schema_version"):
        SqliteStore(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not SQLite\n" * 100)
    with pytest.raises(StoreVersionError, match="not an SQLite database") as info:
        SqliteStore(path)
    assert str(path) in str(info.value)


def test_someone_elses_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    raw(path, "CREATE TABLE users (name TEXT)")
    with pytest.raises(StoreVersionError, match="not a bgpvpn store") as info:
        SqliteStore(path)
    assert str(path) in str(info.value) and "users" in str(info.value)


def test_unknown_keys_from_a_newer_version_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = make(tmp_path)
    spec = to_json_value(port(1))
    spec["future_knob"] = {"x": 1}
    spec["readvertise"] = {"from_rts": ["1:1"], "to_rts": ["2:2"], "future_nested": True}
    raw(path, "UPDATE attachments SET spec = ? WHERE port = 'tap1'", json.dumps(spec))
    ispec = to_json_value(blue())
    ispec["future_field"] = 3
    raw(path, "UPDATE instances SET spec = ?", json.dumps(ispec))
    with caplog.at_level(logging.WARNING, logger="bgpvpn.store"), SqliteStore(path) as store:
        intent = store.load()
    assert intent.attachments[0] == port(1, readvertise=Readvertise(("1:1",), ("2:2",)))
    assert intent.instances[0].spec == blue()
    text = caplog.text
    assert "future_knob" in text and "readvertise.future_nested" in text
    assert "future_field" in text and str(path) in text
    assert "1 attachments rows" in text


def test_missing_keys_take_their_defaults(tmp_path: Path) -> None:
    """A row written by an older version, before fields with defaults were added."""
    path = make(tmp_path)
    old = {"instance_id": "blue", "instance_type": "evpn", "port": "tap1", "mac": port(1).mac}
    raw(path, "UPDATE attachments SET spec = ? WHERE port = 'tap1'", json.dumps(old))
    raw(path, "UPDATE instances SET spec = ?", '{"instance_id":"blue","instance_type":"ipvpn"}')
    with SqliteStore(path) as store:
        intent = store.load()
    assert intent.attachments[0] == PortAttachment("blue", InstanceType.EVPN, "tap1", port(1).mac)
    assert intent.attachments[0].extra == {}
    assert intent.instances[0].spec == InstanceSpec("blue", InstanceType.IPVPN)
    assert intent.instances[0].spec.encapsulation is Encapsulation.VXLAN


@pytest.mark.parametrize(
    ("table", "where", "value", "reason"),
    [
        ("attachments", "port = 'tap1'", "{not json", "not valid JSON"),
        ("attachments", "port = 'tap1'", "[1, 2]", "expected an object"),
        ("attachments", "port = 'tap1'", '{"instance_id": "blue"}', "missing"),
        ("attachments", "port = 'tap1'", None, "ips: expected a list, got str"),
        ("attachments", "port = 'tap1'", None, "instance_type: 'geneve' is not one of"),
        ("attachments", "port = 'tap1'", None, "spec says"),
        ("instances", "1", None, "local_pref: expected an integer, got str"),
        ("instances", "1", None, "spec says instance_id 'red'"),
        ("routes", "1", "{bad", "not valid JSON"),
        ("routes", "1", '"a string"', "expected a JSON object"),
        ("static_routes", "1", "[]", "expected a JSON object"),
    ],
)
def test_corrupt_rows_raise_naming_file_table_and_key_or_are_skipped(
    tmp_path: Path, table: str, where: str, value: str | None, reason: str
) -> None:
    path = make(tmp_path)
    if value is None:  # a well-formed object with one bad field
        if table == "instances":
            obj = to_json_value(blue())
            if "local_pref" in reason:
                obj["local_pref"] = "high"
            else:
                obj["instance_id"] = "red"
        else:
            obj = to_json_value(port(1))
            if "ips" in reason:
                obj["ips"] = "10.0.0.1/24"
            elif "geneve" in reason:
                obj["instance_type"] = "geneve"
            else:
                obj["port"] = "tap9"
        value = json.dumps(obj)
    raw(path, f"UPDATE {table} SET spec = ? WHERE {where}", value)
    with SqliteStore(path) as store:
        with pytest.raises(StoreCorruptError) as info:
            store.load()
        msg = str(info.value)
        assert str(path) in msg and table in msg and reason in msg
        intent = store.load(skip_corrupt=True)
    assert len(intent.skipped) == 1 and table in intent.skipped[0]
    # the other rows are all there
    counts = {
        "instances": len(intent.instances),
        "attachments": len(intent.attachments),
        "routes": len(intent.routes),
        "static_routes": len(intent.static_routes),
    }
    expected = {"instances": 1, "attachments": 2, "routes": 1, "static_routes": 1}
    expected[table] -= 1
    assert counts == expected


def test_codec_types() -> None:
    # bool is not an int, int is a float, tuples come back from lists
    with pytest.raises(CodecError, match="local_pref: expected an integer, got bool"):
        from_data(InstanceSpec, {"instance_id": "a", "instance_type": "evpn", "local_pref": True})
    with pytest.raises(CodecError, match=r"import_rts\[1\]: expected a string, got int"):
        from_data(
            InstanceSpec, {"instance_id": "a", "instance_type": "evpn", "import_rts": ["x", 1]}
        )
    with pytest.raises(CodecError, match=r"extra\.k: expected a string, got null"):
        from_data(
            PortAttachment,
            {
                "instance_id": "a",
                "instance_type": "evpn",
                "port": "p",
                "mac": "m",
                "extra": {"k": None},
            },
        )
    got = from_data(PortAttachment, to_json_value(port(3, readvertise=Readvertise(("a",), ()))))
    assert got.value == port(3, readvertise=Readvertise(("a",), ())) and got.unknown == ()
    assert isinstance(got.value.ips, tuple)


def test_codec_handles_every_field_type_of_the_intent_model() -> None:
    """A field added to the model with a type the codec does not know fails here, not at a
    user's restart."""
    import dataclasses

    from bgpvpn.vpn import model

    classes = [
        c
        for c in vars(model).values()
        if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == model.__name__
    ]
    assert {InstanceSpec, PortAttachment, Readvertise} <= set(classes)
    for cls in classes:
        check_supported(cls)
    with pytest.raises(TypeError, match="Odd"):
        check_supported(Future)


class Odd:
    pass


@dataclass
class Future:
    a: int
    b: tuple[Odd, ...] = ()
