"""A real `hearth run` process: back up from the admin page, restore from it, and the server
restarts itself into the restored data (same PID: it re-executes itself, as under systemd)."""
from __future__ import annotations

import io
import re
import time

import httpx

from appliance.core.services import backup as b
from tests.conftest import start_server

ADMIN_PW = "warm tea by the fire"
LEO_PW = "blue kites over hills"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(base: str) -> httpx.Client:
    web = httpx.Client(base_url=base, timeout=10)
    csrf = csrf_of(web.get("/login").text)
    r = web.post("/login", data={"username": "admin", "password": ADMIN_PW, "csrf_token": csrf})
    assert r.status_code == 303, r.text
    return web


def wait_status(web: httpx.Client, job_url: str, until: tuple[str, ...]) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = web.get(job_url + "/status").json()
        if status["state"] in until:
            return status
        time.sleep(0.1)
    raise AssertionError(status)


def matrix_login(base: str, user: str, password: str) -> int:
    return httpx.post(base + "/_matrix/client/v3/login", json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password},
        timeout=10).status_code


def test_restore_from_the_admin_page_restarts_the_server(tmp_path):
    srv = start_server(tmp_path / "data")
    try:
        srv.hearth_cli("create-user", "admin", "--admin", "--password", ADMIN_PW)
        srv.hearth_cli("create-user", "leo", "--password", LEO_PW)
        web = sign_in(srv.base_url)
        csrf = csrf_of(web.get("/admin/backups").text)
        r = web.post("/admin/backups/run", data={"csrf_token": csrf})
        assert r.status_code == 303
        job_url = r.headers["Location"]
        status = wait_status(web, job_url, ("done", "failed"))
        assert status["state"] == "done", status
        key_text = re.search(r'name="key" value="([A-Z2-7-]+)"', web.get(job_url).text).group(1)
        archive = web.get(f"/admin/backups/download/{status['archive']}").content
        assert b.read_header(io.BytesIO(archive))[0]["server_name"] == "hearth.test"

        srv.hearth_cli("create-user", "late", "--password", "made after the backup")
        assert matrix_login(srv.base_url, "late", "made after the backup") == 200
        boot = web.get("/restore/state.json").json()["boot"]
        pid = srv.process.pid

        csrf = csrf_of(web.get("/admin/backups").text)
        r = web.post("/admin/backups/restore", data={"csrf_token": csrf, "key": key_text, "confirm": "on"},
                     files={"archive": ("family.hearthbackup", archive, "application/octet-stream")})
        assert r.status_code == 303, r.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the page's script does the same
            try:
                new_boot = httpx.get(srv.base_url + "/restore/state.json", timeout=2).json()["boot"]
                if new_boot != boot:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the server did not come back")
        assert srv.process.poll() is None and srv.process.pid == pid  # the same process, re-executed
        assert matrix_login(srv.base_url, "leo", LEO_PW) == 200
        assert matrix_login(srv.base_url, "late", "made after the backup") == 403
        previous = list((tmp_path / "data").glob(".restore-previous-*"))
        assert len(previous) == 1 and (previous[0] / "hearth.db").exists()
    finally:
        srv.stop()
