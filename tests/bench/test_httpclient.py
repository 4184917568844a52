"""The benchmarks' HTTP clients (``bench/httpclient.py``) against a scripted server on
loopback: the same answers and connection counts from both, over keep-alive, HTTP/1.0 answers
that end with the connection, chunked answers, and a server that closed an idle connection."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from httpclient import CLIENTS


class ScriptedServer:
    """Answers each request with the next of ``answers`` (raw bytes); an answer ending in
    ``b"<close>"`` is sent without that marker and the connection closed after it. Records
    each request's body."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.bodies: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self._connection(conn)

    def _connection(self, conn: socket.socket) -> None:
        buf = b""
        while self.answers:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buf) < length:
                buf += conn.recv(65536)
            self.bodies.append(buf[:length])
            buf = buf[length:]
            answer = self.answers.pop(0)
            close = answer.endswith(b"<close>")
            conn.sendall(answer.removesuffix(b"<close>"))
            if close:
                return

    def close(self) -> None:
        self.listener.close()


def ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


@pytest.fixture(params=sorted(CLIENTS))
def client_name(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


def test_keep_alive_one_connection(client_name: str) -> None:
    server = ScriptedServer(
        [ok(b'{"n":1}'), ok(b'{"n":2}'), b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}"]
    )
    conn = CLIENTS[client_name]("127.0.0.1", server.port, timeout=5)
    try:
        assert conn.request("POST", "/v1/attach", b'{"a":1}') == (200, b'{"n":1}')
        assert conn.request("GET", "/v1/instances", None) == (200, b'{"n":2}')
        assert conn.request("GET", "/nothing", None) == (404, b"{}")
        assert conn.connects == 1
        assert server.bodies == [b'{"a":1}', b"", b""]
    finally:
        conn.close()
        server.close()


def test_http10_answers_close_each_connection(client_name: str) -> None:
    # wsgiref's way (BaGPipe's API): HTTP/1.0, no length, the answer ends with the connection
    answers = [b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\nnull<close>"] * 3
    server = ScriptedServer(answers)
    conn = CLIENTS[client_name]("127.0.0.1", server.port, timeout=5)
    try:
        for i in range(3):
            assert conn.request("POST", "/attach_localport", b'{"i":%d}' % i) == (200, b"null")
        assert conn.connects == 3
        assert server.bodies == [b'{"i":0}', b'{"i":1}', b'{"i":2}']
    finally:
        conn.close()
        server.close()


def test_chunked_answer(client_name: str) -> None:
    chunked = (
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    )
    server = ScriptedServer([chunked, ok(b"[]")])
    conn = CLIENTS[client_name]("127.0.0.1", server.port, timeout=5)
    try:
        assert conn.request("GET", "/x", None) == (200, b'{"a":1}')
        assert conn.request("GET", "/y", None) == (200, b"[]")
        assert conn.connects == 1
    finally:
        conn.close()
        server.close()


def test_idle_connection_closed_by_server_is_reopened(client_name: str) -> None:
    # the server closes after the first answer without saying so (a keep-alive timeout): the
    # next request finds the connection closed and is sent again on a new one, once
    server = ScriptedServer([ok(b"1") + b"<close>", ok(b"2")])
    conn = CLIENTS[client_name]("127.0.0.1", server.port, timeout=5)
    try:
        assert conn.request("POST", "/a", b"x") == (200, b"1")
        assert conn.request("POST", "/a", b"y") == (200, b"2")
        assert conn.connects == 2
        assert server.bodies == [b"x", b"y"]
    finally:
        conn.close()
        server.close()


def test_cut_answer_is_an_error(client_name: str) -> None:
    server = ScriptedServer([b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc<close>"])
    conn = CLIENTS[client_name]("127.0.0.1", server.port, timeout=5)
    try:
        with pytest.raises(Exception):  # noqa: B017 - each client raises its own kind
            conn.request("GET", "/x", None)
    finally:
        conn.close()
        server.close()
