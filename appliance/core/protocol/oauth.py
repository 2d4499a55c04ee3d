"""The pure rules of the OAuth 2.0 API (spec v1.15 "OAuth 2.0 API", RFC 6749, 7591, 7636, 8252, 8628).

Nothing here does I/O: PKCE verification, scope parsing (the stable `urn:matrix:client:` names
and the unstable MSC2967 `urn:matrix:org.matrix.msc2967.client:` ones), the redirect-URI rules
for web and native clients, and the validation of a client's registration metadata.

An `OAuthError` carries the RFC error code (`invalid_request`, `invalid_grant`...) and the HTTP
status the RFC gives it; the API layer turns it into `{"error": ..., "error_description": ...}`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

API_SCOPE = "urn:matrix:client:api:*"
DEVICE_SCOPE_PREFIX = "urn:matrix:client:device:"
UNSTABLE_API_SCOPE = "urn:matrix:org.matrix.msc2967.client:api:*"
UNSTABLE_DEVICE_SCOPE_PREFIX = "urn:matrix:org.matrix.msc2967.client:device:"

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, DEVICE_CODE)

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_DEVICE_ID = re.compile(r"[A-Za-z0-9\-._~]{1,255}")
_SCHEME = re.compile(r"[a-z][a-z0-9+\-.]*")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class OAuthError(Exception):
    """An error the RFCs name: `error` is the code, `status` the HTTP status to answer with."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


# -- PKCE (RFC 7636, S256 only) -----------------------------------------------------------------

def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_code_challenge(challenge: str | None, method: str | None) -> str:
    """An authorization request's PKCE parameters → the challenge. PKCE is required; only S256."""
    if not challenge:
        raise OAuthError("invalid_request", "code_challenge is required (PKCE)")
    if method != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256")
    if not re.fullmatch(r"[A-Za-z0-9\-_]{43}", challenge):
        raise OAuthError("invalid_request", "code_challenge is not a base64url SHA-256 digest")
    return challenge


