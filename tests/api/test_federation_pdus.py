"""Inbound federation against the in-process server, as a remote server would speak to it (its
requests and events signed with its own key, known to Hearth): a remote user joins through
make_join/send_join, its PDUs come through /send. Forged signatures, bad hashes, events that
fail auth and requests signed by the wrong key are refused or rejected as the spec says; junk
on every federation endpoint is a spec error, never a 500."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote as _quote

import pytest

from appliance.core.protocol import room_versions
from appliance.core.protocol.server_key_responses import VerifyKey
from appliance.core.protocol.signing import SigningKey, hash_sign_and_encode_event
from appliance.core.protocol.x_matrix import sign_request
from appliance.core.storage.stores.remote_server_keys import RemoteServerKeyStore
from tests.conftest import test_settings as make_settings

REMOTE = SigningKey.generate("r")
FORGER = SigningKey.generate("r")  # same key ID, another key
ORIGIN = "remote.example"
BOB = f"@bob:{ORIGIN}"
FAR = 2**53 - 1


def quote(value: str) -> str:
    """As a server sends IDs in a path (the test client would not keep %21 and %3A as sent)."""
    return _quote(value, safe="!:@$")


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path / "data", federation_enabled=True)


async def _fed(hs, method: str, path: str, body: Any = None, *, key: SigningKey = REMOTE,
               raw: bytes | None = None) -> tuple[int, Any]:
    header = sign_request(key, method, path, ORIGIN, hs.hearth.server_name, body)
    kwargs: dict[str, Any] = {"headers": {"Authorization": header}}
    if raw is not None:
        kwargs["data"] = raw
        kwargs["headers"]["Content-Type"] = "application/json"
    elif body is not None:
        kwargs["json"] = body
    r = await hs.client.open(path, method=method, **kwargs)
    return r.status_code, await r.get_json()


def _sign(event: dict, key: SigningKey = REMOTE) -> tuple[str, dict]:
    version = room_versions.get("10")
    signed, _, event_id = hash_sign_and_encode_event(event, ORIGIN, key, version)
    return event_id, signed


@pytest.fixture
async def joined(hs):
    """A Hearth room (v10) that @bob:remote.example has joined over federation."""
    await RemoteServerKeyStore(hs.hearth.core.db).put([VerifyKey(ORIGIN, REMOTE.key_id, REMOTE.verify_key_bytes, FAR)], 0)
    alice = await hs.user("alice")
    room = await hs.create_room(alice, preset="public_chat", room_version="10")
    status, made = await _fed(hs, "GET", f"/_matrix/federation/v1/make_join/{quote(room)}/{quote(BOB)}?ver=10")
    assert status == 200, made
    template = made["event"]
    assert template["type"] == "m.room.member" and template["content"]["membership"] == "join"
    event_id, join = _sign({**template, "origin_server_ts": template["origin_server_ts"]})
    status, answer = await _fed(hs, "PUT", f"/_matrix/federation/v2/send_join/{quote(room)}/{quote(event_id)}", join)
    assert status == 200, answer
    types = {e["type"] for e in answer["state"]}
    assert {"m.room.create", "m.room.power_levels", "m.room.join_rules"} <= types
    assert answer["auth_chain"] is not None
    state = await hs.ok("GET", f"/rooms/{room}/state", alice)
    members = {e["state_key"]: e["content"]["membership"] for e in state if e["type"] == "m.room.member"}
    assert members[BOB] == "join"
    ids = {(e["type"], e["state_key"]): e["event_id"] for e in state}
    return {"hs": hs, "alice": alice, "room": room, "join": event_id, "state": ids}


def _message(ctx, body: str, sender: str = BOB, prev: list[str] | None = None) -> dict:
    ids = ctx["state"]
    return {"type": "m.room.message", "sender": sender, "room_id": ctx["room"], "origin_server_ts": 1_700_000_000_000,
            "content": {"msgtype": "m.text", "body": body}, "depth": 100,
            "prev_events": prev or [ctx["join"]],
            "auth_events": [ids[("m.room.create", "")], ids[("m.room.power_levels", "")],
                            ctx["join"] if sender == BOB else ids[("m.room.member", ctx["alice"].user_id)]]}


async def _send(hs, *pdus: dict, key: SigningKey = REMOTE, txn: str = "t1") -> tuple[int, Any]:
    return await _fed(hs, "PUT", f"/_matrix/federation/v1/send/{txn}",
                      {"origin": ORIGIN, "origin_server_ts": 1, "pdus": list(pdus)}, key=key)


async def _timeline(ctx) -> list[str]:
    hs = ctx["hs"]
    body = await hs.ok("GET", f"/rooms/{ctx['room']}/messages?dir=b&limit=50", ctx["alice"])
    return [e["event_id"] for e in body["chunk"]]


async def test_a_remote_message_is_accepted(joined):
    hs = joined["hs"]
    event_id, pdu = _sign(_message(joined, "hello from afar"))
    status, answer = await _send(hs, pdu)
    assert status == 200 and answer["pdus"] == {event_id: {}}
    assert event_id in await _timeline(joined)
    # A retried transaction changes nothing.
    assert (await _send(hs, pdu))[1]["pdus"] == {event_id: {}}


async def test_forged_signature_is_dropped(joined):
    hs = joined["hs"]
    event_id, pdu = _sign(_message(joined, "forged"), key=FORGER)
    status, answer = await _send(hs, pdu)
    assert status == 200 and "signature" in answer["pdus"][event_id]["error"]
    assert event_id not in await _timeline(joined)
    assert await hs.hearth.core.event_store.get_event(event_id) is None


async def test_bad_content_hash_is_kept_redacted(joined):
    hs = joined["hs"]
    event_id, pdu = _sign(_message(joined, "original"))
    pdu = {**pdu, "content": {"msgtype": "m.text", "body": "tampered"}}  # signature of the redacted form holds
    status, answer = await _send(hs, pdu)
    assert status == 200 and answer["pdus"] == {event_id: {}}
    stored = await hs.hearth.core.event_store.get_event(event_id)
    assert stored is not None and stored.pdu.content == {}


async def test_event_failing_auth_is_rejected(joined):
    hs = joined["hs"]
    mallory = f"@mallory:{ORIGIN}"  # never joined
    event_id, pdu = _sign(_message(joined, "let me in", sender=mallory))
    status, answer = await _send(hs, pdu)
    assert status == 200 and answer["pdus"][event_id].get("error")
    stored = await hs.hearth.core.event_store.get_event(event_id)
    assert stored is not None and stored.rejected  # kept as rejected
    assert event_id not in await _timeline(joined)


async def test_event_allowed_before_but_not_now_is_soft_failed(joined):
    """Built before bob's ban (its state before allows it), received after: kept, not shown."""
    hs, alice, room = joined["hs"], joined["alice"], joined["room"]
    await hs.ok("POST", f"/rooms/{room}/ban", alice, {"user_id": BOB, "reason": "no"})
    event_id, pdu = _sign(_message(joined, "sneaking in"))
    status, answer = await _send(hs, pdu)
    assert status == 200 and answer["pdus"] == {event_id: {}}  # soft failure is not the sender's business
    stored = await hs.hearth.core.event_store.get_event(event_id)
    assert stored is not None and not stored.rejected
    assert event_id not in await _timeline(joined)
    assert event_id not in await hs.hearth.core.event_store.forward_extremities(room)


