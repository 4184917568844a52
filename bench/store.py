"""Store benchmark: what one accepted change costs in SQLite, on this machine's disk.

Run from the repository root::

    .venv/bin/python bench/store.py [--dir DIR] [--count N] [--json]

For each configuration (``synchronous`` ``normal``, the default, or ``full``; WAL checkpoints
in the background thread, the default, or inline in SQLite's commits), in a fresh database
under ``DIR`` (default: a temporary directory; put it on the disk the daemon will use):

- **one attach**: ``N`` transactions (default 5,000) each holding one ``put_attachment`` (a
  new port every time, as the API's attach does), each timed from ``transaction()`` to the end
  of the ``with`` block (``COMMIT`` returned): p50, p99, p99.9 and max, in microseconds. WAL
  checkpoints happen inside some of these commits, as they would in the daemon, so they are in
  the tail;
- **1,000 in one**: one transaction with 1,000 ``put_attachment``, best and median of 10;
- **load**: ``load()`` of everything written (``N`` + 10,000 attachments).

With background checkpoints, commits that arrive back to back faster than a checkpoint's
fsyncs keep the WAL from restarting; SQLite then checkpoints inline at 8,192 pages, about every
3,400 single-attach commits of such a burst (the ~3 ms max in the table).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bgpvpn.store import SqliteStore
from bgpvpn.vpn.model import InstanceSpec, InstanceType, PortAttachment


def attachment(i: int) -> PortAttachment:
    return PortAttachment(
        instance_id="vpn-blue",
        instance_type=InstanceType.EVPN,
        port=f"tap{i:08x}",
        mac=f"52:54:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}",
        ips=(f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}/16",),
        gateway_ip="10.0.0.1",
        import_rts=("64512:77",),
        export_rts=("64512:77",),
        description="a port of a virtual machine",
    )


def pct(sorted_values: list[float], p: float) -> float:
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


CONFIGS = [
    ("normal", "background"),
    ("normal", "inline"),
    ("full", "background"),
    ("full", "inline"),
]


def run_mode(directory: Path, mode: str, checkpoint: str, count: int) -> dict[str, Any]:
    path = directory / f"bench-{mode}-{checkpoint}.db"
    store = SqliteStore(
        path,
        synchronous=mode,  # type: ignore[arg-type]
        checkpoint_interval=0.2 if checkpoint == "background" else None,
    )
    try:
        with store.transaction() as tx:
            tx.put_instance(
                InstanceSpec("vpn-blue", InstanceType.EVPN, ("64512:77",), ("64512:77",)),
                1,
                "192.0.2.1:1",
                5001,
            )
        atts = [attachment(i) for i in range(count + 10 * 1000)]
        # warm up the statement cache and the file
        for a in atts[:50]:
            with store.transaction() as tx:
                tx.put_attachment(a)
        one: list[float] = []
        clock = time.perf_counter
        for a in atts[50:count]:
            t0 = clock()
            with store.transaction() as tx:
                tx.put_attachment(a)
            one.append((clock() - t0) * 1e6)
        one.sort()
        bulk: list[float] = []
        base = count
        for _ in range(10):
            chunk = atts[base : base + 1000]
            base += 1000
            t0 = clock()
            with store.transaction() as tx:
                for a in chunk:
                    tx.put_attachment(a)
            bulk.append((clock() - t0) * 1e3)
        t0 = clock()
        intent = store.load()
        load_ms = (clock() - t0) * 1e3
        assert len(intent.attachments) == len(atts), len(intent.attachments)
    finally:
        store.close()
    return {
        "mode": mode,
        "checkpoint": checkpoint,
        "one_attach_us": {
            "count": len(one),
            "p50": pct(one, 50),
            "p99": pct(one, 99),
            "p99.9": pct(one, 99.9),
            "max": one[-1],
            "mean": statistics.fmean(one),
        },
        "bulk_1000_ms": {"best": min(bulk), "median": statistics.median(bulk)},
        "load": {"attachments": len(atts), "ms": load_ms},
        "file_mb": (path.stat().st_size) / 1e6,
    }


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    import sqlite3

    return (
        f"machine: {cpu}, {os.cpu_count()} cores, CPython {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {now}, load average {os.getloadavg()[0]:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, help="where to create the databases (default: a tmp dir)")
    ap.add_argument("--count", type=int, default=5000, help="single-attach transactions")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        results = [run_mode(Path(d), m, c, args.count) for m, c in CONFIGS]
        where = d
    if args.json:
        print(json.dumps({"machine": machine_line(), "dir": where, "results": results}))
        return 0
    print(machine_line())
    print(f"databases in {where}")
    print()
    head = (
        f"{'synchronous':<12}{'checkpoint':<11}{'1 attach/txn us: p50':>21}{'p99':>7}{'p99.9':>7}"
        f"{'max':>7}{'1000/txn ms':>12}{'median':>7}{'load ms':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        o, b = r["one_attach_us"], r["bulk_1000_ms"]
        print(
            f"{r['mode']:<12}{r['checkpoint']:<11}{o['p50']:>21.0f}{o['p99']:>7.0f}"
            f"{o['p99.9']:>7.0f}{o['max']:>7.0f}{b['best']:>12.1f}{b['median']:>7.1f}"
            f"{r['load']['ms']:>8.1f}"
        )
    print()
    n = results[0]["one_attach_us"]["count"]
    print(
        f"1 attach/txn: {n} transactions of one put_attachment each, from transaction() to "
        "COMMIT returned;\n1000/txn: one transaction of 1,000 put_attachment, best and median "
        f"of 10; load: load() of {results[0]['load']['attachments']:,} attachments."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
