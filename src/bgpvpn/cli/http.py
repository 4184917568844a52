"""A small JSON client of the bgpvpn REST API (stdlib only)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

DEFAULT_API = "http://127.0.0.1:8082"


class ApiClientError(Exception):
    """The API answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def api_url(option: str | None) -> str:
    """``--api`` if given, else ``$BGPVPN_API``, else http://127.0.0.1:8082."""
    return (option or os.environ.get("BGPVPN_API") or DEFAULT_API).rstrip("/")


def call(base: str, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            doc = json.loads(raw)
        except ValueError:
            raise ApiClientError(f"HTTP {e.code}: {raw[:200]!r}", e.code) from None
        raise ApiClientError(_error_text(doc), e.code) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ApiClientError(f"cannot reach the bgpvpn API at {base}: {reason}") from None


def _error_text(doc: Any) -> str:
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):
            return f"{err.get('field')}: {err.get('reason')}"
        detail = doc.get("detail")
        if isinstance(detail, list):
            parts = []
            for d in detail:
                loc = ".".join(str(x) for x in d.get("loc", ())[1:]) or "body"
                parts.append(f"{loc}: {d.get('msg')}")
            return "; ".join(parts)
        if detail is not None:
            return str(detail)
    return json.dumps(doc)
