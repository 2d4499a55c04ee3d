"""UIA's m.oauth stage (spec v1.17): a device signed in through the OAuth 2.0 API replaces its
cross-signing keys after the person approves it on the account management page, the URL the
401 names; a password device keeps m.login.password. Through the Matrix API and the web page."""
from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from tests.api.test_e2ee_keys import CrossSigning, User
from tests.api.test_oauth import authorize, exchange, register
from tests.webui.test_webui_pages import MEMBER_PW, Browser, matrix_login, running

KIM = "@kim:hearth.test"


async def oauth_user(h, client, device_id: str) -> User:
    client_id = await register(client)
    code, verifier, redirect = await authorize(SimpleNamespace(hearth=h), client_id, KIM, device_id)
    tokens = await (await exchange(client, client_id, code, verifier, redirect)).get_json()
    return User(client, KIM, device_id, tokens["access_token"])


async def test_an_oauth_device_resets_cross_signing_after_approval_on_the_page(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        phone = await oauth_user(h, client, "OAUTHPHONE")
        first = CrossSigning(phone)
        assert (await phone.post("/keys/device_signing/upload", first.upload_body())).status_code == 200

        # Replacing them asks for m.oauth, with the page's URL.
        second = CrossSigning(phone)
        r = await phone.post("/keys/device_signing/upload", second.upload_body())
        assert r.status_code == 401
        challenge = await r.get_json()
        assert challenge["flows"] == [{"stages": ["m.oauth"]}]
        url = challenge["params"]["m.oauth"]["url"]
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https") and parts.path == "/me/account"
        query = parse_qs(parts.query)
        assert query == {"action": ["org.matrix.cross_signing_reset"], "session": [challenge["session"]]}
        metadata = await (await client.get("/_matrix/client/v1/auth_metadata")).get_json()
        assert "org.matrix.cross_signing_reset" in metadata["account_management_actions_supported"]

        # Before approval, the session alone (or with type m.oauth) is still a 401.
        for auth in ({"session": challenge["session"]}, {"type": "m.oauth", "session": challenge["session"]}):
            r = await phone.post("/keys/device_signing/upload", {**second.upload_body(), "auth": auth})
            assert r.status_code == 401, await r.get_json()

        # Someone else signed in on the web cannot approve kim's reset.
        await h.accounts.registration.create_user("lee", MEMBER_PW)
        lee = Browser(test_app.test_client())
        await lee.login("lee", MEMBER_PW)
        r = await lee.post("/me/cross-signing-reset", {"session": challenge["session"]})
        assert r.status_code == 400

        # kim opens the URL, signs in, and allows it.
        kim = Browser(test_app.test_client())
        await kim.login("kim", MEMBER_PW)
        r = await kim.client.get(parts.path + "?" + parts.query)
        assert r.status_code == 303
        status, html = await kim.get(r.headers["Location"])
        assert status == 200 and "Allow the reset" in html and challenge["session"] in html
        r = await kim.post("/me/cross-signing-reset", {"session": challenge["session"]})
        assert r.status_code == 200 and "Approved" in await r.get_data(as_text=True)

        r = await phone.post("/keys/device_signing/upload",
                             {**second.upload_body(), "auth": {"session": challenge["session"]}})
        assert r.status_code == 200, await r.get_json()
        body = await (await phone.post("/keys/query", {"device_keys": {KIM: []}})).get_json()
        assert body["master_keys"][KIM] == second.upload_body()["master_key"]
        # The session is spent: another replacement asks again.
        third = CrossSigning(phone)
        r = await phone.post("/keys/device_signing/upload", {**third.upload_body(),
                                                             "auth": {"session": challenge["session"]}})
        assert r.status_code in (400, 401)

        # A device signed in with a password is asked for the password, as before.
        login = await (await matrix_login(client, "kim", MEMBER_PW)).get_json()
        laptop = User(client, KIM, login["device_id"], login["access_token"])
        r = await laptop.post("/keys/device_signing/upload", CrossSigning(laptop).upload_body())
        assert (await r.get_json())["flows"] == [{"stages": ["m.login.password"]}]
