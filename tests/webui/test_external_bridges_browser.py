"""Admin → Bridges in a real browser (Playwright driving Debian's Chromium) against a real server
and a stand-in bridge on loopback: add WhatsApp with Hearth's own registration, read the lines for
the bridge's config, the doctor before and after the bridge knows its token, download the
registration, upload one a bridge wrote (and a bad one), remove a bridge. Screenshots at phone
and desktop size go to test-output/screenshots/bridges/."""
from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from tests.browser import Shots, launch, sign_in, sync_playwright, watch_problems
from tests.conftest import ROOT, start_server

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots" / "bridges"
ADMIN_PW = "warm tea by the fire"


class StandInBridge:
    """Answers pings with 200 when they carry the token it was given, 403 otherwise."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.pings = 0
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                ok = bridge.token is not None and self.headers.get("Authorization") == f"Bearer {bridge.token}"
                bridge.pings += 1
                body = json.dumps({} if ok else {"errcode": "M_FORBIDDEN"}).encode()
                self.send_response(200 if ok else 403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_PUT = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def test_add_check_download_upload_and_remove_a_bridge(tmp_path):
    shutil.rmtree(SHOTS, ignore_errors=True)
    srv = start_server(tmp_path / "box", HEARTH_REGISTRATION=None)
    bridge = StandInBridge()
    problems: list[str] = []
    try:
        srv.hearth_cli("create-user", "admin", "--admin", "--password", ADMIN_PW)
        with playwright_api.sync_playwright() as p:
            browser, context = launch(p, accept_downloads=True)
            page = context.new_page()
            problems = watch_problems(page)
            shot = Shots(page, SHOTS)

            sign_in(page, srv.base_url, "admin", ADMIN_PW, "/admin/bridges/external")
            assert page.url.endswith("/admin/bridges/external")
            assert "No external bridges yet" in page.content()
            shot("bridges-empty")

            # A bad address is refused in words.
            page.check("#kind-whatsapp")
            page.fill("#url", "ftp://nowhere")
            page.click("#add-bridge-button")
            assert "Give an address like" in page.content()
            page.fill("#url", bridge.url)
            page.click("#add-bridge-button")
            assert page.url.endswith("/admin/bridges/external/whatsapp?new=1")
            config = page.inner_text("#config-lines")
            hs_token = re.search(r"hs_token: (\S+)", config).group(1)
            as_token = re.search(r"as_token: (\S+)", config).group(1)
            assert f"address: {bridge.url}" in config and "domain: hearth.test" in config and hs_token != as_token
            shot("bridge-added-config")

            # The doctor: the bridge does not know Hearth's token yet, then it does.
            page.click("#check-bridge")
            assert "refused Hearth's token" in page.content()
            shot("doctor-wrong-token")
            bridge.token = hs_token
            page.click("text=Check again")
            assert "answered a ping" in page.content() and "refused" not in page.content()
            shot("doctor-all-good")

            with page.expect_download() as download:
                page.click("#download-registration")
            registration = yaml.safe_load(Path(download.value.path()).read_text())
            assert registration["hs_token"] == hs_token and registration["as_token"] == as_token
            assert registration["namespaces"]["users"][0]["exclusive"] is True
            assert registration["receive_ephemeral"] is True and registration["io.element.msc4190"] is True

            # Upload: a bad file, a clash, then a good registration a bridge wrote.
            page.goto(srv.base_url + "/admin/bridges/external")
            bad = tmp_path / "bad.yaml"
            bad.write_text("id: [unclosed")
            page.set_input_files("#registration", str(bad))
            page.click("#upload-registration button[type=submit]")
            assert "not a registration" in page.content()
            clash = tmp_path / "clash.yaml"
            clash.write_text(yaml.safe_dump({**registration, "id": "copy"}))
            page.set_input_files("#registration", str(clash))
            page.click("#upload-registration button[type=submit]")
            assert "Not added" in page.content()
            shot("upload-refused")
            good = tmp_path / "heisenbridge.yaml"
            good.write_text(yaml.safe_dump({
                "id": "heisenbridge", "url": "http://127.0.0.1:9898", "as_token": "a" * 64, "hs_token": "h" * 64,
                "rate_limited": False, "sender_localpart": "heisenbridge",
                "namespaces": {"users": [{"regex": "@irc_.*", "exclusive": True}], "aliases": [], "rooms": []}}))
            page.set_input_files("#registration", str(good))
            page.click("#upload-registration button[type=submit]")
            assert page.url.endswith("/admin/bridges/external/heisenbridge")
            page.goto(srv.base_url + "/admin/bridges/external")
            assert page.locator("#external-bridges li").count() == 2
            shot("bridges-two")

            page.goto(srv.base_url + "/admin/bridges/external/heisenbridge")
            page.click("#remove-bridge")
            assert page.url.endswith("/admin/bridges/external") and "heisenbridge removed" in page.content()
            assert page.locator("#external-bridges li").count() == 1
            browser.close()
        assert not problems, problems
    finally:
        bridge.stop()
        srv.stop()
