"""Forms shared by the setup wizard and the admin's Settings page: who may create an account,
and the everyday features (presence, upload sizes, link previews). The wizard shows them as two
of its steps; the Settings page shows both at once (webui/admin_pages.py `SettingsForm`).
"""
from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator


class JoinStep(BaseModel):
    registration: Literal["token", "open", "closed"] = Field(
        "token", title="Who may create an account?",
        json_schema_extra={"choices": {
            "token": ("People with an invite code (recommended)",
                      "You hand out codes; each one works for a few people and expires."),
            "open": ("Anyone who can reach the server", "Fine on a home network nobody else uses."),
            "closed": ("Nobody: I create the accounts", "You make every account yourself in the admin pages."),
        }})
    public_baseurl: str | None = Field(
        None, title="Server address", max_length=200,
        description="What your family's apps use to reach Hearth; invites and QR codes carry it. "
                    "Worked out from how this box is reached: change it if phones use another address.",
        json_schema_extra={"placeholder": "http://hearth.local:8008", "inputmode": "url", "autocomplete": "off",
                           "autocapitalize": "none", "spellcheck": "false", "say_limit": False})

    @field_validator("public_baseurl")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        v = (v or "").strip().rstrip("/")
        if not v:
            return None
        if "://" not in v:
            v = "http://" + v
        parts = urlsplit(v)
        try:
            parts.port
        except ValueError:
            parts = None
        if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.path
                or parts.query or parts.fragment or parts.username or parts.password):
            raise ValueError("An address looks like http://hearth.local:8008 or https://chat.example.org")
        return f"{parts.scheme}://{parts.netloc.lower()}"


class FeaturesStep(BaseModel):
    presence_enabled: bool = Field(True, title="Show who is online",
                                   description="People in a room see whether the others are online or away.")
    max_upload_mb: int = Field(50, ge=1, le=4096, title="Largest file someone can send",
                               description="Photos and videos bigger than this are refused.",
                               json_schema_extra={"unit": "MB", "inputmode": "numeric"})
    media_quota_mb: int = Field(1024, ge=0, le=10_000_000, title="Storage for each person's files",
                                description="0 means no limit. A memory card fills up: keep a limit.",
                                json_schema_extra={"unit": "MB", "inputmode": "numeric"})
    url_previews: bool = Field(False, title="Link previews",
                               description="Hearth fetches the pages people link to, to show a preview. "
                                           "Off by default: it tells those sites someone here shared the link.")

    def settings_values(self) -> dict[str, Any]:
        """As stored settings (the keys of Settings)."""
        return {"presence_enabled": self.presence_enabled, "max_upload_bytes": self.max_upload_mb * 1024 * 1024,
                "media_quota_bytes": self.media_quota_mb * 1024 * 1024, "url_previews": self.url_previews}
