"""Admin → Outside access in a real browser against a real server and a real ACME CA (Pebble on
loopback): at home only, a refusal in words, a domain chosen, the certificate got through port 80
with its steps shown, the self-test passing, then failing when DNS points elsewhere, and the https
address given to the family; the wizard's step too. Screenshots at phone and desktop size go to
test-output/screenshots/outside-access/."""
from __future__ import annotations

import shutil
import time

from tests.browser import Shots, launch, sign_in, sync_playwright, watch_problems
from tests.conftest import ROOT, free_port, start_server
from tests.pebble import start_pebble

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots" / "outside-access"
ADMIN_PW = "warm tea by the fire"
DOMAIN = "chat.smith-family.test"


def _reload_until(page, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in page.content():
        assert time.monotonic() < deadline, f"{text!r} never appeared"
        time.sleep(0.5)
        try:
            page.reload()
        except Exception:  # the server restarts once, to open its secure ports
            time.sleep(0.5)


def test_outside_access_page(tmp_path):
    shutil.rmtree(SHOTS, ignore_errors=True)
    port, tls_port = free_port(), free_port()
    pebble = start_pebble(tmp_path / "pebble", port)
    srv = start_server(tmp_path / "box", port=port, HEARTH_REGISTRATION=None, **pebble.env(),
                       HEARTH_TLS_BIND=f"127.0.0.1:{tls_port}", HEARTH_REACH_HTTP_PORT=str(port),
                       HEARTH_REACH_HTTPS_PORT=str(tls_port))
    problems: list[str] = []
    try:
        srv.hearth_cli("create-user", "admin", "--admin", "--password", ADMIN_PW)
        with playwright_api.sync_playwright() as p:
            browser, context = launch(p)
            page = context.new_page()
            problems = watch_problems(page)
            shot = Shots(page, SHOTS)
            sign_in(page, srv.base_url, "admin", ADMIN_PW, "/admin/reach")
            assert page.url.endswith("/admin/reach")
            assert page.is_checked("#reach_mode-lan")
            assert not page.is_visible("#reach_domain")  # only what the choice needs
            assert "None needed: Hearth is reached at home only." in page.inner_text("#certificate")
            shot("at-home-only")

            page.check("#reach_mode-domain")
            assert page.is_visible("#reach_domain") and not page.is_visible("#dns_token")
            page.fill("#reach_domain", "hearth.local")
            page.click("#save-reach")
            assert "A .local name works at home only" in page.inner_text("#choice")
            shot("refused-in-words")

            page.check("#reach_mode-domain")
            page.fill("#reach_domain", DOMAIN)
            page.check("#acme_challenge-http-01")
            page.click("#save-reach")
            page.wait_for_url("**/admin/reach")
            assert f"Hearth is getting a certificate for {DOMAIN}" in page.content()
            _reload_until(page, "Hearth serves it on its secure port.")  # after the restart that opens it
            assert DOMAIN in page.inner_text("#certificate")
            attempts = page.inner_text("#attempts")
            assert "Good" in attempts and "First certificate" in attempts and "port 80" in attempts
            shot("certificate")

            page.click("#run-self-test")
            page.wait_for_selector("[data-check=https]")
            checks = page.inner_text("#self-test")
            assert f"{DOMAIN} points to 127.0.0.1." in checks
            assert f"Port {port} reaches Hearth." in checks
            assert f"Port {tls_port} reaches Hearth and shows its certificate." in checks
            assert "Hearth renews it by itself" in checks
            assert page.locator("#self-test .check-bad").count() == 0
            shot("self-test-passed")

            pebble.set_address(DOMAIN, "127.0.0.2")  # the name now points at another machine
            page.click("#run-self-test")
            page.wait_for_selector("[data-check=https]")
            checks = page.inner_text("#self-test")
            assert f"Port {port} is not forwarded to Hearth: nothing answered at 127.0.0.2:{port}." in checks
            assert f"Port {tls_port} is not forwarded to Hearth" in checks
            shot("self-test-problems")
            pebble.clear_address(DOMAIN)

            page.click("#use-address")
            page.wait_for_url("**/admin/reach")
            address = f"https://{DOMAIN}:{tls_port}"
            assert f"The family's apps now use {address}." in page.content()
            shot("address-in-use")

            page.check("#reach_mode-dyndns")
            assert page.is_visible("#reach_dns_provider-desec") and not page.is_visible("#acme_challenge-http-01")
            shot("free-name-form")
            browser.close()
        assert not problems, problems
        assert srv.hearth_cli("registration-secret", "show")  # the server still answers its operator
    finally:
        srv.stop()
        pebble.stop()
