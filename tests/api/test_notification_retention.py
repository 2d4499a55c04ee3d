"""Notification retention: read rows older than the retention are deleted, unread ones stay,
and no unread count changes; the server prunes on a timer it starts and stops with the app."""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from appliance.app import create_app
from tests.conftest import test_settings as make_settings

DAY_MS = 24 * 3600 * 1000
THREADED = json.dumps({"room": {"timeline": {"unread_thread_notifications": True}}}, separators=(",", ":"))


def mention(user, body: str = "hey") -> dict:
    return {"msgtype": "m.text", "body": f"{body} {user.user_id}", "m.mentions": {"user_ids": [user.user_id]}}


async def all_counts(hs, user, rooms: list[str]) -> dict:
    plain = await hs.ok("GET", "/sync", user)
    threaded = await hs.ok("GET", f"/sync?filter={THREADED}", user)
    out = {}
    for room in rooms:
        out[room] = (plain["rooms"]["join"][room]["unread_notifications"],
                     threaded["rooms"]["join"][room]["unread_notifications"],
                     threaded["rooms"]["join"][room].get("unread_thread_notifications"))
    return out


async def listed(hs, user) -> list[str]:
    body = await hs.ok("GET", "/notifications?limit=100", user)
    return [n["event"]["event_id"] for n in body["notifications"]]


async def rows(hs) -> int:
    return await hs.hearth.core.db.fetchval("SELECT COUNT(*) FROM push_notifs")


async def test_old_read_rows_go_and_counts_stay(hs):
    alice, bob, carol = await hs.user("alice"), await hs.user("bob"), await hs.user("carol")
    room = await hs.create_room(alice, preset="public_chat")
    other = await hs.create_room(alice, preset="public_chat")
    for user in (bob, carol):
        await hs.ok("POST", f"/join/{room}", user)
        await hs.ok("POST", f"/join/{other}", user)
    root = await hs.send(alice, room, {"msgtype": "m.text", "body": "root"})
    in_thread = {"rel_type": "m.thread", "event_id": root}
    t1 = await hs.send(alice, room, {"msgtype": "m.text", "body": "reply", "m.relates_to": in_thread})
    t2 = await hs.send(alice, room, {**mention(bob), "m.relates_to": in_thread})
    m1 = await hs.send(alice, room, {"msgtype": "m.text", "body": "main one"})
    m2 = await hs.send(alice, room, mention(bob, "main two"))
    o1 = await hs.send(alice, other, {"msgtype": "m.text", "body": "elsewhere"})
    await hs.send(bob, other, {"msgtype": "m.text", "body": "my own message reads what came before"})
    o2 = await hs.send(alice, other, mention(bob, "after"))
    # Bob reads the main timeline up to m1 and the thread up to t1; carol reads nothing.
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{m1}", bob, {"thread_id": "main"})
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read.private/{t1}", bob, {"thread_id": root})
    before = {u.user_id: await all_counts(hs, u, [room, other]) for u in (alice, bob, carol)}
    assert before[bob.user_id][room][0] == {"notification_count": 2, "highlight_count": 2}
    assert before[bob.user_id][other][0] == {"notification_count": 1, "highlight_count": 1}
    assert await listed(hs, bob) == [o2, o1, m2, m1, t2, t1, root]
    carol_listed = await listed(hs, carol)
    assert len(carol_listed) == 8
    total = await rows(hs)

    retention = hs.hearth.push.retention
    now = int(time.time() * 1000)
    # Nothing is old yet: nothing goes, read or not.
    assert await retention.prune(now) == 0
    seen = []
    deleted = await retention.prune(now + 31 * DAY_MS, progress=lambda *a: seen.append(a))
    # Bob's read rows: root (main timeline, before m1), t1 (thread receipt), m1, o1 (his own
    # message came after); alice's row for bob's message (her own o2 came after).
    assert deleted == 5
    assert await rows(hs) == total - 5
    assert seen and seen[-1] == (seen[-1][1], seen[-1][1], 5)
    assert await listed(hs, bob) == [o2, m2, t2]
    assert await listed(hs, carol) == carol_listed
    for user in (alice, bob, carol):
        assert await all_counts(hs, user, [room, other]) == before[user.user_id]
    # A later run finds nothing more; reading the rest lets them go at the next run.
    assert await retention.prune(now + 31 * DAY_MS) == 0
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{m2}", carol, {})
    carol_before = await all_counts(hs, carol, [room, other])
    assert carol_before[room][0] == {"notification_count": 0, "highlight_count": 0}
    assert await retention.prune(now + 31 * DAY_MS) == 5  # carol's in room, up to m2 (t2 too: unthreaded)
    assert await all_counts(hs, carol, [room, other]) == carol_before
    assert await listed(hs, carol) == carol_listed[:3]


