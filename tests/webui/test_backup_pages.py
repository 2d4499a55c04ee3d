"""The admin's Backups page through Quart's test client: admins only, a backup in the background
with its progress endpoint, the download, the emergency kit shown once, past runs with failures
(and the dashboard's warnings), the schedule stored as settings, and restore: the refusals (wrong
key, damaged file, another server's backup) leave the data untouched; a good archive is staged
and applied when the server starts again (the restart itself: test_backup_restart_e2e.py)."""
from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
from contextlib import asynccontextmanager
from pathlib import Path

from werkzeug.datastructures import FileStorage

from appliance.app import create_app
from appliance.core.services import backup as b
from appliance.core.services import restore_staging as rs
from appliance.hearth import build_hearth
from appliance.settings import Settings

ADMIN_PW = "warm tea by the fire"
MEMBER_PW = "blue kites over hills"


def make_settings(data_dir: Path, **extra) -> Settings:
    values = dict(server_name="hearth.test", data_dir=data_dir, bind="127.0.0.1:0", registration="open",
                  rate_limit_per_second=1000.0, rate_limit_burst=10000, login_rate_per_second=1000.0,
                  login_rate_burst=10000)
    values.update(extra)
    return Settings(**values)


class Browser:
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

    async def post(self, path: str, form: dict | None = None, files: dict | None = None):
        if self.csrf is None:
            await self.get("/login")
        return await self.client.post(path, form={**(form or {}), "csrf_token": self.csrf}, files=files)

    async def login(self, user: str, password: str) -> None:
        await self.get("/login")
        r = await self.post("/login", {"username": user, "password": password})
        assert r.status_code == 303, await r.get_data(as_text=True)
        await self.get("/admin/backups" if user == "admin" else "/me")


@asynccontextmanager
async def running(data_dir: Path, users: bool = True, restart_process=None, **extra):
    app = create_app(make_settings(data_dir, **extra), restart_process=restart_process)
    async with app.test_app() as test_app:
        h = app.config["HEARTH"]
        if users and not await h.core.account_store.user_exists("@admin:hearth.test"):
            await h.accounts.registration.create_user("admin", ADMIN_PW, admin=True)
            await h.accounts.registration.create_user("kim", MEMBER_PW)
        yield app, h, test_app


async def matrix_login(client, user: str, password: str):
    return await client.post("/_matrix/client/v3/login", json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})


async def wait_job(b_: Browser, job_url: str, states=("done", "failed", "staged", "restarting")) -> dict:
    seen = []
    for _ in range(300):
        r = await b_.client.get(job_url + "/status")
        assert r.status_code == 200
        status = await r.get_json()
        seen.append(status)
        if status["state"] in states:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"job did not finish: {seen[-1]}")


def data_snapshot(data_dir: Path) -> dict[str, int]:
    """Every file of the data directory (but SQLite's shared memory) and its size."""
    return {str(p.relative_to(data_dir)): p.stat().st_size for p in sorted(data_dir.rglob("*"))
            if p.is_file() and not p.name.endswith("-shm")}


async def make_archive(settings: Settings, dest: Path) -> tuple[Path, bytes]:
    """A backup of a data directory through the service (as `hearth backup` makes it)."""
    hearth = await build_hearth(settings)
    try:
        key = b.new_key()
        dest.mkdir(parents=True, exist_ok=True)
        result = await hearth.core.backups.run("manual", dest, key)
        return result.path, key
    finally:
        await hearth.close()


def upload(path: Path | bytes, name: str = "family.hearthbackup") -> FileStorage:
    data = path if isinstance(path, bytes) else path.read_bytes()
    return FileStorage(io.BytesIO(data), filename=name, content_type="application/octet-stream")


# -- access -----------------------------------------------------------------------------------------

