"""Registration (registration.yaml) and the operator's account creation and registration tokens."""
from __future__ import annotations

import logging
import re
import secrets
import sqlite3
import string
from typing import Any

from ...protocol import ids
from ...protocol.errors import (
    Forbidden, GuestAccessForbidden, InvalidParam, MatrixError, MissingParam, MissingToken, UserInUse,
    UserInteractiveAuthRequired,
)
from ...storage.stores.accounts import AccountStore, now_ms
from ..auth import AuthService, ClientInfo, Requester
from .login import Login, token_fields
from .names import AccountNames
from .passwords import check_password_shape
from .uia import DUMMY, REGISTRATION_TOKEN, UserInteractiveAuth

REGISTER_KEY = "POST /register"

log = logging.getLogger(__name__)

# Opaque identifier grammar (appendices), at most 64 characters for registration tokens.
_TOKEN_GRAMMAR = re.compile(r"[A-Za-z0-9._~-]{1,64}")


class Registration:
    def __init__(self, settings, accounts: AccountStore, auth: AuthService, names: AccountNames,
                 uia: UserInteractiveAuth, login: Login):
        self.settings = settings
        self.accounts = accounts
        self.auth = auth
        self.names = names
        self.uia = uia
        self.login = login

    @property
    def server_name(self) -> str:
        return self.settings.server_name

    def user_id_for(self, name: str) -> str:
        return self.names.user_id_for(name)

    async def check_username_available(self, username: str) -> None:
        """Raises M_INVALID_USERNAME or M_USER_IN_USE; returns if the name can be registered."""
        await self.names.check_username_available(self.names.requested_localpart(username))

    async def create_user(self, localpart_or_user_id: str, password: str | None, admin: bool = False) -> str:
        user_id = self.names.user_id_for(localpart_or_user_id)
        localpart = ids.parse_user_id(user_id)[0]
        self.names.new_user_id(localpart)
        if password is not None:
            check_password_shape(password)
        password_hash = await self.auth.hash_password(password) if password else None
        try:
            await self.accounts.create_user(user_id, password_hash, admin=admin, displayname=localpart)
        except sqlite3.IntegrityError:
            raise UserInUse("User ID already taken.") from None
        return user_id

    async def create_registration_token(self, token: str | None = None, uses_allowed: int | None = None,
                                        expiry_time: int | None = None) -> str:
        if token is None:
            token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
        elif not _TOKEN_GRAMMAR.fullmatch(token):
            raise InvalidParam("A token is 1-64 characters of A-Z a-z 0-9 . _ ~ -")
        if uses_allowed is not None and uses_allowed < 0:
            raise InvalidParam("uses_allowed must not be negative")
        if expiry_time is not None and expiry_time <= now_ms():
            raise InvalidParam("expiry_time is in the past")
        try:
            await self.uia.store.add_registration_token(token, uses_allowed, expiry_time)
        except sqlite3.IntegrityError:
            raise InvalidParam("That token already exists") from None
        return token

    async def registration_token_validity(self, token: str) -> bool:
        if self.settings.registration == "closed":
            raise Forbidden("Registration is not enabled on this homeserver.")
        return await self.uia.store.registration_token_usable(token)

    def registration_flows(self) -> list[list[str]]:
        if self.settings.registration == "open":
            return [[DUMMY]]
        if self.settings.registration == "token":
            # Token then dummy, as Synapse offers it: clients (matrix-nio) finish with m.login.dummy.
            return [[REGISTRATION_TOKEN, DUMMY]]
        raise Forbidden("Registration is disabled")

    async def sign_up(self, username: str, password: str, invite_code: str | None, client: ClientInfo) -> str:
        """The web sign-up page (OAuth 2.0 `prompt=create`): /register's own stages, run in
        process, so the name checks, the password rules and the invite code's one use per
        account are exactly those of /register. Returns the new user ID; raises what /register
        would (M_FORBIDDEN when closed or the code is wrong, M_USER_IN_USE...)."""
        flow = self.registration_flows()[0]  # Forbidden when registration is closed
        auth: dict[str, Any] | None = None
        for stage in [*flow, None]:
            try:
                result = await self.register(kind="user", auth=auth, username=username, password=password,
                                             device_id=None, initial_device_display_name=None, inhibit_login=True,
                                             refresh_token=False, client=client)
                return result["user_id"]
            except UserInteractiveAuthRequired as exc:
                if stage is None or exc.body.get("errcode"):
                    raise Forbidden(exc.body.get("error") or "That invite code is not valid") from None
                auth = {"type": stage, "session": exc.body["session"]}
                if stage == REGISTRATION_TOKEN:
                    auth["token"] = invite_code or ""
        raise Forbidden("Registration did not finish")

    async def register_as_appservice(self, me: Requester | None, *, username: str | None, device_id: str | None,
                                     initial_device_display_name: str | None, inhibit_login: bool,
                                     refresh_token: bool, client: ClientInfo) -> dict:
        """`m.login.application_service` (application-service-api.md "Server admin style
        permissions"): a passwordless user inside the appservice's namespace, no UIA."""
        if me is None or me.appservice_id is None:
            raise MissingToken("Registering as an application service needs its as_token")
        appservice = self.names.appservices.get(me.appservice_id)
        if appservice is None:
            raise MissingToken("Registering as an application service needs its as_token")
        if username is None:
            raise MissingParam("Missing username")
        user_id = self.names.user_id_for(username) if username.startswith("@") else self.names.new_user_id(username)
        self.names.appservices.check_claims(appservice, "users", user_id)
        try:
            await self.accounts.create_user(user_id, None, displayname=ids.parse_user_id(user_id)[0])
        except sqlite3.IntegrityError:
            raise UserInUse("User ID already taken.") from None
        log.info("appservice %s registered %s", appservice.id, user_id)
        result: dict[str, Any] = {"user_id": user_id, "home_server": self.server_name}
        if not inhibit_login:
            issued = await self.login.sign_in(user_id, device_id, initial_device_display_name, refresh_token, client)
            result.update(token_fields(issued))
        return result

    async def register(self, *, kind: str, auth: Any, username: str | None, password: str | None,
                       device_id: str | None, initial_device_display_name: str | None,
                       inhibit_login: bool | None, refresh_token: bool, client: ClientInfo) -> dict:
        """The parameters of the first request stay with the UIA session (the password as its
        hash), so later stages may send only `auth`; a parameter a later request gives wins.
        Retrying a completed session answers its account again (with a new login)."""
        if kind == "guest":
            raise GuestAccessForbidden("Guest accounts are not available on this server")
        flows = self.registration_flows()
        given = {"username": username, "device_id": device_id,
                 "initial_device_display_name": initial_device_display_name, "inhibit_login": inhibit_login}
        params = {k: v for k, v in given.items() if v is not None}
        password_hash: str | None = None
        session_id = auth.get("session") if isinstance(auth, dict) else None
        stored = await self.uia.store.get_session(session_id) if isinstance(session_id, str) else None
        if stored is not None and stored.request_key == REGISTER_KEY:
            params = {**stored.result.get("params", {}), **params}
            registered = stored.result.get("registered_user_id")
            if registered is not None:
                return await self._result(registered, params, refresh_token, client)
            password_hash = stored.result.get("password_hash")
        # Name checks come before UIA (spec: "MUST perform the relevant checks ... before").
        if params.get("username") is None:
            params["username"] = await self.names.generated_localpart()
        params["username"] = self.names.requested_localpart(params["username"])
        await self.names.check_username_available(params["username"])
        user_id = self.names.new_user_id(params["username"])
        if password is not None:
            check_password_shape(password)
        try:
            session = await self.uia.run(auth, flows, REGISTER_KEY)
        except UserInteractiveAuthRequired as incomplete:
            left = {"params": params}
            if password is not None:
                left["password_hash"] = await self.auth.hash_password(password)
            await self.uia.store.merge_result(incomplete.body["session"], left)
            raise
        if password is not None:
            password_hash = await self.auth.hash_password(password)
        if password_hash is None:
            raise MissingParam("Missing password")

        try:
            finished = await self.uia.store.finish_session_creating_user(session.session_id, user_id, password_hash,
                                                                         params["username"])
        except sqlite3.IntegrityError:
            raise UserInUse("User ID already taken.") from None
        if not finished:  # a concurrent request used this session first
            raise MatrixError("Unknown session ID", status=400, errcode="M_UNKNOWN")
        await self.uia.store.merge_result(session.session_id, {"params": params})
        log.info("registered %s", user_id)
        return await self._result(user_id, params, refresh_token, client)

    async def _result(self, user_id: str, params: dict[str, Any], refresh_token: bool, client: ClientInfo) -> dict:
        result: dict[str, Any] = {"user_id": user_id, "home_server": self.server_name}
        if not params.get("inhibit_login"):
            issued = await self.login.sign_in(user_id, params.get("device_id"),
                                              params.get("initial_device_display_name"), refresh_token, client)
            result.update(token_fields(issued))
        return result
