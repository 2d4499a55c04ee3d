"""With federation off (the default), nothing federation-facing about us is served."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/_matrix/key/v2/server"), ("POST", "/_matrix/key/v2/query"),
    ("GET", "/_matrix/key/v2/query/hearth.test"), ("GET", "/.well-known/matrix/server"),
    ("GET", "/_matrix/federation/v1/version"), ("GET", "/_matrix/federation/v1/query/profile?user_id=%40a%3Ahearth.test"),
])
async def test_federation_off_serves_nothing(hs, method, path):
    assert hs.hearth.settings.federation_enabled is False
    r = await (hs.client.get(path) if method == "GET" else hs.client.post(path, json={"server_keys": {}}))
    assert r.status_code == 404
    assert (await r.get_json())["errcode"] == "M_NOT_FOUND"