async def test_backups_page_is_for_admins_only(tmp_path):
    async with running(tmp_path / "data") as (app, h, test_app):
        anon = test_app.test_client()
        r = await anon.get("/admin/backups")
        assert r.status_code == 303 and r.headers["Location"].startswith("/login")
        member = Browser(test_app.test_client())
        await member.login("kim", MEMBER_PW)
        for path in ("/admin/backups", "/admin/backups/jobs/x", "/admin/backups/jobs/x/status",
                     "/admin/backups/download/hearth-hearth.test-x.hearthbackup"):
            assert (await member.client.get(path)).status_code == 403, path
        for path in ("/admin/backups/run", "/admin/backups/scheduled-kit", "/admin/backups/kit"):
            assert (await member.post(path, {"key": b.format_key(b.new_key())})).status_code == 403, path
        r = await member.post("/admin/backups/restore", {"confirm": "on", "key": "x"},
                              files={"archive": upload(b"junk")})
        assert r.status_code == 403
        assert not list((tmp_path / "data").glob(".restore-*")) and not list((tmp_path / "data").glob(".backup-*"))
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        status, html = await admin.get("/admin/backups")
        assert status == 200 and "Back up now" in html and "Restore from a backup" in html
        assert 'href="/admin/backups"' in html  # in the admin menu
        assert "No backups yet" in html


async def test_unauthorised_restore_uploads_are_refused_before_the_body_is_read(tmp_path, monkeypatch):
    """Nobody who may not restore gets their upload spooled to disk, even for a moment."""
    from appliance.webui import restore_upload

    spooled: list[dict] = []
    real = restore_upload.tempfile.NamedTemporaryFile
    monkeypatch.setattr(restore_upload.tempfile, "NamedTemporaryFile",
                        lambda *a, **k: spooled.append(k) or real(*a, **k))
    async with running(tmp_path / "data") as (app, h, test_app):
        anon = test_app.test_client()
        r = await anon.post("/admin/backups/restore", form={"confirm": "on", "key": "x"},
                            files={"archive": upload(b"junk" * 1000)})
        assert r.status_code == 403
        member = Browser(test_app.test_client())
        await member.login("kim", MEMBER_PW)
        r = await member.post("/admin/backups/restore", {"confirm": "on", "key": "x"},
                              files={"archive": upload(b"junk" * 1000)})
        assert r.status_code == 403
        # The box is set up (it has an admin): the wizard's upload path is gone.
        r = await anon.post("/setup/restore", form={"key": "x"}, files={"archive": upload(b"junk")})
        assert r.status_code == 404
        assert spooled == []
        # An admin's upload is read (and refused for what it is: not a backup).
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        r = await admin.post("/admin/backups/restore", {"confirm": "on", "key": b.format_key(b.new_key())},
                             files={"archive": upload(b"junk" * 1000)})
        assert r.status_code == 400
        assert spooled and all(k.get("dir") == tmp_path / "data" for k in spooled)


# -- backing up -------------------------------------------------------------------------------------

async def test_backup_now_progress_download_and_kit_shown_once(tmp_path):
    async with running(tmp_path / "data") as (app, h, test_app):
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        r = await admin.post("/admin/backups/run")
        assert r.status_code == 303
        job_url = r.headers["Location"]
        assert job_url.startswith("/admin/backups/jobs/")
        status = await wait_job(admin, job_url)
        assert status["state"] == "done", status
        assert status["percent"] == 100 and status["archive"].endswith(".hearthbackup")
        assert set(status) >= {"phase", "progress", "size"} and "key" not in json.dumps(status).lower().replace(
            '"kind"', "")

        code, html = await admin.get(job_url)  # the kit: once
        assert code == 200 and "Backup done" in html and "Download emergency kit" in html
        key_text = re.search(r'name="key" value="([A-Z2-7-]+)"', html).group(1)
        key = b.parse_key(key_text)
        assert key_text in html and "Key: " + key_text in html
        code, again = await admin.get(job_url)
        assert code == 200 and key_text not in again and "shown once" in again
        assert "Download the backup" in again

        r = await admin.post("/admin/backups/kit", {"key": key_text, "archive": status["archive"]})
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
        kit = await r.get_data(as_text=True)
        assert b.read_key_text(kit) == key and "hearth.test" in kit

        r = await admin.client.get(f"/admin/backups/download/{status['archive']}")
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
        archive = tmp_path / status["archive"]
        archive.write_bytes(await r.get_data())
        manifest = b.verify_archive(archive, key, tmp_path, expected_server="hearth.test")
        assert manifest["row_counts"]["users"] >= 2
        # The archive waits in the data directory's downloads folder, never part of the next backup.
        assert (tmp_path / "data" / ".backup-downloads" / status["archive"]).exists()
        for bad in ("../hearth.core.db", "hearth.db", "hearth-x.hearthbackup", "..%2Fhearth.db"):
            assert (await admin.client.get(f"/admin/backups/download/{bad}")).status_code == 404

        code, html = await admin.get("/admin/backups")
        assert "Good" in html and status["archive"] in html and "Made by hand" in html
        code, html = await admin.get("/admin")
        assert "Last good" in html and "The last backup failed" not in html


