"""The hot JSON endpoints (attach and detach, native and BaGPipe's) served straight from ASGI.

A port attach is small work (about 0.2 ms in the vpn layer and the store); FastAPI's request
machinery around it (routing, dependency solving, body parsing, response encoding, exception
middlewares) costs as much again. ``FastRoutes`` is a middleware that answers ``POST`` on the
paths it is given itself: it reads the body, calls the endpoint's handler and sends the JSON it
returns, encoded as ``JSONResponse`` encodes it. The endpoints stay declared in FastAPI (the
OpenAPI schema, ``/docs``) and run the same handler functions there, so both ways give the same
answer.

A handler gets the raw body and returns a ``FastAnswer``, or None when the body is not for the
fast path (not JSON, or not valid for the endpoint's model): the request then goes to FastAPI
with the body replayed, and FastAPI's own 422 answers it exactly as it always did.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

log = logging.getLogger("bgpvpn.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FastAnswer:
    status: int
    content: Any


FastHandler = Callable[[bytes], FastAnswer | None]


def render_json(content: Any) -> bytes:
    """JSON as Starlette's ``JSONResponse`` renders it (compact, UTF-8), by orjson: the same
    bytes for dicts, lists, strings, ints and bools, several times faster. What orjson refuses
    (a key that is not a string, an int beyond 64 bits) takes ``json``'s way. One difference:
    orjson writes a NaN or infinite float as null where Starlette refuses it (a 500); the fast
    routes' answers carry no float."""
    try:
        return orjson.dumps(content)
    except TypeError:  # orjson.JSONEncodeError
        pass
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def _has_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return True
    if kind is dict:
        items = value.values()
    elif kind is list:
        items = value
    else:
        return False
    for item in items:
        kind = type(item)
        if kind is float or ((kind is dict or kind is list) and _has_float(item)):
            return True
    return False


def parse_json(body: bytes) -> tuple[bool, Any]:
    """``(True, value)`` for a JSON body, ``(False, None)`` otherwise, as ``json`` (FastAPI's
    parser) reads it. orjson first; what it refuses is read by ``json`` (which takes NaN,
    UTF-16 and -32, a UTF-8 byte order mark and lone surrogates), and so is a body in which
    orjson found a float (it reads an int beyond 64 bits as a float; ``json`` as an int)."""
    try:
        value = orjson.loads(body)
    except ValueError:  # orjson.JSONDecodeError
        pass
    else:
        if not _has_float(value):
            return True, value
    try:
        return True, json.loads(body)
    except ValueError:
        return False, None


# set in the ASGI scope by a server that already ran the route's handler and got None (the
# daemon's ``FastHttpProtocol``): the request goes to FastAPI without a second try
DECLINED = "bgpvpn.fast_declined"

_JSON = (b"content-type", b"application/json")
_TEXT = (b"content-type", b"text/plain; charset=utf-8")


class FastRoutes:
    """``POST`` to one of ``routes`` (path -> handler) is answered here; anything else goes to
    ``app``. ``after`` is called once a fast answer is sent (the daemon's ``changed()``: the
    data-plane batch and the speaker's wake-up)."""

    def __init__(
        self,
        app: Asgi,
        routes: Mapping[str, FastHandler],
        after: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self.after = after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            self.routes.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST" and DECLINED not in scope
            else None
        )
        if handler is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        try:
            answer = handler(body)
        except Exception:  # what ServerErrorMiddleware does for the framework's routes
            log.exception("%s %s failed", scope["method"], scope["path"])
            answer = FastAnswer(500, None)
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            if answer.content is None:
                await _send(send, answer.status, b"Internal Server Error", _TEXT)
            else:
                await _send(send, answer.status, render_json(answer.content), _JSON)
        finally:
            if self.after is not None:
                self.after()


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            return None
        if kind == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (its disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _send(send: Send, status: int, body: bytes, content_type: tuple[bytes, bytes]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), content_type],
        }
    )
    await send({"type": "http.response.body", "body": body})
