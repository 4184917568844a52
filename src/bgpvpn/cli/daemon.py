"""``bgpvpn daemon -c FILE``: run the BGP speaker and its REST API until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Annotated

import typer
import uvicorn

from bgpvpn.api import fasthttp
from bgpvpn.api.app import create_app
from bgpvpn.api.context import LogBuffer
from bgpvpn.api.fasthttp import FastHttpProtocol
from bgpvpn.config import Config, ConfigError, load_config
from bgpvpn.service import DriverUnavailable, Service
from bgpvpn.store.sqlite import StoreError


def daemon_command(
    config: Annotated[str, typer.Option("--config", "-c", help="the TOML configuration file")],
    check: Annotated[
        bool, typer.Option("--check", help="validate the configuration and exit")
    ] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning, error")
    ] = "info",
) -> None:
    """Run the BGP speaker (sessions, RIB) and its REST API."""
    try:
        cfg = load_config(config)
    except ConfigError as e:
        typer.echo("bgpvpn daemon: invalid configuration " + str(e.source) + ":", err=True)
        for key, reason in e.problems:
            typer.echo(f"  {key}: {reason}", err=True)
        raise typer.Exit(2) from None
    if check:
        typer.echo(f"{config}: configuration is valid ({len(cfg.bgp.peers)} peers)")
        return
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        typer.echo(f"bgpvpn daemon: --log-level: unknown level {log_level!r}", err=True)
        raise typer.Exit(2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logs = LogBuffer()
    logging.getLogger().addHandler(logs)
    try:
        service = Service(cfg, logs)
    except (StoreError, DriverUnavailable) as e:
        typer.echo(f"bgpvpn daemon: {e}", err=True)
        raise typer.Exit(1) from None
    try:
        asyncio.run(run_daemon(service, log_level.lower()))
    except OSError as e:
        typer.echo(f"bgpvpn daemon: {e}", err=True)
        raise typer.Exit(1) from None


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon stops the speaker first."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_daemon(service: Service, log_level: str = "info") -> None:
    cfg: Config = service.config
    await service.start()
    server = _ApiServer(
        uvicorn.Config(
            create_app(service.speaker, service.context),
            host=cfg.api.listen,
            port=cfg.api.port,
            log_level="warning" if log_level == "info" else log_level,
            lifespan="off",
            access_log=False,
            proxy_headers=False,
            http=FastHttpProtocol if fasthttp.usable() else "httptools",
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    api_task = loop.create_task(server.serve())
    stop_task = loop.create_task(stop.wait())
    await asyncio.wait({api_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await service.stop("bgpvpn daemon stopping")
    if not api_task.done():
        await asyncio.wait({api_task}, timeout=5)
    stop_task.cancel()
    if api_task.done() and not api_task.cancelled():
        exc = api_task.exception()
        if exc is not None:
            raise exc
