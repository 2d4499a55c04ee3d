"""Calling the Synapse-compatible admin API (`/_synapse/admin`) from the API tests."""
from __future__ import annotations

from typing import Any

ADMIN = "/_synapse/admin"


async def admin_call(hs, method: str, path: str, user, json: Any = None, headers: dict | None = None):
    kwargs: dict[str, Any] = {"headers": {**(user.headers if user else {}), **(headers or {})}}
    if json is not None:
        kwargs["json"] = json
    r = await hs.client.open(ADMIN + path, method=method, **kwargs)
    return r.status_code, await r.get_json()


async def admin_ok(hs, method: str, path: str, user, json: Any = None, status: int = 200) -> dict:
    got, body = await admin_call(hs, method, path, user, json)
    assert got == status, (got, body)
    return body
