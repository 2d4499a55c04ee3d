"""Admin API: registration tokens (CRUD, then registering with one), event reports, server notices."""
from __future__ import annotations

import asyncio
import time

from tests.api.synapse_admin import admin_call, admin_ok


async def register_with_token(hs, username: str, token: str) -> tuple[int, dict]:
    status, first = await hs.call("POST", "/register", None, {"username": username, "password": "pw-123456"})
    assert status == 401, first
    session = first["session"]
    status, body = await hs.call("POST", "/register", None, {
        "username": username, "password": "pw-123456",
        "auth": {"type": "m.login.registration_token", "token": token, "session": session}})
    if status != 401 or body.get("errcode"):
        return status, body
    return await hs.call("POST", "/register", None, {
        "username": username, "password": "pw-123456", "auth": {"type": "m.login.dummy", "session": session}})


async def test_registration_token_crud_then_register_with_it(hs, boss):
    hs.hearth.settings.registration = "token"
    created = await admin_ok(hs, "POST", "/v1/registration_tokens/new", boss, {})
    assert len(created["token"]) == 16 and created == {
        "token": created["token"], "uses_allowed": None, "pending": 0, "completed": 0, "expiry_time": None}
    named = await admin_ok(hs, "POST", "/v1/registration_tokens/new", boss, {"token": "family-2026", "uses_allowed": 1})
    assert named["token"] == "family-2026" and named["uses_allowed"] == 1
    short = await admin_ok(hs, "POST", "/v1/registration_tokens/new", boss, {"length": 5})
    assert len(short["token"]) == 5
    listed = await admin_ok(hs, "GET", "/v1/registration_tokens", boss)
    assert {t["token"] for t in listed["registration_tokens"]} == {created["token"], "family-2026", short["token"]}
    assert await admin_ok(hs, "GET", "/v1/registration_tokens/family-2026", boss) == named
    # register with it; its one use is then spent
    status, body = await register_with_token(hs, "newkid", "family-2026")
    assert status == 200 and body["user_id"] == "@newkid:hearth.test", body
    used = await admin_ok(hs, "GET", "/v1/registration_tokens/family-2026", boss)
    assert used["completed"] == 1 and used["pending"] == 0
    status, body = await register_with_token(hs, "another", "family-2026")
    assert status == 401 and body["errcode"] == "M_FORBIDDEN"
    invalid = await admin_ok(hs, "GET", "/v1/registration_tokens?valid=false", boss)
    assert [t["token"] for t in invalid["registration_tokens"]] == ["family-2026"]
    valid = await admin_ok(hs, "GET", "/v1/registration_tokens?valid=true", boss)
    assert "family-2026" not in {t["token"] for t in valid["registration_tokens"]}
    # update: more uses and an expiry; null lifts a limit
    later = int(time.time() * 1000) + 86_400_000
    updated = await admin_ok(hs, "PUT", "/v1/registration_tokens/family-2026", boss,
                             {"uses_allowed": 2, "expiry_time": later})
    assert updated["uses_allowed"] == 2 and updated["expiry_time"] == later and updated["completed"] == 1
    unchanged = await admin_ok(hs, "PUT", "/v1/registration_tokens/family-2026", boss, {})
    assert unchanged == updated
    lifted = await admin_ok(hs, "PUT", "/v1/registration_tokens/family-2026", boss, {"expiry_time": None})
    assert lifted["expiry_time"] is None and lifted["uses_allowed"] == 2
    status, body = await register_with_token(hs, "another", "family-2026")
    assert status == 200, body
    # revoke
    assert await admin_ok(hs, "DELETE", "/v1/registration_tokens/family-2026", boss) == {}
    status, err = await admin_call(hs, "GET", "/v1/registration_tokens/family-2026", boss)
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await register_with_token(hs, "third", "family-2026")
    assert status == 401 and body["errcode"] == "M_FORBIDDEN"


