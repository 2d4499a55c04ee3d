"""Backups and restore in a real browser (Playwright driving Debian's Chromium) against real
servers: the admin backs up (progress, the emergency kit once, both downloads), a wrong key is
refused, a restore restarts the server; then a fresh box restores the same backup in the setup
wizard and a family member signs in as before. Screenshots at phone and desktop size go to
test-output/screenshots/backups/."""
from __future__ import annotations

import shutil
from pathlib import Path


from appliance.core.services import backup as b
from tests.browser import Shots, launch, sync_playwright
from tests.conftest import ROOT, start_server

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots" / "backups"
ADMIN_PW = "warm tea by the fire"
KIM_PW = "blue kites over hills"





def test_backup_and_restore_in_a_browser(tmp_path):
    shutil.rmtree(SHOTS, ignore_errors=True)
    srv = start_server(tmp_path / "box", HEARTH_REGISTRATION=None)
    fresh = None
    problems: list[str] = []
    try:
        srv.hearth_cli("create-user", "admin", "--admin", "--password", ADMIN_PW)
        srv.hearth_cli("create-user", "kim", "--password", KIM_PW)
        with playwright_api.sync_playwright() as p:
            browser, context = launch(p, accept_downloads=True)
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text)
                    if m.type == "error" and "Failed to load resource" not in m.text else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            shot = Shots(page, SHOTS)

            page.goto(srv.base_url + "/login?next=/admin/backups")
            page.fill("#username", "admin")
            page.fill("#password", ADMIN_PW)
            page.click("button[type=submit]")
            assert page.url.endswith("/admin/backups")
            shot("backups-empty")

            page.click("#backup-now")
            page.wait_for_selector("text=Backup done", timeout=30_000)  # the script follows the progress
            shot("backup-done-kit")
            with page.expect_download() as kit_download:
                page.click("#download-kit")
            kit = Path(kit_download.value.path()).read_text()
            key = b.read_key_text(kit)
            with page.expect_download() as archive_download:
                page.click("#download-archive")
            archive = tmp_path / archive_download.value.suggested_filename
            shutil.copy(archive_download.value.path(), archive)
            assert b.archive_info(archive)["server_name"] == "hearth.test"
            page.reload()
            assert "shown once" in page.content() and b.format_key(key) not in page.content()

            page.goto(srv.base_url + "/admin/backups")
            shot("backups-with-a-run")
            page.set_input_files("#restore-archive", str(archive))
            page.fill("#restore-key", b.format_key(b.new_key()))
            page.check("input[name=confirm]")
            page.click("#restore button[type=submit]")
            assert "Wrong key" in page.content()
            page.locator("#restore").scroll_into_view_if_needed()
            shot("restore-wrong-key")

            page.set_input_files("#restore-archive", str(archive))
            page.fill("#restore-key", b.format_key(key))
            page.check("input[name=confirm]")
            page.click("#restore button[type=submit]")
            page.wait_for_selector("text=Restoring", timeout=30_000)
            shot("restore-restarting")
            page.wait_for_selector("[data-restart-done]:not([hidden])", timeout=60_000)
            shot("restore-done")
            assert srv.process.poll() is None

            # A fresh box with the same name restores the backup in the setup wizard.
            fresh = start_server(tmp_path / "new-box", HEARTH_REGISTRATION=None)
            code = (tmp_path / "new-box" / "setup-code.txt").read_text().strip()
            page.goto(fresh.base_url + "/")
            page.fill("#setup_code", code)
            page.click("button[type=submit]")
            assert page.url.endswith("/setup/mode")
            page.check("#mode-restore")
            page.click("button[type=submit]")
            assert page.url.endswith("/setup/restore")
            shot("wizard-restore")
            page.set_input_files("#restore-archive", str(archive))
            page.set_input_files("#restore-kit", kit_download.value.path())
            page.click("button[type=submit]")
            page.wait_for_selector("[data-restart-done]:not([hidden])", timeout=60_000)
            shot("wizard-restore-done")
            page.click("a.button[href='/login']")
            page.fill("#username", "kim")
            page.fill("#password", KIM_PW)
            page.click("button[type=submit]")
            assert page.url.endswith("/me"), page.url
            browser.close()
        assert not problems, problems
    finally:
        srv.stop()
        if fresh is not None:
            fresh.stop()
