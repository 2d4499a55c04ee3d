"""What every HTML page gets: security headers with a CSP nonce, CSRF checks, local-only access.

- `csp_nonce()`: the nonce of this response; `<script nonce="{{ csp_nonce() }}">` is the only
  inline script a page may carry (scripts from our own origin are allowed as files).
- Every POST/PUT/PATCH/DELETE to a web path (anything outside the Matrix and admin APIs, which
  use bearer tokens) must carry the session's CSRF token, as the `csrf_token` form field or the
  `X-CSRF-Token` header; and a browser's `Origin`, when sent, must be our own.
- `is_local_client()`: loopback, private or link-local addresses only (the setup wizard); the
  socket's peer decides, or the client a trusted proxy names (`HEARTH_TRUSTED_PROXIES`).
- `host_is_ours()`: the Host header is one of our names (no DNS rebinding onto the pages).
"""
from __future__ import annotations

import hmac
import secrets

from quart import current_app, g, request

from ..core.api import client_address
from ..core.api.client_address import parse_networks
from ..lan_discovery import srv_host

API_PREFIXES = ("/_matrix/", "/_synapse/", "/_hearth/", "/.well-known/", "/metrics", "/health")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def is_web_path(path: str) -> bool:
    return not path.startswith(API_PREFIXES)


def csp_nonce() -> str:
    nonce = getattr(g, "csp_nonce", None)
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def content_security_policy(nonce: str | None, form_action: str = "") -> str:
    """`form_action`: one more source a form on this page may lead to (the OAuth consent page
    redirects to the app's redirect URI after its POST, which form-action also governs)."""
    script = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    return ("default-src 'self'; "
            f"script-src {script}; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; "
            f"form-action 'self'{' ' + form_action if form_action else ''}; frame-ancestors 'none'")


def add_security_headers(response):
    """For HTML responses: CSP (nonce'd inline script only), no framing, no referrer leaks."""
    if response.mimetype != "text/html" or not is_web_path(request.path):
        return response  # API answers (uploaded HTML media: the media sandbox CSP) are not pages
    h = response.headers
    h["Content-Security-Policy"] = content_security_policy(getattr(g, "csp_nonce", None),
                                                           getattr(g, "csp_form_action", ""))
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"  # no-referrer would make browsers send "Origin: null"
    h["X-Content-Type-Options"] = "nosniff"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h.setdefault("Cache-Control", "no-store")
    for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"):
        h.pop(name, None)  # pages are not an API
    return response


def _trusted_proxies():
    hearth = current_app.config.get("HEARTH")
    return parse_networks(tuple(hearth.settings.trusted_proxies)) if hearth is not None else ()


def is_local_client() -> bool:
    """The client (the socket's peer, or what a trusted proxy reports) is on this host or the LAN.

    A request without a peer address (a Unix socket, an in-process test client) is local.
    """
    return client_address.is_local_client(peer_address(), request.headers, _trusted_proxies())


def peer_address() -> str | None:
    """The TCP peer from the ASGI scope (not a header a client could send); None without one."""
    client = request.scope.get("client")
    return str(client[0]) if client else None


def client_ip() -> str:
    """The client's address: the peer, or the client a trusted proxy names (rate limits, logs)."""
    return client_address.client_address(peer_address(), request.headers, _trusted_proxies()) or "local"


def host_is_ours() -> bool:
    """The Host header names this server (see core.api.client_address: DNS rebinding)."""
    hearth = current_app.config.get("HEARTH")
    if hearth is None:
        return True
    s = hearth.settings
    names = client_address.our_names(s.server_name, s.public_baseurl, s.allowed_hosts, srv_host(s.server_name))
    return client_address.host_is_ours(request.headers.get("Host"), names)


def same_origin() -> bool:
    """A browser's Origin header (sent on every POST) names this server, or is absent."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    host = origin.split("://", 1)[-1]
    return host == request.host


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())
