"""User-interactive auth (client-server-api "User-interactive authentication API").

A UIA session lives in `uia_sessions` and is bound to one request (method, path and, for a
signed-in user, the user ID): registration offers `m.login.dummy` when registration is open and
`m.login.registration_token` followed by `m.login.dummy` when it needs an invite code; password
changes, deactivation and device deletion ask for `m.login.password`.

`m.oauth` (spec v1.17, only on /keys/device_signing/upload): a device signed in through the
OAuth 2.0 API has no password to give, so replacing its cross-signing keys asks the person to
approve it on the account management page (`params["m.oauth"]["url"]`, which names the session).
The page completes the stage (`approve_oauth`); the client then sends only `{"session": …}`.

Registration tokens count uses as in MSC3231: completing the token stage makes the token
*pending* for that session; a registration that succeeds turns it into *completed*, an
abandoned session gives it back. A token is usable while `pending + completed < uses_allowed`.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from ...protocol.errors import (
    BadJson, Forbidden, MatrixError, Unrecognized, UserDeactivated, UserInteractiveAuthRequired,
)
from ...storage.stores.accounts import now_ms
from ...storage.stores.uia import UiaSession, UiaStore
from .passwords import PasswordCheck

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"
REGISTRATION_TOKEN = "m.login.registration_token"
OAUTH = "m.oauth"
CROSS_SIGNING_RESET = "org.matrix.cross_signing_reset"  # the account management action (MSC4191)


class UserInteractiveAuth:
    UIA_SESSION_LIFETIME_MS = 24 * 3600 * 1000

    def __init__(self, store: UiaStore, passwords: PasswordCheck, base_url: Callable[[], str]):
        self.store = store
        self.passwords = passwords
        self.base_url = base_url  # where the account management page is (m.oauth's URL)

    async def run(self, auth: Any, flows: list[list[str]], request_key: str, *,
                                    user_id: str | None = None) -> UiaSession:
        """Run one round of UIA; returns the session once a flow is complete, else raises the 401.

        `user_id` is the signed-in requester (m.login.password must then prove that user).
        The caller performs the request and then calls `finish`.
        """
        if auth is not None and not isinstance(auth, dict):
            raise BadJson("auth must be an object")
        if not auth:
            session = await self._new_session(request_key)
            raise UserInteractiveAuthRequired(self._uia_body(flows, session))
        session_id = auth.get("session")
        if session_id is None:
            session = await self._new_session(request_key)
        elif not isinstance(session_id, str):
            raise BadJson("auth.session must be a string")
        else:
            found = await self.store.get_session(session_id)
            if found is None or found.created_ts < now_ms() - self.UIA_SESSION_LIFETIME_MS:
                raise MatrixError("Unknown session ID", status=400, errcode="M_UNKNOWN")
            session = found
        if session.request_key != request_key:
            raise Forbidden("Requested operation has changed during the UI authentication session.")
        stage = auth.get("type")
        allowed = {s for flow in flows for s in flow}
        if stage is not None and stage not in session.completed:
            if not isinstance(stage, str) or stage not in allowed:
                raise Unrecognized(f"Unrecognised auth type {stage!r}", status=400)
            session = await self._attempt_stage(stage, auth, session, flows, user_id)
        if not any(all(s in session.completed for s in flow) for flow in flows):
            raise UserInteractiveAuthRequired(self._uia_body(flows, session))
        if user_id is not None and session.result.get("user_id", user_id) != user_id:
            raise Forbidden("This session authenticated another user")
        return session

    async def _new_session(self, request_key: str) -> UiaSession:
        await self.store.expire_sessions(now_ms() - self.UIA_SESSION_LIFETIME_MS)
        session_id = secrets.token_urlsafe(18)
        await self.store.create_session(session_id, request_key)
        return UiaSession(session_id, now_ms(), [], request_key, {})

    async def _attempt_stage(self, stage: str, auth: dict, session: UiaSession, flows: list[list[str]],
                             user_id: str | None) -> UiaSession:
        def failed(errcode: str, error: str) -> UserInteractiveAuthRequired:
            return UserInteractiveAuthRequired({"errcode": errcode, "error": error, **self._uia_body(flows, session)})

        if stage == OAUTH:  # completed on the account management page, never by the client
            return session
        if stage == DUMMY:
            done = await self.store.mark_completed(session.session_id, stage, {})
        elif stage == REGISTRATION_TOKEN:
            token = auth.get("token")
            if not isinstance(token, str):
                raise failed("M_MISSING_PARAM", "Missing registration token")
            done = await self.store.complete_registration_token_stage(session.session_id, token)
            if done is None:
                raise failed("M_FORBIDDEN", "Invalid registration token")
        elif stage == PASSWORD:
            name = _password_stage_name(auth)
            password = auth.get("password")
            if name is None or not isinstance(password, str):
                raise failed("M_FORBIDDEN", "Invalid username or password")
            try:
                who = await self.passwords.authenticate(name, password)
            except UserDeactivated:
                raise failed("M_USER_DEACTIVATED", "Invalid username or password") from None
            except Forbidden:
                raise failed("M_FORBIDDEN", "Invalid username or password") from None
            if user_id is not None and who != user_id:
                # Right password, wrong person: not a failed stage to retry but a refusal (as Synapse).
                raise Forbidden("The password given is not that of the signed-in user")
            done = await self.store.mark_completed(session.session_id, stage, {"user_id": who})
        else:  # offered in a flow but not implemented: a programming error
            raise AssertionError(stage)
        if done is None:
            raise MatrixError("Unknown session ID", status=400, errcode="M_UNKNOWN")
        return done

    async def approve_oauth(self, session_id: str, request_key: str, user_id: str) -> bool:
        """The account management page: the signed-in `user_id` approved the request of this
        session, which must be the one `request_key` names (theirs). False if it is not."""
        session = await self.store.get_session(session_id)
        if (session is None or session.request_key != request_key
                or session.created_ts < now_ms() - self.UIA_SESSION_LIFETIME_MS):
            return False
        return await self.store.mark_completed(session_id, OAUTH, {"user_id": user_id}) is not None

    def oauth_url(self, session_id: str) -> str:
        return f"{self.base_url()}/me/account?" + urlencode({"action": CROSS_SIGNING_RESET, "session": session_id})

    def _uia_body(self, flows: list[list[str]], session: UiaSession) -> dict:
        body: dict[str, Any] = {"flows": [{"stages": flow} for flow in flows], "params": {},
                                "session": session.session_id}
        if any(OAUTH in flow for flow in flows):
            body["params"][OAUTH] = {"url": self.oauth_url(session.session_id)}
        if session.completed:
            body["completed"] = list(session.completed)
        return body

    async def finish(self, session_id: str) -> None:
        """The request the session authorised has been performed: the session ends."""
        await self.store.finish_session(session_id)


def cross_signing_request_key(user_id: str) -> str:
    """The request a UIA session for replacing `user_id`'s cross-signing keys is bound to."""
    return f"POST /keys/device_signing/upload {user_id}"


def _password_stage_name(auth: dict) -> str | None:
    """The user named by an m.login.password stage: an m.id.user identifier, or legacy `user`."""
    identifier = auth.get("identifier")
    if isinstance(identifier, dict):
        if identifier.get("type") != "m.id.user" or not isinstance(identifier.get("user"), str):
            return None
        return identifier["user"]
    legacy = auth.get("user")
    return legacy if isinstance(legacy, str) else None
