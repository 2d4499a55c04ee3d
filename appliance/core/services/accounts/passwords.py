"""Checking a password (Matrix login, UIA's m.login.password, web sign-in) and the password rules."""
from __future__ import annotations

from ...protocol.errors import Forbidden, InvalidParam, InvalidUsername, MissingParam, UserDeactivated, UserLocked
from ...storage.stores.accounts import AccountStore
from ..auth import AuthService
from ..login_throttle import LoginThrottle
from .names import AccountNames

MAX_PASSWORD_LENGTH = 512


class PasswordCheck:
    def __init__(self, accounts: AccountStore, auth: AuthService, names: AccountNames,
                 login_throttle: LoginThrottle):
        self.accounts = accounts
        self.auth = auth
        self.names = names
        self.login_throttle = login_throttle

    async def authenticate(self, name: str, password: str) -> str:
        """A user name (localpart or user ID) and password → the user ID (Matrix login and UIA,
        web sign-in). Raises Forbidden, UserDeactivated, or LimitExceeded while the account is
        throttled (login_throttle.py: per account, from any address).

        A password hash is checked for unknown and deactivated accounts too, so that the time
        taken does not tell which accounts exist."""
        user_id = await self.names.resolve_login_user(name)
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
            return self.names.user_id_for(name).lower()
        except InvalidUsername:
            return "?" + name.lower()[:256]


def check_password_shape(password: str) -> None:
    if not password:
        raise MissingParam("Missing password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidParam("Password too long")
