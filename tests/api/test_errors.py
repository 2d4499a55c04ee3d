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
    # docs/spec-versions.md: every version up to v1.19 is served (v1.16: room version 12 on
    # createRoom and upgrades; v1.17: m.oauth; v1.18: invite blocking; v1.19: /mutual_rooms).
    assert body["versions"][-8:] == ["v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18", "v1.19"]
    assert body["unstable_features"]["im.nheko.summary"] is True
    assert body["unstable_features"]["uk.half-shot.msc2666.query_mutual_rooms"] is True
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    r = await client.options("/_matrix/client/v3/login")
    assert r.status_code in (200, 204)
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
