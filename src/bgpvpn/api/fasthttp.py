"""The fast path at the HTTP level: uvicorn's httptools protocol, answering the fast routes
(``api.fastpath``) as their request is parsed, without an ASGI task.

For each request uvicorn builds the ASGI scope, a ``RequestResponseCycle`` with an
``asyncio.Event``, starts an asyncio task running the app, which writes the status line and
headers, and the body, in two writes; then it arms a keep-alive timer, cancelled by the next
request. ``FastHttpProtocol`` answers a ``POST`` to a fast route on an idle connection without
any of that: when its headers are parsed it gathers the body, and when the body is complete it
runs the route's handler (synchronous) right there and writes the response in one write. The
keep-alive timeout is kept with one timer per connection, re-armed only when it fires early.

Everything else takes uvicorn's way unchanged: other requests, ``Expect: 100-continue``, a
request pipelined behind a running one, a target with a query or escapes, a transport whose
writes are paused (those fast routes are then answered by ``FastRoutes`` as an ASGI app). A
handler that leaves the body to FastAPI (its 422) gets the cycle uvicorn would have made,
with the body in it. This relies on uvicorn's ``HttpToolsProtocol`` internals (its parser
callbacks, ``cycle``, ``pipeline``, ``flow``, ``on_response_complete``): ``usable()`` checks
them, the daemon falls back to the plain protocol when they are missing, and
``tests/api/test_fasthttp.py`` drives it over real sockets.
"""

from __future__ import annotations

import asyncio
import gc
import http
import logging
from typing import Any

from bgpvpn.api.fastpath import DECLINED, FastAnswer, FastRoutes, render_json

log = logging.getLogger("bgpvpn.api")

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
except ImportError:  # pragma: no cover - httptools is a dependency
    HttpToolsProtocol = None  # type: ignore[assignment,misc]
    RequestResponseCycle = None  # type: ignore[assignment,misc]

# a fast route's body gathered here at most (uvicorn's own high-water mark for a request body)
LEAN_BODY_LIMIT = 65536

_STATUS = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in http.HTTPStatus}


def usable() -> bool:
    """Whether the installed uvicorn has what ``FastHttpProtocol`` relies on."""
    if HttpToolsProtocol is None or RequestResponseCycle is None:
        return False
    wanted = (
        "data_received",
        "connection_lost",
        "on_headers_complete",
        "on_body",
        "on_message_complete",
        "timeout_keep_alive_handler",
    )
    return all(callable(getattr(HttpToolsProtocol, name, None)) for name in wanted)


def _response(
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]],
    keep_alive: bool,
) -> bytes:
    head = [_STATUS.get(status) or f"HTTP/1.1 {status} \r\n".encode()]
    for name, value in extra:
        head += (name, b": ", value, b"\r\n")
    head += (
        b"content-length: ",
        str(len(body)).encode(),
        b"\r\n",
        b"content-type: ",
        content_type,
        b"\r\n",
    )
    if not keep_alive:
        head.append(b"connection: close\r\n")
    head += (b"\r\n", body)
    return b"".join(head)


def _answer_bytes(answer: FastAnswer, extra: list[tuple[bytes, bytes]], keep_alive: bool) -> bytes:
    if answer.content is None:
        return _response(
            answer.status, b"Internal Server Error", b"text/plain; charset=utf-8", extra, keep_alive
        )
    return _response(
        answer.status, render_json(answer.content), b"application/json", extra, keep_alive
    )


