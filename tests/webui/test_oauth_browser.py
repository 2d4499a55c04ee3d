"""The whole OAuth 2.0 flow against a real Hearth process, the browser part in headless Chromium:
client registration → the authorize page (sign in, Allow) → the loopback callback with the code
→ token → an API call → refresh → revoke; sign-up through `prompt=create` with an invite code;
the device grant approved on the link page; the account management URL. Screenshots at phone
and desktop size go to test-output/screenshots/oauth/."""
from __future__ import annotations

import base64
import hashlib
import http.server
import secrets
import shutil
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.browser import CHROMIUM, PHONE, Shots, sync_playwright
from tests.conftest import ROOT, free_port, start_server

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots" / "oauth"
PASSWORD = "warm tea by the fire"


class Callback:
    """The app's loopback redirect URI (RFC 8252 7.3): records the query it is called with."""

    def __init__(self):
        self.port = free_port()
        self.queries: list[dict] = []
        got = self.queries

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if urlsplit(self.path).path == "/callback":  # not the browser's /favicon.ico
                    got.append({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()})
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<h1>Back in the app</h1>")

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize_url(meta: dict, client_id: str, redirect_uri: str, device_id: str, challenge: str, **extra) -> str:
    return meta["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "response_mode": "query",
        "scope": f"urn:matrix:client:api:* urn:matrix:client:device:{device_id}", "state": "abc123",
        "code_challenge": challenge, "code_challenge_method": "S256", **extra})