async def test_registration_token_errors(hs, boss):
    await admin_ok(hs, "POST", "/v1/registration_tokens/new", boss, {"token": "taken"})
    past = int(time.time() * 1000) - 1000
    for body in ({"token": "taken"}, {"token": "bad token!"}, {"token": "x" * 65}, {"length": 0},
                 {"length": 65}, {"length": "5"}, {"uses_allowed": -1}, {"uses_allowed": 1.5},
                 {"expiry_time": past}, {"token": 5}):
        status, err = await admin_call(hs, "POST", "/v1/registration_tokens/new", boss, body)
        assert (status, err["errcode"]) == (400, "M_INVALID_PARAM"), body
    for body in ({"uses_allowed": -2}, {"uses_allowed": "3"}, {"expiry_time": past}):
        status, err = await admin_call(hs, "PUT", "/v1/registration_tokens/taken", boss, body)
        assert (status, err["errcode"]) == (400, "M_INVALID_PARAM"), body
    for method in ("GET", "PUT", "DELETE"):
        status, err = await admin_call(hs, method, "/v1/registration_tokens/missing", boss,
                                       {} if method == "PUT" else None)
        assert (status, err["errcode"]) == (404, "M_NOT_FOUND"), method
    status, err = await admin_call(hs, "GET", "/v1/registration_tokens?valid=yes", boss)
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")


async def test_event_reports_list_get_delete(hs, boss):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, name="Chat", preset="public_chat", room_alias_name="chat")
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    first = await hs.send(bob, room_id, {"msgtype": "m.text", "body": "rude"})
    second = await hs.send(bob, room_id, {"msgtype": "m.text", "body": "ruder"})
    third = await hs.send(alice, room_id, {"msgtype": "m.text", "body": "fine"})
    await hs.ok("POST", f"/rooms/{room_id}/report/{first}", alice, {"reason": "not nice", "score": -50})
    await hs.ok("POST", f"/rooms/{room_id}/report/{second}", alice, {"reason": "worse"})
    await hs.ok("POST", f"/rooms/{room_id}/report/{third}", bob, {"reason": "revenge"})
    page = await admin_ok(hs, "GET", "/v1/event_reports", boss)
    assert page["total"] == 3 and "next_token" not in page
    newest = page["event_reports"][0]
    assert newest["event_id"] == third  # newest first by default
    oldest = page["event_reports"][-1]
    assert oldest == {"id": oldest["id"], "received_ts": oldest["received_ts"], "room_id": room_id,
                      "name": "Chat", "canonical_alias": "#chat:hearth.test", "event_id": first,
                      "user_id": "@alice:hearth.test", "reason": "not nice", "score": -50,
                      "sender": "@bob:hearth.test"}
    forwards = await admin_ok(hs, "GET", "/v1/event_reports?dir=f&limit=2", boss)
    assert [r["event_id"] for r in forwards["event_reports"]] == [first, second] and forwards["next_token"] == 2
    rest = await admin_ok(hs, "GET", "/v1/event_reports?dir=f&limit=2&from=2", boss)
    assert [r["event_id"] for r in rest["event_reports"]] == [third] and "next_token" not in rest
    by_reporter = await admin_ok(hs, "GET", "/v1/event_reports?user_id=@bob:hearth.test", boss)
    assert [r["event_id"] for r in by_reporter["event_reports"]] == [third] and by_reporter["total"] == 1
    against_bob = await admin_ok(hs, "GET", "/v1/event_reports?event_sender_user_id=@bob:hearth.test", boss)
    assert against_bob["total"] == 2
    by_room = await admin_ok(hs, "GET", f"/v1/event_reports?room_id={room_id}", boss)
    assert by_room["total"] == 3
    one = await admin_ok(hs, "GET", f"/v1/event_reports/{oldest['id']}", boss)
    assert one["event_json"]["sender"] == "@bob:hearth.test" and one["event_json"]["room_id"] == room_id
    assert one["event_json"]["content"]["body"] == "rude" and one["reason"] == "not nice"
    assert await admin_ok(hs, "DELETE", f"/v1/event_reports/{oldest['id']}", boss) == {}
    assert (await admin_ok(hs, "GET", "/v1/event_reports", boss))["total"] == 2
    for method in ("GET", "DELETE"):
        status, err = await admin_call(hs, method, f"/v1/event_reports/{oldest['id']}", boss)
        assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
        status, err = await admin_call(hs, method, "/v1/event_reports/abc", boss)
        assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")
    status, err = await admin_call(hs, "GET", "/v1/event_reports?dir=up", boss)
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")


