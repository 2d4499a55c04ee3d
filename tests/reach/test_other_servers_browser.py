"""Admin → Outside access, "Other Matrix servers", in a real browser: talking with other servers
cannot be turned on while Hearth is reached at home only (said in words); the servers it may talk
with (only some, or all but some) and presence shared with them are saved, shown again, and in
force at once; a line that is not a server name is refused in words. Screenshots go to
test-output/screenshots/other-servers/."""
from __future__ import annotations

import shutil

from tests.browser import Shots, launch, sign_in, sync_playwright, watch_problems
from tests.conftest import ROOT, start_server

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots" / "other-servers"
ADMIN_PW = "warm tea by the fire"


def srv_port(srv) -> int:
    return int(srv.base_url.rsplit(":", 1)[1])


def test_other_servers_form(tmp_path):
    shutil.rmtree(SHOTS, ignore_errors=True)
    srv = start_server(tmp_path / "box", HEARTH_REGISTRATION=None)
    problems: list[str] = []
    try:
        srv.hearth_cli("create-user", "admin", "--admin", "--password", ADMIN_PW)
        with playwright_api.sync_playwright() as p:
            browser, context = launch(p)
            page = context.new_page()
            problems = watch_problems(page)
            shot = Shots(page, SHOTS)
            sign_in(page, srv.base_url, "admin", ADMIN_PW, "/admin/reach")
            assert "Off: everything stays in your home." in page.inner_text("#other-servers")
            assert page.is_checked("#fed-federation_peers-all") and not page.is_checked("#fed-federation_presence")

            page.check("#federation_enabled")
            page.click("#save-reach")
            assert "choose your own domain or a free name above first" in page.inner_text("#choice")
            shot("refused-at-home-only")

            page.goto(srv.base_url + "/admin/reach")
            page.check("#fed-federation_peers-allow")
            page.click("#save-federation")
            assert "List at least one server." in page.inner_text("#other-servers")
            page.check("#fed-federation_peers-allow")
            page.fill("#fed-federation_servers", "matrix.org\nnot a server!")
            page.click("#save-federation")
            assert "is not a server name" in page.inner_text("#other-servers")

            page.check("#fed-federation_peers-allow")
            page.fill("#fed-federation_servers", "Matrix.org\n*.smith-family.org\n")
            page.check("#fed-federation_presence")
            page.click("#save-federation")
            page.wait_for_url("**/admin/reach")
            assert "Saved." in page.content()
            assert page.is_checked("#fed-federation_peers-allow") and page.is_checked("#fed-federation_presence")
            assert page.input_value("#fed-federation_servers").split() == ["matrix.org", "*.smith-family.org"]
            shot("only-some-servers")

            page.check("#fed-federation_peers-deny")
            page.fill("#fed-federation_servers", "spam.example")
            page.uncheck("#fed-federation_presence")
            page.click("#save-federation")
            page.wait_for_url("**/admin/reach")
            assert page.is_checked("#fed-federation_peers-deny") and not page.is_checked("#fed-federation_presence")
            assert page.input_value("#fed-federation_servers") == "spam.example"

            # Stored: what the next start reads.
            srv.stop()
            srv = start_server(tmp_path / "box", port=srv_port(srv), HEARTH_REGISTRATION=None)
            page.goto(srv.base_url + "/admin/reach")
            assert page.is_checked("#fed-federation_peers-deny")
            assert page.input_value("#fed-federation_servers") == "spam.example"
            shot("all-but-some")
            browser.close()
    finally:
        srv.stop()
    assert not problems, problems
