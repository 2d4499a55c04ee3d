"""Presence decays reach others: going idle, going offline after the last /sync, and no longer
`currently_active` are pushed as m.presence in others' /sync (a timer, with the timeouts
shortened through the settings), not only seen when someone reads the presence."""
from __future__ import annotations

import asyncio
import contextlib
import time

from appliance.app import create_app
from appliance.core.services import presence as presence_mod
from tests.api.conftest import Homeserver
from tests.conftest import test_settings as make_settings


@contextlib.asynccontextmanager
async def homeserver(data_dir, **overrides):
    app = create_app(make_settings(data_dir, **overrides))
    async with app.test_app() as test_app:
        yield Homeserver(test_app.test_client(), app.config["HEARTH"])


async def sync(hs, user, **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return await hs.ok("GET", "/sync" + (f"?{q}" if q else ""), user)


def presence_of(body: dict, user_id: str) -> dict | None:
    found = [e["content"] for e in body["presence"]["events"] if e["sender"] == user_id]
    return found[-1] if found else None


async def sharing_pair(hs):
    alice, bob = await hs.user("alice"), await hs.user("bob")
    room = await hs.create_room(alice, invite=[bob.user_id])
    await hs.ok("POST", f"/join/{room}", bob)
    return alice, bob, room


async def next_presence(hs, watcher, since: str, user_id: str, within: float = 10.0) -> tuple[dict, str, float]:
    """Long-poll as `watcher` (who stays out of presence) until `user_id`'s presence arrives."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        body = await sync(hs, watcher, since=since, timeout=2000, set_presence="offline")
        since = body["next_batch"]
        got = presence_of(body, user_id)
        if got is not None:
            return got, since, time.monotonic() - started
    raise AssertionError(f"no presence for {user_id} within {within} s")


async def test_going_idle_is_pushed_and_activity_brings_them_back(tmp_path):
    async with homeserver(tmp_path / "data", presence_idle_after_s=0.6) as hs:
        alice, bob, room = await sharing_pair(hs)
        await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "online", "status_msg": "home"})
        first = await sync(hs, alice, set_presence="offline")
        assert presence_of(first, bob.user_id)["presence"] == "online"
        # Bob is still connected (the offline timeout is long) but does nothing: away after the
        # idle timeout.
        got, since, _ = await next_presence(hs, alice, first["next_batch"], bob.user_id)
        assert got["presence"] == "unavailable" and got["status_msg"] == "home", got
        assert got["last_active_ago"] >= 600 and "currently_active" not in got
        # Told once: nothing more while nothing changes.
        quiet = await sync(hs, alice, since=since, timeout=800, set_presence="offline")
        assert presence_of(quiet, bob.user_id) is None
        assert await hs.hearth.accounts.presence.announce_decays() == 0
        await hs.send(bob, room, {"msgtype": "m.text", "body": "back"})
        got, since, _ = await next_presence(hs, alice, quiet["next_batch"], bob.user_id)
        assert got["presence"] == "online" and got["currently_active"] is True


async def test_going_offline_after_the_last_sync_is_pushed(tmp_path):
    # The longest long-poll 0.3 s, then 0.3 s of grace: offline 0.6 s after the last /sync began.
    async with homeserver(tmp_path / "data", sync_timeout_max_ms=300, presence_offline_after_s=0.3) as hs:
        alice, bob, room = await sharing_pair(hs)
        first = await sync(hs, alice, set_presence="offline")
        bob_first = await sync(hs, bob)  # bob's client connects: online
        got, since, _ = await next_presence(hs, alice, first["next_batch"], bob.user_id)
        assert got["presence"] == "online"
        # A client that keeps long-polling stays online.
        for _ in range(4):
            bob_first = await sync(hs, bob, since=bob_first["next_batch"], timeout=300)
            body = await sync(hs, alice, since=since, set_presence="offline")
            since = body["next_batch"]
            assert presence_of(body, bob.user_id) is None
        # Bob's last long-poll ends and his client goes away: alice is told he is offline.
        got, since, _ = await next_presence(hs, alice, since, bob.user_id)
        assert got["presence"] == "offline", got
        assert (await hs.ok("GET", f"/presence/{bob.user_id}/status", alice))["presence"] == "offline"
        assert bob.user_id not in hs.hearth.accounts.presence._announced  # nothing left to watch
        # He comes back: online again, pushed as before.
        await sync(hs, bob)
        got, _, _ = await next_presence(hs, alice, since, bob.user_id)
        assert got["presence"] == "online"
        timer = next(t for t in asyncio.all_tasks() if t.get_name() == "PresenceService.run")
    assert timer.cancelled()


async def test_no_longer_currently_active_is_pushed(tmp_path, monkeypatch):
    monkeypatch.setattr(presence_mod, "CURRENTLY_ACTIVE_MS", 400)
    async with homeserver(tmp_path / "data") as hs:
        alice, bob, room = await sharing_pair(hs)
        await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "online"})
        first = await sync(hs, alice, set_presence="offline")
        assert presence_of(first, bob.user_id)["currently_active"] is True
        got, _, _ = await next_presence(hs, alice, first["next_batch"], bob.user_id)
        assert got["presence"] == "online" and got["currently_active"] is False
        assert got["last_active_ago"] >= 400


async def test_after_a_restart_those_who_do_not_come_back_go_offline(tmp_path):
    data = tmp_path / "data"
    async with homeserver(data) as hs:
        alice, bob, room = await sharing_pair(hs)
        await hs.ok("PUT", f"/presence/{bob.user_id}/status", bob, {"presence": "online"})
        before = await sync(hs, alice, set_presence="offline")
        assert presence_of(before, bob.user_id)["presence"] == "online"
    # Bob's client does not reconnect after the restart: alice's client, continuing from its
    # token, is told he is offline once the offline timeout has passed since the start.
    async with homeserver(data, sync_timeout_max_ms=300, presence_offline_after_s=0.3) as hs:
        alice = await hs.user("alice")
        got, _, _ = await next_presence(hs, alice, before["next_batch"], f"@bob:{hs.hearth.server_name}")
        assert got["presence"] == "offline"
