"""Profiles (profile.yaml): display name, avatar and custom fields (m.tz, namespaced keys).

Display name and avatar live on the account and are copied into the user's m.room.member
events (Membership.refresh_profile sends the new ones); other fields are stored as canonical
JSON beside them. A profile is at most 64 KiB.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ...protocol import ids
from ...protocol.canonical_json import encode_canonical_json
from ...protocol.errors import (
    BadJson, Forbidden, GuestAccessForbidden, InvalidParam, KeyTooLarge, MissingParam, NotFound, ProfileTooLarge,
)
from ...storage.stores.accounts import AccountStore
from ..auth import Requester
from ..appservices.queries import AppServiceQueries
from ..rooms.membership import PROFILE_FIELDS, Membership

MAX_DISPLAYNAME_LENGTH = 256
MAX_PROFILE_BYTES = 64 * 1024
MAX_PROFILE_KEY_BYTES = 255
_PROFILE_KEY = re.compile(r"avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_MXC = re.compile(r"mxc://[A-Za-z0-9.\-:\[\]]+/[A-Za-z0-9_\-]+")
_MEMBER_PROFILE_FIELDS = PROFILE_FIELDS


class Profiles:
    def __init__(self, server_name: str, accounts: AccountStore, membership: Membership,
                 queries: AppServiceQueries):
        self.server_name = server_name
        self.accounts = accounts
        self.membership = membership
        self.queries = queries  # a bridge's ghost that does not exist yet is made when asked for

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
        if user is None and server == self.server_name and await self.queries.user_exists(user_id):
            user = await self.accounts.get_user(user_id)
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
            await self.membership.refresh_profile(user_id)
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
        await self.membership.refresh_profile(user_id)

    async def delete_profile_field(self, me: Requester, user_id: str, key: str) -> None:
        self._check_profile_write(me, user_id, key)
        await self._profile_user(user_id)
        if key in _MEMBER_PROFILE_FIELDS:
            await self.accounts.set_profile_field(user_id, key, None)
            await self.membership.refresh_profile(user_id)
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