async def test_event_after_an_unfillable_gap_is_dropped(joined):
    """Its prev_events are unknown and its server cannot be asked (not reachable): not kept."""
    hs = joined["hs"]
    event_id, pdu = _sign(_message(joined, "from the future", prev=["$unknownEventIdXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"]))
    status, answer = await _send(hs, pdu)
    assert status == 200 and "prev_events" in answer["pdus"][event_id]["error"]
    assert await hs.hearth.core.event_store.get_event(event_id) is None


async def test_server_acl_is_enforced(joined):
    hs, alice, room = joined["hs"], joined["alice"], joined["room"]
    await hs.ok("PUT", f"/rooms/{room}/state/m.room.server_acl/", alice,
                {"allow": ["*"], "deny": [ORIGIN], "allow_ip_literals": False})
    event_id, pdu = _sign(_message(joined, "denied"))
    status, answer = await _send(hs, pdu)
    assert status == 200 and "server ACL" in answer["pdus"][event_id]["error"]
    assert await hs.hearth.core.event_store.get_event(event_id) is None
    status, body = await _fed(hs, "GET", f"/_matrix/federation/v1/state_ids/{quote(room)}?event_id={quote(joined['join'])}")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await _fed(hs, "GET", f"/_matrix/federation/v1/make_join/{quote(room)}/{quote(BOB)}?ver=10")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_timestamp_to_event(joined):
    hs, room = joined["hs"], quote(joined["room"])
    status, body = await _fed(hs, "GET", f"/_matrix/federation/v1/timestamp_to_event/{room}?ts=0&dir=f")
    assert status == 200 and body["event_id"].startswith("$")
    status, body = await _fed(hs, "GET", f"/_matrix/federation/v1/timestamp_to_event/{room}?ts=1&dir=b")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_request_signed_by_the_wrong_key_is_refused(joined):
    hs = joined["hs"]
    _, pdu = _sign(_message(joined, "whatever"))
    status, body = await _send(hs, pdu, key=FORGER)
    assert (status, body["errcode"]) == (401, "M_UNAUTHORIZED")


