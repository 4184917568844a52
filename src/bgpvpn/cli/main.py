"""``bgpvpn``: one command, with subcommands."""

from __future__ import annotations

from typing import Annotated

import typer

from bgpvpn import __version__
from bgpvpn.cli.client import announce_command, peers_command, rib_command, withdraw_command
from bgpvpn.cli.daemon import daemon_command
from bgpvpn.cli.decode import decode_command
from bgpvpn.cli.doctor import doctor_command
from bgpvpn.cli.lab import lab_app
from bgpvpn.cli.vpn import attach_command, detach_command, lg_command, vpns_command

app = typer.Typer(
    name="bgpvpn",
    help="bgpvpn: a BGP VPN speaker for Linux hosts (IP VPN and E-VPN over BGP).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    api: Annotated[
        str | None,
        typer.Option(
            "--api",
            help="the daemon's API, http://HOST:PORT (default: $BGPVPN_API, "
            "else http://127.0.0.1:8082)",
        ),
    ] = None,
) -> None:
    """bgpvpn: a BGP VPN speaker for Linux hosts (IP VPN and E-VPN over BGP)."""
    ctx.obj = {"api": api}


app.command("decode")(decode_command)
app.command("doctor")(doctor_command)
app.command("daemon")(daemon_command)
app.command("peers")(peers_command)
app.command("rib")(rib_command)
app.command("announce")(announce_command)
app.command("withdraw")(withdraw_command)
app.command("attach")(attach_command)
app.command("detach")(detach_command)
app.command("vpns")(vpns_command)
app.command("lg")(lg_command)
app.add_typer(lab_app, name="lab")


@app.command("version")
def version_command() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
