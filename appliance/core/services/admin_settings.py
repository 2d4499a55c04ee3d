"""The settings an admin changes after setup: who may join, presence, media limits, link previews,
whether family members may invite people themselves, the server's address (public_baseurl),
shared-secret registration and the monitoring figures (/_hearth/metrics).

Stored through the stored-settings service (defaults < stored < `HEARTH_*`), then applied to the
running services at once, so a change needs no restart. A field the operator's environment sets
is shown but cannot be changed here (the environment would win anyway).
"""
from __future__ import annotations

from typing import Any

from .presence import PresenceService
from .server_settings import ServerSettingsService

EDITABLE = ("registration", "presence_enabled", "max_upload_bytes", "media_quota_bytes", "url_previews",
            "members_can_invite", "public_baseurl", "registration_shared_secret_enabled", "metrics_enabled")


class AdminSettingsService:
    def __init__(self, settings, server_settings: ServerSettingsService, presence: PresenceService):
        self.settings = settings
        self.server_settings = server_settings
        self.presence = presence

    def current(self) -> dict[str, Any]:
        return {key: getattr(self.settings, key) for key in EDITABLE}

    def locked(self) -> tuple[str, ...]:
        """The fields the operator's environment decides."""
        return tuple(k for k in EDITABLE if self.server_settings.overridden(k))

    async def update(self, values: dict[str, Any]) -> list[str]:
        """Store the changed values and apply them; returns the keys the environment overrides."""
        unknown = set(values) - set(EDITABLE)
        if unknown:
            raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
        changed = {k: v for k, v in values.items() if k not in self.locked()}
        overridden = await self.server_settings.store_values(changed) if changed else []
        self.apply_live()
        return overridden

    def apply_live(self) -> None:
        """Push the stored settings into the services that keep a copy. The content repository
        and link previews need nothing: they read the settings at each use (groups/media.py)."""
        self.presence.enabled = self.settings.presence_enabled
