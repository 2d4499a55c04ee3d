"""Accounts: registration, login and logout, passwords, deactivation, devices, profiles.

Registration and the sensitive account operations go through user-interactive auth (UIA).
A UIA session lives in `uia_sessions` and is bound to one request (method, path and, for a
signed-in user, the user ID): registration offers `m.login.dummy` when registration is open and
`m.login.registration_token` followed by `m.login.dummy` when it needs an invite code; password
changes, deactivation and device deletion ask for `m.login.password`.

Registration tokens count uses as in MSC3231: completing the token stage makes the token
*pending* for that session; a registration that succeeds turns it into *completed*, an
abandoned session gives it back. A token is usable while `pending + completed < uses_allowed`.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import sqlite3
import string
from collections.abc import Awaitable, Callable
from typing import Any

from ..protocol import ids
from ..protocol.canonical_json import encode_canonical_json
from ..protocol.errors import (
    BadJson, Forbidden, GuestAccessForbidden, InvalidParam, InvalidUsername, KeyTooLarge, MatrixError,
    MissingParam, NotFound, ProfileTooLarge, Unrecognized, UserDeactivated, UserInUse, UserLocked,
    UserInteractiveAuthRequired,
)
from ..signals import AsyncEvent
from ..storage.database import Database
from ..storage.stores.accounts import AccountStore, Device, now_ms
from ..storage.stores.uia import UiaSession, UiaStore
from .auth import AuthService, ClientInfo, IssuedTokens, Requester, new_device_id
from .login_throttle import LoginThrottle
from .pipeline import EventPipeline

log = logging.getLogger(__name__)

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"
REGISTRATION_TOKEN = "m.login.registration_token"

MAX_PASSWORD_LENGTH = 512
MAX_DISPLAYNAME_LENGTH = 256
MAX_PROFILE_BYTES = 64 * 1024
MAX_PROFILE_KEY_BYTES = 255
# Opaque identifier grammar (appendices), at most 64 characters for registration tokens.
_TOKEN_GRAMMAR = re.compile(r"[A-Za-z0-9._~-]{1,64}")
_PROFILE_KEY = re.compile(r"avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_MXC = re.compile(r"mxc://[A-Za-z0-9.\-:\[\]]+/[A-Za-z0-9_\-]+")
_MEMBER_PROFILE_FIELDS = ("displayname", "avatar_url")

CredentialsChanged = Callable[[str], Awaitable[object]]


class AccountService:
    UIA_SESSION_LIFETIME_MS = 24 * 3600 * 1000

    def __init__(self, settings, accounts: AccountStore, auth: AuthService, db: Database,
                 pipeline: EventPipeline, login_throttle: LoginThrottle,
                 devices_deleted: AsyncEvent[[str, list[str]]], credentials_changed: CredentialsChanged):
        self.settings = settings
        self.login_throttle = login_throttle
        self.accounts = accounts
        self.auth = auth
        self.db = db
        self.uia = UiaStore(db)
        self.pipeline = pipeline
        # Emitted after devices are deleted (logout, device deletion, deactivation), e.g. for the
        # keys service to drop their device keys: listener(user_id, device_ids).
        self.devices_deleted = devices_deleted
        # Called after a password change or reset and after deactivation, to end every web
        # session of the account: credentials_changed(user_id). Not optional: a failure propagates.
        self.credentials_changed = credentials_changed

    @property
    def server_name(self) -> str:
        return self.settings.server_name

    # -- names ------------------------------------------------------------------------------

    def user_id_for(self, name: str) -> str:
        """A localpart or a full user ID of ours → the user ID (not checked for existence)."""
        if name.startswith("@"):
            try:
                localpart, server = ids.parse_user_id(name)
            except ValueError:
                raise InvalidUsername(f"{name!r} is not a user ID") from None
            if server != self.server_name:
                raise InvalidUsername(f"{name} is not a user of this server")
            return name
        return f"@{name}:{self.server_name}"

    def _new_user_id(self, localpart: str) -> str:
        if not ids.is_valid_user_localpart(localpart):
            raise InvalidUsername("User names may only contain a-z, 0-9, and . _ = - / +")
        user_id = f"@{localpart}:{self.server_name}"
        if len(user_id.encode()) > ids.MAX_ID_BYTES:
            raise InvalidUsername("User name too long")
        return user_id

    async def check_username_available(self, username: str) -> None:
        """Raises M_INVALID_USERNAME or M_USER_IN_USE; returns if the name can be registered."""
        user_id = self._new_user_id(username)
        if await self.accounts.user_exists(user_id):
            raise UserInUse("User ID already taken.")

    async def _generated_localpart(self) -> str:
        while True:
            localpart = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))
            if not await self.accounts.user_exists(f"@{localpart}:{self.server_name}"):
                return localpart

    async def _resolve_login_user(self, name: str) -> str | None:
        """An m.id.user identifier (localpart or user ID) → an existing local user ID, or None.

        Localparts are matched exactly first, then lowercased (clients may capitalise them).
        """
        try:
            user_id = self.user_id_for(name)
        except InvalidUsername:
            return None
        if await self.accounts.user_exists(user_id):
            return user_id
        lowered = f"@{ids.parse_user_id(user_id)[0].lower()}:{self.server_name}"
        if lowered != user_id and await self.accounts.user_exists(lowered):
            return lowered
        return None

    # -- operator commands (CLI, web UI) ----------------------------------------------------

    async def create_user(self, localpart_or_user_id: str, password: str | None, admin: bool = False) -> str:
        user_id = self.user_id_for(localpart_or_user_id)
        localpart = ids.parse_user_id(user_id)[0]
        self._new_user_id(localpart)
        if password is not None:
            _check_password_shape(password)
        password_hash = await self.auth.hash_password(password) if password else None
        try:
            await self.accounts.create_user(user_id, password_hash, admin=admin, displayname=localpart)
        except sqlite3.IntegrityError:
            raise UserInUse("User ID already taken.") from None
        return user_id

    async def reset_password(self, name: str, password: str) -> None:
        """Set a new password and sign every device out."""
        user_id = self.user_id_for(name)
        user = await self.accounts.get_user(user_id)
        if user is None:
            raise NotFound(f"No such user {user_id}")
        if user.deactivated:
            raise UserDeactivated("This account has been deactivated")
        await self.set_password(user_id, password, logout_devices=True)

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
            await self.uia.add_registration_token(token, uses_allowed, expiry_time)
        except sqlite3.IntegrityError:
            raise InvalidParam("That token already exists") from None
        return token

    async def registration_token_validity(self, token: str) -> bool:
        if self.settings.registration == "closed":
            raise Forbidden("Registration is not enabled on this homeserver.")
        return await self.uia.registration_token_usable(token)

    # -- user-interactive auth --------------------------------------------------------------

    async def user_interactive_auth(self, auth: Any, flows: list[list[str]], request_key: str, *,
                                    user_id: str | None = None) -> UiaSession:
        """Run one round of UIA; returns the session once a flow is complete, else raises the 401.

        `user_id` is the signed-in requester (m.login.password must then prove that user).
        The caller performs the request and then calls `uia.finish_session`.
        """
        if auth is not None and not isinstance(auth, dict):
            raise BadJson("auth must be an object")
        if not auth:
            session = await self._new_session(request_key)
            raise UserInteractiveAuthRequired(_uia_body(flows, session))
        session_id = auth.get("session")
        if session_id is None:
            session = await self._new_session(request_key)
        elif not isinstance(session_id, str):
            raise BadJson("auth.session must be a string")
        else:
            found = await self.uia.get_session(session_id)
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
            raise UserInteractiveAuthRequired(_uia_body(flows, session))
        if user_id is not None and session.result.get("user_id", user_id) != user_id:
            raise Forbidden("This session authenticated another user")
        return session

    async def _new_session(self, request_key: str) -> UiaSession:
        await self.uia.expire_sessions(now_ms() - self.UIA_SESSION_LIFETIME_MS)
        session_id = secrets.token_urlsafe(18)
        await self.uia.create_session(session_id, request_key)
        return UiaSession(session_id, now_ms(), [], request_key, {})

    async def _attempt_stage(self, stage: str, auth: dict, session: UiaSession, flows: list[list[str]],
                             user_id: str | None) -> UiaSession:
        def failed(errcode: str, error: str) -> UserInteractiveAuthRequired:
            return UserInteractiveAuthRequired({"errcode": errcode, "error": error, **_uia_body(flows, session)})

        if stage == DUMMY:
            done = await self.uia.mark_completed(session.session_id, stage, {})
        elif stage == REGISTRATION_TOKEN:
            token = auth.get("token")
            if not isinstance(token, str):
                raise failed("M_MISSING_PARAM", "Missing registration token")
            done = await self.uia.complete_registration_token_stage(session.session_id, token)
            if done is None:
                raise failed("M_FORBIDDEN", "Invalid registration token")
        elif stage == PASSWORD:
            name = _password_stage_name(auth)
            password = auth.get("password")
            if name is None or not isinstance(password, str):
                raise failed("M_FORBIDDEN", "Invalid username or password")
            if user_id is not None and await self._resolve_login_user(name) != user_id:
                raise failed("M_FORBIDDEN", "Invalid username or password")  # the requester is known
            try:
                who = await self.authenticate(name, password)
            except UserDeactivated:
                raise failed("M_USER_DEACTIVATED", "Invalid username or password") from None
            except Forbidden:
                raise failed("M_FORBIDDEN", "Invalid username or password") from None
            done = await self.uia.mark_completed(session.session_id, stage, {"user_id": who})
        else:  # offered in a flow but not implemented: a programming error
            raise AssertionError(stage)
        if done is None:
            raise MatrixError("Unknown session ID", status=400, errcode="M_UNKNOWN")
        return done

    # -- registration -----------------------------------------------------------------------

    def registration_flows(self) -> list[list[str]]:
        if self.settings.registration == "open":
            return [[DUMMY]]
        if self.settings.registration == "token":
            # Token then dummy, as Synapse offers it: clients (matrix-nio) finish with m.login.dummy.
            return [[REGISTRATION_TOKEN, DUMMY]]
        raise Forbidden("Registration is disabled")

    async def register(self, *, kind: str, auth: Any, username: str | None, password: str | None,
                       device_id: str | None, initial_device_display_name: str | None,
                       inhibit_login: bool, refresh_token: bool, client: ClientInfo) -> dict:
        if kind == "guest":
            raise GuestAccessForbidden("Guest accounts are not available on this server")
        flows = self.registration_flows()
        # Name checks come before UIA (spec: "MUST perform the relevant checks ... before").
        if username is None:
            username = await self._generated_localpart()
        await self.check_username_available(username)
        user_id = self._new_user_id(username)
        session = await self.user_interactive_auth(auth, flows, "POST /register")
        if password is None:
            raise MissingParam("Missing password")
        _check_password_shape(password)
        password_hash = await self.auth.hash_password(password)

        def job(conn: sqlite3.Connection) -> bool:
            if not UiaStore.finish_session_job(conn, session.session_id, True):
                return False
            AccountStore.create_user_job(conn, user_id, password_hash, displayname=username)
            return True

        try:
            finished = await self.db.write(job)
        except sqlite3.IntegrityError:
            raise UserInUse("User ID already taken.") from None
        if not finished:  # a concurrent request used this session first
            raise MatrixError("Unknown session ID", status=400, errcode="M_UNKNOWN")
        log.info("registered %s", user_id)
        result: dict[str, Any] = {"user_id": user_id, "home_server": self.server_name}
        if not inhibit_login:
            issued = await self._sign_in(user_id, device_id, initial_device_display_name, refresh_token, client)
            result.update(_token_fields(issued))
        return result

    # -- login, refresh, logout -------------------------------------------------------------

    async def authenticate(self, name: str, password: str) -> str:
        """A user name (localpart or user ID) and password → the user ID (Matrix login and UIA,
        web sign-in). Raises Forbidden, UserDeactivated, or LimitExceeded while the account is
        throttled (login_throttle.py: per account, from any address).

        A password hash is checked for unknown and deactivated accounts too, so that the time
        taken does not tell which accounts exist."""
        user_id = await self._resolve_login_user(name)
        key = user_id or self._throttle_key(name)
        self.login_throttle.attempt(key)
        user = await self.accounts.get_user(user_id) if user_id else None
        ok = await self.auth.check_password(user_id or "@:invalid", password)  # unknown: the dummy hash
        if ok and user is not None and not user.deactivated:
            self.login_throttle.succeeded(key)
            if user.locked:  # spec (account locking): no new access token until unlocked
                raise UserLocked()
            return user_id
        if not ok:
            self.login_throttle.failed(key)
        if user is not None and user.deactivated:
            raise UserDeactivated("This account has been deactivated")
        raise Forbidden("Invalid username or password")

    def _throttle_key(self, name: str) -> str:
        """An unknown name is throttled like an account: by the user ID it would have."""
        try:
            return self.user_id_for(name).lower()
        except InvalidUsername:
            return "?" + name.lower()[:256]

    def login_flows(self) -> list[dict]:
        return [{"type": PASSWORD}]

    async def login(self, body: dict, client: ClientInfo) -> dict:
        login_type = body.get("type")
        if login_type != PASSWORD:
            raise MatrixError("Unknown login type", status=400, errcode="M_UNKNOWN")
        identifier = body.get("identifier")
        if identifier is not None:
            if not isinstance(identifier, dict):
                raise BadJson("identifier must be an object")
            if identifier.get("type") in ("m.id.thirdparty", "m.id.phone"):
                raise Forbidden("No account has this third-party identifier")
            if identifier.get("type") != "m.id.user":
                raise MatrixError("Unknown identifier type", status=400, errcode="M_UNKNOWN")
            name = identifier.get("user")
        elif "medium" in body or "address" in body:
            raise Forbidden("No account has this third-party identifier")
        else:
            name = body.get("user")
        if not isinstance(name, str) or not name:
            raise MissingParam("Missing identifier.user")
        password = body.get("password")
        if not isinstance(password, str):
            raise MissingParam("Missing password")
        device_id = _optional_str(body, "device_id")
        display_name = _optional_str(body, "initial_device_display_name")
        refresh = body.get("refresh_token", False)
        if not isinstance(refresh, bool):
            raise BadJson("refresh_token must be a boolean")
        user_id = await self.authenticate(name, password)
        issued = await self._sign_in(user_id, device_id, display_name, refresh, client)
        return {"user_id": user_id, "home_server": self.server_name, **_token_fields(issued),
                "well_known": {"m.homeserver": {"base_url": self.settings.base_url()}}}

    async def _sign_in(self, user_id: str, device_id: str | None, display_name: str | None, refresh: bool,
                       client: ClientInfo) -> IssuedTokens:
        """Issue tokens for a device, creating it if new; reusing a device ID signs its old tokens out."""
        if device_id is not None and await self.accounts.get_device(user_id, device_id) is not None:
            for token_hash in await self.accounts.delete_device_tokens(user_id, device_id):
                self.auth.forget_token(token_hash)
            await self.accounts.touch_device(user_id, device_id, client.ip, now_ms())
        else:
            device_id = device_id or new_device_id()
            await self.accounts.upsert_device(user_id, device_id, display_name, client.ip)
        return await self.auth.issue_tokens(user_id, device_id, refresh=refresh)

    async def refresh(self, refresh_token: str) -> dict:
        issued = await self.auth.refresh(refresh_token)
        return {"access_token": issued.access_token, "refresh_token": issued.refresh_token,
                "expires_in_ms": issued.expires_in_ms}

    async def logout(self, me: Requester) -> None:
        await self._delete_devices(me.user_id, [me.device_id])

    async def logout_all(self, me: Requester) -> None:
        await self._delete_devices(me.user_id, await self.accounts.device_ids(me.user_id))
        self.auth.forget_user(me.user_id)

    async def remove_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Delete devices without user-interactive auth (for the server's own use)."""
        await self._delete_devices(user_id, device_ids)

    async def delete_user_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Operator path (admin API, web UI): delete devices and sign them out, without UIA."""
        await self._delete_devices(user_id, list(dict.fromkeys(device_ids)))

    async def _delete_devices(self, user_id: str, device_ids: list[str]) -> None:
        if not device_ids:
            return
        for token_hash in await self.accounts.delete_devices(user_id, device_ids):
            self.auth.forget_token(token_hash)
        await self.devices_deleted.emit(user_id, device_ids)

    # -- password and deactivation ----------------------------------------------------------

    async def change_password(self, me: Requester | None, auth: Any, new_password: str,
                              logout_devices: bool) -> None:
        request_key = "POST /account/password" + (f" {me.user_id}" if me else "")
        session = await self.user_interactive_auth(auth, [[PASSWORD]], request_key,
                                                   user_id=me.user_id if me else None)
        user_id = me.user_id if me else session.result["user_id"]
        _check_password_shape(new_password)
        await self.set_password(user_id, new_password, logout_devices=logout_devices,
                                keep_device=me.device_id if me else None)
        await self.uia.finish_session(session.session_id)

    async def set_password(self, user_id: str, new_password: str, *, logout_devices: bool,
                           keep_device: str | None = None) -> None:
        """Every password change and reset ends here (Matrix API, admin API and pages, /me, CLI):
        the new hash; every web session of the account ends; with `logout_devices`, every device
        but `keep_device` (the one asking, for the Matrix API) is signed out."""
        _check_password_shape(new_password)
        await self.accounts.set_password_hash(user_id, await self.auth.hash_password(new_password))
        await self.credentials_changed(user_id)
        if logout_devices:
            await self._delete_devices(user_id, [d for d in await self.accounts.device_ids(user_id)
                                                 if d != keep_device])
            if keep_device is None:
                self.auth.forget_user(user_id)

    async def deactivate(self, me: Requester | None, auth: Any, erase: bool) -> dict:
        request_key = "POST /account/deactivate" + (f" {me.user_id}" if me else "")
        session = await self.user_interactive_auth(auth, [[PASSWORD]], request_key,
                                                   user_id=me.user_id if me else None)
        user_id = me.user_id if me else session.result["user_id"]
        await self.uia.finish_session(session.session_id)
        await self.deactivate_user(user_id, erase)
        return {"id_server_unbind_result": "success"}  # we hold no third-party identifiers

    async def deactivate_user(self, user_id: str, erase: bool) -> None:
        """Deactivate without UIA (the caller has authorised it: the user, or an admin)."""
        await self.accounts.set_deactivated(user_id)
        await self.credentials_changed(user_id)
        await self._delete_devices(user_id, await self.accounts.device_ids(user_id))
        self.auth.forget_user(user_id)
        if erase:
            await self.accounts.delete_profile_fields(user_id)
        await self._leave_all_rooms(user_id)
        log.info("deactivated %s", user_id)

    async def _leave_all_rooms(self, user_id: str) -> None:
        """Leave joined rooms, reject invites and rescind knocks, through the event pipeline."""
        for room_id in await self.accounts.room_ids_with_membership(user_id, ("join", "invite", "knock")):
            try:
                await self.pipeline.create_event(room_id, user_id, "m.room.member", {"membership": "leave"},
                                                 state_key=user_id)
            except MatrixError as exc:  # e.g. an invite to a room we do not hold (federation)
                log.warning("deactivation: %s could not leave %s: %s", user_id, room_id, exc.error)

    # -- devices ----------------------------------------------------------------------------

    async def list_devices(self, user_id: str) -> list[dict]:
        return [_device_json(d) for d in await self.accounts.list_devices(user_id)]

    async def get_device(self, user_id: str, device_id: str) -> dict:
        device = await self.accounts.get_device(user_id, device_id)
        if device is None:
            raise NotFound("No such device")
        return _device_json(device)

    async def update_device(self, user_id: str, device_id: str, display_name: str | None,
                            has_display_name: bool) -> None:
        if await self.accounts.get_device(user_id, device_id) is None:
            raise NotFound("No such device")
        if has_display_name:
            await self.accounts.set_device_display_name(user_id, device_id, display_name)

    async def delete_devices(self, me: Requester, device_ids: list[str], auth: Any) -> None:
        key = f"POST /delete_devices {me.user_id} " + json.dumps(sorted(set(device_ids)))
        session = await self.user_interactive_auth(auth, [[PASSWORD]], key, user_id=me.user_id)
        await self._delete_devices(me.user_id, list(dict.fromkeys(device_ids)))
        await self.uia.finish_session(session.session_id)

    # -- profile ----------------------------------------------------------------------------

    async def get_profile(self, user_id: str) -> dict:
        user = await self._profile_user(user_id)
        stored = await self.accounts.get_profile_fields(user_id)
        profile: dict[str, Any] = {k: json.loads(v) for k, v in stored.items()}
        if user.displayname is not None:
            profile["displayname"] = user.displayname
        if user.avatar_url is not None:
            profile["avatar_url"] = user.avatar_url
        return profile

    async def get_profile_field(self, user_id: str, key: str) -> dict:
        profile = await self.get_profile(user_id)
        if key not in profile:
            raise NotFound("Profile field not found")
        return {key: profile[key]}

    async def _profile_user(self, user_id: str):
        try:
            _, server = ids.parse_user_id(user_id)
        except ValueError:
            raise InvalidParam("Not a user ID") from None
        user = await self.accounts.get_user(user_id) if server == self.server_name else None
        if user is None or user.deactivated:
            raise NotFound("Profile not found")
        return user

    async def set_profile_field(self, me: Requester, user_id: str, key: str, body: dict) -> None:
        self._check_profile_write(me, user_id, key)
        if key not in body:
            raise MissingParam(f"Missing {key}")
        value = body[key]
        if key in _MEMBER_PROFILE_FIELDS:
            if value is not None and not isinstance(value, str):
                raise BadJson(f"{key} must be a string")
            value = value or None  # "" and null clear the field, as older clients expect
            if key == "displayname" and value is not None and len(value) > MAX_DISPLAYNAME_LENGTH:
                raise InvalidParam("Display name too long")
            if key == "avatar_url" and value is not None and not _MXC.fullmatch(value):
                raise InvalidParam("avatar_url must be an mxc:// URI")
        else:
            if key == "m.tz" and not isinstance(value, str):
                raise BadJson("m.tz must be a string")
        profile = await self.get_profile(user_id)
        profile[key] = value
        if len(encode_canonical_json({k: v for k, v in profile.items() if v is not None})) > MAX_PROFILE_BYTES:
            raise ProfileTooLarge("The profile would exceed 64 KiB")
        if key in _MEMBER_PROFILE_FIELDS:
            await self.accounts.set_profile_field(user_id, key, value)
            await self._propagate_profile(user_id)
        else:
            await self.accounts.set_extra_profile_field(user_id, key, encode_canonical_json(value).decode())

    async def set_member_profile_field(self, user_id: str, key: str, value: str | None) -> None:
        """Operator path (admin API, web UI): set displayname or avatar_url ("" or None clears it)
        and send the new profile to the user's rooms."""
        assert key in _MEMBER_PROFILE_FIELDS
        value = value or None
        if key == "displayname" and value is not None and len(value) > MAX_DISPLAYNAME_LENGTH:
            raise InvalidParam("Display name too long")
        if key == "avatar_url" and value is not None and not _MXC.fullmatch(value):
            raise InvalidParam("avatar_url must be an mxc:// URI")
        await self.accounts.set_profile_field(user_id, key, value)
        await self._propagate_profile(user_id)

    async def delete_profile_field(self, me: Requester, user_id: str, key: str) -> None:
        self._check_profile_write(me, user_id, key)
        await self._profile_user(user_id)
        if key in _MEMBER_PROFILE_FIELDS:
            await self.accounts.set_profile_field(user_id, key, None)
            await self._propagate_profile(user_id)
        else:
            await self.accounts.set_extra_profile_field(user_id, key, None)

    def _check_profile_write(self, me: Requester, user_id: str, key: str) -> None:
        if len(key.encode()) > MAX_PROFILE_KEY_BYTES:
            raise KeyTooLarge("Profile keys are at most 255 bytes")
        if not _PROFILE_KEY.fullmatch(key):
            raise InvalidParam("Invalid profile key.")
        if user_id != me.user_id:
            raise Forbidden("You may only change your own profile")
        if me.is_guest and key != "displayname":
            raise GuestAccessForbidden("Guests may only change their display name")

    async def _propagate_profile(self, user_id: str) -> None:
        """Send a fresh m.room.member (same membership, new displayname/avatar_url) to each joined room."""
        user = await self.accounts.get_user(user_id)
        assert user is not None
        for room_id in await self.accounts.room_ids_with_membership(user_id, ("join",)):
            current = await self.pipeline.events.current_state_event(room_id, "m.room.member", user_id)
            if current is None or current.membership != "join":
                continue
            content = {k: v for k, v in current.content.items() if k not in _MEMBER_PROFILE_FIELDS}
            if user.displayname is not None:
                content["displayname"] = user.displayname
            if user.avatar_url is not None:
                content["avatar_url"] = user.avatar_url
            if content == current.content:
                continue
            try:
                await self.pipeline.create_event(room_id, user_id, "m.room.member", content, state_key=user_id)
            except MatrixError as exc:
                log.warning("profile update of %s not sent to %s: %s", user_id, room_id, exc.error)


