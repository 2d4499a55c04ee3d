"""The pure OAuth 2.0 rules: PKCE (RFC 7636 appendix B), scopes, redirect URIs (the spec's own
valid and invalid examples), client metadata."""
from __future__ import annotations

import pytest

from appliance.core.protocol import oauth
from appliance.core.protocol.oauth import OAuthError


def error_of(fn, *args) -> str:
    with pytest.raises(OAuthError) as info:
        fn(*args)
    return info.value.error


def test_pkce_rfc7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert oauth.s256_challenge(verifier) == challenge
    oauth.verify_pkce(verifier, challenge)
    assert error_of(oauth.verify_pkce, verifier[:-1] + "1", challenge) == "invalid_grant"
    assert error_of(oauth.verify_pkce, None, challenge) == "invalid_request"
    assert error_of(oauth.verify_pkce, "short", challenge) == "invalid_grant"


def test_code_challenge_only_s256():
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert oauth.check_code_challenge(challenge, "S256") == challenge
    assert error_of(oauth.check_code_challenge, challenge, "plain") == "invalid_request"
    assert error_of(oauth.check_code_challenge, None, "S256") == "invalid_request"
    assert error_of(oauth.check_code_challenge, "abc", "S256") == "invalid_request"


def test_scope_stable_and_unstable_names():
    s = oauth.parse_scope("urn:matrix:client:api:* urn:matrix:client:device:AAABBBCCCD")
    assert s.device_id == "AAABBBCCCD"
    u = oauth.parse_scope("openid urn:matrix:org.matrix.msc2967.client:api:* "
                          "urn:matrix:org.matrix.msc2967.client:device:XYZ123abc")
    assert u.device_id == "XYZ123abc" and "msc2967" in u.text


@pytest.mark.parametrize("scope", [
    None, "", "urn:matrix:client:device:ABC",  # no API access
    "urn:matrix:client:api:*",  # no device
    "urn:matrix:client:api:* urn:matrix:client:device:A urn:matrix:client:device:B",  # two devices
    "urn:matrix:client:api:* urn:matrix:client:device:A urn:matrix:client:guest",  # unknown token
    "urn:matrix:client:api:*  urn:matrix:client:device:A",  # empty token
    "urn:matrix:client:api:* urn:matrix:client:device:A%2F",  # outside the unreserved characters
])
def test_bad_scopes(scope):
    assert error_of(oauth.parse_scope, scope) == "invalid_scope"


@pytest.mark.parametrize("uri", ["https://example.com/callback", "https://app.example.com/callback",
                                 "https://example.com:5173/?query=value"])
def test_web_redirect_uris_valid(uri):
    oauth.check_redirect_uri(uri, "web", "https://example.com/")


@pytest.mark.parametrize("uri", ["https://example.com/callback#fragment", "http://example.com/callback",
                                 "http://localhost/", "https://user:pw@example.com/", "https://evil.com/",
                                 "https://notexample.com/", "com.example.app:/callback"])
def test_web_redirect_uris_invalid(uri):
    assert error_of(oauth.check_redirect_uri, uri, "web", "https://example.com/") == "invalid_redirect_uri"


@pytest.mark.parametrize("uri", ["com.example.app:/callback", "com.example:/", "com.example:callback",
                                 "http://localhost/callback", "http://127.0.0.1/callback", "http://[::1]/callback",
                                 "https://example.com/claimed"])
def test_native_redirect_uris_valid(uri):
    oauth.check_redirect_uri(uri, "native", "https://example.com/")


@pytest.mark.parametrize("uri", ["example:/callback", "com.example.app://callback", "https://localhost/callback",
                                 "http://localhost:1234/callback", "org.evil.app:/callback",
                                 "http://192.168.1.2/callback"])
def test_native_redirect_uris_invalid(uri):
    assert error_of(oauth.check_redirect_uri, uri, "native", "https://example.com/") == "invalid_redirect_uri"


def test_loopback_redirect_matches_any_port():
    registered = ["http://127.0.0.1/callback", "http://[::1]/cb", "com.example.app:/cb"]
    assert oauth.redirect_uri_matches(registered, "http://127.0.0.1:53124/callback")
    assert oauth.redirect_uri_matches(registered, "http://[::1]:8080/cb")
    assert oauth.redirect_uri_matches(registered, "com.example.app:/cb")
    assert not oauth.redirect_uri_matches(registered, "http://127.0.0.1:53124/other")
    assert not oauth.redirect_uri_matches(registered, "com.example.app:/cb2")
    assert not oauth.redirect_uri_matches(["https://example.com/cb"], "https://example.com:444/cb")


def test_client_metadata():
    body = {"client_name": "My App", "client_name#fr": "Mon application", "client_uri": "https://example.com/",
            "logo_uri": "https://example.com/logo.png", "redirect_uris": ["https://app.example.com/callback"],
            "token_endpoint_auth_method": "none", "response_types": ["code"],
            "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"],
            "application_type": "web"}
    meta = oauth.validate_client_metadata(body)
    assert meta["grant_types"] == ["authorization_code", "refresh_token"]  # unsupported ones dropped
    assert "client_name#fr" not in meta and meta["client_name"] == "My App"
    assert meta["logo_uri"] == "https://example.com/logo.png"


@pytest.mark.parametrize("change,error", [
    ({"client_uri": None}, "invalid_client_metadata"),
    ({"client_uri": "http://example.com/"}, "invalid_client_metadata"),
    ({"token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata"),
    ({"application_type": "tv"}, "invalid_client_metadata"),
    ({"logo_uri": "https://other.org/logo.png"}, "invalid_client_metadata"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://example.com/cb"]}, "invalid_redirect_uri"),
    ({"response_types": ["token"]}, "invalid_client_metadata"),
    ({"grant_types": ["implicit"]}, "invalid_client_metadata"),
])
def test_client_metadata_refused(change, error):
    body = {"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
            "grant_types": ["authorization_code", "refresh_token"]}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    assert error_of(oauth.validate_client_metadata, body) == error


def test_device_only_client_needs_no_redirect_uri():
    meta = oauth.validate_client_metadata({"client_uri": "https://example.com/", "application_type": "native",
                                           "grant_types": [oauth.DEVICE_CODE, "refresh_token"]})
    assert meta["response_types"] == [] and meta["redirect_uris"] == []


def test_callback_uri_modes():
    assert oauth.callback_uri("https://a.example/cb", {"code": "x", "state": "s"}, "fragment") == \
        "https://a.example/cb#code=x&state=s"
    assert oauth.callback_uri("https://a.example/cb?k=v", {"code": "x"}, "query") == "https://a.example/cb?k=v&code=x"
