"""Signing in and out (login.yaml, refresh.yaml, logout.yaml) and passwords (password_management.yaml):
a password change or reset ends the account's web sessions and, if asked, signs devices out."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ...protocol.errors import (
    BadJson, Forbidden, MatrixError, MissingParam, MissingToken, NotFound, UserDeactivated,
)
from ...storage.stores.accounts import AccountStore, now_ms
from ..auth import AuthService, ClientInfo, IssuedTokens, Requester, new_device_id
from .devices import Devices
from .names import AccountNames
from .passwords import PasswordCheck, check_password_shape
from .uia import PASSWORD, UserInteractiveAuth

CredentialsChanged = Callable[[str], Awaitable[object]]
APPSERVICE = "m.login.application_service"


class Login:
    def __init__(self, settings, accounts: AccountStore, auth: AuthService, names: AccountNames,
                 passwords: PasswordCheck, uia: UserInteractiveAuth, devices: Devices,
                 credentials_changed: CredentialsChanged):
        self.settings = settings
        self.accounts = accounts
        self.auth = auth
        self.names = names
        self.passwords = passwords
        self.uia = uia
        self.devices = devices
        # Called after a password change or reset and after deactivation, to end every web
        # session of the account: credentials_changed(user_id). A failure propagates.
        self._credentials_changed = credentials_changed

    @property
    def server_name(self) -> str:
        return self.settings.server_name

    async def authenticate(self, name: str, password: str) -> str:
        """A user name and password → the user ID (web sign-in); see PasswordCheck.authenticate."""
        return await self.passwords.authenticate(name, password)

    def login_flows(self) -> list[dict]:
        return [{"type": PASSWORD}, {"type": APPSERVICE}]

    async def login(self, body: dict, client: ClientInfo, me: Requester | None = None) -> dict:
        """`me`: the caller, when the request carried a token (an appservice's, for
        m.login.application_service)."""
        login_type = body.get("type")
        if login_type == APPSERVICE:
            return await self._login_as_appservice(body, client, me)
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
        user_id = await self.passwords.authenticate(name, password)
        issued = await self.sign_in(user_id, device_id, display_name, refresh, client)
        return {"user_id": user_id, "home_server": self.server_name, **token_fields(issued),
                "well_known": {"m.homeserver": {"base_url": self.settings.base_url()}}}

    async def _login_as_appservice(self, body: dict, client: ClientInfo, me: Requester | None) -> dict:
        appservice = self.names.appservices.get(me.appservice_id) if me and me.appservice_id else None
        if appservice is None:
            raise MissingToken("Logging in as an application service needs its as_token")
        identifier = body.get("identifier")
        name = identifier.get("user") if isinstance(identifier, dict) else body.get("user")
        if not isinstance(name, str) or not name:
            raise MissingParam("Missing identifier.user")
        user_id = self.names.user_id_for(name)
        self.names.appservices.check_claims(appservice, "users", user_id)
        user = await self.accounts.get_user(user_id)
        if user is None:
            raise Forbidden(f"{user_id} has not been registered")
        if user.deactivated:
            raise UserDeactivated("This account has been deactivated")
        refresh = body.get("refresh_token", False)
        if not isinstance(refresh, bool):
            raise BadJson("refresh_token must be a boolean")
        issued = await self.sign_in(user_id, _optional_str(body, "device_id"),
                                    _optional_str(body, "initial_device_display_name"), refresh, client)
        return {"user_id": user_id, "home_server": self.server_name, **token_fields(issued),
                "well_known": {"m.homeserver": {"base_url": self.settings.base_url()}}}

    async def sign_in(self, user_id: str, device_id: str | None, display_name: str | None, refresh: bool,
                       client: ClientInfo) -> IssuedTokens:
        """Issue tokens for a device, creating it if new; reusing a device ID signs its old tokens out."""
        if device_id is not None and await self.accounts.get_device(user_id, device_id) is not None:
            for token_hash in await self.accounts.delete_device_tokens(user_id, device_id):
                self.auth.forget_token(token_hash)
            await self.accounts.touch_device(user_id, device_id, client.ip, now_ms())
        else:
            device_id = device_id or new_device_id()
            await self.devices.add(user_id, device_id, display_name, client.ip)
        return await self.auth.issue_tokens(user_id, device_id, refresh=refresh)

    async def refresh(self, refresh_token: str) -> dict:
        issued = await self.auth.refresh(refresh_token)
        return {"access_token": issued.access_token, "refresh_token": issued.refresh_token,
                "expires_in_ms": issued.expires_in_ms}

    async def logout(self, me: Requester) -> None:
        await self.devices.delete(me.user_id, [me.device_id])

    async def logout_all(self, me: Requester) -> None:
        await self.devices.delete(me.user_id, await self.accounts.device_ids(me.user_id))
        self.auth.forget_user(me.user_id)

    async def reset_password(self, name: str, password: str) -> None:
        """Set a new password and sign every device out."""
        user_id = self.names.user_id_for(name)
        user = await self.accounts.get_user(user_id)
        if user is None:
            raise NotFound(f"No such user {user_id}")
        if user.deactivated:
            raise UserDeactivated("This account has been deactivated")
        await self.set_password(user_id, password, logout_devices=True)

    async def change_password(self, me: Requester | None, auth: Any, new_password: str,
                              logout_devices: bool) -> None:
        request_key = "POST /account/password" + (f" {me.user_id}" if me else "")
        session = await self.uia.run(auth, [[PASSWORD]], request_key,
                                                   user_id=me.user_id if me else None)
        user_id = me.user_id if me else session.result["user_id"]
        check_password_shape(new_password)
        await self.set_password(user_id, new_password, logout_devices=logout_devices,
                                keep_device=me.device_id if me else None)
        await self.uia.finish(session.session_id)

    async def set_password(self, user_id: str, new_password: str, *, logout_devices: bool,
                           keep_device: str | None = None) -> None:
        """Every password change and reset ends here (Matrix API, admin API and pages, /me, CLI):
        the new hash; every web session of the account ends; with `logout_devices`, every device
        but `keep_device` (the one asking, for the Matrix API) is signed out."""
        check_password_shape(new_password)
        await self.accounts.set_password_hash(user_id, await self.auth.hash_password(new_password))
        await self.credentials_changed(user_id)
        if logout_devices:
            await self.devices.delete(user_id, [d for d in await self.accounts.device_ids(user_id)
                                                 if d != keep_device])
            if keep_device is None:
                self.auth.forget_user(user_id)

    async def credentials_changed(self, user_id: str) -> None:
        await self._credentials_changed(user_id)


def _optional_str(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadJson(f"{key} must be a string")
    return value


def token_fields(issued: IssuedTokens) -> dict:
    fields: dict[str, Any] = {"access_token": issued.access_token, "device_id": issued.device_id}
    if issued.refresh_token is not None:
        fields["refresh_token"] = issued.refresh_token
    if issued.expires_in_ms is not None:
        fields["expires_in_ms"] = issued.expires_in_ms
    return fields
