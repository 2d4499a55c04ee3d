"""The setup wizard's "restore from a backup": a fresh data directory, the setup code, then an
archive made from another data directory is uploaded with its key, checked, staged, and applied
when the server starts again. The restored server is set up (its admin, its name): the wizard is
gone, and everyone logs in with their old passwords and reads their history."""
from __future__ import annotations

import asyncio
import io
import re
from contextlib import asynccontextmanager
from pathlib import Path

from werkzeug.datastructures import FileStorage

from appliance.app import create_app
from appliance.core.services import backup as b
from appliance.core.services.rooms.create import CreateRoomRequest
from appliance.hearth import build_hearth
from appliance.settings import Settings

LAN = {"client": ("192.168.1.20", 50000)}
PASSWORDS = {"mum": "warm tea by the fire", "leo": "blue kites over hills"}


def settings_for(data_dir: Path, **explicit) -> Settings:
    values = dict(data_dir=data_dir, bind="127.0.0.1:0", rate_limit_per_second=1000.0, rate_limit_burst=10000,
                  login_rate_per_second=1000.0, login_rate_burst=10000)
    values.update(explicit)
    return Settings(**values)


@asynccontextmanager
async def running(settings: Settings, restart_process=None):
    app = create_app(settings, restart_process=restart_process)
    async with app.test_app() as test_app:
        yield app, test_app.test_client()


async def family_backup(tmp_path: Path, server_name: str) -> tuple[Path, bytes, str]:
    """Another data directory: an admin, a member, a room with messages; backed up."""
    settings = settings_for(tmp_path / "old-box", server_name=server_name)
    hearth = await build_hearth(settings)
    try:
        mum = await hearth.accounts.registration.create_user("mum", PASSWORDS["mum"], admin=True)
        await hearth.accounts.registration.create_user("leo", PASSWORDS["leo"])
        await hearth.web.setup.complete("headless")
        room_id = await hearth.rooms.creation.create_room(mum, CreateRoomRequest(name="Family", preset="public_chat"))
        await hearth.rooms.membership.join(f"@leo:{server_name}", room_id)
        for i in range(5):
            await hearth.rooms.messages.send_message(room_id, mum, "m.room.message", {"msgtype": "m.text", "body": f"hello {i}"},
                                            txn_id=f"t{i}", device_id=None)
        key = b.new_key()
        (tmp_path / "usb").mkdir(exist_ok=True)
        result = await hearth.core.backups.run("manual", tmp_path / "usb", key)
        return result.path, key, room_id
    finally:
        await hearth.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def claim_and_choose_restore(app, client) -> str:
    r = await client.get("/setup", scope_base=LAN)
    csrf = csrf_of(await r.get_data(as_text=True))
    code = app.config["HEARTH"].web.setup.setup_code
    r = await client.post("/setup", form={"setup_code": code, "csrf_token": csrf}, scope_base=LAN)
    assert r.status_code == 303
    r = await client.get("/setup/mode", scope_base=LAN)
    html = await r.get_data(as_text=True)
    assert 'value="restore"' in html and "Coming soon" not in html
    r = await client.post("/setup/mode", form={"mode": "restore", "csrf_token": csrf}, scope_base=LAN)
    assert r.status_code == 303 and r.headers["Location"] == "/setup/restore"
    r = await client.get("/setup/restore", scope_base=LAN)
    assert r.status_code == 200 and "Restore from a backup" in await r.get_data(as_text=True)
    return csrf


async def upload(client, csrf: str, archive: Path | bytes, key_text: str):
    data = archive if isinstance(archive, bytes) else archive.read_bytes()
    return await client.post("/setup/restore", form={"key": key_text, "csrf_token": csrf}, scope_base=LAN,
                             files={"archive": FileStorage(io.BytesIO(data), filename="family.hearthbackup")})


async def wait_job(client, url: str) -> dict:
    for _ in range(300):
        status = await (await client.get(url + "/status", scope_base=LAN)).get_json()
        if status["state"] != "running":
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(status)