async def test_send_server_notice(hs, boss):
    alice = await hs.user("alice")
    body = await admin_ok(hs, "POST", "/v1/send_server_notice", boss, {
        "user_id": alice.user_id, "content": {"msgtype": "m.text", "body": "The server restarts tonight"}})
    assert body["event_id"].startswith("$")
    sync = await hs.ok("GET", "/sync", alice)
    invites = sync["rooms"]["invite"]
    assert len(invites) == 1
    room_id = next(iter(invites))
    await hs.ok("POST", f"/join/{room_id}", alice, {})
    messages = await hs.ok("GET", f"/rooms/{room_id}/messages?dir=b", alice)
    assert any(ev["content"].get("body") == "The server restarts tonight" for ev in messages["chunk"])
    for bad in ({"content": {"body": "x"}}, {"user_id": alice.user_id}, {"user_id": alice.user_id, "content": {}},
                {"user_id": "@x:other.org", "content": {"body": "x"}},
                {"user_id": alice.user_id, "content": {"body": "x"}, "type": "m.room.topic", "state_key": ""}):
        status, err = await admin_call(hs, "POST", "/v1/send_server_notice", boss, bad)
        assert status == 400 and err["errcode"] in ("M_MISSING_PARAM", "M_INVALID_PARAM"), (bad, err)
    status, err = await admin_call(hs, "POST", "/v1/send_server_notice", boss,
                                   {"user_id": "@ghost:hearth.test", "content": {"body": "x"}})
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")


async def test_send_server_notice_with_a_transaction_id_is_idempotent(hs, boss):
    alice = await hs.user("alice")
    notice = {"user_id": alice.user_id, "content": {"msgtype": "m.text", "body": "Backup tonight"}}
    first = await admin_ok(hs, "PUT", "/v1/send_server_notice/txn1", boss, notice)
    assert first["event_id"].startswith("$")
    # A retry (even with another body) answers the same event; a new txnId sends a new notice.
    again = await admin_ok(hs, "PUT", "/v1/send_server_notice/txn1", boss,
                           {**notice, "content": {"msgtype": "m.text", "body": "changed"}})
    assert again == first
    second = await admin_ok(hs, "PUT", "/v1/send_server_notice/txn2", boss, notice)
    assert second["event_id"] != first["event_id"]
    # Retries racing each other still send once.
    racing = await asyncio.gather(*(admin_ok(hs, "PUT", "/v1/send_server_notice/txn3", boss, notice)
                                    for _ in range(4)))
    assert len({r["event_id"] for r in racing}) == 1
    # The same txnId from another admin device is another transaction.
    boss_phone = await hs.user("boss", admin=True)
    assert boss_phone.device_id != boss.device_id
    other = await admin_ok(hs, "PUT", "/v1/send_server_notice/txn1", boss_phone, notice)
    assert other["event_id"] not in (first["event_id"], second["event_id"])
    room_id = await hs.hearth.accounts.server_notices.notice_room(alice.user_id)
    await hs.ok("POST", f"/join/{room_id}", alice, {})
    messages = await hs.ok("GET", f"/rooms/{room_id}/messages?dir=b&limit=50", alice)
    sent = [ev["event_id"] for ev in messages["chunk"] if ev["type"] == "m.room.message"]
    assert sorted(sent) == sorted({first["event_id"], second["event_id"], racing[0]["event_id"],
                                   other["event_id"]})
    assert [ev["content"]["body"] for ev in messages["chunk"] if ev["type"] == "m.room.message"] == [
        "Backup tonight"] * 4
    # Same answers and errors as the POST; a refused request claims no txnId.
    status, err = await admin_call(hs, "PUT", "/v1/send_server_notice/txn4", boss,
                                   {"user_id": "@ghost:hearth.test", "content": {"body": "x"}})
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
    status, err = await admin_call(hs, "PUT", "/v1/send_server_notice/txn4", boss, {"user_id": alice.user_id})
    assert (status, err["errcode"]) == (400, "M_MISSING_PARAM")
    fourth = await admin_ok(hs, "PUT", "/v1/send_server_notice/txn4", boss, notice)
    assert fourth["event_id"] not in sent
