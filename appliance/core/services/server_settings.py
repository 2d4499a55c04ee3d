"""Stored settings (DESIGN decision 8): defaults < what the wizard / web UI stored < `HEARTH_*`.

Values are stored as JSON under the settings field's name. A key that is not (yet) a field of
`Settings` — another part's setting that has not landed, a bridge's settings — is stored all the
same and read by whoever owns it. The server name is stored once, when setup fixes it, and is
never changed afterwards.
"""
from __future__ import annotations

import json
import logging
import re
import sqlite3
from typing import Any


from ..protocol import ids
from ..protocol.errors import Forbidden, InvalidParam
from ..storage.stores.server_settings import ServerSettingsStore

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SERVER_NAME = "server_name"


class ServerNameFixed(RuntimeError):
    """The environment names the server differently from the name fixed at setup."""


def is_setting_key(key: str) -> bool:
    return "." not in key


class ServerSettingsService:
    def __init__(self, settings, store: ServerSettingsStore):
        self.settings = settings
        self.store = store

    def load_job(self, conn: sqlite3.Connection) -> list[str]:
        """At start-up, before any service reads the settings: take the stored values."""
        stored = {k: v for k, v in ServerSettingsStore.load_job(conn).items() if is_setting_key(k)}
        fixed = stored.get(SERVER_NAME)
        if fixed is not None and SERVER_NAME in self.settings.explicit_fields:
            if json.loads(fixed) != self.settings.server_name:
                raise ServerNameFixed(
                    f"This server was set up as {json.loads(fixed)!r}; the server name never changes, "
                    f"but HEARTH_SERVER_NAME says {self.settings.server_name!r}")
        taken = self.settings.apply_stored(stored)
        if taken:
            log.info("stored settings in use: %s", ", ".join(sorted(taken)))
        return taken

    def overridden(self, key: str) -> bool:
        """True when the operator's environment decides this field (stored values are ignored)."""
        return key in self.settings.explicit_fields

    async def stored(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in (await self.store.get_many()).items() if is_setting_key(k)}

    def _encode(self, key: str, value: Any) -> str:
        if not _KEY.fullmatch(key):
            raise InvalidParam(f"{key!r} is not a settings key")
        field = type(self.settings).model_fields.get(key)
        if field is not None:
            from pydantic import TypeAdapter, ValidationError  # on a settings change, not at start-up

            try:
                value = TypeAdapter(field.annotation).validate_python(value)
            except ValidationError as exc:
                raise InvalidParam(f"{key}: {exc.errors()[0]['msg']}") from None
            return TypeAdapter(field.annotation).dump_json(value).decode()
        try:
            return json.dumps(value)
        except (TypeError, ValueError):
            raise InvalidParam(f"{key}: not a JSON value") from None

    async def store_values(self, values: dict[str, Any]) -> list[str]:
        """Validate and store; the running server takes them unless the environment decides.

        Returns the keys whose stored value has no effect because the environment sets them.
        """
        if SERVER_NAME in values:
            raise Forbidden("The server name is chosen once, at setup, and never changes")
        encoded = {key: self._encode(key, value) for key, value in values.items()}
        await self.store.set_many(encoded)
        self.settings.apply_stored(encoded)
        return sorted(k for k in encoded if self.overridden(k))

    async def server_name_fixed(self) -> str | None:
        raw = await self.store.get(SERVER_NAME)
        return json.loads(raw) if raw is not None else None

    async def check_server_name(self, name: str) -> bool:
        """Raises unless `name` may become the server name; True if it differs from the running one.

        Refused when a name was fixed already, when the operator's environment names the server
        otherwise, or when accounts or rooms exist under another name.
        """
        if not ids.is_valid_server_name(name):
            raise InvalidParam(f"{name!r} is not a valid server name")
        fixed = await self.server_name_fixed()
        if fixed is not None:
            if fixed != name:
                raise Forbidden(f"The server name is already {fixed} and never changes")
            return False
        if self.overridden(SERVER_NAME) and name != self.settings.server_name:
            raise Forbidden(f"The operator set the server name to {self.settings.server_name}")
        renamed = name != self.settings.server_name
        if renamed:
            if await self.store.has_accounts_or_rooms():
                raise Forbidden(f"This server already has accounts or rooms as {self.settings.server_name}; "
                                "its name can no longer change")
        return renamed

    async def fix_server_name(self, name: str) -> bool:
        """Fix the server name for good (setup). Returns True if it differs from the running name."""
        renamed = await self.check_server_name(name)
        encoded = {SERVER_NAME: json.dumps(name)}
        await self.store.set_many(encoded)
        self.settings.apply_stored(encoded)
        return renamed