def verify_pkce(verifier: str | None, challenge: str) -> None:
    """RFC 7636 section 4.6: a missing, malformed or wrong verifier is `invalid_grant`."""
    if not verifier:
        raise OAuthError("invalid_request", "code_verifier is required")
    if not _VERIFIER.fullmatch(verifier):
        raise OAuthError("invalid_grant", "code_verifier is malformed")
    if not hmac.compare_digest(s256_challenge(verifier), challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")


# -- scopes -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Scope:
    """A parsed login scope: full API access, one device ID; `text` is the scope as granted
    (the client's own spelling, stable or unstable, so that it recognises it)."""
    device_id: str
    text: str


def parse_scope(scope: str | None) -> Scope:
    """A login scope must ask for the full C-S API and exactly one device (stable or MSC2967
    names). Other scope tokens (`openid`, unknown ones) are `invalid_scope`."""
    if not scope or not scope.strip():
        raise OAuthError("invalid_scope", "scope is required")
    tokens = scope.split(" ")
    if any(not _SCOPE_TOKEN.fullmatch(t) for t in tokens):
        raise OAuthError("invalid_scope", "scope has an empty or invalid token")
    api = False
    devices: list[str] = []
    for token in dict.fromkeys(tokens):
        if token in (API_SCOPE, UNSTABLE_API_SCOPE):
            api = True
        elif token.startswith(DEVICE_SCOPE_PREFIX):
            devices.append(token[len(DEVICE_SCOPE_PREFIX):])
        elif token.startswith(UNSTABLE_DEVICE_SCOPE_PREFIX):
            devices.append(token[len(UNSTABLE_DEVICE_SCOPE_PREFIX):])
        elif token == "openid":
            continue  # harmless: some clients ask for it; no ID token is issued
        else:
            raise OAuthError("invalid_scope", f"Unknown scope token {token!r}")
    if not api:
        raise OAuthError("invalid_scope", f"scope must include {API_SCOPE}")
    if len(set(devices)) != 1:
        raise OAuthError("invalid_scope", "scope must name exactly one device")
    device_id = devices[0]
    if not _DEVICE_ID.fullmatch(device_id):
        raise OAuthError("invalid_scope", "The device ID may only use unreserved URI characters")
    return Scope(device_id, " ".join(dict.fromkeys(tokens)))


# -- redirect URIs (spec "Redirect URI validation", RFC 8252 section 7) --------------------------

def _host_of(uri: str) -> str:
    return (urlsplit(uri).hostname or "").lower()


def _same_site(host: str, base: str) -> bool:
    return bool(base) and (host == base or host.endswith("." + base))


def check_redirect_uri(uri: str, application_type: str, client_uri: str) -> None:
    """Raises `invalid_redirect_uri` (RFC 7591) unless `uri` is allowed for this kind of client."""
    def bad(why: str) -> OAuthError:
        return OAuthError("invalid_redirect_uri", f"{uri!r}: {why}")

    if not isinstance(uri, str) or not uri:
        raise bad("not a URI")
    parts = urlsplit(uri)
    if "#" in uri:
        raise bad("a redirect URI must not have a fragment")
    base = _host_of(client_uri)
    if parts.scheme == "https":
        if parts.username is not None or parts.password is not None:
            raise bad("no user or password allowed")
        if not _same_site((parts.hostname or "").lower(), base):
            raise bad("the host must be the client URI's host or a subdomain of it")
        return
    if application_type != "native":
        raise bad("a web client's redirect URI must use https")
    if parts.scheme == "http":
        if parts.netloc.lower() not in LOOPBACK_HOSTS:
            raise bad("http is only for the loopback interface, without a port")
        return
    if not _SCHEME.fullmatch(parts.scheme or ""):
        raise bad("not a URI")
    # A private-use scheme: the reverse of a domain the client owns, with no authority.
    if "." not in parts.scheme:
        raise bad("a private-use scheme must be a reverse domain name, like com.example.app")
    if uri[len(parts.scheme) + 1:].startswith("//"):
        raise bad("a private-use scheme URI must not have an authority")
    reversed_host = ".".join(reversed(parts.scheme.split(".")))
    if not (_same_site(reversed_host, base) or _same_site(base, reversed_host)):
        raise bad("the scheme must be the client URI's host reversed")


def redirect_uri_matches(registered: list[str], given: str) -> bool:
    """Exact match, except that a loopback URI may name any port (RFC 8252 section 7.3)."""
    if given in registered:
        return True
    parts = urlsplit(given)
    if parts.scheme != "http" or parts.port is None or parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        return False
    host = f"[{parts.hostname}]" if parts.hostname == "::1" else parts.hostname
    without_port = parts._replace(netloc=host).geturl()
    return without_port in registered


def _check_https_uri(name: str, value: object, base: str) -> str:
    if not isinstance(value, str):
        raise OAuthError("invalid_client_metadata", f"{name} must be a string")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise OAuthError("invalid_client_metadata", f"{name} must be an https URI")
    if parts.username is not None or parts.password is not None:
        raise OAuthError("invalid_client_metadata", f"{name} must not have a user or password")
    if base and not _same_site(parts.hostname.lower(), base):
        raise OAuthError("invalid_client_metadata", f"{name} must be on the client URI's site")
    return value


def validate_client_metadata(body: object) -> dict:
    """An RFC 7591 registration request → the metadata registered (what the response echoes).

    The spec's client metadata: `client_uri` (https, required), `redirect_uris`, `grant_types`,
    `response_types`, `token_endpoint_auth_method` (only `none`: public clients),
    `application_type` (`web` or `native`), `client_name`, `logo_uri`, `tos_uri`, `policy_uri`.
    Localised variants (`client_name#fr`) are accepted and not stored; unsupported grant types
    are dropped from the answer, as the spec's example shows."""
    if not isinstance(body, dict):
        raise OAuthError("invalid_client_metadata", "The body must be a JSON object")
    client_uri = _check_https_uri("client_uri", body.get("client_uri"), "")
    base = _host_of(client_uri)
    application_type = body.get("application_type", "web")
    if application_type not in ("web", "native"):
        raise OAuthError("invalid_client_metadata", "application_type must be web or native")
    method = body.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise OAuthError("invalid_client_metadata", "Only public clients: token_endpoint_auth_method must be none")
    grant_types = body.get("grant_types", [AUTHORIZATION_CODE])
    if not isinstance(grant_types, list) or not all(isinstance(g, str) for g in grant_types):
        raise OAuthError("invalid_client_metadata", "grant_types must be a list of strings")
    granted = [g for g in dict.fromkeys(grant_types) if g in GRANT_TYPES]
    response_types = body.get("response_types", ["code"] if AUTHORIZATION_CODE in granted else [])
    if not isinstance(response_types, list) or any(r != "code" for r in response_types):
        raise OAuthError("invalid_client_metadata", "Only the code response type is supported")
    redirect_uris = body.get("redirect_uris", [])
    if not isinstance(redirect_uris, list) or not all(isinstance(u, str) for u in redirect_uris):
        raise OAuthError("invalid_redirect_uri", "redirect_uris must be a list of strings")
    if AUTHORIZATION_CODE in granted and not redirect_uris:
        raise OAuthError("invalid_redirect_uri", "The authorization code grant needs redirect_uris")
    if response_types and AUTHORIZATION_CODE not in granted:
        raise OAuthError("invalid_client_metadata", "The code response type needs the authorization_code grant")
    if not granted or granted == [REFRESH_TOKEN]:
        raise OAuthError("invalid_client_metadata", "No supported grant type")
    if len(redirect_uris) > 20:
        raise OAuthError("invalid_redirect_uri", "Too many redirect_uris")
    for uri in redirect_uris:
        check_redirect_uri(uri, application_type, client_uri)
    metadata: dict = {"client_uri": client_uri, "application_type": application_type,
                      "token_endpoint_auth_method": "none", "grant_types": granted,
                      "response_types": response_types, "redirect_uris": redirect_uris}
    name = body.get("client_name")
    if name is not None:
        if not isinstance(name, str) or len(name) > 200:
            raise OAuthError("invalid_client_metadata", "client_name must be a short string")
        metadata["client_name"] = name
    for key in ("logo_uri", "tos_uri", "policy_uri"):
        if body.get(key) is not None:
            metadata[key] = _check_https_uri(key, body[key], base)
    return metadata


def callback_uri(redirect_uri: str, params: dict[str, str], response_mode: str) -> str:
    """Where the browser goes back to the client: the params in the query or the fragment."""
    from urllib.parse import urlencode

    encoded = urlencode(params)
    if response_mode == "fragment":
        return f"{redirect_uri}#{encoded}"
    return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{encoded}"
