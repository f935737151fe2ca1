"""The few HTTP GETs every probe of a server makes, with the standard library (no client to import)."""

from __future__ import annotations

import urllib.error
import urllib.request


def root_url(base_url: str) -> str:
    """The server root of an OpenAI base URL (`http://h:p/v1` -> `http://h:p`)."""
    u = base_url.rstrip("/")
    return u[:-3] if u.endswith("/v1") else u


def api_base(url: str) -> str:
    """An OpenAI base URL ending in /v1 from a server URL given either way."""
    u = url.rstrip("/")
    return u if u.endswith("/v1") else u + "/v1"


def http_get(url: str, *, api_key: str | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read() if exc.fp else b""
