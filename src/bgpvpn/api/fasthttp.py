"""The fast path at the HTTP level: uvicorn's httptools protocol, answering the fast routes
(``api.fastpath``) without an ASGI task per request.

uvicorn parses a request, makes a ``RequestResponseCycle`` and starts an asyncio task running
the ASGI app, which then writes the status line and headers, and the body, in two writes. For an
attach that is a quarter of the daemon's time per call. ``FastHttpProtocol`` takes over one step:
when uvicorn is about to start the task for a ``POST`` to a fast route, it waits instead for the
whole body, runs the route's handler right there (it is synchronous) and writes the response in
one write, then completes the cycle as uvicorn's own ``send`` would (keep-alive timer, the next
pipelined request, ``Connection: close``).

Anything else takes uvicorn's way unchanged: other requests, a handler that leaves the body to
FastAPI (its 422), ``Expect: 100-continue``, a request pipelined behind a running one (uvicorn
starts those from its queue), and a transport whose writes are paused. It relies on uvicorn's
``HttpToolsProtocol`` internals (``_start_asgi_task``, ``on_message_complete``, the cycle's
``body``/``keep_alive``/``on_response``): ``usable()`` checks them, the daemon falls back to
the plain protocol when they are missing, and ``tests/api/test_fasthttp.py`` drives it over
real sockets.
"""

from __future__ import annotations

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

_STATUS = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in http.HTTPStatus}


def usable() -> bool:
    """Whether the installed uvicorn has what ``FastHttpProtocol`` relies on."""
    if HttpToolsProtocol is None or RequestResponseCycle is None:
        return False
    wanted = ("_start_asgi_task", "on_message_complete", "on_response_complete")
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


if HttpToolsProtocol is not None:

    class FastHttpProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with the fast routes answered in place."""

        _fast: tuple[Any, Any, Any] | None = None  # (cycle, app, handler) waiting for its body

        def _fast_routes(self) -> FastRoutes | None:
            fast = getattr(self.app, "fast", None)
            return fast if isinstance(fast, FastRoutes) else None

        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            scope = cycle.scope
            fast = self._fast_routes() if scope["method"] == "POST" else None
            handler = fast.routes.get(scope["path"]) if fast is not None else None
            if (
                handler is None
                or cycle.waiting_for_100_continue
                or self.pipeline
                or self.flow.write_paused
            ):
                super()._start_asgi_task(cycle, app)
            elif cycle.more_body:
                self._fast = (cycle, app, handler)  # answered when the body is complete
            else:  # a pipelined request started from uvicorn's queue, its body already read
                self._answer(cycle, app, handler)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            pending = self._fast
            if pending is None:
                return
            self._fast = None
            cycle = pending[0]
            if cycle is self.cycle and not cycle.disconnected:
                self._answer(*pending)

        def _answer(self, cycle: Any, app: Any, handler: Any) -> None:
            # the cyclic collector waits until the answer is written: a collection that the
            # handler's allocations trigger then runs while the client reads the answer, not
            # while it waits for it
            collecting = gc.isenabled()
            gc.disable()
            try:
                self._answer_now(cycle, app, handler, collecting)
            finally:
                if collecting:
                    gc.enable()

        def _answer_now(self, cycle: Any, app: Any, handler: Any, collecting: bool) -> None:
            try:
                answer: FastAnswer | None = handler(bytes(cycle.body))
            except Exception:
                log.exception("POST %s failed", cycle.scope["path"])
                answer = FastAnswer(500, None)
            if answer is None:  # FastAPI answers it (its 422); the body is in the cycle
                if collecting:
                    gc.enable()
                cycle.scope[DECLINED] = True
                super()._start_asgi_task(cycle, app)
                return
            if answer.content is None:
                body, ctype = b"Internal Server Error", b"text/plain; charset=utf-8"
            else:
                body, ctype = render_json(answer.content), b"application/json"
            cycle.body = bytearray()
            cycle.response_started = cycle.response_complete = True
            self.transport.write(
                _response(answer.status, body, ctype, cycle.default_headers, cycle.keep_alive)
            )
            if collecting:
                gc.enable()
            cycle.message_event.set()
            if not cycle.keep_alive:
                self.transport.close()
            cycle.on_response()
            fast = self._fast_routes()
            if fast is not None and fast.after is not None:
                fast.after()

else:  # pragma: no cover
    FastHttpProtocol = None  # type: ignore[assignment,misc]
