"""The OAuth 2.0 API's machine endpoints in process: metadata, client registration, the token
endpoint's three grants, revocation, and the errors RFC 6749, 7009, 7591, 7636 and 8628 name.
The browser half (the authorize page in Chromium) is tests/webui/test_oauth_browser.py; here a
code is granted through the same service call the Allow button makes."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from appliance.core.services.oauth import API_PATH

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REDIRECT = "http://127.0.0.1/callback"
CLIENT = {"client_name": "Test app", "client_uri": "https://app.example.org/", "application_type": "native",
          "redirect_uris": [REDIRECT, "org.example.app:/cb"], "token_endpoint_auth_method": "none",
          "response_types": ["code"],
          "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"]}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def post_form(client, path: str, data: dict):
    return await client.post(API_PATH + path, data=urlencode(data), headers=FORM)


async def register(client, **changes) -> str:
    r = await client.post(API_PATH + "/registration", json={**CLIENT, **changes})
    assert r.status_code == 201, await r.get_data(as_text=True)
    return (await r.get_json())["client_id"]


async def authorize(hs, client_id: str, user_id: str, device_id: str, *, unstable: bool = False,
                    redirect_uri: str = "http://127.0.0.1:41234/callback") -> tuple[str, str, str]:
    """(code, verifier, redirect_uri): what the browser would bring back after Allow."""
    verifier, challenge = pkce()
    ns = "urn:matrix:org.matrix.msc2967.client" if unstable else "urn:matrix:client"
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": f"{ns}:api:* {ns}:device:{device_id}", "state": "st4te", "code_challenge": challenge,
              "code_challenge_method": "S256", "response_mode": "query"}
    oauth = hs.hearth.accounts.oauth
    request = await oauth.check_authorization_request(params)
    url = await oauth.grant_code(request, user_id)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(redirect_uri + "?") and query["state"] == ["st4te"]
    return query["code"][0], verifier, redirect_uri


async def exchange(client, client_id, code, verifier, redirect_uri):
    return await post_form(client, "/token", {"grant_type": "authorization_code", "code": code,
                                              "redirect_uri": redirect_uri, "client_id": client_id,
                                              "code_verifier": verifier})


@pytest.fixture
async def alice(hs):
    return await hs.user("alice")


async def test_metadata_stable_and_unstable(client):
    for path in ("/_matrix/client/v1/auth_metadata", "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"):
        r = await client.get(path)
        assert r.status_code == 200
        meta = await r.get_json()
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "registration_endpoint",
                    "revocation_endpoint", "response_types_supported", "grant_types_supported",
                    "response_modes_supported", "code_challenge_methods_supported", "device_authorization_endpoint",
                    "account_management_uri", "account_management_actions_supported"):
            assert key in meta
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert meta["prompt_values_supported"] == ["create"]
        assert meta["token_endpoint"].endswith(API_PATH + "/token")


async def test_code_flow_token_api_refresh_revoke(hs, client, alice):
    client_id = await register(client)
    code, verifier, redirect_uri = await authorize(hs, client_id, alice.user_id, "OAUTHDEV01")
    r = await exchange(client, client_id, code, verifier, redirect_uri)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    tokens = await r.get_json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0 and tokens["refresh_token"]
    assert tokens["scope"] == "urn:matrix:client:api:* urn:matrix:client:device:OAUTHDEV01"
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = await (await client.get("/_matrix/client/v3/account/whoami", headers=auth)).get_json()
    assert me == {"user_id": alice.user_id, "device_id": "OAUTHDEV01", "is_guest": False}
    devices = await (await client.get("/_matrix/client/v3/devices", headers=alice.headers)).get_json()
    assert "OAUTHDEV01" in {d["device_id"] for d in devices["devices"]}
    # The code is spent: a second exchange is refused and ends the session it made.
    r = await exchange(client, client_id, code, verifier, redirect_uri)
    assert r.status_code == 400 and (await r.get_json())["error"] == "invalid_grant"
    assert (await client.get("/_matrix/client/v3/account/whoami", headers=auth)).status_code == 401

    code, verifier, redirect_uri = await authorize(hs, client_id, alice.user_id, "OAUTHDEV02", unstable=True)
    tokens = await (await exchange(client, client_id, code, verifier, redirect_uri)).get_json()
    assert "msc2967" in tokens["scope"]
    r = await post_form(client, "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                           "client_id": client_id})
    assert r.status_code == 200
    fresh = await r.get_json()
    assert fresh["access_token"] != tokens["access_token"] and fresh["scope"] == tokens["scope"]
    auth = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert (await client.get("/_matrix/client/v3/account/whoami", headers=auth)).status_code == 200
    old = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/_matrix/client/v3/account/whoami", headers=old)).status_code == 401
    # Another client may not revoke it; its own client can, and then the device is gone.
    other = await register(client)
    r = await post_form(client, "/revoke", {"token": fresh["access_token"], "client_id": other})
    assert r.status_code == 400 and (await r.get_json())["error"] == "unauthorized_client"
    r = await post_form(client, "/revoke", {"token": fresh["refresh_token"], "token_type_hint": "refresh_token",
                                            "client_id": client_id})
    assert r.status_code == 200
    assert (await client.get("/_matrix/client/v3/account/whoami", headers=auth)).status_code == 401
    r = await post_form(client, "/token", {"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"],
                                           "client_id": client_id})
    assert (await r.get_json())["error"] == "invalid_grant"
    # RFC 7009 2.2: an unknown (or already revoked) token is not an error.
    r = await post_form(client, "/revoke", {"token": "nonsense", "client_id": client_id})
    assert r.status_code == 200
    devices = await (await client.get("/_matrix/client/v3/devices", headers=alice.headers)).get_json()
    assert not {"OAUTHDEV01", "OAUTHDEV02"} & {d["device_id"] for d in devices["devices"]}


async def test_token_endpoint_bad_inputs(hs, client, alice):
    client_id = await register(client)
    def code_form(granted, change):
        code, verifier, redirect_uri = granted
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": client_id, "code_verifier": verifier, **change}
        return {k: v for k, v in form.items() if v is not None}

    cases = [
        ({"redirect_uri": "http://127.0.0.1:9/other"}, 400, "invalid_grant"),  # wrong redirect URI
        ({"code_verifier": None}, 400, "invalid_request"),  # missing verifier
        ({"code_verifier": pkce()[0]}, 400, "invalid_grant"),  # wrong verifier
        ({"code_verifier": "too-short"}, 400, "invalid_grant"),  # malformed verifier
        ({"code": "made-up"}, 400, "invalid_grant"),  # unknown code
        ({"code": None}, 400, "invalid_request"),
        ({"client_id": "nobody"}, 401, "invalid_client"),  # unknown client
        ({"client_id": None}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": None}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
    ]
    for n, (change, status, error) in enumerate(cases):
        # A code is good for one exchange, right or wrong: each case gets a fresh one.
        granted = await authorize(hs, client_id, alice.user_id, f"BADINPUT{n:02d}")
        r = await post_form(client, "/token", code_form(granted, change))
        body = await r.get_json()
        assert (r.status_code, body["error"]) == (status, error), change
        assert body["error_description"]
    other = await register(client)  # a code is the client's it was issued to
    granted = await authorize(hs, client_id, alice.user_id, "BADINPUTXX")
    r = await post_form(client, "/token", code_form(granted, {"client_id": other}))
    assert (await r.get_json())["error"] == "invalid_grant"
    # Not a form: invalid_request, never a 500.
    r = await client.post(API_PATH + "/token", json={"grant_type": "authorization_code"})
    assert r.status_code == 400 and (await r.get_json())["error"] == "invalid_request"


async def test_wrong_verifier_spends_the_code(hs, client, alice):
    client_id = await register(client)
    code, verifier, redirect_uri = await authorize(hs, client_id, alice.user_id, "SPENT00001")
    r = await exchange(client, client_id, code, pkce()[0], redirect_uri)
    assert (await r.get_json())["error"] == "invalid_grant"
    r = await exchange(client, client_id, code, verifier, redirect_uri)
    assert (await r.get_json())["error"] == "invalid_grant"  # one try per code


async def test_expired_code_and_expired_access_token(hs, client, alice, monkeypatch):
    from appliance.core.services import oauth as oauth_service
    client_id = await register(client)
    monkeypatch.setattr(oauth_service, "CODE_LIFETIME_MS", -1)
    code, verifier, redirect_uri = await authorize(hs, client_id, alice.user_id, "EXPIRED001")
    r = await exchange(client, client_id, code, verifier, redirect_uri)
    assert (await r.get_json())["error"] == "invalid_grant"
    monkeypatch.setattr(oauth_service, "CODE_LIFETIME_MS", 60_000)
    monkeypatch.setattr(hs.hearth.core.auth, "refresh_lifetime_ms", -1)
    code, verifier, redirect_uri = await authorize(hs, client_id, alice.user_id, "EXPIRED002")
    tokens = await (await exchange(client, client_id, code, verifier, redirect_uri)).get_json()
    r = await client.get("/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    body = await r.get_json()
    assert r.status_code == 401 and body["errcode"] == "M_UNKNOWN_TOKEN" and body["soft_logout"] is True


async def test_authorization_request_errors(hs, client, alice):
    from appliance.core.protocol.oauth import OAuthError
    from appliance.core.services.oauth import RedirectableError

    client_id = await register(client)
    oauth = hs.hearth.accounts.oauth
    good = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
            "scope": "urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ", "state": "s1",
            "code_challenge": pkce()[1], "code_challenge_method": "S256"}
    await oauth.check_authorization_request(good)
    # Not to be sent back to the client: unknown client, unregistered redirect URI.
    for change in ({"client_id": "unknown"}, {"redirect_uri": "http://127.0.0.1/elsewhere"},
                   {"redirect_uri": "https://evil.example/cb"}):
        with pytest.raises(OAuthError):
            await oauth.check_authorization_request({**good, **change})
    # Sent back to the client with the RFC's error and the state.
    for change, error in (({"code_challenge": ""}, "invalid_request"),
                          ({"code_challenge_method": "plain"}, "invalid_request"),
                          ({"response_type": "token"}, "unsupported_response_type"),
                          ({"scope": "urn:matrix:client:api:*"}, "invalid_scope")):
        with pytest.raises(RedirectableError) as info:
            await oauth.check_authorization_request({**good, **change})
        query = parse_qs(urlsplit(info.value.url).query)
        assert query["error"] == [error] and query["state"] == ["s1"]


async def test_registration_errors(client):
    for body, error in (({**CLIENT, "redirect_uris": ["https://evil.example/cb"]}, "invalid_redirect_uri"),
                        ({**CLIENT, "client_uri": "http://app.example.org/"}, "invalid_client_metadata"),
                        ({**CLIENT, "token_endpoint_auth_method": "client_secret_post"}, "invalid_client_metadata"),
                        ([1, 2], "invalid_client_metadata")):
        r = await client.post(API_PATH + "/registration", json=body)
        assert r.status_code == 400 and (await r.get_json())["error"] == error
    r = await client.post(API_PATH + "/registration", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and (await r.get_json())["error"] == "invalid_client_metadata"


async def test_device_grant(hs, client, alice):
    oauth = hs.hearth.accounts.oauth
    oauth.device_interval_s = 0
    client_id = await register(client)
    scope = "urn:matrix:client:api:* urn:matrix:client:device:TVDEVICE01"
    r = await post_form(client, "/device", {"client_id": client_id, "scope": scope})
    assert r.status_code == 200
    grant = await r.get_json()
    assert grant["verification_uri_complete"].endswith("/oauth2/link?code=" + grant["user_code"])
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": grant["device_code"],
            "client_id": client_id}
    r = await post_form(client, "/token", poll)
    assert (r.status_code, (await r.get_json())["error"]) == (400, "authorization_pending")
    oauth.device_interval_s = 5
    r = await post_form(client, "/token", poll)
    assert (await r.get_json())["error"] == "slow_down"
    oauth.device_interval_s = 0
    assert await oauth.decide_device_grant(grant["user_code"].lower().replace("-", " "), alice.user_id)
    tokens = await (await post_form(client, "/token", poll)).get_json()
    assert tokens["scope"] == scope
    me = await (await client.get("/_matrix/client/v3/account/whoami",
                                 headers={"Authorization": f"Bearer {tokens['access_token']}"})).get_json()
    assert me["device_id"] == "TVDEVICE01"
    r = await post_form(client, "/token", poll)  # spent
    assert (await r.get_json())["error"] == "invalid_grant"
    # Denied, and expired grants.
    grant = await (await post_form(client, "/device", {"client_id": client_id, "scope": scope})).get_json()
    assert await oauth.decide_device_grant(grant["user_code"], None)
    r = await post_form(client, "/token", {**poll, "device_code": grant["device_code"]})
    assert (await r.get_json())["error"] == "access_denied"
    from appliance.core.services import oauth as oauth_service
    oauth_service.DEVICE_GRANT_LIFETIME_S, saved = -1, oauth_service.DEVICE_GRANT_LIFETIME_S
    try:
        grant = await (await post_form(client, "/device", {"client_id": client_id, "scope": scope})).get_json()
    finally:
        oauth_service.DEVICE_GRANT_LIFETIME_S = saved
    r = await post_form(client, "/token", {**poll, "device_code": grant["device_code"]})
    assert (await r.get_json())["error"] == "expired_token"
    # A client that did not register the grant, and a bad scope.
    plain = await register(client, grant_types=["authorization_code", "refresh_token"])
    r = await post_form(client, "/device", {"client_id": plain, "scope": scope})
    assert (await r.get_json())["error"] == "unauthorized_client"
    r = await post_form(client, "/device", {"client_id": client_id, "scope": "urn:matrix:client:api:*"})
    assert (await r.get_json())["error"] == "invalid_scope"

