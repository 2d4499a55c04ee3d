"""Presence: PUT/GET /presence/{userId}/status, /sync?set_presence, m.presence in /sync,
idle and offline computed when read, and the setting that turns presence off."""
from __future__ import annotations

import asyncio

from appliance.core.services import presence as presence_mod


async def sync(hs, user, **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return await hs.ok("GET", "/sync" + (f"?{q}" if q else ""), user)


def presence_of(body: dict, user_id: str) -> dict | None:
    found = [e for e in body["presence"]["events"] if e["sender"] == user_id]
    assert all(e["type"] == "m.presence" for e in found)
    return found[-1]["content"] if found else None


async def sharing_pair(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, invite=[bob.user_id])
    await hs.ok("POST", f"/join/{room}", bob)
    return alice, bob, room


async def test_set_and_get_own_presence(hs):
    alice = await hs.user("alice")
    await hs.ok("PUT", f"/presence/{alice.user_id}/status", alice, {"presence": "online", "status_msg": "cooking"})
    got = await hs.ok("GET", f"/presence/{alice.user_id}/status", alice)
    assert got["presence"] == "online"
    assert got["status_msg"] == "cooking"
    assert got["currently_active"] is True
    assert 0 <= got["last_active_ago"] < 5000
    await hs.ok("PUT", f"/presence/{alice.user_id}/status", alice, {"presence": "unavailable"})
    got = await hs.ok("GET", f"/presence/{alice.user_id}/status", alice)
    assert got["presence"] == "unavailable"
    assert "status_msg" not in got and "currently_active" not in got


async def test_put_for_someone_else_is_forbidden(hs):
    alice, bob, _ = await sharing_pair(hs)
    await hs.error("PUT", f"/presence/{bob.user_id}/status", alice, {"presence": "online"}, "M_FORBIDDEN", 403)


async def test_bad_bodies(hs):
    alice = await hs.user("alice")
    await hs.error("PUT", f"/presence/{alice.user_id}/status", alice, {"presence": "busy"}, "M_BAD_JSON", 400)
    await hs.error("PUT", f"/presence/{alice.user_id}/status", alice, {}, "M_BAD_JSON", 400)
    await hs.error("PUT", f"/presence/{alice.user_id}/status", alice,
                   {"presence": "online", "status_msg": 5}, "M_BAD_JSON", 400)
    await hs.error("GET", "/presence/not-a-user/status", alice, None, "M_INVALID_PARAM", 400)


async def test_get_needs_a_shared_room(hs):
    alice = await hs.user("alice")
    carol = await hs.user("carol")
    await hs.ok("PUT", f"/presence/{carol.user_id}/status", carol, {"presence": "online"})
    await hs.error("GET", f"/presence/{carol.user_id}/status", alice, None, "M_FORBIDDEN", 403)
    await hs.error("GET", f"/presence/@nobody:{hs.hearth.server_name}/status", alice, None, "M_NOT_FOUND", 404)
    room = await hs.create_room(alice, invite=[carol.user_id])
    # An invite is not a shared room yet.
    await hs.error("GET", f"/presence/{carol.user_id}/status", alice, None, "M_FORBIDDEN", 403)
    await hs.ok("POST", f"/join/{room}", carol)
    got = await hs.ok("GET", f"/presence/{carol.user_id}/status", alice)
    assert got["presence"] == "online"


async def test_unknown_presence_is_offline(hs):
    alice, bob, _ = await sharing_pair(hs)
    assert await hs.ok("GET", f"/presence/{bob.user_id}/status", alice) == {"presence": "offline"}


async def test_sync_shows_presence_of_room_members_only(hs):
    alice, bob, _ = await sharing_pair(hs)
    carol = await hs.user("carol")
    first = await sync(hs, alice, set_presence="offline")
    await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "online", "status_msg": "hi"})
    await hs.ok("PUT", f"/presence/{carol.user_id}/status", carol, {"presence": "online"})
    second = await sync(hs, alice, since=first["next_batch"], set_presence="offline")
    assert presence_of(second, bob.user_id)["status_msg"] == "hi"
    assert presence_of(second, bob.user_id)["presence"] == "online"
    assert presence_of(second, carol.user_id) is None
    # Nothing changed: nothing again.
    third = await sync(hs, alice, since=second["next_batch"], set_presence="offline")
    assert presence_of(third, bob.user_id) is None


async def test_initial_sync_has_current_presence(hs):
    alice, bob, _ = await sharing_pair(hs)
    await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "unavailable", "status_msg": "away"})
    body = await sync(hs, alice)
    assert presence_of(body, bob.user_id) == {"presence": "unavailable", "status_msg": "away",
                                              "last_active_ago": presence_of(body, bob.user_id)["last_active_ago"]}