async def test_reads_for_a_server_in_the_room(joined):
    hs, room, join = joined["hs"], quote(joined["room"]), quote(joined["join"])
    status, body = await _fed(hs, "GET", f"/_matrix/federation/v1/state_ids/{room}?event_id={join}")
    assert status == 200 and joined["state"][("m.room.create", "")] in body["pdu_ids"]
    status, body = await _fed(hs, "GET", f"/_matrix/federation/v1/state/{room}?event_id={join}")
    assert status == 200 and any(e["type"] == "m.room.create" for e in body["pdus"])
    assert not any(e.get("state_key") == BOB for e in body["pdus"])  # the state before the join
    status, body = await _fed(hs, "GET", f"/_matrix/federation/v1/event/{join}")
    assert status == 200 and body["pdus"][0]["type"] == "m.room.member"
    status, body = await _fed(hs, "GET", f"/_matrix/federation/v1/backfill/{room}?v={join}&limit=100")
    assert status == 200 and any(e["type"] == "m.room.create" for e in body["pdus"])
    status, body = await _fed(hs, "GET", f"/_matrix/federation/v1/event_auth/{room}/{join}")
    assert status == 200 and len(body["auth_chain"]) >= 3


JUNK_BODIES: list[Any] = [None, [], "text", {"pdus": "x"}, {"event": 1}, {"earliest_events": 5, "latest_events": [1]},
                          {"device_keys": []}, {"one_time_keys": "x"}, {"limit": "many"}]
ENDPOINTS = [
    ("PUT", "/_matrix/federation/v1/send/{x}"),
    ("GET", "/_matrix/federation/v1/event/{x}"),
    ("GET", "/_matrix/federation/v1/state/{room}"),
    ("GET", "/_matrix/federation/v1/state_ids/{room}?event_id={x}"),
    ("GET", "/_matrix/federation/v1/event_auth/{room}/{x}"),
    ("GET", "/_matrix/federation/v1/backfill/{room}?v={x}&limit=zz"),
    ("POST", "/_matrix/federation/v1/get_missing_events/{room}"),
    ("GET", "/_matrix/federation/v1/make_join/{room}/{x}"),
    ("PUT", "/_matrix/federation/v2/send_join/{room}/{x}"),
    ("GET", "/_matrix/federation/v1/make_leave/{room}/{x}"),
    ("PUT", "/_matrix/federation/v2/send_leave/{room}/{x}"),
    ("PUT", "/_matrix/federation/v2/invite/{room}/{x}"),
    ("GET", "/_matrix/federation/v1/make_knock/{room}/{x}"),
    ("GET", "/_matrix/federation/v1/timestamp_to_event/{room}?ts={x}&dir=q"),
    ("PUT", "/_matrix/federation/v1/send_knock/{room}/{x}"),
    ("GET", "/_matrix/federation/v1/query/directory?room_alias={x}"),
    ("GET", "/_matrix/federation/v1/query/profile?user_id={x}"),
    ("GET", "/_matrix/federation/v1/publicRooms?limit={x}"),
    ("POST", "/_matrix/federation/v1/publicRooms"),
    ("GET", "/_matrix/federation/v1/user/devices/{x}"),
    ("POST", "/_matrix/federation/v1/user/keys/query"),
    ("POST", "/_matrix/federation/v1/user/keys/claim"),
]