async def test_retention_setting_applies_to_the_next_run(hs):
    alice, bob = await hs.user("alice"), await hs.user("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    last = await hs.send(alice, room)
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{last}", bob, {})
    await hs.ok("GET", "/sync", bob)  # the evaluator has caught up
    now = int(time.time() * 1000)
    retention = hs.hearth.push.retention
    assert await retention.prune(now + 5 * DAY_MS) == 0   # 30 days by default
    hs.hearth.settings.notification_retention_days = 2
    assert await retention.prune(now + 5 * DAY_MS) == 1


async def test_the_server_prunes_on_a_timer_and_stops_it_cleanly(tmp_path):
    settings = make_settings(tmp_path / "data", notification_retention_days=0.5 / 86400,  # half a second
                             notification_prune_interval_hours=0.2 / 3600)  # a run every 0.2 s
    app = create_app(settings)
    async with app.test_app() as test_app:
        from tests.api.conftest import Homeserver

        hs = Homeserver(test_app.test_client(), app.config["HEARTH"])
        alice, bob = await hs.user("alice"), await hs.user("bob")
        room = await hs.create_room(alice, preset="public_chat")
        await hs.ok("POST", f"/join/{room}", bob)
        read = await hs.send(alice, room)
        await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{read}", bob, {})
        unread = await hs.send(alice, room)
        await hs.ok("GET", "/sync", bob)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and await listed(hs, bob) != [unread]:
            await asyncio.sleep(0.1)
        assert await listed(hs, bob) == [unread]
        counts = (await hs.ok("GET", "/sync", bob))["rooms"]["join"][room]["unread_notifications"]
        assert counts == {"notification_count": 1, "highlight_count": 0}
        assert hs.hearth.push.retention.runs >= 1
        task = next(t for t in asyncio.all_tasks() if "NotificationRetention" in t.get_name())
    assert task.cancelled()


async def test_hearth_prune_notifications_command(tmp_path):
    """The operator's command, in its own process, against the data directory the server made."""
    data = tmp_path / "data"
    app = create_app(make_settings(data))
    async with app.test_app() as test_app:
        from tests.api.conftest import Homeserver

        hs = Homeserver(test_app.test_client(), app.config["HEARTH"])
        alice, bob = await hs.user("alice"), await hs.user("bob")
        room = await hs.create_room(alice, preset="public_chat")
        await hs.ok("POST", f"/join/{room}", bob)
        read = await hs.send(alice, room)
        await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{read}", bob, {})
        unread = await hs.send(alice, room)
        await hs.ok("GET", "/sync", bob)
        assert await listed(hs, bob) == [unread, read]
    env = {**os.environ, "HEARTH_DATA_DIR": str(data), "HEARTH_SERVER_NAME": "hearth.test"}

    async def prune(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "appliance", "prune-notifications", *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode, out.decode(), err.decode()

    rc, out, _err = await prune()  # 30 days by default: nothing is that old
    assert rc == 0 and "Deleted 0 read notifications older than 30 days" in out
    rc, _out, err = await prune("--days", "-1")
    assert rc == 2 and "--days" in err
    rc, out, err = await prune("--days", "0")
    assert rc == 0 and "Deleted 1 read notifications older than 0 days" in out, (out, err)
    assert "prune-notifications: 1/1 users, 1 deleted" in err
    app = create_app(make_settings(data))
    async with app.test_app() as test_app:
        hs = Homeserver(test_app.test_client(), app.config["HEARTH"])
        bob = await hs.user("bob")
        assert await listed(hs, bob) == [unread]
