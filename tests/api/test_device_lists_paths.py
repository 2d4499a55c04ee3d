"""A device made by the sign-in paths a real server cannot easily be driven through from a test
(an OAuth 2.0 grant, a device an appservice makes, a dehydrated device) is announced in
`device_lists.changed` like a password login's (tests/e2e/test_device_lists_http.py)."""
from __future__ import annotations

from urllib.parse import quote

from tests.api.test_appservice import AS_TOKEN, as_call, recorder  # noqa: F401 - the fixture
from tests.api.test_oauth import authorize, exchange, register as register_client
from tests.appservice_recorder import registration


async def _shared_room(hs, a, b) -> str:
    room_id = await hs.create_room(a, preset="public_chat")
    await hs.ok("POST", f"/join/{quote(room_id)}", b, {})
    return room_id


async def _since(hs, user) -> str:
    return (await hs.ok("GET", "/sync?timeout=0", user))["next_batch"]


async def _changed(hs, user, since: str) -> list[str]:
    return (await hs.ok("GET", f"/sync?timeout=0&since={since}", user))["device_lists"]["changed"]


async def test_oauth_sign_in_announces_the_new_device(hs, client):
    alice, bob = await hs.user("alice"), await hs.user("bob")
    await _shared_room(hs, alice, bob)
    since = await _since(hs, alice)
    client_id = await register_client(client)
    code, verifier, redirect = await authorize(hs, client_id, bob.user_id, "OAUTHDEV01")
    r = await exchange(client, client_id, code, verifier, redirect)
    assert r.status_code == 200, await r.get_json()
    assert bob.user_id in await _changed(hs, alice, since)


async def test_a_device_an_appservice_makes_is_announced(hs, recorder):  # noqa: F811
    await hs.hearth.appservices.registry.install(registration(recorder.url))
    ghost = "@_irc_ivy:hearth.test"
    status, body = await as_call(hs, "POST", "/register", {"type": "m.login.application_service",
                                                           "username": "_irc_ivy", "inhibit_login": True})
    assert status == 200, body
    mum = await hs.user("mum")
    room_id = await hs.create_room(mum, preset="public_chat")
    status, _ = await as_call(hs, "POST", f"/rooms/{quote(room_id)}/join", {}, user_id=ghost)
    assert status == 200
    since = await _since(hs, mum)
    status, _ = await as_call(hs, "PUT", "/devices/IVYDEV", {}, user_id=ghost)
    assert status == 200
    assert ghost in await _changed(hs, mum, since)


async def test_a_dehydrated_device_is_announced(hs):
    alice, bob = await hs.user("alice"), await hs.user("bob")
    await _shared_room(hs, alice, bob)
    since = await _since(hs, alice)
    r = await hs.client.put(
        "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device", headers=bob.headers,
        json={"device_id": "DEHYDRATED1", "device_data": {"algorithm": "m.dehydration.v1.olm"}})
    assert r.status_code == 200, await r.get_json()
    assert bob.user_id in await _changed(hs, alice, since)