async def login(client, user: str, password: str):
    return await client.post("/_matrix/client/v3/login", json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})


async def test_wizard_restores_a_backup_and_setup_is_done(tmp_path):
    archive, key, room_id = await family_backup(tmp_path, "hearth.test")
    fresh = tmp_path / "new-box"
    restarts = []
    async with running(settings_for(fresh, server_name="hearth.test"),
                       restart_process=lambda: restarts.append(True)) as (app, client):  # as `hearth run`
        csrf = await claim_and_choose_restore(app, client)
        # Refusals first: the fresh server stays as it is.
        r = await upload(client, csrf, archive, b.format_key(b.new_key()))
        assert r.status_code == 400 and "Wrong key" in await r.get_data(as_text=True)
        r = await upload(client, csrf, b"not a backup at all", b.format_key(key))
        assert r.status_code == 400 and "not a Hearth backup" in await r.get_data(as_text=True)
        assert await app.config["HEARTH"].web.setup.pending()

        r = await upload(client, csrf, archive, b.format_key(key))
        assert r.status_code == 303, await r.get_data(as_text=True)
        job_url = r.headers["Location"]
        status = await wait_job(client, job_url)
        assert status["state"] == "restarting", status
        r = await client.get(job_url, scope_base=LAN)
        html = await r.get_data(as_text=True)
        assert "everyone signs in as before" in html.lower() and "hearth.test" in html
        for _ in range(40):
            if restarts:
                break
            await asyncio.sleep(0.05)
        assert restarts
    # "Restarted": the staged backup is swapped in before the database opens.
    async with running(settings_for(fresh, server_name="hearth.test")) as (app, client):
        h = app.config["HEARTH"]
        assert not await h.web.setup.pending()
        assert (await client.get("/setup", scope_base=LAN)).status_code == 404
        assert (await client.get("/setup/restore", scope_base=LAN)).status_code == 404
        r = await login(client, "leo", PASSWORDS["leo"])
        assert r.status_code == 200, await r.get_data(as_text=True)
        token = (await r.get_json())["access_token"]
        r = await client.get(f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=20",
                             headers={"Authorization": f"Bearer {token}"})
        bodies = [e["content"].get("body") for e in (await r.get_json())["chunk"] if e["type"] == "m.room.message"]
        assert bodies[:5] == [f"hello {i}" for i in range(4, -1, -1)]
        r = await login(client, "mum", PASSWORDS["mum"])
        assert r.status_code == 200
        assert (await h.core.account_store.get_user("@mum:hearth.test")).admin


async def test_wizard_restore_takes_the_backups_server_name(tmp_path):
    """No name from the operator: the fresh box becomes the backed-up server, name and all."""
    archive, key, room_id = await family_backup(tmp_path, "smith.family")
    fresh = tmp_path / "new-box"
    async with running(settings_for(fresh)) as (app, client):
        csrf = await claim_and_choose_restore(app, client)
        r = await upload(client, csrf, archive, b.format_key(key))
        status = await wait_job(client, r.headers["Location"])
        assert status["state"] == "staged"  # nothing restarts an in-process app: the next start applies it
    async with running(settings_for(fresh)) as (app, client):
        assert app.config["HEARTH"].settings.server_name == "smith.family"
        assert (await login(client, "@mum:smith.family", PASSWORDS["mum"])).status_code == 200


async def test_wizard_refuses_another_server_when_the_operator_named_it(tmp_path):
    archive, key, _ = await family_backup(tmp_path, "other.test")
    fresh = tmp_path / "new-box"
    async with running(settings_for(fresh, server_name="hearth.test")) as (app, client):
        csrf = await claim_and_choose_restore(app, client)
        r = await upload(client, csrf, archive, b.format_key(key))
        html = await r.get_data(as_text=True)
        assert r.status_code == 400 and "other.test" in html and "Nothing was changed" in html
        assert await app.config["HEARTH"].web.setup.pending()
        assert not list(fresh.glob(".restore-*"))
