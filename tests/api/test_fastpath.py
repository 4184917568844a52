"""The fast path (``api.fastpath``) answers the hot endpoints exactly as FastAPI does: the same
status and JSON for good and bad bodies, a body FastAPI refuses (422) is left to FastAPI, a
crash in a handler is a 500, and the daemon's ``changed()`` runs after a fast answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bagpipe.harness import Client, Ctx, Response, make_app, make_ctx
from bagpipe.harness import evpn_attach_body as _evpn
from bgpvpn.api.fastpath import FastAnswer, FastRoutes, parse_json, render_json


def _bagpipe(n: int, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "vpn_instance_id": "bp",
        "vpn_type": "evpn",
        "local_port": {"linuxif": f"bp{n}"},
        "mac_address": f"52:54:00:00:01:{n:02x}",
        "ip_address": f"203.0.113.{n}/24",
        "import_rt": ["64512:9"],
        "export_rt": ["64512:9"],
    }
    body.update(more)
    return body


# (path, body): good calls, refusals of the vpn layer (4xx with the field), bodies FastAPI
# refuses (422), in an order where later calls depend on earlier ones
CALLS: list[tuple[str, Any]] = [
    ("/v1/attach", _evpn(1)),
    ("/v1/attach", _evpn(1)),  # again: nothing changes
    ("/v1/attach", _evpn(2, ips=["198.51.100.2/24", "2001:db8::2/64"])),
    ("/v1/attach", _evpn(3, mac="52:54:00:00:00:01")),  # the MAC of tap1: 409
    ("/v1/attach", _evpn(4, mac="not-a-mac")),
    ("/v1/attach", _evpn(5, ips=["198.51.100.300/24"])),
    ("/v1/attach", _evpn(6, route_targets=["64512"])),
    ("/v1/attach", _evpn(7, instance_type="ipvpn")),  # type conflict: 409
    ("/v1/attach", {k: v for k, v in _evpn(8).items() if k != "instance_type"}),  # known: ok
    ("/v1/attach", {k: v for k, v in _evpn(9, instance_id="new").items() if k != "instance_type"}),
    ("/v1/attach", _evpn(10, unknown_field=1)),  # 422 (extra field)
    ("/v1/attach", _evpn(11, ips="198.51.100.11/24")),  # 422 (not a list)
    ("/v1/attach", {"instance_id": "ev"}),  # 422 (port, mac missing)
    ("/v1/attach", b"{not json"),  # 422 (JSON)
    ("/v1/attach", b""),  # 422 (no body)
    ("/v1/attach", [1, 2]),  # 422 (not an object)
    ("/v1/detach", {"instance_id": "ev", "port": "tap2"}),
    ("/v1/detach", {"instance_id": "ev", "port": "tap2"}),  # gone: 404
    ("/v1/detach", {"instance_id": "nope", "port": "tap1"}),
    ("/v1/detach", {"instance_id": "ev"}),  # 422
    ("/attach_localport", _bagpipe(1)),
    ("/attach_localport", _bagpipe(2, mac_address="zz")),
    ("/attach_localport", _bagpipe(3, vpn_type="l2vpn")),
    ("/attach_localport", b"{not json"),
    ("/attach_localport", b""),
    ("/detach_localport", _bagpipe(1)),
    ("/detach_localport", _bagpipe(1)),  # gone
    ("/detach_localport", {"vpn_instance_id": "bp"}),
]


def _post(client: Client, path: str, body: Any) -> Response:
    if isinstance(body, bytes):
        return client.request("POST", path, raw=body)
    return client.request("POST", path, body)


def _comparable(resp: Response) -> tuple[int, Any]:
    data = resp.json()
    if isinstance(data, dict):
        data.pop("request_id", None)  # a new one per call
    return resp.status, data


def test_fast_path_answers_as_fastapi_does() -> None:
    fast_ctx, slow_ctx = make_ctx(), make_ctx()
    fast, slow = Client(make_app(fast_ctx)), Client(make_app(slow_ctx, fast_path=False))
    statuses = set()
    for path, body in CALLS:
        got, want = _post(fast, path, body), _post(slow, path, body)
        assert _comparable(got) == _comparable(want), (path, body)
        assert got.headers["content-type"] == "application/json"
        assert int(got.headers["content-length"]) == len(got.body)
        statuses.add(got.status)
    assert statuses >= {200, 400, 404, 409, 422}
    # the same state on both sides
    assert fast.get("/v1/instances").json() == slow.get("/v1/instances").json()


def test_fast_answer_is_rendered_like_jsonresponse() -> None:
    ctx = make_ctx()
    resp = _post(Client(make_app(ctx)), "/v1/attach", _evpn(1, instance_description="café"))
    assert resp.status == 200
    assert resp.body == render_json(json.loads(resp.body))  # compact, UTF-8
    assert "café".encode() in resp.body  # not escaped, as JSONResponse does


def test_refused_body_reaches_fastapi_with_its_body() -> None:
    ctx = make_ctx()
    resp = _post(Client(make_app(ctx)), "/v1/attach", _evpn(1, extra_field=True))
    assert resp.status == 422
    detail = resp.json()["detail"]
    assert detail[0]["loc"] == ["body", "extra_field"]
    assert detail[0]["input"] is True  # FastAPI saw the body the fast path had read


def test_handler_crash_is_500_and_changed_runs() -> None:
    called: list[str] = []

    def boom(body: bytes) -> FastAnswer | None:
        raise RuntimeError("bug")

    def ok(body: bytes) -> FastAnswer | None:
        return FastAnswer(201, {"got": body.decode()})

    async def fallback(scope: Any, receive: Any, send: Any) -> None:
        called.append("fallback")

    app = FastRoutes(fallback, {"/boom": boom, "/ok": ok}, lambda: called.append("changed"))
    client = Client(app)  # type: ignore[arg-type]
    resp = client.request("POST", "/boom", raw=b"{}")
    assert resp.status == 500 and resp.body == b"Internal Server Error"
    resp = client.request("POST", "/ok", raw=b"x")
    assert resp.status == 201 and resp.json() == {"got": "x"}
    assert called == ["changed", "changed"]
    client.request("GET", "/ok")  # not a POST: the framework's
    client.request("POST", "/other", raw=b"{}")
    assert called == ["changed", "changed", "fallback", "fallback"]


def test_changed_runs_after_a_fast_attach() -> None:
    ctx: Ctx = make_ctx()
    seen: list[int] = []
    app = make_app(ctx)
    fast = app.fast  # type: ignore[attr-defined]
    assert fast is not None
    fast.after = lambda: seen.append(len(ctx.driver.state()["instances"]))
    _post(Client(app), "/v1/attach", _evpn(1))
    assert seen == [1]


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2}',
        b'{"a": 123456789012345678901234567890}',  # orjson would give a float
        b'{"a": [1, {"b": [2.5]}]}',
        b'{"a": NaN, "b": Infinity}',
        b"[1e400]",
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte order mark
        '{"a": "\\u00e9"}'.encode("utf-16"),
        b'{"a": "\\ud800"}',  # a lone surrogate
        b'{"a": 1} x',
        b"",
    ],
)
def test_parse_json_reads_as_json_does(body: bytes) -> None:
    """``parse_json`` (orjson first) gives what ``json.loads`` (FastAPI's parser) gives."""
    try:
        want: tuple[bool, Any] = (True, json.loads(body))
    except ValueError:
        want = (False, None)
    got = parse_json(body)
    assert got[0] == want[0]
    assert repr(got[1]) == repr(want[1])  # NaN != NaN; the reprs compare
