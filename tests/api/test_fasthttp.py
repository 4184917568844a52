"""``FastHttpProtocol`` over real sockets: the fast routes answered in place give what uvicorn's
own protocol gives (status, JSON, headers that matter), keep-alive, ``Connection: close``,
pipelining behind a slow request, ``Expect: 100-continue`` and the 422 fallback all behave."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from bagpipe.harness import evpn_attach_body as _evpn
from bagpipe.harness import make_app, make_ctx
from bgpvpn.api import fasthttp
from bgpvpn.api.fasthttp import FastHttpProtocol
from bgpvpn.api.fastpath import FastRoutes

pytestmark = pytest.mark.skipif(not fasthttp.usable(), reason="uvicorn internals changed")


class Server:
    """uvicorn in a thread of its own, on a free loopback port."""

    def __init__(self, protocol: Any, keep_alive: float = 5.0) -> None:
        self.ctx = make_ctx()
        self.changed = 0
        base = self.ctx.changed

        def changed() -> None:
            self.changed += 1
            base()

        self.ctx.changed = changed  # type: ignore[method-assign]
        app = self.app = make_app(self.ctx)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                http=protocol,
                log_level="warning",
                lifespan="off",
                access_log=False,
                proxy_headers=False,
                timeout_keep_alive=keep_alive,
            )
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server]]:
    fast, plain = Server(FastHttpProtocol), Server("httptools")
    try:
        yield fast, plain
    finally:
        fast.stop()
        plain.stop()


def _call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, http.client.HTTPResponse]:
    raw = json.dumps(body).encode() if body is not None else None
    conn.request(
        method, path, body=raw, headers={"Content-Type": "application/json", **(headers or {})}
    )
    resp = conn.getresponse()
    data = json.loads(resp.read())
    if isinstance(data, dict):
        data.pop("request_id", None)
    return resp.status, data, resp


def test_same_answers_as_uvicorns_protocol(servers: tuple[Server, Server]) -> None:
    fast, plain = servers
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/v1/attach", _evpn(1)),
        ("POST", "/v1/attach", _evpn(2, mac="zz")),  # 400
        ("POST", "/v1/attach", _evpn(3, bogus=1)),  # 422: FastAPI's
        ("POST", "/v1/detach", {"instance_id": "ev", "port": "nope"}),  # 404
        ("GET", "/v1/instances", None),
        ("POST", "/attach_localport", {"vpn_instance_id": "x"}),  # BaGPipe 400
        ("POST", "/v1/detach", {"instance_id": "ev", "port": "tap1"}),
    ]
    a = http.client.HTTPConnection("127.0.0.1", fast.port, timeout=10)
    b = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=10)
    for method, path, body in calls:  # one keep-alive connection each
        sa, da, ra = _call(a, method, path, body)
        sb, db, rb = _call(b, method, path, body)
        assert (sa, da) == (sb, db), (method, path)
        for header in ("content-type", "content-length", "server"):
            assert ra.getheader(header) == rb.getheader(header), header
    a.close()
    b.close()
    deadline = time.monotonic() + 5  # changed() runs just after the answer is written
    while fast.changed != plain.changed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fast.changed == plain.changed == 5  # after each change, not after the 422 or GET


def test_collector_waits_until_the_answer_is_written(servers: tuple[Server, Server]) -> None:
    """The cyclic GC is off while a fast route's handler runs (a collection its allocations
    trigger runs after the answer is written) and on again afterwards; a 422 left to FastAPI
    runs with it on."""
    fast, _ = servers
    seen: list[bool] = []
    routes = fast.app.fast.routes
    attach = routes["/v1/attach"]

    def spying(body: bytes) -> Any:
        seen.append(gc.isenabled())
        return attach(body)

    routes["/v1/attach"] = spying

    def collecting_again() -> bool:  # the server thread turns it on just after its write
        deadline = time.monotonic() + 5
        while not gc.isenabled() and time.monotonic() < deadline:
            time.sleep(0.001)
        return gc.isenabled()

    conn = http.client.HTTPConnection("127.0.0.1", fast.port, timeout=10)
    assert _call(conn, "POST", "/v1/attach", _evpn(1))[0] == 200
    assert collecting_again()
    assert _call(conn, "POST", "/v1/attach", _evpn(2, bogus=1))[0] == 422
    assert collecting_again()
    conn.close()
    assert seen == [False, False]  # the 422: its handler ran once, not again before FastAPI


def test_connection_close_and_http10(servers: tuple[Server, Server]) -> None:
    fast, _ = servers
    conn = http.client.HTTPConnection("127.0.0.1", fast.port, timeout=10)
    status, _, resp = _call(conn, "POST", "/v1/attach", _evpn(1), {"Connection": "close"})
    assert status == 200 and resp.getheader("connection") == "close"
    with socket.create_connection(("127.0.0.1", fast.port), timeout=10) as s:
        body = json.dumps(_evpn(2)).encode()
        s.sendall(
            b"POST /v1/attach HTTP/1.0\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        got = _read_all(s)
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close" in got.lower()


def _read_all(s: socket.socket) -> bytes:
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_pipelined_requests_answered_in_order(servers: tuple[Server, Server]) -> None:
    fast, _ = servers
    reqs = []
    for method, path, body in (
        ("GET", "/v1/instances", b""),
        ("POST", "/v1/attach", json.dumps(_evpn(1)).encode()),
        ("POST", "/v1/attach", json.dumps(_evpn(2)).encode()),
        ("GET", "/ping", b""),
    ):
        reqs.append(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n".encode()
            + b"\r\n"
            + body
        )
    reqs[-1] = reqs[-1].replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
    with socket.create_connection(("127.0.0.1", fast.port), timeout=10) as s:
        s.sendall(b"".join(reqs))  # all at once
        got = _read_all(s)
    parts = got.split(b"HTTP/1.1 ")[1:]
    assert [p[:3] for p in parts] == [b"200"] * 4
    assert b"[]" in parts[0]  # the list came first, before the attaches
    assert b"tap1" in parts[1] or b"52:54:00:00:00:01" in parts[1]
    assert b"52:54:00:00:00:02" in parts[2]
    assert fast.ctx.boot_id.encode() in parts[3]


def test_expect_100_continue_and_split_body(servers: tuple[Server, Server]) -> None:
    fast, _ = servers
    body = json.dumps(_evpn(1)).encode()
    with socket.create_connection(("127.0.0.1", fast.port), timeout=10) as s:
        s.sendall(
            b"POST /v1/attach HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(body)
        assert _read_all(s).startswith(b"HTTP/1.1 200 OK")
    with socket.create_connection(("127.0.0.1", fast.port), timeout=10) as s:
        body = json.dumps(_evpn(2)).encode()
        s.sendall(
            b"POST /v1/attach HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10]
        )
        time.sleep(0.05)  # the body in two reads
        s.sendall(body[10:])
        assert _read_all(s).startswith(b"HTTP/1.1 200 OK")
    assert len(fast.ctx.vpn.instance("ev").ports) == 2


def _closed_by_server(s: socket.socket, within: float) -> bool:
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False


def test_keep_alive_timeout_counts_from_the_last_answer() -> None:
    """The idle timeout (one timer per connection) closes a connection idle for that long after
    a fast answer, and not one whose requests keep coming within it."""
    server = Server(FastHttpProtocol, keep_alive=0.4)
    try:
        body = json.dumps(_evpn(1)).encode()
        req = (
            b"POST /v1/attach HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            for _ in range(4):  # 4 x 0.25 s: longer than the timeout in all, never idle for it
                s.sendall(req)
                assert s.recv(65536).startswith(b"HTTP/1.1 200 OK")
                assert not _closed_by_server(s, 0.25)
            t0 = time.monotonic()
            assert _closed_by_server(s, 3)
            assert 0.1 <= time.monotonic() - t0 <= 1.5
    finally:
        server.stop()


@contextlib.contextmanager
def asgi_calls(server: Server) -> Iterator[list[str]]:
    """The paths of the requests that reach ``FastRoutes`` as an ASGI app, while inside."""
    seen: list[str] = []
    real = server.app.fast

    class SpyRoutes(FastRoutes):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["path"])
            await super().__call__(scope, receive, send)

    server.app.fast = SpyRoutes(real.app, real.routes, real.after)
    try:
        yield seen
    finally:
        server.app.fast = real


def test_fast_routes_are_answered_without_an_asgi_cycle(servers: tuple[Server, Server]) -> None:
    """The common case (a POST to a fast route on an idle keep-alive connection) never reaches
    the ASGI app; a target with a query does, and gets the same kind of answer."""
    fast, _ = servers
    conn = http.client.HTTPConnection("127.0.0.1", fast.port, timeout=10)
    with asgi_calls(fast) as asgi:
        assert _call(conn, "POST", "/v1/attach", _evpn(1))[0] == 200
        assert _call(conn, "POST", "/v1/attach", _evpn(2))[0] == 200
        assert asgi == []
        status, data, _ = _call(conn, "POST", "/v1/attach?x=1", _evpn(3))
        assert status == 200 and data["added"]
        assert asgi == ["/v1/attach"]
    conn.close()


def test_a_big_body_takes_uvicorns_way(servers: tuple[Server, Server]) -> None:
    """A body past ``LEAN_BODY_LIMIT`` is not gathered in the protocol: the rest goes through
    uvicorn's flow control to ``FastRoutes`` as an ASGI app, and the answer is the same as
    plain uvicorn's."""
    from bgpvpn.api.fasthttp import LEAN_BODY_LIMIT

    answers = []
    with asgi_calls(servers[0]) as asgi:
        for server in servers:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            body = _evpn(1, description="d" * (3 * LEAN_BODY_LIMIT))
            status, data, _ = _call(conn, "POST", "/v1/attach", body)
            answers.append((status, data))
            # and the connection still serves the next request (the fast one in place)
            assert _call(conn, "POST", "/v1/attach", _evpn(2))[0] == 200
            conn.close()
            assert len(server.ctx.vpn.instance("ev").ports) == 2
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert asgi == ["/v1/attach"]
