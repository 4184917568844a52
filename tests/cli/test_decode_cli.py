"""``bgpvpn decode`` end to end, as a user runs it (a subprocess of the installed command)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "gobgp-frr-evpn-vpn.pcap"
MARKER = b"\xff" * 16
KEEPALIVE = MARKER + b"\x00\x13\x04"


def bgpvpn(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("bgpvpn", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "bgpvpn.cli.main"]
    return subprocess.run([*cmd, *args], input=stdin, capture_output=True, timeout=60, check=False)


def lines(out: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.decode().splitlines()]


def test_decode_sample_capture_prints_one_json_object_per_message() -> None:
    res = bgpvpn("decode", str(SAMPLE))
    assert res.returncode == 0, res.stderr
    objs = lines(res.stdout)
    types = {o["type"] for o in objs}
    assert {"OPEN", "UPDATE", "KEEPALIVE", "ROUTE_REFRESH", "NOTIFICATION"} <= types
    updates = [o for o in objs if o["type"] == "UPDATE"]
    for u in updates:
        assert isinstance(u["attributes"], dict)
        assert isinstance(u["announced"], list) and isinstance(u["withdrawn"], list)
        for r in [*u["announced"], *u["withdrawn"]]:  # type: ignore[misc]
            assert "family" in r
    families = {r["family"] for u in updates for r in u["announced"]}  # type: ignore[attr-defined]
    assert {"ipv4", "ipv6", "vpnv4", "vpnv6", "evpn"} <= families
    shutdown = [o for o in objs if o["type"] == "NOTIFICATION"]
    assert any("maintenance" in str(o["shutdown_message"]) for o in shutdown)


def test_stats_counts_messages_and_families() -> None:
    res = bgpvpn("decode", "--stats", "--json", str(SAMPLE))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["messages"]["OPEN"] == 4 and doc["messages"]["UPDATE"] == 38
    assert doc["families"]["evpn"]["announced"] == 12
    assert doc["routes_per_second"] > 0 and doc["errors"] == 0
    human = bgpvpn("decode", "--stats", str(SAMPLE))
    assert b"routes/s" in human.stdout and b"vpnv4" in human.stdout


def test_malformed_message_reports_offset_and_field_and_decoding_carries_on() -> None:
    bad_open = MARKER + struct.pack("!HB", 29, 1) + b"\x03\xfd\xe8\x00\xb4\xc0\x00\x02\x01\x00"
    bad_update = MARKER + struct.pack("!HB", 27, 2) + b"\x00\x00\x00\x04\x40\x01\x01\x07"
    stream = KEEPALIVE + bad_open + KEEPALIVE + b"junk" + KEEPALIVE + bad_update + KEEPALIVE
    res = bgpvpn("decode", "-", stdin=stream)
    assert res.returncode == 1
    objs = lines(res.stdout)
    assert [o["type"] for o in objs] == [
        "KEEPALIVE",
        "ERROR",
        "KEEPALIVE",
        "ERROR",
        "KEEPALIVE",
        "UPDATE",
        "KEEPALIVE",
    ]
    open_err = objs[1]
    assert (open_err["offset"], open_err["field"]) == (19 + 19, "version")
    junk = objs[3]
    assert junk["offset"] == 19 + 29 + 19 and junk["field"] == "marker"
    update = objs[5]
    problem = update["problems"][0]  # type: ignore[index]
    assert problem["field"] == "ORIGIN" and problem["action"] == "treat-as-withdraw"
    assert b"version" in res.stderr and b"ORIGIN" in res.stderr


def test_bad_arguments_are_named() -> None:
    res = bgpvpn("decode", "--format", "zip", str(SAMPLE))
    assert res.returncode == 2 and b"--format" in res.stderr
    res = bgpvpn("decode", "/nonexistent/file.pcap")
    assert res.returncode == 2 and b"/nonexistent/file.pcap" in res.stderr
    res = bgpvpn("decode", "--add-path", "ipv5", str(SAMPLE))
    assert res.returncode == 2 and b"--add-path" in res.stderr


def test_as2_flag_for_streams_without_open() -> None:
    attrs = (
        b"\x40\x01\x01\x00"
        + b"\x40\x02\x06\x02\x02\xfd\xe9\xfd\xea"
        + b"\x40\x03\x04\xc0\x00\x02\x01"
    )
    body = b"\x00\x00" + struct.pack("!H", len(attrs)) + attrs + b"\x18\xcb\x00\x71"
    update = MARKER + struct.pack("!HB", 19 + len(body), 2) + body
    res = bgpvpn("decode", "--as2", "-", stdin=update)
    assert res.returncode == 0, res.stdout
    (obj,) = lines(res.stdout)
    assert obj["attributes"]["as_path"] == "65001 65002"  # type: ignore[index]


@pytest.mark.parametrize(
    "mrt", sorted((ROOT / "tests" / "fixtures" / "mrt").glob("*.mrt")), ids=lambda p: p.name
)
def test_decode_mrt(mrt: Path) -> None:
    res = bgpvpn("decode", str(mrt))
    assert res.returncode == 0, res.stderr
    assert {o["type"] for o in lines(res.stdout)} - {"ERROR"}
