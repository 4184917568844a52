"""The benchmarks' HTTP client: one connection, requests sent one at a time.

A sequential-call benchmark measures the server only as far as the client's own time per call
is small next to the server's. ``LeanConnection`` writes each request in one ``sendall`` and
parses the answer with httptools (uvicorn's C parser, already installed); ``http.client``
spends ~70 us more CPU per call on this machine (its ``email``-based header parsing, the
request built piece by piece): 120-125 against 50-57 us with the JSON of an attach, against a
canned server in another process, about 15% of bgpvpn's 0.3-0.5 ms per attach.
``StdlibConnection`` is ``http.client``, kept so that a run can show what the client costs
(``bench/attach.py --client stdlib``).

Both keep the connection open between calls when the server allows it (HTTP/1.1 keep-alive),
open a new one when it does not (an HTTP/1.0 server closing after each answer) and once more
when the server closed an idle connection before the request, and count the TCP connections
they open.
"""

from __future__ import annotations

import http.client
import socket
from typing import Protocol

import httptools


class Connection(Protocol):
    connects: int

    def request(self, method: str, path: str, payload: bytes | None) -> tuple[int, bytes]: ...

    def close(self) -> None: ...


class _Answer:
    """httptools' parser of one connection's answers and its callbacks (``start()`` before
    each request): one per connection, not one per call."""

    __slots__ = ("body", "delimited", "done", "keep_alive", "parser")

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = False
        self.keep_alive = False
        self.delimited = False  # a length or chunks, else the connection's end ends the body
        self.parser = httptools.HttpResponseParser(self)

    def start(self) -> None:
        self.body = []
        self.done = self.keep_alive = self.delimited = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.delimited = True

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, data: bytes) -> None:
        self.body.append(data)

    def on_message_complete(self) -> None:
        self.done = True


class LeanConnection:
    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.answer = _Answer()
        self.connects = 0
        self._host_header = f"Host: {host}:{port}\r\n".encode()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.answer = _Answer()  # a new connection, a parser in its initial state
        self.connects += 1
        return sock

    def request(self, method: str, path: str, payload: bytes | None) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._host_header
        if payload is None:
            data = head + b"\r\n"
        else:
            data = (
                head
                + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload)
                + payload
            )
        reused = self.sock is not None
        try:
            return self._exchange(self.sock or self._connect(), data)
        except (ConnectionResetError, BrokenPipeError, _ClosedBeforeAnswer):
            self.close()
            if not reused:
                raise
        # the server closed the idle connection (uvicorn's keep-alive timeout): send it again
        return self._exchange(self._connect(), data)

    def _exchange(self, sock: socket.socket, data: bytes) -> tuple[int, bytes]:
        sock.sendall(data)
        answer = self.answer
        answer.start()
        got_any = False
        while not answer.done:
            chunk = sock.recv(65536)
            if not chunk:
                if not got_any:
                    raise _ClosedBeforeAnswer
                if answer.parser.get_status_code() == 0 or answer.delimited:
                    raise ConnectionError("the server closed the connection mid-answer")
                answer.keep_alive = False  # an HTTP/1.0 answer that ends with the connection
                break
            got_any = True
            answer.parser.feed_data(chunk)
        if not answer.keep_alive:
            self.close()
        body = answer.body
        return answer.parser.get_status_code(), body[0] if len(body) == 1 else b"".join(body)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class _ClosedBeforeAnswer(ConnectionError):
    pass


class StdlibConnection:
    """``http.client.HTTPConnection`` (which reopens by itself after a server's close)."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.conn = _CountingHTTPConnection(host, port, timeout=timeout)

    @property
    def connects(self) -> int:
        return self.conn.connects

    def request(self, method: str, path: str, payload: bytes | None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            resp = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            # the server closed the idle connection: open a new one
            self.conn.close()
            self.conn.request(method, path, body=payload, headers=headers)
            resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()


class _CountingHTTPConnection(http.client.HTTPConnection):
    connects = 0

    def connect(self) -> None:
        super().connect()
        self.connects += 1


CLIENTS: dict[str, type[LeanConnection] | type[StdlibConnection]] = {
    "lean": LeanConnection,
    "stdlib": StdlibConnection,
}