if HttpToolsProtocol is not None:

    class FastHttpProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with the fast routes answered in place."""

        _handler: Any = None  # the fast route of the request being read, if any
        _body: bytearray | None = None  # its body so far
        _keep_alive = True
        # keep-alive: when the connection became idle (None: a request is being read or
        # answered) and the one timer that checks it
        _idle_since: float | None = None
        _idle_timer: asyncio.TimerHandle | None = None

        def _fast_routes(self) -> FastRoutes | None:
            fast = getattr(self.app, "fast", None)
            return fast if isinstance(fast, FastRoutes) else None

        def data_received(self, data: bytes) -> None:
            self._idle_since = None
            super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            super().connection_lost(exc)

        def on_headers_complete(self) -> None:
            handler = self._fast_handler()
            if handler is None:
                super().on_headers_complete()
                return
            parser = self.parser
            self._handler = handler
            self._body = bytearray()
            self._keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()

        def _fast_handler(self) -> Any:
            parser = self.parser
            cycle = self.cycle
            if (
                parser.get_method() != b"POST"
                or self.expect_100_continue
                or (cycle is not None and not cycle.response_complete)  # pipelined behind it
                or self.pipeline
                or self.flow.write_paused
                or self.root_path
                or self.limit_concurrency is not None
                or parser.should_upgrade()
            ):
                return None
            fast = self._fast_routes()
            # the target is the path itself unless it has a query or escapes (uvicorn's way)
            return fast.routes.get(self.url.decode("latin-1")) if fast is not None else None

        def on_body(self, body: bytes) -> None:
            gathered = self._body
            if gathered is None:
                super().on_body(body)
                return
            gathered += body
            if len(gathered) > LEAN_BODY_LIMIT:
                # no body of a fast route is that big (an attach is under 1 KiB): the rest takes
                # uvicorn's way, with its flow control, and ``FastRoutes`` answers it
                self._handler = self._body = None
                super().on_headers_complete()  # the cycle, and the ASGI task (not run yet)
                super().on_body(bytes(gathered))

        def on_message_complete(self) -> None:
            handler, body = self._handler, self._body
            if handler is None or body is None:
                super().on_message_complete()
                return
            self._handler = self._body = None
            self._answer(handler, bytes(body))

        def _answer(self, handler: Any, body: bytes) -> None:
            # the cyclic collector waits until the answer is written: a collection that the
            # handler's allocations trigger then runs while the client reads the answer, not
            # while it waits for it
            collecting = gc.isenabled()
            gc.disable()
            try:
                try:
                    answer: FastAnswer | None = handler(body)
                except Exception:
                    log.exception("POST %s failed", self.url.decode("latin-1"))
                    answer = FastAnswer(500, None)
                if answer is not None:
                    self.transport.write(
                        _answer_bytes(answer, self.server_state.default_headers, self._keep_alive)
                    )
            finally:
                if collecting:
                    gc.enable()
            if answer is None:  # FastAPI answers it (its 422)
                self._declined(body)
                return
            self._answered()
            fast = self._fast_routes()
            if fast is not None and fast.after is not None:
                fast.after()

        def _declined(self, body: bytes) -> None:
            """Make the cycle uvicorn would have made, body included, and start its task."""
            self.scope[DECLINED] = True  # type: ignore[literal-required]
            super().on_headers_complete()  # the cycle, and the ASGI task (not run yet)
            cycle = self.cycle
            cycle.body = bytearray(body)
            cycle.more_body = False
            cycle.message_event.set()

        def _answered(self) -> None:
            """What uvicorn's ``on_response_complete`` does, with the keep-alive timer kept."""
            self.server_state.total_requests += 1
            if not self._keep_alive:
                self.transport.close()
                return
            if self.transport.is_closing():
                return
            self.flow.resume_reading()
            self._idle_since = self.loop.time()
            if self._idle_timer is None:
                self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle_check)

        def _idle_check(self) -> None:
            self._idle_timer = None
            since = self._idle_since
            if since is None:  # busy: the answer re-arms it (or uvicorn's own timer runs)
                return
            left = since + self.timeout_keep_alive - self.loop.time()
            if left > 0:
                self._idle_timer = self.loop.call_later(left, self._idle_check)
            else:
                self.timeout_keep_alive_handler()

else:  # pragma: no cover
    FastHttpProtocol = None  # type: ignore[assignment,misc]
