"""What every HTML page gets: security headers with a CSP nonce, CSRF checks, local-only access.

- `csp_nonce()`: the nonce of this response; `<script nonce="{{ csp_nonce() }}">` is the only
  inline script a page may carry (scripts from our own origin are allowed as files).
- Every POST/PUT/PATCH/DELETE to a web path (anything outside the Matrix and admin APIs, which
  use bearer tokens) must carry the session's CSRF token, as the `csrf_token` form field or the
  `X-CSRF-Token` header; and a browser's `Origin`, when sent, must be our own.
- `is_local_client()`: loopback, private or link-local addresses only (the setup wizard).
"""
from __future__ import annotations

import hmac
import ipaddress
import secrets

from quart import g, request

API_PREFIXES = ("/_matrix/", "/_synapse/", "/.well-known/", "/metrics", "/health")
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


def content_security_policy(nonce: str | None) -> str:
    script = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    return ("default-src 'self'; "
            f"script-src {script}; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def add_security_headers(response):
    """For HTML responses: CSP (nonce'd inline script only), no framing, no referrer leaks."""
    if response.mimetype != "text/html" or not is_web_path(request.path):
        return response  # API answers (uploaded HTML media: the media sandbox CSP) are not pages
    h = response.headers
    h["Content-Security-Policy"] = content_security_policy(getattr(g, "csp_nonce", None))
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"  # no-referrer would make browsers send "Origin: null"
    h["X-Content-Type-Options"] = "nosniff"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h.setdefault("Cache-Control", "no-store")
    for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"):
        h.pop(name, None)  # pages are not an API
    return response


def _address_is_local(text: str) -> bool:
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]").split("%")[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback or addr.is_private or addr.is_link_local


def is_local_client() -> bool:
    """The peer, and every hop a proxy reports in X-Forwarded-For, is on this host or the LAN.

    A request without a peer address (a Unix socket, an in-process test client) is local.
    """
    peer = peer_address()
    if peer is not None and not _address_is_local(peer):
        return False
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and not all(_address_is_local(hop) for hop in forwarded.split(",")):
        return False
    return True


def peer_address() -> str | None:
    """The TCP peer from the ASGI scope (not a header a client could send); None without one."""
    client = request.scope.get("client")
    return str(client[0]) if client else None


def client_ip() -> str:
    return peer_address() or "local"


def same_origin() -> bool:
    """A browser's Origin header (sent on every POST) names this server, or is absent."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    host = origin.split("://", 1)[-1]
    return host == request.host


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())
