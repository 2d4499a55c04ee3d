"""The admin and family pages through Quart's test client: sign-in, CSRF, who may see what, every
page rendering, and every action doing what it says (checked through the services and the
Matrix API, not through the page text alone)."""
from __future__ import annotations

import io
import json
import re
import time
import zipfile
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from appliance.app import create_app
from appliance.core.services.request_log import RequestLog, status_matches
from appliance.core.services.server_status import forecast
from appliance.settings import Settings

ADMIN_PW = "warm tea by the fire"
MEMBER_PW = "blue kites over hills"


def make_settings(data_dir: Path, **extra) -> Settings:
    values = dict(server_name="hearth.test", data_dir=data_dir, bind="127.0.0.1:0",
                  rate_limit_per_second=1000.0, rate_limit_burst=10000, login_rate_per_second=1000.0,
                  login_rate_burst=10000)
    values.update(extra)
    return Settings(**values)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class Browser:
    """A test client that keeps the page's CSRF token, like a browser keeps the form."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    async def get(self, path: str) -> tuple[int, str]:
        r = await self.client.get(path)
        html = await r.get_data(as_text=True)
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        if m:
            self.csrf = m.group(1)
        return r.status_code, html

    async def post(self, path: str, form: dict | None = None, *, csrf: bool = True):
        if csrf and self.csrf is None:
            await self.get("/login")
        data = dict(form or {})
        if csrf:
            data["csrf_token"] = self.csrf
        return await self.client.post(path, form=data)

    async def login(self, user: str, password: str) -> None:
        await self.get("/login")
        r = await self.post("/login", {"username": user, "password": password})
        assert r.status_code == 303, await r.get_data(as_text=True)
        await self.get("/me")  # the new session's CSRF token


@asynccontextmanager
async def running(tmp_path: Path, **extra):
    app = create_app(make_settings(tmp_path / "data", **extra))
    async with app.test_app() as test_app:
        h = app.config["HEARTH"]
        await h.accounts.registration.create_user("admin", ADMIN_PW, admin=True)
        await h.accounts.registration.create_user("kim", MEMBER_PW)
        yield app, h, test_app


async def matrix_login(client, user: str, password: str):
    return await client.post("/_matrix/client/v3/login", json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})


# -- sign in, CSRF, access ------------------------------------------------------------------------

async def test_sign_in_sets_a_safe_cookie_and_signs_out(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        status, html = await b.get("/")
        assert status == 303 or "Sign in" in html
        r = await b.client.get("/admin")
        assert r.status_code == 303 and r.headers["Location"].startswith("/login?next=/admin")
        await b.get("/login")
        r = await b.post("/login", {"username": "admin", "password": "wrong password!"})
        assert r.status_code == 401
        assert "do not match" in await r.get_data(as_text=True)
        r = await b.post("/login", {"username": "admin", "password": ADMIN_PW, "next": "//evil.example/"})
        assert r.status_code == 303 and r.headers["Location"] == "/admin"  # no open redirect
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain http here
        status, html = await b.get("/admin")
        assert status == 200 and "Everything is running" in html
        r = await b.post("/logout")
        assert r.status_code == 303
        r = await b.client.get("/admin")
        assert r.status_code == 303


async def test_cookie_is_secure_over_tls(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        r = await client.get("/login", scheme="https")
        html = await r.get_data(as_text=True)
        r = await client.post("/login", scheme="https", form={
            "username": "kim", "password": MEMBER_PW, "csrf_token": csrf_of(html)})
        assert r.status_code == 303
        assert "Secure" in r.headers["Set-Cookie"]


async def test_forms_without_the_csrf_token_are_refused(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        for path, form in [("/admin/invites", {"uses": "1", "days": "7"}),
                           ("/admin/people/@kim:hearth.test/password", {"new_password": "a new pass phrase"}),
                           ("/admin/announce", {"message": "hi"}), ("/logout", {})]:
            r = await b.post(path, form, csrf=False)
            assert r.status_code == 403, path
            r = await b.client.post(path, form={**form, "csrf_token": "not-the-token"})
            assert r.status_code == 403, path
        assert await h.admin.registration_tokens.list() == []
        assert await h.core.auth.check_password("@kim:hearth.test", MEMBER_PW)
        # Another site's form, even with the token, is refused by its Origin.
        r = await b.client.post("/admin/invites", form={"uses": "1", "days": "7", "csrf_token": b.csrf},
                                headers={"Origin": "https://evil.example"})
        assert r.status_code == 403


async def test_members_cannot_see_admin_pages(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("kim", MEMBER_PW)
        for path in ["/admin", "/admin/people", "/admin/people/@admin:hearth.test", "/admin/invites",
                     "/admin/rooms", "/admin/reports", "/admin/settings", "/admin/logs", "/admin/announce"]:
            status, html = await b.get(path)
            assert status == 403, path
            assert "For admins only" in html
        r = await b.post("/admin/people/@admin:hearth.test/admin", {"admin": "0"})
        assert r.status_code == 403
        assert (await h.core.account_store.get_user("@admin:hearth.test")).admin
        r = await b.post("/admin/invites", {"uses": "5", "days": "7"})
        assert r.status_code == 403 and await h.admin.registration_tokens.list() == []
        # "/" leads a member to their own page.
        r = await b.client.get("/")
        assert r.headers["Location"] == "/me"


async def test_every_page_renders(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        room_id = await h.rooms.creation.create_room("@admin:hearth.test", _room("Family"))
        token = await h.admin.registration_tokens.create("ABCD-EFGH-JKMN", uses_allowed=2)
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        for path in ["/admin", "/admin/people", "/admin/people/@kim:hearth.test", "/admin/invites",
                     f"/admin/invites/{token.token}", "/admin/rooms", f"/admin/rooms/{room_id}", "/admin/reports",
                     "/admin/settings", "/admin/logs", "/admin/announce", "/me", "/me/password", "/me/devices",
                     "/me/export", "/me/invite"]:
            status, html = await b.get(path)
            assert status == 200, (path, html[-500:])
            assert 'name="viewport"' in html and "app.css" in html
        status, html = await b.get("/admin/people/@nobody:hearth.test")
        assert status == 404
        status, html = await b.get("/admin/rooms/!nope:hearth.test")
        assert status == 404


def _room(name: str):
    from appliance.core.services.rooms.create import CreateRoomRequest
    return CreateRoomRequest(name=name, preset="private_chat")


# -- admin actions --------------------------------------------------------------------------------

async def test_people_create_reset_admin_devices_deactivate(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        b = Browser(client)
        await b.login("admin", ADMIN_PW)
        r = await b.post("/admin/people", {"username": "Grandma", "displayname": "Grandma Rose",
                                           "password": "short"})
        assert r.status_code == 400 and "at least 10" in await r.get_data(as_text=True)
        r = await b.post("/admin/people", {"username": "Grandma", "displayname": "Grandma Rose",
                                           "password": "roses in the garden"})
        assert r.status_code == 303 and r.headers["Location"] == "/admin/people/@grandma:hearth.test"
        assert (await matrix_login(client, "grandma", "roses in the garden")).status_code == 200
        r = await b.post("/admin/people", {"username": "grandma", "password": "roses in the garden"})
        assert r.status_code == 400 and "already has that user name" in await r.get_data(as_text=True)
        status, html = await b.get("/admin/people")
        assert "Grandma Rose" in html and "@grandma:hearth.test" in html

        # Devices with last seen, then sign one out.
        kim = await matrix_login(client, "kim", MEMBER_PW)
        kim_token = (await kim.get_json())["access_token"]
        status, html = await b.get("/admin/people/@kim:hearth.test")
        device_id = (await kim.get_json())["device_id"]
        assert device_id in html and "Last seen" in html
        r = await b.post("/admin/people/@kim:hearth.test/devices/sign-out", {"device_id": device_id})
        assert r.status_code == 303
        r = await client.get("/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {kim_token}"})
        assert r.status_code == 401

        # Reset the password: the old one stops working, the new one works, web sessions end.
        kim_web = Browser(test_app.test_client())
        await kim_web.login("kim", MEMBER_PW)
        r = await b.post("/admin/people/@kim:hearth.test/password",
                         {"new_password": "a brand new phrase", "sign_out_devices": "on"})
        assert r.status_code == 303
        assert (await matrix_login(client, "kim", MEMBER_PW)).status_code == 403
        assert (await matrix_login(client, "kim", "a brand new phrase")).status_code == 200
        r = await kim_web.client.get("/me")
        assert r.status_code == 303  # signed out of the web UI too

        # Make admin and back; one cannot demote oneself.
        r = await b.post("/admin/people/@kim:hearth.test/admin", {"admin": "1"})
        assert (await h.core.account_store.get_user("@kim:hearth.test")).admin
        await b.post("/admin/people/@kim:hearth.test/admin", {"admin": "0"})
        assert not (await h.core.account_store.get_user("@kim:hearth.test")).admin
        await b.post("/admin/people/@admin:hearth.test/admin", {"admin": "0"})
        assert (await h.core.account_store.get_user("@admin:hearth.test")).admin

        # Deactivate.
        r = await b.post("/admin/people/@grandma:hearth.test/deactivate", {})
        assert r.status_code == 303
        assert (await h.core.account_store.get_user("@grandma:hearth.test")).deactivated
        assert (await matrix_login(client, "grandma", "roses in the garden")).status_code == 403
        status, html = await b.get("/admin/people")
        assert "@grandma:hearth.test is deactivated" in html  # the flash message, once
        status, html = await b.get("/admin/people")
        assert "@grandma:hearth.test" not in html
        status, html = await b.get("/admin/people?show=deactivated")
        assert "@grandma:hearth.test" in html


async def test_invites_create_show_revoke_and_register(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        b = Browser(client)
        await b.login("admin", ADMIN_PW)
        r = await b.post("/admin/invites", {"uses": "0", "days": "7"})
        assert r.status_code == 400
        r = await b.post("/admin/invites", {"uses": "2", "days": "3"})
        assert r.status_code == 303
        token = r.headers["Location"].rsplit("/", 1)[1]
        info = await h.admin.registration_tokens.get(token)
        assert info.uses_allowed == 2 and abs(info.expiry_time / 1000 - (time.time() + 3 * 86400)) < 60
        status, html = await b.get(f"/admin/invites/{token}")
        assert status == 200 and "<svg" in html and f"/join/{token}" in html
        status, html = await b.get("/admin/invites")
        assert token in html and "Used 0 of 2" in html
        # Someone registers with it through the Matrix API.
        r = await client.post("/_matrix/client/v3/register", json={"username": "newbie", "password": "pw"})
        session = (await r.get_json())["session"]
        r = await client.post("/_matrix/client/v3/register", json={
            "username": "newbie", "password": "pw",
            "auth": {"type": "m.login.registration_token", "token": token, "session": session}})
        r = await client.post("/_matrix/client/v3/register", json={
            "username": "newbie", "password": "pw", "auth": {"type": "m.login.dummy", "session": session}})
        assert r.status_code == 200, await r.get_json()
        status, html = await b.get("/admin/invites")
        assert "Used 1 of 2" in html
        r = await b.post(f"/admin/invites/{token}/revoke")
        assert r.status_code == 303
        assert await h.admin.registration_tokens.list() == []


async def test_rooms_block_and_delete(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        small = await h.rooms.creation.create_room("@admin:hearth.test", _room("Small"))
        big = await h.rooms.creation.create_room("@admin:hearth.test", _room("Big"))
        for i in range(5):
            await h.rooms.messages.send_message(big, "@admin:hearth.test", "m.room.message",
                                       {"msgtype": "m.text", "body": f"hello {i}"}, None, None)
        status, html = await b.get("/admin/rooms")
        assert html.index("Big") < html.index("Small")  # biggest first
        status, html = await b.get(f"/admin/rooms/{big}")
        assert "@admin:hearth.test" in html and "events" in html
        r = await b.post(f"/admin/rooms/{small}/block", {"block": "1"})
        assert r.status_code == 303
        assert (await h.admin.rooms.block_status(small))[0]
        await b.post(f"/admin/rooms/{small}/block", {"block": "0"})
        assert not (await h.admin.rooms.block_status(small))[0]
        # Delete needs the confirmation box.
        await b.post(f"/admin/rooms/{small}/delete", {})
        assert await h.core.event_store.room_version(small) is not None
        r = await b.post(f"/admin/rooms/{small}/delete", {"confirm": "on", "block": "on"})
        assert r.status_code == 303
        for _ in range(100):
            if await h.core.event_store.room_version(small) is None:
                break
            import asyncio
            await asyncio.sleep(0.05)
        assert await h.core.event_store.room_version(small) is None
        assert (await h.admin.rooms.block_status(small))[0]


async def test_reports_are_listed_and_dismissed(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        room_id = await h.rooms.creation.create_room("@admin:hearth.test", _room("Chat"))
        event_id = await h.rooms.messages.send_message(room_id, "@admin:hearth.test", "m.room.message",
                                              {"msgtype": "m.text", "body": "something rude"}, None, None)
        token = (await (await matrix_login(client, "admin", ADMIN_PW)).get_json())["access_token"]
        r = await client.post(f"/_matrix/client/v3/rooms/{room_id}/report/{event_id}",
                              json={"reason": "not nice"}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        b = Browser(client)
        await b.login("admin", ADMIN_PW)
        status, html = await b.get("/admin/reports")
        assert "something rude" in html and "not nice" in html
        report_id = (await h.admin.reports.list_event_reports()).event_reports[0].id
        r = await b.post(f"/admin/reports/{report_id}/dismiss")
        assert r.status_code == 303
        assert (await h.admin.reports.list_event_reports()).total == 0


async def test_announcement_reaches_everyone(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        r = await b.post("/admin/announce", {"message": "  "})
        assert r.status_code == 400
        r = await b.post("/admin/announce", {"message": "Restart tonight at ten"})
        assert r.status_code == 303
        for user in ("@kim:hearth.test", "@admin:hearth.test"):
            room_id = await h.accounts.server_notices.notice_room(user)
            assert room_id is not None
            evs = await h.core.event_store.events_in_room(room_id, "m.room.message")
            assert [e.pdu.content["body"] for e in evs] == ["Restart tonight at ten"]
        status, html = await b.get("/admin/announce")
        assert "Sent to 2 people" in html


async def test_settings_are_stored_and_applied(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        status, html = await b.get("/admin/settings")
        assert "hearth.test" in html and 'name="server_name"' not in html  # read-only, not a field
        r = await b.post("/admin/settings", {"registration": "open", "max_upload_mb": "0", "media_quota_mb": "5"})
        assert r.status_code == 400 and h.settings.registration == "token"
        r = await b.post("/admin/settings", {"registration": "closed", "max_upload_mb": "7", "media_quota_mb": "0",
                                             "url_previews": "on", "members_can_invite": "on"})
        assert r.status_code == 303
        s = h.settings
        assert (s.registration, s.max_upload_bytes, s.media_quota_bytes, s.url_previews, s.presence_enabled,
                s.members_can_invite) == ("closed", 7 * 1024 * 1024, 0, True, False, True)
        if getattr(h, "media", None) is not None:  # the running content repository takes them at once
            assert h.media.repository.limits.max_upload_bytes == 7 * 1024 * 1024 and h.media.repository.limits.quota_bytes == 0
            assert h.media.previews.enabled
        assert not h.accounts.presence.enabled
        stored = await h.web.server_settings.stored()
        assert stored["registration"] == "closed" and stored["members_can_invite"] is True
        client = test_app.test_client()
        r = await client.post("/_matrix/client/v3/register", json={"username": "x", "password": "y"})
        assert r.status_code == 403  # closed, at once


async def test_settings_fixed_by_the_environment_are_read_only(tmp_path):
    async with running(tmp_path, presence_enabled=True) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        status, html = await b.get("/admin/settings")
        assert re.search(r'id="presence_enabled"[^>]*disabled', html)
        await b.post("/admin/settings", {"registration": "token", "max_upload_mb": "50", "media_quota_mb": "10"})
        assert h.settings.presence_enabled is True
        assert "presence_enabled" not in await h.web.server_settings.stored()


async def test_request_log_filters_by_tag_user_and_status(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        token = (await (await matrix_login(client, "kim", MEMBER_PW)).get_json())["access_token"]
        await client.get("/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {token}"})
        await client.get("/_matrix/client/v3/rooms/!nope:hearth.test/state",
                         headers={"Authorization": f"Bearer {token}"})
        b = Browser(client)
        await b.login("admin", ADMIN_PW)
        log = app.config["HEARTH"].web.process.request_log
        kim = log.query(user="@kim")
        assert {r.path for r in kim} >= {"/_matrix/client/v3/account/whoami", "/_matrix/client/v3/rooms/!nope:hearth.test/state"}
        status, html = await b.get("/admin/logs?user=%40kim&status=4xx")
        assert "/rooms/!nope:hearth.test/state" in html and "/account/whoami" not in html
        tag = next(r.tag for r in kim if r.path.endswith("/whoami"))
        status, html = await b.get(f"/admin/logs?tag={tag}")
        assert "/account/whoami" in html and "/state" not in html
        # The web UI's own requests are logged with the signed-in person.
        assert log.query(user="@admin", path="/admin/logs")


async def test_recent_errors_show_on_the_dashboard(tmp_path):
    import logging
    async with running(tmp_path) as (app, h, test_app):
        app.config["HEARTH"].web.process.error_log.clear()
        logging.getLogger("hearth.test").error("the kettle is on fire")
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        status, html = await b.get("/admin")
        assert "the kettle is on fire" in html
        assert "Not enough data yet" in html  # one disk sample so far


# -- family members -------------------------------------------------------------------------------

async def test_member_changes_password(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        phone = (await (await matrix_login(client, "kim", MEMBER_PW)).get_json())["access_token"]
        b = Browser(client)
        await b.login("kim", MEMBER_PW)
        r = await b.post("/me/password", {"current_password": "not my password", "new_password": "fresh mint leaves"})
        assert r.status_code == 400 and "not your current password" in await r.get_data(as_text=True)
        r = await b.post("/me/password", {"current_password": MEMBER_PW, "new_password": "short"})
        assert r.status_code == 400
        r = await b.post("/me/password", {"current_password": MEMBER_PW, "new_password": "fresh mint leaves",
                                          "sign_out_devices": "on"})
        assert r.status_code == 303
        assert (await matrix_login(client, "kim", MEMBER_PW)).status_code == 403
        assert (await matrix_login(client, "kim", "fresh mint leaves")).status_code == 200
        r = await client.get("/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {phone}"})
        assert r.status_code == 401
        status, html = await b.get("/me")  # still signed in here
        assert status == 200 and "Your password is changed" in html


async def test_member_signs_out_own_devices(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        first = await (await matrix_login(client, "kim", MEMBER_PW)).get_json()
        second = await (await matrix_login(client, "kim", MEMBER_PW)).get_json()
        b = Browser(client)
        await b.login("kim", MEMBER_PW)
        status, html = await b.get("/me/devices")
        assert first["device_id"] in html and second["device_id"] in html
        await b.post("/me/devices/sign-out", {"device_id": first["device_id"]})
        assert await h.core.account_store.device_ids("@kim:hearth.test") == [second["device_id"]]
        await b.post("/me/devices/sign-out", {"all": "1"})
        assert await h.core.account_store.device_ids("@kim:hearth.test") == []


async def test_member_exports_their_data(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        kim, admin = "@kim:hearth.test", "@admin:hearth.test"
        room_id = await h.rooms.creation.create_room(admin, _room("Family"))
        await h.rooms.messages.set_state(room_id, admin, "m.room.history_visibility", "", {"history_visibility": "joined"})
        await h.rooms.messages.send_message(room_id, admin, "m.room.message",
                                   {"msgtype": "m.text", "body": "before kim"}, None, None)
        await h.rooms.membership.invite(room_id, admin, kim)
        await h.rooms.membership.join(kim, room_id)
        await h.rooms.messages.send_message(room_id, kim, "m.room.message", {"msgtype": "m.text", "body": "hi all"}, None, None)
        await h.accounts.account_data.set(kim, "m.direct", {"@x:hearth.test": []})
        await h.accounts.account_data.set(kim, "m.tag", {"tags": {"u.family": {}}}, room_id)
        client = test_app.test_client()
        b = Browser(client)
        await b.login("kim", MEMBER_PW)
        r = await b.post("/me/export", {})
        assert r.status_code == 200 and r.mimetype == "application/zip"
        assert "attachment" in r.headers["Content-Disposition"]
        zf = zipfile.ZipFile(io.BytesIO(await r.get_data()))
        names = zf.namelist()
        base = "rooms/" + room_id.replace(":", "_")
        events = [json.loads(line) for line in zf.read(f"{base}/events").decode().splitlines()]
        bodies = [e["content"].get("body") for e in events if e["type"] == "m.room.message"]
        assert "hi all" in bodies
        assert "before kim" not in bodies  # history visibility "joined": kim never saw it
        assert all(e["room_id"] == room_id for e in events)
        state_files = [n for n in names if n.startswith(f"{base}/state/")]
        assert len(state_files) == 1
        state = [json.loads(line) for line in zf.read(state_files[0]).decode().splitlines()]
        assert any(e["type"] == "m.room.member" and e["state_key"] == kim for e in state)
        assert json.loads(zf.read("user_data/profile"))["displayname"] == "kim"
        assert json.loads(zf.read("user_data/account_data/global"))["m.direct"] == {"@x:hearth.test": []}
        assert "u.family" in json.loads(zf.read(f"user_data/account_data/{room_id.replace(':', '_')}"))["m.tag"]["tags"]
        assert "user_data/devices" in names and "user_data/connections" in names and "README.txt" in names
        # Without the CSRF token there is no download.
        r = await client.post("/me/export", form={})
        assert r.status_code == 403
        # A GET shows the page, never the archive (no download by a link from elsewhere).
        status, html = await b.get("/me/export")
        assert status == 200 and "Download my data" in html


async def test_member_invites_only_when_allowed(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("kim", MEMBER_PW)
        status, html = await b.get("/me")
        assert 'href="/me/invite"' not in html
        status, _ = await b.get("/me/invite")
        assert status == 403
        r = await b.post("/me/invite")
        assert r.status_code == 403 and await h.admin.registration_tokens.list() == []
        await h.admin.settings.update({"members_can_invite": True})
        status, html = await b.get("/me")
        assert 'href="/me/invite"' in html
        r = await b.post("/me/invite")
        assert r.status_code == 200
        html = await r.get_data(as_text=True)
        tokens = await h.admin.registration_tokens.list()
        assert len(tokens) == 1 and tokens[0].uses_allowed == 1 and tokens[0].token in html and "<svg" in html


# -- pure parts -----------------------------------------------------------------------------------

def test_forecast_fits_a_line():
    day = 86400.0
    assert forecast([], 10**9).state == "not_enough_data"
    assert forecast([(0, 100), (3600, 200)], 10**9).state == "not_enough_data"
    assert forecast([(0, 100), (600, 200), (1200, 300)], 10**9).state == "not_enough_data"  # too short a span
    flat = forecast([(i * day, 5_000_000_000) for i in range(5)], 10**9)
    assert flat.state == "not_growing"
    shrinking = forecast([(i * day, 5_000_000_000 - i * 10**8) for i in range(5)], 10**9)
    assert shrinking.state == "not_growing"
    # 100 MB a day with 1 GB free: ten days.
    growing = forecast([(i * day, 10**9 + i * 10**8 + (7 if i % 2 else -7)) for i in range(10)], 10**9)
    assert growing.state == "growing"
    assert abs(growing.seconds_until_full - 10 * day) < 60
    assert abs(growing.bytes_per_day - 10**8) < 10**4


async def test_disk_samples_are_hourly(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        status = h.web.server_status
        now = time.time()
        assert await status.record_sample(now) in (True, False)
        assert await status.record_sample(now + 60) is False
        assert await status.record_sample(now + 3601) is True
        for i in range(1, 12):
            await status.add_sample(now - i * 3600, 10**9 - i * 10**7, 10**10)
        report = await status.report()
        assert report["forecast"].state in ("growing", "not_growing")
        assert report["forecast"].samples >= 12


def test_request_log_ring_is_bounded():
    log = RequestLog(capacity=3)
    for i in range(5):
        log.record(f"t{i}", "GET", f"/p{i}", "@a:x" if i % 2 else None, 200 + i * 100 if i < 4 else 404, 10, 1.0)
    assert len(log) == 3
    assert [r.tag for r in log.query()] == ["t4", "t3", "t2"]
    assert [r.tag for r in log.query(status="4xx")] == ["t4", "t2"]
    assert [r.tag for r in log.query(status="500")] == ["t3"]
    assert [r.tag for r in log.query(user="@a")] == ["t3"]
    assert status_matches(503, "5xx") and not status_matches(503, "4xx") and status_matches(404, "404")
    assert not status_matches(404, "abc")


async def test_shared_secret_registration_is_turned_on_in_the_settings(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        assert (await client.get("/_synapse/admin/v1/register")).status_code == 400  # off by default
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        status, html = await b.get("/admin/settings")
        assert 'id="registration_shared_secret_enabled"' in html
        r = await b.post("/admin/settings", {"registration": "token", "max_upload_mb": "50", "media_quota_mb": "10",
                                             "registration_shared_secret_enabled": "on"})
        assert r.status_code == 303
        assert (await h.web.server_settings.stored())["registration_shared_secret_enabled"] is True
        r = await client.get("/_synapse/admin/v1/register")
        assert r.status_code == 200 and (await r.get_json())["nonce"]
        await b.post("/admin/settings", {"registration": "token", "max_upload_mb": "50", "media_quota_mb": "10"})
        assert (await client.get("/_synapse/admin/v1/register")).status_code == 400
