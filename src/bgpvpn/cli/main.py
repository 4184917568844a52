"""``bgpvpn``: one command, with subcommands."""

from __future__ import annotations

import typer

from bgpvpn import __version__
from bgpvpn.cli.decode import decode_command

app = typer.Typer(
    name="bgpvpn",
    help="bgpvpn: a BGP VPN speaker for Linux hosts (IP VPN and E-VPN over BGP).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("decode")(decode_command)


@app.command("version")
def version_command() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
