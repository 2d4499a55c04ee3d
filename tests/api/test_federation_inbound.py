"""Inbound federation requests behind the guard: signed by a known server, or a spec error."""
from __future__ import annotations

from pathlib import Path

import pytest

from appliance.core.protocol.server_key_responses import VerifyKey
from appliance.core.protocol.signing import SigningKey
from appliance.core.protocol.x_matrix import sign_request
from appliance.core.storage.stores.remote_server_keys import RemoteServerKeyStore
from tests.conftest import test_settings as make_settings

REMOTE = SigningKey.generate("r")
FAR = 2**53 - 1


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path / "data", federation_enabled=True, federation_denied_servers="bad.example")


async def _known(hs, server="remote.example", key=REMOTE):
    await RemoteServerKeyStore(hs.hearth.core.db).put([VerifyKey(server, key.key_id, key.verify_key_bytes, FAR)], 0)


async def _get(hs, uri, *, origin="remote.example", key=REMOTE, destination="hearth.test", header=None):
    if header is None:
        header = sign_request(key, "GET", uri, origin, destination)
    r = await hs.client.get(uri, headers={"Authorization": header})
    return r.status_code, await r.get_json()


async def test_version_is_public(hs):
    r = await hs.client.get("/_matrix/federation/v1/version")
    assert r.status_code == 200 and (await r.get_json())["server"]["name"] == "Hearth"


async def test_signed_profile_query(hs):
    alice = await hs.user("alice")
    await hs.ok("PUT", f"/profile/{alice.user_id}/displayname", alice, {"displayname": "Alice"})
    await _known(hs)
    uri = "/_matrix/federation/v1/query/profile?user_id=%40alice%3Ahearth.test"
    assert await _get(hs, uri) == (200, {"displayname": "Alice"})
    assert await _get(hs, uri + "&field=displayname") == (200, {"displayname": "Alice"})
    status, body = await _get(hs, "/_matrix/federation/v1/query/profile?user_id=%40nobody%3Ahearth.test")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await _get(hs, "/_matrix/federation/v1/query/profile")
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")


@pytest.mark.parametrize(("case", "status", "errcode"), [
    ("no_header", 401, "M_UNAUTHORIZED"),
    ("junk_header", 401, "M_UNAUTHORIZED"),
    ("wrong_key", 401, "M_UNAUTHORIZED"),
    ("other_destination", 401, "M_UNAUTHORIZED"),
    ("signed_other_uri", 401, "M_UNAUTHORIZED"),
    ("unreachable_origin", 401, "M_UNAUTHORIZED"),
    ("denied_origin", 403, "M_FORBIDDEN"),
])
async def test_refused_requests(hs, case, status, errcode):
    await hs.user("alice")
    await _known(hs)
    await _known(hs, "bad.example")
    uri = "/_matrix/federation/v1/query/profile?user_id=%40alice%3Ahearth.test"
    kwargs = {}
    if case == "no_header":
        r = await hs.client.get(uri)
        got = r.status_code, await r.get_json()
    else:
        if case == "junk_header":
            kwargs["header"] = "X-Matrix ,,,"
        elif case == "wrong_key":
            kwargs["key"] = SigningKey.generate("r")
        elif case == "other_destination":
            kwargs["destination"] = "else.example"
        elif case == "signed_other_uri":
            kwargs["header"] = sign_request(REMOTE, "GET", uri + "&field=displayname", "remote.example", "hearth.test")
        elif case == "unreachable_origin":  # a loopback-less test: its keys cannot be fetched
            kwargs["origin"] = "unknown.invalid"
        elif case == "denied_origin":
            kwargs["origin"] = "bad.example"
        got = await _get(hs, uri, **kwargs)
    assert (got[0], got[1]["errcode"]) == (status, errcode)