@pytest.mark.parametrize(("method", "template"), ENDPOINTS)
async def test_junk_gets_a_clear_error_never_a_500(joined, method, template):
    hs = joined["hs"]
    for x, room in (("%24junk", quote(joined["room"])), ("%40x%3Ay", "%21nope%3Ax"), ("%00%ff", "zz")):
        path = template.format(x=x, room=room)
        bodies = JUNK_BODIES if method in ("PUT", "POST") else [None]
        for body in bodies:
            raw = json.dumps(body).encode() if body is not None else (b"{not json" if method != "GET" else None)
            status, answer = await _fed(hs, method, path, body if isinstance(body, dict) else None,
                                        raw=None if isinstance(body, dict) else raw)
            assert status < 500, (method, path, body, status, answer)
            if status >= 400:
                assert isinstance(answer, dict) and answer.get("errcode", "").startswith("M_"), (path, body, answer)


async def test_our_events_wait_on_disk_for_a_server_that_cannot_be_reached(joined):
    """The sender's queue for remote.example (which does not exist) holds alice's message, in
    the database: a restart, or the server coming back, sends it from there."""
    import asyncio

    from appliance.core.storage.stores.federation_outbox import FederationOutboxStore

    hs = joined["hs"]
    event_id = await hs.send(joined["alice"], joined["room"], {"msgtype": "m.text", "body": "are you there?"})
    outbox = FederationOutboxStore(hs.hearth.core.db)
    for _ in range(100):
        queued = [e for _, e in await outbox.next_batch(ORIGIN, 50)]
        if event_id in queued:
            break
        await asyncio.sleep(0.05)
    assert event_id in queued
    assert joined["join"] not in queued  # bob's own events are not sent back to his server


@pytest.mark.parametrize("shared", [False, True])
async def test_presence_from_other_servers_only_when_shared(joined, shared):
    """m.presence EDUs are dropped while the admin keeps presence at home (the default), and
    shown to our users who share a room with the remote user once presence is shared."""
    hs, alice = joined["hs"], joined["alice"]
    hs.hearth.settings.federation_presence = shared
    first = await hs.ok("GET", "/sync?timeout=0", alice)
    edu = {"edu_type": "m.presence", "content": {"push": [
        {"user_id": BOB, "presence": "online", "status_msg": "at the allotment", "last_active_ago": 5000,
         "currently_active": True},
        {"user_id": "@mallory:elsewhere.example", "presence": "online"},  # not the origin's user: dropped
    ]}}
    status, answer = await _fed(hs, "PUT", "/_matrix/federation/v1/send/p1",
                                {"origin": ORIGIN, "origin_server_ts": 1, "pdus": [], "edus": [edu]})
    assert status == 200, answer
    later = await hs.ok("GET", f"/sync?timeout=0&since={first['next_batch']}", alice)
    seen = {e["sender"]: e["content"] for e in later.get("presence", {}).get("events", [])}
    got = await hs.ok("GET", f"/presence/{BOB}/status", alice)
    if shared:
        assert seen[BOB]["presence"] == "online" and seen[BOB]["status_msg"] == "at the allotment"
        assert got["presence"] == "online" and got["status_msg"] == "at the allotment"
    else:
        assert BOB not in seen and got == {"presence": "offline"}
    assert "@mallory:elsewhere.example" not in seen
