"""``bgpvpn lab``: build, inspect and remove a multi-host lab in network namespaces from one
topology file (docs/lab.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from bgpvpn.lab import runner
from bgpvpn.lab.state import list_labs, state_root
from bgpvpn.lab.topology import Topology, TopologyError, lab_name_of, load_topology

lab_app = typer.Typer(
    name="lab",
    help="Multi-host labs in network namespaces: bgpvpn daemons, GoBGP/FRR route reflectors "
    "and VM namespaces attached to VPNs, from one topology file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="the lab's name")]
FileOpt = Annotated[
    Path | None, typer.Option("--file", "-f", help="the topology file (for its lab name)")
]


@lab_app.callback()
def lab_options(
    ctx: typer.Context,
    state_dir: Annotated[
        str | None,
        typer.Option(
            "--state-dir",
            help="where labs record what they created (default: $BGPVPN_LAB_DIR, "
            "else /run/bgpvpn-lab)",
        ),
    ] = None,
) -> None:
    """Multi-host labs in network namespaces (docs/lab.md)."""
    obj = dict(ctx.obj or {})
    obj["lab_root"] = state_root(state_dir)
    ctx.obj = obj


def _root(ctx: typer.Context) -> Path:
    root = (ctx.obj or {}).get("lab_root")
    return root if isinstance(root, Path) else state_root(None)


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True).print(f"[red]bgpvpn lab:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _load(file: Path) -> Topology:
    try:
        return load_topology(file)
    except TopologyError as e:
        err = Console(stderr=True)
        err.print(f"[red]bgpvpn lab: invalid topology {e.source}:[/red]", highlight=False)
        for key, reason in e.problems:
            err.print(f"  {key}: {reason}", highlight=False, markup=False)
        raise typer.Exit(2) from None


def _lab_name(ctx: typer.Context, name: str | None, file: Path | None, node: str | None) -> str:
    if name:
        return name
    if file is not None:
        try:
            return lab_name_of(file)
        except TopologyError as e:
            raise _fail(str(e), 2) from None
    try:
        return runner.find_lab(_root(ctx), None, node)
    except runner.LabError as e:
        raise _fail(str(e)) from None


def _open(ctx: typer.Context, name: str) -> tuple[Any, Topology]:
    try:
        return runner.load_lab(_root(ctx), name)
    except runner.LabError as e:
        raise _fail(str(e)) from None


class RichReporter:
    """The progress display of ``lab up`` / ``lab down``: a spinner and a bar for the current
    step, one line per finished step."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task: TaskID | None = None

    def begin(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("starting", total=total)

    def step(self, text: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=text)

    def done(self, text: str) -> None:
        self.console.print(f"[green]✓[/green] {text}", highlight=False)
        if self.task is not None:
            self.progress.advance(self.task)

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]![/yellow] {text}", highlight=False, markup=False)

    def stop(self) -> None:
        self.progress.stop()


@lab_app.command("up")
def up_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the topology file (TOML)")],
    dataplane: Annotated[
        str | None,
        typer.Option("--dataplane", help="dummy or linux: overrides the topology's drivers"),
    ] = None,
    wait: Annotated[
        float,
        typer.Option("--wait", help="seconds to wait for the BGP sessions (0: do not wait)"),
    ] = 60.0,
    keep_on_error: Annotated[
        bool, typer.Option("--keep-on-error", help="on failure, leave the lab for inspection")
    ] = False,
) -> None:
    """Build the lab: namespaces, links, daemons, VM attachments; wait for BGP sessions."""
    if dataplane not in (None, "dummy", "linux"):
        raise _fail(f"--dataplane: {dataplane!r} is not dummy or linux", 2)
    topo = _load(file)
    console = Console()
    rep = RichReporter(console)
    try:
        st = runner.up(
            topo,
            _root(ctx),
            file=str(file),
            driver=dataplane,
            wait=wait,
            cleanup_on_error=not keep_on_error,
            report=rep,
        )
    except runner.LabError as e:
        rep.stop()
        raise _fail(str(e)) from None
    except KeyboardInterrupt:
        rep.stop()
        raise _fail("interrupted", 130) from None
    finally:
        rep.stop()
    for n in st.notes:
        rep.note(n)
    console.print(
        f"lab [bold]{topo.lab.name}[/bold] is up: {len(topo.hosts)} hosts, {len(topo.vms)} vms "
        f"(namespaces {topo.lab.name}-*, state {st.dir})",
        highlight=False,
    )


