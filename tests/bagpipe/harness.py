"""Test helpers for the VPN, BaGPipe and looking-glass APIs: a real ``Speaker`` (not started)
and a real ``VpnManager`` with the dummy driver behind the routers, and a tiny in-process ASGI
client (no HTTP library needed)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from bgpvpn.api.app import BgpvpnApi, include_vpn_api
from bgpvpn.config import parse_config
from bgpvpn.dataplane.dummy import DummyDriver
from bgpvpn.runtime.speaker import Speaker
from bgpvpn.vpn.manager import VpnManager
from bgpvpn.vpn.model import InstanceType


class LogBuffer(logging.Handler):
    """Like the daemon's: the last records as JSON, oldest first."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


@dataclass
class Ctx:
    """The fields of the daemon's ``ApiContext`` the routers use."""

    speaker: Speaker
    vpn: VpnManager
    boot_id: str
    logs: LogBuffer = field(default_factory=LogBuffer)
    driver: DummyDriver = field(default_factory=DummyDriver)

    def changed(self) -> None:
        self.vpn.flush()


def make_ctx() -> Ctx:
    cfg = parse_config(
        {
            "bgp": {
                "asn": 64512,
                "router_id": "192.0.2.1",
                "peers": [{"address": "192.0.2.254", "asn": 64512, "families": ["vpnv4"]}],
            },
            "dataplane": {"evpn": "dummy", "ipvpn": "dummy", "vtep": "192.0.2.1"},
        }
    )
    speaker = Speaker(cfg)
    driver = DummyDriver()
    vpn = VpnManager(
        speaker.rib,
        local_asn=64512,
        router_id="192.0.2.1",
        vtep="192.0.2.1",
        drivers={InstanceType.EVPN: driver, InstanceType.IPVPN: driver},
        now=time.monotonic,
    )
    logs = LogBuffer()
    return Ctx(speaker, vpn, speaker.boot_id, logs, driver)


def make_app(ctx: Ctx, fast_path: bool = True) -> FastAPI:
    """The daemon's routers over ``ctx``; ``fast_path``: the hot endpoints answered as the
    daemon answers them (``api.fastpath``), else all by FastAPI."""
    app = BgpvpnApi()
    include_vpn_api(app, ctx, ctx.changed, fast_path)
    return app


def evpn_attach_body(n: int, **more: Any) -> dict[str, Any]:
    """A ``POST /v1/attach`` body: port tapN (MAC and address numbered N) into E-VPN ``ev``."""
    body: dict[str, Any] = {
        "instance_id": "ev",
        "instance_type": "evpn",
        "port": f"tap{n}",
        "mac": f"52:54:00:00:00:{n:02x}",
        "ips": [f"198.51.100.{n}/24"],
        "route_targets": ["64512:1"],
    }
    body.update(more)
    return body


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """Calls an ASGI app in-process: ``client.post("/v1/attach", {...})``."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1:8082") -> None:
        self.app = app
        self.host = host

    def request(
        self, method: str, url: str, body: Any = None, raw: bytes | None = None
    ) -> Response:
        return asyncio.run(self._request(method, url, body, raw))

    async def _request(self, method: str, url: str, body: Any, raw: bytes | None) -> Response:
        parts = urlsplit(url)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": [
                (b"host", self.host.encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8082),
        }
        sent = False
        status = 0
        headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.update({k.decode(): v.decode() for k, v in message["headers"]})
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return Response(status, b"".join(chunks), headers)

    def get(self, url: str) -> Response:
        return self.request("GET", url)

    def post(self, url: str, body: Any = None, raw: bytes | None = None) -> Response:
        return self.request("POST", url, body, raw)

    def patch(self, url: str, body: Any = None) -> Response:
        return self.request("PATCH", url, body)

    def delete(self, url: str) -> Response:
        return self.request("DELETE", url)
