"""Account data and tags (account-data.yaml, tags.yaml) and their /sync sections."""
from __future__ import annotations


async def sync(hs, user, **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return await hs.ok("GET", "/sync" + (f"?{q}" if q else ""), user)


async def test_global_account_data_roundtrip_and_sync(hs):
    alice = await hs.user("alice")
    token = (await sync(hs, alice))["next_batch"]
    await hs.ok("PUT", f"/user/{alice.user_id}/account_data/org.example.prefs", alice, {"theme": "dark"})
    assert await hs.ok("GET", f"/user/{alice.user_id}/account_data/org.example.prefs", alice) == {"theme": "dark"}
    body = await sync(hs, alice, since=token)
    assert body["account_data"]["events"] == [{"type": "org.example.prefs", "content": {"theme": "dark"}}]
    again = await sync(hs, alice, since=body["next_batch"])
    assert again["account_data"]["events"] == []
    initial = await sync(hs, alice)
    assert {"type": "org.example.prefs", "content": {"theme": "dark"}} in initial["account_data"]["events"]


async def test_account_data_errors(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    await hs.error("GET", f"/user/{alice.user_id}/account_data/nothing.here", alice, None, "M_NOT_FOUND", 404)
    await hs.error("PUT", f"/user/{alice.user_id}/account_data/x.y", bob, {"a": 1}, "M_FORBIDDEN", 403)
    await hs.error("GET", f"/user/{alice.user_id}/account_data/x.y", bob, None, "M_FORBIDDEN", 403)
    await hs.error("PUT", f"/user/{alice.user_id}/account_data/m.push_rules", alice, {}, "M_BAD_JSON", 400)
    await hs.error("PUT", f"/user/{alice.user_id}/account_data/m.fully_read", alice, {}, "M_BAD_JSON", 400)
    await hs.error("PUT", f"/user/{alice.user_id}/rooms/notaroom/account_data/x.y", alice, {},
                   "M_INVALID_PARAM", 400)
    status, body = await hs.call("PUT", f"/user/{alice.user_id}/account_data/x.y", alice, [1, 2])
    assert status == 400 and body["errcode"] in ("M_BAD_JSON", "M_NOT_JSON")


async def test_room_account_data_and_tags(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    token = (await sync(hs, alice))["next_batch"]
    await hs.ok("PUT", f"/user/{alice.user_id}/rooms/{room}/account_data/org.example.note", alice, {"n": 1})
    await hs.ok("PUT", f"/user/{alice.user_id}/rooms/{room}/tags/m.favourite", alice, {"order": 0.25})
    await hs.ok("PUT", f"/user/{alice.user_id}/rooms/{room}/tags/u.work", alice, {})
    tags = await hs.ok("GET", f"/user/{alice.user_id}/rooms/{room}/tags", alice)
    assert tags == {"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}}
    body = await sync(hs, alice, since=token)
    ad = {e["type"]: e["content"] for e in body["rooms"]["join"][room]["account_data"]["events"]}
    assert ad["org.example.note"] == {"n": 1}
    assert ad["m.tag"] == {"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}}
    await hs.ok("DELETE", f"/user/{alice.user_id}/rooms/{room}/tags/u.work", alice)
    assert await hs.ok("GET", f"/user/{alice.user_id}/rooms/{room}/tags", alice) == {
        "tags": {"m.favourite": {"order": 0.25}}}
    later = await sync(hs, alice, since=body["next_batch"])
    ad = {e["type"]: e["content"] for e in later["rooms"]["join"][room]["account_data"]["events"]}
    assert ad == {"m.tag": {"tags": {"m.favourite": {"order": 0.25}}}}
    bob = await hs.user("bob")
    await hs.error("GET", f"/user/{alice.user_id}/rooms/{room}/tags", bob, None, "M_FORBIDDEN", 403)
    await hs.error("PUT", f"/user/{alice.user_id}/rooms/{room}/tags/x", alice, {"order": "high"}, "M_BAD_JSON", 400)


async def test_account_data_wakes_long_poll(hs):
    import asyncio
    import time

    alice = await hs.user("alice")
    token = (await sync(hs, alice))["next_batch"]

    async def later():
        await asyncio.sleep(0.2)
        await hs.ok("PUT", f"/user/{alice.user_id}/account_data/org.example.x", alice, {"v": 2})

    task = asyncio.create_task(later())
    t0 = time.monotonic()
    body = await sync(hs, alice, since=token, timeout=10000)
    await task
    assert time.monotonic() - t0 < 3
    assert body["account_data"]["events"] == [{"type": "org.example.x", "content": {"v": 2}}]