def test_oauth_flow_in_chromium(tmp_path):
    port = free_port()  # the metadata names the public address: make it this test server's
    srv = start_server(tmp_path / "data", port, HEARTH_REGISTRATION="token",
                       HEARTH_PUBLIC_BASEURL=f"http://127.0.0.1:{port}")
    folder = SHOTS
    shutil.rmtree(folder, ignore_errors=True)
    callback = Callback()
    try:
        srv.hearth_cli("create-user", "parent", "--admin", "--password", PASSWORD)  # set up: no wizard
        srv.hearth_cli("create-user", "robin", "--password", PASSWORD)
        invite = srv.hearth_cli("registration-token", "create", "--uses", "1").strip().split()[-1]
        http = httpx.Client(base_url=srv.base_url, timeout=10)
        meta = http.get("/_matrix/client/v1/auth_metadata").json()
        reg = http.post(meta["registration_endpoint"], json={
            "client_name": "Family Chat", "client_uri": "https://chat.example.org/", "application_type": "native",
            "redirect_uris": ["http://127.0.0.1/callback"], "token_endpoint_auth_method": "none",
            "response_types": ["code"],
            "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"]})
        assert reg.status_code == 201, reg.text
        client_id = reg.json()["client_id"]

        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
            page = context.new_page()
            shot = Shots(page, folder)

            # 1. Sign in, then Allow: the browser lands on the app's loopback port with the code.
            verifier, challenge = pkce()
            page.goto(authorize_url(meta, client_id, callback.uri, "ROBINPHONE", challenge))
            page.wait_for_url(lambda url: "/login?next=" in url)
            shot("sign-in")
            assert page.locator("a", has_text="Create an account").count() == 1  # for someone new
            page.fill("#username", "robin")
            page.fill("#password", "wrong password")
            page.click("main button[type=submit]")
            assert "do not match" in page.content()
            page.fill("#password", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(lambda url: "/oauth2/authorize?" in url)
            assert "Family Chat" in page.content() and "ROBINPHONE" in page.content()
            shot("consent")
            page.click("button[value=allow]")
            page.wait_for_url(lambda url: url.startswith(callback.uri + "?"))
            query = callback.queries[-1]
            assert query["state"] == "abc123" and "code" in query

            token = http.post(meta["token_endpoint"], data={
                "grant_type": "authorization_code", "code": query["code"], "redirect_uri": callback.uri,
                "client_id": client_id, "code_verifier": verifier})
            assert token.status_code == 200, token.text
            tokens = token.json()
            me = http.get("/_matrix/client/v3/account/whoami",
                          headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
            assert me["user_id"] == "@robin:hearth.test" and me["device_id"] == "ROBINPHONE"
            room = http.post("/_matrix/client/v3/createRoom", json={"name": "OAuth works"},
                             headers={"Authorization": f"Bearer {tokens['access_token']}"})
            assert room.status_code == 200
            fresh = http.post(meta["token_endpoint"], data={"grant_type": "refresh_token", "client_id": client_id,
                                                            "refresh_token": tokens["refresh_token"]}).json()
            assert http.get("/_matrix/client/v3/account/whoami",
                            headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code == 200

            # 2. The account management URL shows the device among the others; then revoke it.
            page.goto(meta["account_management_uri"] + "?action=org.matrix.sessions_list")
            page.wait_for_url("**/me/devices")
            assert "ROBINPHONE" in page.content() and "Family Chat" in page.content()
            shot("account-sessions")
            assert http.post(meta["revocation_endpoint"], data={"token": fresh["access_token"],
                                                                 "client_id": client_id}).status_code == 200
            assert http.get("/_matrix/client/v3/account/whoami",
                            headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code == 401
            page.reload()
            assert "ROBINPHONE" not in page.content()

            # 3. The device grant: the TV shows a code; robin, signed in, approves it on the link page.
            grant = http.post(meta["device_authorization_endpoint"], data={
                "client_id": client_id, "scope": "urn:matrix:client:api:* urn:matrix:client:device:LIVINGROOMTV"}).json()
            poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                    "device_code": grant["device_code"], "client_id": client_id}
            assert http.post(meta["token_endpoint"], data=poll).json()["error"] == "authorization_pending"
            page.goto(grant["verification_uri"])
            shot("link-enter-code")
            page.fill("#code", grant["user_code"].lower())
            page.click("main button[type=submit]")
            assert "LIVINGROOMTV" in page.content()
            shot("link-consent")
            page.click("button[value=allow]")
            page.wait_for_url("**/me/devices")
            page.wait_for_timeout(grant["interval"] * 1000)
            tv = http.post(meta["token_endpoint"], data=poll)
            assert tv.status_code == 200, tv.text
            assert http.get("/_matrix/client/v3/account/whoami",
                            headers={"Authorization": f"Bearer {tv.json()['access_token']}"}).json()["device_id"] \
                == "LIVINGROOMTV"

            # 4. prompt=create in a fresh browser: a new family member signs up with the invite code.
            context.close()
            context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
            page = context.new_page()
            shot = Shots(page, folder / "sign-up")
            verifier, challenge = pkce()
            page.goto(authorize_url(meta, client_id, callback.uri, "SAMPHONE01", challenge, prompt="create"))
            page.wait_for_url(lambda url: "/oauth2/create?next=" in url)
            shot("create-account")
            page.fill("#username", "sam")
            page.fill("#password", "kites over the green hill")
            page.fill("#invite_code", "WRONG-CODE")
            page.click("main button[type=submit]")
            assert "invite code is not valid" in page.content()
            shot("create-account-bad-code")
            page.fill("#password", "kites over the green hill")
            page.fill("#invite_code", invite)
            page.click("main button[type=submit]")
            page.wait_for_url(lambda url: "/oauth2/authorize?" in url)
            shot("create-account-consent")
            page.click("button[value=allow]")
            page.wait_for_url(lambda url: url.startswith(callback.uri + "?"))
            code = callback.queries[-1]["code"]
            tokens = http.post(meta["token_endpoint"], data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": callback.uri,
                "client_id": client_id, "code_verifier": verifier}).json()
            assert http.get("/_matrix/client/v3/account/whoami", headers={
                "Authorization": f"Bearer {tokens['access_token']}"}).json()["user_id"] == "@sam:hearth.test"

            # 5. An authorization request with an unregistered redirect URI is an error page, not a redirect.
            page.goto(authorize_url(meta, client_id, "https://evil.example/cb", "SAMPHONE02", challenge))
            assert "not valid" in page.content()
            shot("bad-request")
            browser.close()
        # Password login still works beside it, and its device is the same kind of device.
        login = http.post("/_matrix/client/v3/login", json={"type": "m.login.password", "user": "robin",
                                                           "password": PASSWORD}).json()
        devices = http.get("/_matrix/client/v3/devices",
                           headers={"Authorization": f"Bearer {login['access_token']}"}).json()["devices"]
        assert {"LIVINGROOMTV", login["device_id"]} <= {d["device_id"] for d in devices}
    finally:
        callback.server.shutdown()
        srv.stop()
