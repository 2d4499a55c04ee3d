"""Spec-shaped errors for requests the server cannot route."""


async def test_unknown_endpoint_is_m_unrecognized(client):
    r = await client.get("/_matrix/client/v3/no/such/thing")
    assert r.status_code == 404
    assert (await r.get_json())["errcode"] == "M_UNRECOGNIZED"


async def test_wrong_method_is_405_m_unrecognized(client):
    r = await client.post("/_matrix/client/versions")
    assert r.status_code == 405
    assert (await r.get_json())["errcode"] == "M_UNRECOGNIZED"


async def test_versions_and_cors(client):
    r = await client.get("/_matrix/client/versions")
    assert r.status_code == 200
    body = await r.get_json()
    assert "v1.11" in body["versions"]
    # docs/spec-versions.md: v1.12 (locking), v1.13 (suspension), v1.15 (room summary) are served;
    # v1.16 waits for the room version 12 createRoom/upgrade work.
    assert body["versions"][-4:] == ["v1.12", "v1.13", "v1.14", "v1.15"]
    assert body["unstable_features"]["im.nheko.summary"] is True
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    r = await client.options("/_matrix/client/v3/login")
    assert r.status_code in (200, 204)
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
