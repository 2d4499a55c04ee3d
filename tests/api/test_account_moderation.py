"""Account locking and suspension (admin.yaml; client-server-api "Account locking" and
"Account suspension"): the admin endpoints, their checks in the spec's order, and the effect
on the locked or suspended user's requests."""
from __future__ import annotations

import pytest

V1 = "/_matrix/client/v1"
PW = "pw-correct-horse"


async def call(hs, method, path, user=None, json=None):
    r = await hs.client.open(V1 + path, method=method, json=json, headers=user.headers if user else {})
    return r.status_code, await r.get_json()


@pytest.mark.parametrize("kind", ["lock", "suspend"])
async def test_admin_sets_and_reads_the_flag(hs, kind):
    flag = {"lock": "locked", "suspend": "suspended"}[kind]
    admin, bob = await hs.user("admin", admin=True), await hs.user("bob")
    assert await call(hs, "GET", f"/admin/{kind}/{bob.user_id}", admin) == (200, {flag: False})
    assert await call(hs, "PUT", f"/admin/{kind}/{bob.user_id}", admin, {flag: True}) == (200, {flag: True})
    assert await call(hs, "GET", f"/admin/{kind}/{bob.user_id}", admin) == (200, {flag: True})
    assert await call(hs, "PUT", f"/admin/{kind}/{bob.user_id}", admin, {flag: False}) == (200, {flag: False})
    assert await call(hs, "GET", f"/admin/{kind}/{bob.user_id}", admin) == (200, {flag: False})


@pytest.mark.parametrize("kind", ["lock", "suspend"])
async def test_checks_in_the_spec_order(hs, kind):
    flag = {"lock": "locked", "suspend": "suspended"}[kind]
    admin, other_admin, bob = await hs.user("admin", admin=True), await hs.user("root", admin=True), await hs.user("bob")
    # Not an admin: 403 before any lookup (no user enumeration), even for a user that does not exist.
    for target in ("@ghost:hearth.test", admin.user_id):
        status, body = await call(hs, "GET", f"/admin/{kind}/{target}", bob)
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        status, body = await call(hs, "PUT", f"/admin/{kind}/{target}", bob, {flag: True})
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await call(hs, "GET", f"/admin/{kind}/@bob:elsewhere.example", admin)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await call(hs, "GET", f"/admin/{kind}/@ghost:hearth.test", admin)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await call(hs, "PUT", f"/admin/{kind}/{other_admin.user_id}", admin, {flag: True})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await call(hs, "PUT", f"/admin/{kind}/{admin.user_id}", admin, {flag: True})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await call(hs, "PUT", f"/admin/{kind}/{bob.user_id}", admin, {"nope": True})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    await hs.hearth.core.account_store.set_deactivated(bob.user_id)
    status, body = await call(hs, "GET", f"/admin/{kind}/{bob.user_id}", admin)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_a_locked_account_may_only_log_out_and_keeps_its_session(hs):
    admin, bob = await hs.user("admin", admin=True), await hs.user("bob")
    await hs.hearth.accounts.login.set_password(bob.user_id, PW, logout_devices=False)
    await call(hs, "PUT", f"/admin/lock/{bob.user_id}", admin, {"locked": True})
    for method, path in (("GET", "/account/whoami"), ("GET", "/sync"), ("POST", "/createRoom")):
        status, body = await hs.call(method, path, bob, {} if method == "POST" else None)
        assert status == 401, (path, body)
        assert (body["errcode"], body["soft_logout"]) == ("M_USER_LOCKED", True)
    # No new access token while locked.
    login = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"}, "password": PW}
    status, body = await hs.call("POST", "/login", None, login)
    assert (status, body["errcode"]) == (401, "M_USER_LOCKED")
    # Unlocked: the same token works again (locking does not revoke tokens).
    await call(hs, "PUT", f"/admin/lock/{bob.user_id}", admin, {"locked": False})
    assert (await hs.ok("GET", "/account/whoami", bob))["user_id"] == bob.user_id
    await call(hs, "PUT", f"/admin/lock/{bob.user_id}", admin, {"locked": True})
    assert await hs.call("POST", "/logout", bob, {}) == (200, {})


async def test_a_suspended_account_reads_and_leaves_but_does_not_act(hs):
    admin, alice, bob = await hs.user("admin", admin=True), await hs.user("alice"), await hs.user("bob")
    public = await hs.create_room(alice, preset="public_chat")
    joined = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{joined}", bob)
    own = await hs.send(bob, joined)
    alices = await hs.send(alice, joined)
    own_too = await hs.send(bob, joined)
    await call(hs, "PUT", f"/admin/suspend/{bob.user_id}", admin, {"suspended": True})
    refused = [
        ("POST", f"/join/{public}", {}),
        ("POST", f"/rooms/{public}/join", {}),
        ("POST", f"/knock/{public}", {}),
        ("POST", f"/rooms/{joined}/invite", {"user_id": admin.user_id}),
        ("PUT", f"/rooms/{joined}/send/m.room.message/s1", {"msgtype": "m.text", "body": "hi"}),
        ("PUT", f"/profile/{bob.user_id}/displayname", {"displayname": "Bobby"}),
        ("DELETE", f"/profile/{bob.user_id}/displayname", None),
        ("PUT", f"/rooms/{joined}/redact/{alices}/r0", {}),
        ("PUT", f"/rooms/{joined}/send/m.room.redaction/s2", {"redacts": alices}),
        ("PUT", f"/rooms/{joined}/state/m.room.topic", {"topic": "mine now"}),
        ("PUT", f"/rooms/{joined}/state/m.room.member/{admin.user_id}", {"membership": "invite"}),
        ("PUT", f"/rooms/{public}/state/m.room.member/{bob.user_id}", {"membership": "join"}),
    ]
    for method, path, body in refused:
        status, answer = await hs.call(method, path, bob, body)
        assert (status, answer.get("errcode")) == (403, "M_USER_SUSPENDED"), (method, path, answer)
    await hs.ok("GET", "/sync", bob)
    await hs.ok("GET", f"/rooms/{joined}/messages?dir=b", bob)
    await hs.ok("PUT", f"/rooms/{joined}/redact/{own}/r1", bob, {})  # their own events
    await hs.ok("PUT", f"/rooms/{joined}/send/m.room.redaction/s3", bob, {"redacts": own_too})
    await hs.ok("POST", f"/rooms/{joined}/leave", bob, {})
    await call(hs, "PUT", f"/admin/suspend/{bob.user_id}", admin, {"suspended": False})
    await hs.ok("POST", f"/join/{public}", bob, {})


async def test_capability_for_admins_only(hs):
    admin, bob = await hs.user("admin", admin=True), await hs.user("bob")
    caps = (await hs.ok("GET", "/capabilities", admin))["capabilities"]
    assert caps["m.account_moderation"] == {"lock": True, "suspend": True}
    caps = (await hs.ok("GET", "/capabilities", bob))["capabilities"]
    assert "m.account_moderation" not in caps