async def test_failed_backup_is_shown_on_the_page_and_the_dashboard(tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    async with running(tmp_path / "data") as (app, h, test_app):
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        r = await admin.post("/admin/backups/schedule", {"backup_dir": str(usb), "interval_hours": "24",
                                                         "keep": "3"})
        assert r.status_code == 303
        await h.core.backups.stop()  # no scheduled run in this test
        usb.rmdir()             # the USB drive is unplugged
        r = await admin.post("/admin/backups/run")
        job_url = r.headers["Location"]
        status = await wait_job(admin, job_url)
        assert status["state"] == "failed" and "does not exist" in status["error"]
        code, html = await admin.get(job_url)
        assert "The backup failed" in html and "mounted" in html
        code, html = await admin.get("/admin/backups")
        assert "Failed" in html and "The last backup failed" in html
        code, html = await admin.get("/admin")
        assert "Needs attention" in html and "The last backup failed" in html


async def test_dashboard_warns_when_the_disk_is_full(tmp_path):
    async with running(tmp_path / "data") as (app, h, test_app):
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        code, html = await admin.get("/admin")
        assert "Everything is running" in html and "The disk is full" not in html
        async def no_sample():  # the dashboard's hourly sample is a write: it would find the disk fine again
            return None
        h.web.server_status.record_sample = no_sample
        h.core.db.health.mark_full()
        code, html = await admin.get("/admin")
        assert "Needs attention" in html and "The disk is full" in html
        h.core.db.health.mark_ok()
        code, html = await admin.get("/admin")
        assert "The disk is full" not in html


async def test_schedule_is_stored_and_restarts_the_scheduler(tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    async with running(tmp_path / "data") as (app, h, test_app):
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        r = await admin.post("/admin/backups/schedule", {"backup_dir": "relative/path", "interval_hours": "6",
                                                         "keep": "3"})
        assert r.status_code == 400 and "full path" in await r.get_data(as_text=True)
        r = await admin.post("/admin/backups/schedule", {"backup_dir": str(tmp_path / "nope"),
                                                         "interval_hours": "6", "keep": "3"})
        assert r.status_code == 400 and "mounted" in await r.get_data(as_text=True)
        r = await admin.post("/admin/backups/schedule", {"backup_dir": str(usb), "interval_hours": "0",
                                                         "keep": "3"})
        assert r.status_code == 400
        r = await admin.post("/admin/backups/schedule", {"backup_dir": str(usb), "interval_hours": "6",
                                                         "keep": "3"})
        assert r.status_code == 303
        assert h.settings.backup_dir == usb and h.settings.backup_interval_hours == 6 and h.settings.backup_keep == 3
        stored = await h.web.server_settings.stored()
        assert stored["backup_dir"] == str(usb) and stored["backup_keep"] == 3
        assert h.core.backups._task is not None  # scheduled backups run now: the first one at once
        for _ in range(200):
            if list(usb.glob("*.hearthbackup")):
                break
            await asyncio.sleep(0.05)
        assert list(usb.glob("hearth-hearth.test-scheduled-*.hearthbackup"))
        code, html = await admin.get("/admin/backups")
        assert "On: every 6 hours" in html and "Scheduled" in html and 'value="6"' in html
        r = await admin.post("/admin/backups/scheduled-kit")
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
        scheduled = next(usb.glob("hearth-hearth.test-scheduled-*.hearthbackup"))
        b.verify_archive(scheduled, b.read_key_text(await r.get_data(as_text=True)), tmp_path)
        r = await admin.post("/admin/backups/schedule", {"backup_dir": "", "interval_hours": "6", "keep": "3"})
        assert r.status_code == 303 and h.settings.backup_dir is None and h.core.backups._task is None
    # Stored: the next start reads them.
    async with running(tmp_path / "data") as (app, h, test_app):
        assert h.settings.backup_dir is None and h.settings.backup_interval_hours == 6


async def test_schedule_set_by_the_environment_is_read_only(tmp_path):
    async with running(tmp_path / "data", backup_keep=9) as (app, h, test_app):
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        code, html = await admin.get("/admin/backups")
        assert re.search(r'name="keep"[^>]* readonly', html) and "HEARTH_" in html
        r = await admin.post("/admin/backups/schedule", {"backup_dir": "", "interval_hours": "12", "keep": "2"})
        assert r.status_code == 303
        assert h.settings.backup_keep == 9 and h.settings.backup_interval_hours == 12


# -- restoring -------------------------------------------------------------------------------------

async def test_restore_refusals_leave_the_data_untouched(tmp_path):
    data = tmp_path / "data"
    async with running(data) as (app, h, test_app):
        pass
    archive, key = await make_archive(make_settings(data), tmp_path / "backups")
    other_archive, other_key = await make_archive(make_settings(tmp_path / "other", server_name="other.test"),
                                                  tmp_path / "backups")
    damaged = bytearray(archive.read_bytes())
    damaged[len(damaged) // 2] ^= 0x40
    async with running(data) as (app, h, test_app):
        await h.accounts.registration.create_user("late", "a password made later")  # written after the backup
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        before = data_snapshot(data)
        key_text = b.format_key(key)

        async def refused(form, files, *expect):
            r = await admin.post("/admin/backups/restore", form, files=files)
            html = await r.get_data(as_text=True)
            assert r.status_code == 400, html
            for text in expect:
                assert text in html, (text, html[-3000:])

        await refused({"key": key_text}, {"archive": upload(archive)}, "Tick the box")
        await refused({"confirm": "on", "key": key_text}, {}, "Choose the backup file")
        await refused({"confirm": "on"}, {"archive": upload(archive)}, "Type the key")
        await refused({"confirm": "on", "key": "not a key"}, {"archive": upload(archive)}, "not a backup key")
        await refused({"confirm": "on", "key": b.format_key(b.new_key())}, {"archive": upload(archive)},
                      "Wrong key", "Nothing was changed")
        await refused({"confirm": "on", "key": b.format_key(other_key)}, {"archive": upload(other_archive)},
                      "other.test", "not &#39;hearth.test&#39;", "Nothing was changed")
        await refused({"confirm": "on", "key": key_text}, {"archive": upload(b"PK\x03\x04 a zip, not a backup")},
                      "not a Hearth backup")
        # A damaged file passes the quick checks; the full check in the background refuses it.
        r = await admin.post("/admin/backups/restore", {"confirm": "on", "key": key_text},
                             files={"archive": upload(bytes(damaged))})
        assert r.status_code == 303, await r.get_data(as_text=True)
        status = await wait_job(admin, r.headers["Location"])
        assert status["state"] == "failed" and "damaged" in status["error"], status
        code, html = await admin.get(r.headers["Location"])
        assert "The restore was refused" in html and "nothing was changed" in html

        assert data_snapshot(data) == before or {k for k in data_snapshot(data)} == {k for k in before}
        assert not list(data.glob(".restore-*"))  # no staging, no upload left behind
        assert (await matrix_login(test_app.test_client(), "late", "a password made later")).status_code == 200
    async with running(data) as (app, h, test_app):  # and nothing is applied at the next start
        assert await h.core.account_store.user_exists("@late:hearth.test")
        assert not list(data.glob(".restore-*"))


async def test_restore_from_the_admin_page_restarts_into_the_backup(tmp_path):
    data = tmp_path / "data"
    async with running(data) as (app, h, test_app):
        await h.accounts.registration.create_user("grandma", "knitting by the window")
    archive, key = await make_archive(make_settings(data), tmp_path / "backups")
    kit = b.emergency_kit(key, "hearth.test", archive.name)
    restarts = []
    async with running(data, restart_process=lambda: restarts.append(True)) as (app, h, test_app):  # as `hearth run`
        await h.accounts.registration.create_user("late", "a password made later")
        await h.admin.users.set_password("@grandma:hearth.test", "a changed password!", logout_devices=False)
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        r = await admin.post("/admin/backups/restore", {"confirm": "on"},
                             files={"archive": upload(archive), "kit": upload(kit.encode(), "kit.txt")})
        assert r.status_code == 303, await r.get_data(as_text=True)
        job_url = r.headers["Location"]
        status = await wait_job(admin, job_url)
        assert status["state"] == "restarting", status
        code, html = await admin.get(job_url)
        assert "Restoring" in html and "data-wait-restart" in html
        r = await test_app.test_client().get("/restore/state.json")
        boot = (await r.get_json())["boot"]
        for _ in range(40):
            if restarts:
                break
            await asyncio.sleep(0.05)
        assert restarts == [True]
        assert (data / rs.STAGED).is_dir() and not list(data.glob(rs.UPLOAD_PREFIX + "*"))
        # Until it restarts, the running server still has its own data.
        assert await h.core.account_store.user_exists("@late:hearth.test")
    async with running(data, users=False) as (app, h, test_app):  # the start swaps the restore in
        client = test_app.test_client()
        assert not await h.core.account_store.user_exists("@late:hearth.test")
        assert (await matrix_login(client, "grandma", "knitting by the window")).status_code == 200
        assert (await matrix_login(client, "grandma", "a changed password!")).status_code == 403
        assert (await matrix_login(client, "kim", MEMBER_PW)).status_code == 200
        assert not (data / rs.STAGED).exists()
        previous = list(data.glob(rs.PREVIOUS_PREFIX + "*"))
        assert len(previous) == 1 and (previous[0] / "hearth.db").exists()
        assert not await h.web.setup.pending()
        admin = Browser(client)
        await admin.login("admin", ADMIN_PW)
        code, html = await admin.get("/admin/backups")
        assert "Data from before a restore" in html and previous[0].name in html
        r = await admin.post(f"/admin/backups/previous/{previous[0].name}/delete", {"confirm": "on"})
        assert r.status_code == 303 and not previous[0].exists()
        r = await admin.post("/admin/backups/previous/..%2F..%2Fetc/delete", {"confirm": "on"})
        assert r.status_code in (303, 404)


async def test_a_staged_restore_without_a_restart_hook_waits_for_the_next_start(tmp_path):
    data = tmp_path / "data"
    async with running(data) as (app, h, test_app):
        pass
    archive, key = await make_archive(make_settings(data), tmp_path / "backups")
    async with running(data) as (app, h, test_app):
        await h.accounts.registration.create_user("late", "a password made later")
        admin = Browser(test_app.test_client())
        await admin.login("admin", ADMIN_PW)
        r = await admin.post("/admin/backups/restore", {"confirm": "on", "key": b.format_key(key).lower()},
                             files={"archive": upload(archive)})
        status = await wait_job(admin, r.headers["Location"])
        assert status["state"] == "staged"
        code, html = await admin.get(r.headers["Location"])
        assert "Restart Hearth to finish" in html
        code, html = await admin.get("/admin/backups")
        assert "waits for Hearth to restart" in html
    async with running(data, users=False) as (app, h, test_app):
        assert not await h.core.account_store.user_exists("@late:hearth.test")
        assert await h.core.account_store.user_exists("@kim:hearth.test")


def test_apply_finishes_after_a_crash_half_way(tmp_path):
    """A power cut while the data moves: the next start completes the swap, nothing is lost."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "hearth.db").write_bytes(b"old db")
    (data / "media").mkdir()
    (data / "media" / "a").write_bytes(b"old media")
    staged = data / rs.STAGED
    staged.mkdir()
    (staged / "hearth.db").write_bytes(b"new db")
    (staged / "signing.key").write_bytes(b"new key")
    (staged / rs.PLAN).write_text(json.dumps({"aside": rs.PREVIOUS_PREFIX + "x", "server_name": "hearth.test"}))
    # Crash after the current data went aside and one staged file moved in.
    aside = data / (rs.PREVIOUS_PREFIX + "x")
    aside.mkdir()
    shutil.move(data / "hearth.db", aside / "hearth.db")
    shutil.move(data / "media", aside / "media")
    (staged / rs.MOVING_IN).write_bytes(b"")
    shutil.move(staged / "hearth.db", data / "hearth.db")
    rs.apply_staged_restore(data)
    assert (data / "hearth.db").read_bytes() == b"new db" and (data / "signing.key").read_bytes() == b"new key"
    assert (aside / "hearth.db").read_bytes() == b"old db" and (aside / "media" / "a").exists()
    assert not staged.exists() and not (data / "media").exists()