def _password_stage_name(auth: dict) -> str | None:
    """The user named by an m.login.password stage: an m.id.user identifier, or legacy `user`."""
    identifier = auth.get("identifier")
    if isinstance(identifier, dict):
        if identifier.get("type") != "m.id.user" or not isinstance(identifier.get("user"), str):
            return None
        return identifier["user"]
    legacy = auth.get("user")
    return legacy if isinstance(legacy, str) else None


def _check_password_shape(password: str) -> None:
    if not password:
        raise MissingParam("Missing password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidParam("Password too long")


def _optional_str(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadJson(f"{key} must be a string")
    return value


def _uia_body(flows: list[list[str]], session: UiaSession) -> dict:
    body: dict[str, Any] = {"flows": [{"stages": flow} for flow in flows], "params": {},
                            "session": session.session_id}
    if session.completed:
        body["completed"] = list(session.completed)
    return body


def _token_fields(issued: IssuedTokens) -> dict:
    fields: dict[str, Any] = {"access_token": issued.access_token, "device_id": issued.device_id}
    if issued.refresh_token is not None:
        fields["refresh_token"] = issued.refresh_token
    if issued.expires_in_ms is not None:
        fields["expires_in_ms"] = issued.expires_in_ms
    return fields


def _device_json(device: Device) -> dict:
    out: dict[str, Any] = {"device_id": device.device_id}
    if device.display_name is not None:
        out["display_name"] = device.display_name
    if device.last_seen_ip is not None:
        out["last_seen_ip"] = device.last_seen_ip
    if device.last_seen_ts is not None:
        out["last_seen_ts"] = device.last_seen_ts
    return out
