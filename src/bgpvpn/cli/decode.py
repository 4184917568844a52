"""``bgpvpn decode``: BGP messages from a raw stream, a pcap/pcapng capture or an MRT file, as
one JSON object per message (schema: docs/decode.md), or statistics with ``--stats``."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bgpvpn.decoding import DecodeStats, RecordDecoder
from bgpvpn.sources import FORMATS, MessageRecord, read_records
from bgpvpn.wire.errors import TextFormError
from bgpvpn.wire.family import Family


def decode_command(
    file: Annotated[str, typer.Argument(help="capture file, or - for standard input")],
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="print counts per message type and family and the "
            "decode rate instead of the messages",
        ),
    ] = False,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"input format: {', '.join(FORMATS)} (default: detected)"),
    ] = None,
    as2: Annotated[
        bool, typer.Option("--as2", help="AS numbers are 2 octets (for streams without OPEN)")
    ] = False,
    add_path: Annotated[
        list[str] | None,
        typer.Option(
            "--add-path",
            help="NLRI of this family carry path ids (for streams without OPEN); repeatable",
        ),
    ] = None,
    pretty: Annotated[bool, typer.Option("--pretty", help="indent the JSON")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --stats: print JSON")] = False,
) -> None:
    """Decode BGP messages and print one JSON object per message."""
    if fmt is not None and fmt not in FORMATS:
        _fail(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        families = frozenset(Family.parse(f) for f in add_path) if add_path else None
    except TextFormError as e:
        _fail(f"--add-path: {e}")
    try:
        if file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(file, "rb") as fh:
                data = fh.read()
    except OSError as e:
        _fail(f"{file}: {e.strerror}")
    decoder = RecordDecoder(as4=False if as2 else None, add_path=families)
    try:
        records = read_records(data, fmt)
    except ValueError as e:
        _fail(f"{file}: {e}")
    if stats:
        started = time.perf_counter()
        for rec in records:
            if isinstance(rec, MessageRecord):
                decoder.decode(rec)
            else:
                for _ in decoder.records_json(iter((rec,))):
                    pass
        elapsed = time.perf_counter() - started
        _print_stats(decoder.stats, elapsed, as_json)
    else:
        out = sys.stdout
        err = sys.stderr
        indent = 2 if pretty else None
        for obj in decoder.records_json(records):
            out.write(json.dumps(obj, indent=indent) + "\n")
            if obj["type"] == "ERROR":
                err.write(f"error at offset {obj['offset']}: {obj['field']}: {obj['reason']}\n")
            elif obj.get("problems"):
                for p in obj["problems"]:
                    err.write(
                        f"{obj['type']} at offset {obj['offset']}: problem at offset "
                        f"{p['offset']}: {p['field']}: {p['reason']}\n"
                    )
    raise typer.Exit(1 if decoder.stats.errors else 0)


def _fail(text: str) -> None:
    typer.echo(f"bgpvpn decode: {text}", err=True)
    raise typer.Exit(2)


def _print_stats(stats: DecodeStats, elapsed: float, as_json: bool) -> None:
    total = sum(stats.messages.values())
    rates = {
        "seconds": round(elapsed, 6),
        "messages_per_second": round(total / elapsed) if elapsed > 0 else None,
        "routes_per_second": round(stats.routes / elapsed) if elapsed > 0 else None,
    }
    if as_json:
        doc: dict[str, Any] = {
            "messages": dict(stats.messages),
            "families": {
                fam: {
                    "announced": stats.announced.get(fam, 0),
                    "withdrawn": stats.withdrawn.get(fam, 0),
                    "end_of_rib": stats.end_of_rib.get(fam, 0),
                }
                for fam in sorted(
                    set(stats.announced) | set(stats.withdrawn) | set(stats.end_of_rib)
                )
            },
            "errors": stats.errors,
            "octets": stats.octets,
            **rates,
        }
        typer.echo(json.dumps(doc))
        return
    console = Console()
    t = Table(title="messages")
    t.add_column("type")
    t.add_column("count", justify="right")
    for name, count in sorted(stats.messages.items()):
        t.add_row(name, str(count))
    t.add_row("errors", str(stats.errors))
    console.print(t)
    f = Table(title="routes per family")
    for col in ("family", "announced", "withdrawn", "end-of-rib"):
        f.add_column(col, justify="left" if col == "family" else "right")
    for fam in sorted(set(stats.announced) | set(stats.withdrawn) | set(stats.end_of_rib)):
        f.add_row(
            fam,
            str(stats.announced.get(fam, 0)),
            str(stats.withdrawn.get(fam, 0)),
            str(stats.end_of_rib.get(fam, 0)),
        )
    console.print(f)
    console.print(
        f"decoded {total} messages, {stats.routes} routes, {stats.octets} octets in "
        f"{elapsed:.3f} s: {rates['messages_per_second']} messages/s, "
        f"{rates['routes_per_second']} routes/s"
    )