@lab_app.command("down")
def down_command(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="the topology file (for its name)")] = None,
    name: NameOpt = None,
    keep_logs: Annotated[
        bool, typer.Option("--keep-logs", help="keep the state directory's logs")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Stop the lab's processes and delete its namespaces (also after a crash). Idempotent."""
    if file is None and name is None:
        raise _fail("give the topology file or --name", 2)
    lab = _lab_name(ctx, name, file, None)
    console = Console()
    try:
        res = runner.down(
            _root(ctx), lab, keep_logs=keep_logs, report=None if as_json else RichReporter(console)
        )
    except runner.LabError as e:
        raise _fail(str(e)) from None
    if as_json:
        typer.echo(json.dumps(res, indent=2))
    elif not res["found"]:
        console.print(f"lab {lab} is not up (nothing to remove)", highlight=False)
    else:
        console.print(f"lab {lab} is down", highlight=False)


@lab_app.command("status")
def status_command(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="the topology file (for its name)")] = None,
    name: NameOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Hosts (namespace, processes), BGP sessions and VM attachments of a lab."""
    lab = _lab_name(ctx, name, file, None)
    st, topo = _open(ctx, lab)
    doc = runner.status(st, topo)
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    console = Console()
    t = Table(title=f"lab {lab}" + ("" if doc["complete"] else " (incomplete)"))
    for col in ("host", "kind", "namespace", "present", "processes"):
        t.add_column(col)
    for h in doc["hosts"]:
        procs = " ".join(
            f"{p['role']}:{p['pid']}" + ("" if p["alive"] else " [red](dead)[/red]")
            for p in h["processes"]
        )
        t.add_row(h["name"], h["kind"], h["namespace"], _yes(h["present"]), procs or "-")
    console.print(t)
    if doc["sessions"]:
        s = Table(title="BGP sessions")
        for col in ("host", "peer", "address", "asn", "state", "families"):
            s.add_column(col)
        for x in doc["sessions"]:
            state = x["state"] or "?"
            color = "green" if state == "established" else "yellow"
            s.add_row(
                x["host"], x["peer"], str(x["address"]), str(x["asn"]),
                f"[{color}]{state}[/{color}]", " ".join(x["families"]) or "-",
            )  # fmt: skip
        console.print(s)
    if doc["attachments"]:
        a = Table(title="VM attachments")
        for col in ("vm", "host", "vpn", "type", "port", "addresses", "attached", "in daemon"):
            a.add_column(col)
        for x in doc["attachments"]:
            seen = x["seen_by_daemon"]
            a.add_row(
                x["vm"], x["host"], x["vpn"], x["type"], x["port"], " ".join(x["ips"]) or "-",
                _yes(x["attached"]), "?" if seen is None else _yes(seen),
            )  # fmt: skip
        console.print(a)
    for n in doc["notes"]:
        console.print(f"[yellow]![/yellow] {n}", highlight=False)


def _yes(v: bool) -> str:
    return "[green]yes[/green]" if v else "[red]no[/red]"


@lab_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def exec_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="a host or vm of the lab")],
    command: Annotated[
        list[str] | None, typer.Argument(help="the command (after --); default: a shell")
    ] = None,
    name: NameOpt = None,
    file: FileOpt = None,
) -> None:
    """Run a command inside a host's or vm's namespace; exits with its status."""
    lab = _lab_name(ctx, name, file, host)
    _, topo = _open(ctx, lab)
    try:
        rc = runner.exec_in(topo, host, list(command or []))
    except runner.LabError as e:
        raise _fail(str(e)) from None
    raise typer.Exit(rc)


@lab_app.command("ping")
def ping_command(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(help="host or vm to ping from")],
    dst: Annotated[str, typer.Argument(help="host or vm (its first address), or an address")],
    count: Annotated[int, typer.Option("--count", "-c", min=1, help="echo requests")] = 3,
    name: NameOpt = None,
    file: FileOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only the verdict")] = False,
) -> None:
    """Ping from SRC's namespace to DST's first address: exit status 0 if answered, else 1."""
    lab = _lab_name(ctx, name, file, src)
    _, topo = _open(ctx, lab)
    try:
        addr = runner.node_address(topo, dst)
        rc = runner.ping(topo, src, dst, count, quiet=quiet)
    except runner.LabError as e:
        raise _fail(str(e)) from None
    verdict = "reachable" if rc == 0 else "unreachable"
    typer.echo(f"{src} -> {dst} ({addr}): {verdict}")
    raise typer.Exit(rc)


@lab_app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The labs that are up (have a state directory)."""
    labs = list_labs(_root(ctx))
    if as_json:
        typer.echo(json.dumps(labs))
    else:
        for lab in labs:
            typer.echo(lab)


@lab_app.command("check")
def check_command(
    file: Annotated[Path, typer.Argument(help="the topology file (TOML)")],
) -> None:
    """Validate a topology and print what lab up would build."""
    topo = _load(file)
    plan = topo.plan()
    typer.echo(f"{file}: topology {topo.lab.name} is valid")
    for h in topo.hosts:
        typer.echo(f"  host {h.name} ({h.kind}) namespace {topo.namespace(h.name)}")
    for link in plan.links:
        typer.echo(
            f"  link {link.a_host}:{link.a_ifname} {' '.join(link.a_addresses)} <-> "
            f"{link.b_host}:{link.b_ifname} {' '.join(link.b_addresses)}"
        )
    for s in plan.sessions:
        typer.echo(
            f"  session {s.a} {s.a_address} <-> {s.b} {s.b_address} ({' '.join(s.families)})"
        )
    for vm in topo.vms:
        typer.echo(
            f"  vm {vm.name} on {vm.host} port {vm.port_name}: {vm.type} {vm.vpn} "
            f"{' '.join(vm.ips)}"
        )
