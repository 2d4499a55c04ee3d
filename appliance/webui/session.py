"""Web sessions: a signed cookie that names a server-side session row (migration 0080).

The cookie holds `<random id>.<HMAC-SHA256 of it>` under a key made once per server; the
database stores only the SHA-256 of the ID. Cookies are `HttpOnly`, `SameSite` (Lax by
default) and `Secure` whenever the page was served over TLS.

In a request:

    session = await current_session()          # None when the browser has none (or a bad one)
    session = await ensure_session()           # make an anonymous one (for a form's CSRF token)
    session = await sign_in(user_id)           # a new ID (no fixation), the old row deleted
    await sign_out()
    session.data["x"] = 1; await save_session(session)

`install(app)` (done by `webui.layout.install_web_foundation`) sets the cookie on the response.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from quart import current_app, g, request

from ..core.services.web_sessions import WebSessionService

COOKIE_NAME = "hearth_session"
ANONYMOUS_LIFETIME_MS = 24 * 3600 * 1000
SIGNED_IN_LIFETIME_MS = 30 * 24 * 3600 * 1000


@dataclass
class WebSession:
    id: str                     # the raw ID: only in the cookie and in memory
    user_id: str | None
    csrf_token: str
    data: dict = field(default_factory=dict)
    expires_ts: int = 0

    @property
    def hash(self) -> str:
        return session_hash(self.id)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def sign(secret: bytes, session_id: str) -> str:
    mac = hmac.new(secret, session_id.encode(), hashlib.sha256).hexdigest()
    return f"{session_id}.{mac}"


def unsign(secret: bytes, cookie: str) -> str | None:
    session_id, _, mac = cookie.rpartition(".")
    if not session_id or not mac:
        return None
    expected = hmac.new(secret, session_id.encode(), hashlib.sha256).hexdigest()
    return session_id if hmac.compare_digest(expected.encode(), mac.encode()) else None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _store() -> WebSessionService:
    return current_app.config["HEARTH"].web.sessions


async def _secret() -> bytes:
    """The signing key, made once per server and kept in the stored settings."""
    return await _store().secret()


async def current_session() -> WebSession | None:
    if "web_session" in g:
        return g.web_session
    session = None
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        session_id = unsign(await _secret(), cookie)
        if session_id is not None:
            row = await _store().get(session_hash(session_id))
            if row is not None:
                session = WebSession(session_id, row.user_id, row.csrf_token, row.data, row.expires_ts)
    g.web_session = session
    return session


async def _create(user_id: str | None, data: dict, lifetime_ms: int) -> WebSession:
    session = WebSession(secrets.token_urlsafe(32), user_id, secrets.token_urlsafe(32), data,
                         _now_ms() + lifetime_ms)
    await _store().create(session.hash, user_id, session.csrf_token, data, session.expires_ts)
    g.web_session = session
    g.web_session_cookie = "set"
    return session


async def ensure_session() -> WebSession:
    return await current_session() or await _create(None, {}, ANONYMOUS_LIFETIME_MS)


async def save_session(session: WebSession) -> None:
    await _store().save_data(session.hash, session.data, _now_ms())


async def sign_in(user_id: str, lifetime_ms: int = SIGNED_IN_LIFETIME_MS) -> WebSession:
    """A fresh session ID on every sign-in (no session fixation); data carried over."""
    old = await current_session()
    if old is not None:
        await _store().delete(old.hash)
    return await _create(user_id, dict(old.data) if old else {}, lifetime_ms)


async def sign_out() -> None:
    old = await current_session()
    if old is not None:
        await _store().delete(old.hash)
    g.web_session = None
    g.web_session_cookie = "clear"


async def sign_out_everywhere(user_id: str) -> int:
    """Every web session of a user (password reset, deactivation)."""
    return await _store().delete_for_user(user_id)


async def apply_session_cookie(response):
    action = g.get("web_session_cookie")
    if action is None:
        return response
    secure = request.scheme in ("https", "wss")
    samesite = "Lax"
    if action == "set" and g.web_session is not None:
        session = g.web_session
        max_age = max(0, (session.expires_ts - _now_ms()) // 1000)
        response.set_cookie(COOKIE_NAME, sign(await _secret(), session.id), max_age=max_age, path="/",
                            secure=secure, httponly=True, samesite=samesite)
    elif action == "clear":
        response.delete_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite=samesite)
    return response