async def test_sync_marks_user_online_and_long_poll_wakes(hs):
    alice, bob, _ = await sharing_pair(hs)
    first = await sync(hs, alice, set_presence="offline")
    poll = asyncio.create_task(sync(hs, alice, since=first["next_batch"], timeout=5000, set_presence="offline"))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await sync(hs, bob)  # no set_presence: bob is marked online
    body = await asyncio.wait_for(poll, 5)
    assert presence_of(body, bob.user_id)["presence"] == "online"
    got = await hs.ok("GET", f"/presence/{bob.user_id}/status", alice)
    assert got["presence"] == "online"


async def test_set_presence_unavailable_and_offline_by_sync(hs):
    alice, bob, _ = await sharing_pair(hs)
    await sync(hs, bob, set_presence="unavailable")
    assert (await hs.ok("GET", f"/presence/{bob.user_id}/status", alice))["presence"] == "unavailable"
    # set_presence=offline leaves the state alone.
    await sync(hs, bob, set_presence="offline")
    assert (await hs.ok("GET", f"/presence/{bob.user_id}/status", alice))["presence"] == "unavailable"


async def test_idle_and_offline_are_computed_when_read(hs, monkeypatch):
    alice, bob, room = await sharing_pair(hs)
    await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "online"})
    service = hs.hearth.accounts.presence
    real_now = presence_mod._now_ms()
    monkeypatch.setattr(presence_mod, "_now_ms", lambda: real_now + presence_mod.IDLE_AFTER_MS + 1000)
    service._last_seen[bob.user_id] = real_now + presence_mod.IDLE_AFTER_MS  # still syncing, not acting
    got = await hs.ok("GET", f"/presence/{bob.user_id}/status", alice)
    assert got["presence"] == "unavailable"
    assert got["last_active_ago"] >= presence_mod.IDLE_AFTER_MS
    # No client for longer than the longest long-poll: offline.
    monkeypatch.setattr(presence_mod, "_now_ms",
                        lambda: real_now + presence_mod.IDLE_AFTER_MS + service.offline_after_ms + 2000)
    assert (await hs.ok("GET", f"/presence/{bob.user_id}/status", alice))["presence"] == "offline"


async def test_sending_a_message_brings_an_idle_user_back(hs, monkeypatch):
    alice, bob, room = await sharing_pair(hs)
    await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "online"})
    first = await sync(hs, alice, set_presence="offline")
    later = presence_mod._now_ms() + presence_mod.IDLE_AFTER_MS + 1000
    monkeypatch.setattr(presence_mod, "_now_ms", lambda: later)
    hs.hearth.accounts.presence._last_seen[bob.user_id] = later
    assert (await hs.ok("GET", f"/presence/{bob.user_id}/status", alice))["presence"] == "unavailable"
    await hs.send(bob, room, {"msgtype": "m.text", "body": "back"})
    for _ in range(50):  # the bump is stored right after the send
        body = await sync(hs, alice, since=first["next_batch"], set_presence="offline")
        if presence_of(body, bob.user_id):
            break
        await asyncio.sleep(0.02)
    assert presence_of(body, bob.user_id)["presence"] == "online"
    assert presence_of(body, bob.user_id)["currently_active"] is True


async def test_presence_filter(hs):
    alice, bob, _ = await sharing_pair(hs)
    await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "online"})
    body = await sync(hs, alice, filter='{"presence":{"types":[]}}')
    assert body["presence"]["events"] == []
    body = await sync(hs, alice, filter='{"presence":{"not_senders":["%s"]}}' % bob.user_id)
    assert presence_of(body, bob.user_id) is None


async def test_presence_survives_restart_as_stored(hs):
    alice, bob, _ = await sharing_pair(hs)
    await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "unavailable", "status_msg": "out"})
    hs.hearth.accounts.presence._rows.clear()
    row = await hs.hearth.accounts.presence._row(bob.user_id)
    assert (row.state, row.status_msg) == ("unavailable", "out")


async def test_presence_disabled(tmp_path):
    from appliance.app import create_app
    from tests.api.conftest import Homeserver
    from tests.conftest import test_settings

    app = create_app(test_settings(tmp_path / "data", presence_enabled=False))
    async with app.test_app() as test_app:
        hs = Homeserver(test_app.test_client(), app.config["HEARTH"])
        alice, bob, _ = await sharing_pair(hs)
        await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "online", "status_msg": "x"})
        assert await hs.ok("GET", f"/presence/{bob.user_id}/status", alice) == {"presence": "offline"}
        await sync(hs, bob)
        body = await sync(hs, alice)
        assert body["presence"]["events"] == []
        assert await hs.hearth.core.db.fetchval("SELECT COUNT(*) FROM presence") == 0
