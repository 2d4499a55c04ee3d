"""Our server keys (/_matrix/key/v2/server, the notary /query for our own keys) and
/.well-known/matrix/server: served only with federation on."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from appliance.core.protocol.server_key_responses import parse_server_keys
from tests.conftest import test_settings as make_settings


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path / "data", federation_enabled=True, federation_bind="127.0.0.1:18448")


async def test_server_keys_are_ours_signed_and_valid_for_a_day(hs):
    r = await hs.client.get("/_matrix/key/v2/server")
    assert r.status_code == 200
    body = await r.get_json()
    keys = parse_server_keys(body, "hearth.test")  # raises unless signed by the key it lists
    key = hs.hearth.core.signing_key
    assert [(k.key_id, k.key) for k in keys] == [(key.key_id, key.verify_key_bytes)]
    now = time.time() * 1000
    assert now + 23 * 3600_000 < body["valid_until_ts"] <= now + 24 * 3600_000 + 60_000
    assert body["old_verify_keys"] == {}


async def test_notary_answers_for_our_keys_only(hs):
    r = await hs.client.post("/_matrix/key/v2/query", json={"server_keys": {
        "hearth.test": {hs.hearth.core.signing_key.key_id: {}}, "elsewhere.example": {}}})
    assert r.status_code == 200
    got = (await r.get_json())["server_keys"]
    assert len(got) == 1 and parse_server_keys(got[0], "hearth.test")
    r = await hs.client.post("/_matrix/key/v2/query", json={"server_keys": {"elsewhere.example": {}}})
    assert (await r.get_json()) == {"server_keys": []}
    # A validity we cannot promise (a year ahead) leaves our keys out.
    far = int(time.time() * 1000) + 365 * 24 * 3600_000
    r = await hs.client.post("/_matrix/key/v2/query", json={"server_keys": {
        "hearth.test": {"": {"minimum_valid_until_ts": far}}}})
    assert (await r.get_json()) == {"server_keys": []}
    r = await hs.client.get("/_matrix/key/v2/query/hearth.test")
    assert len((await r.get_json())["server_keys"]) == 1
    r = await hs.client.get(f"/_matrix/key/v2/query/hearth.test?minimum_valid_until_ts={far}")
    assert (await r.get_json()) == {"server_keys": []}


@pytest.mark.parametrize("body", [
    {"server_keys": []}, {"server_keys": "x"}, {"server_keys": {"hearth.test": []}},
    {"server_keys": {"hearth.test": {"k": 1}}},
    {"server_keys": {"hearth.test": {"k": {"minimum_valid_until_ts": "soon"}}}}, {},
])
async def test_junk_queries_get_spec_errors(hs, body):
    r = await hs.client.post("/_matrix/key/v2/query", json=body)
    assert r.status_code == 400
    assert (await r.get_json())["errcode"] == "M_BAD_JSON"


async def test_junk_query_string_and_body(hs):
    r = await hs.client.get("/_matrix/key/v2/query/hearth.test?minimum_valid_until_ts=soon")
    assert (r.status_code, (await r.get_json())["errcode"]) == (400, "M_BAD_JSON")
    r = await hs.client.post("/_matrix/key/v2/query", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and (await r.get_json())["errcode"] in ("M_NOT_JSON", "M_BAD_JSON")


async def test_well_known_server_points_at_the_federation_port(hs):
    r = await hs.client.get("/.well-known/matrix/server")
    assert r.status_code == 200
    assert await r.get_json() == {"m.server": "hearth.test:18448"}
