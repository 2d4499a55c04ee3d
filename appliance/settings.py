"""One settings model for the whole server.

Precedence: defaults < values stored in the database by the wizard / web UI < `HEARTH_*`
environment variables. The database layer is applied by `Settings.apply_stored()` at start-up
(and when the wizard or web UI stores a value); a field set explicitly, through a `HEARTH_*`
variable or the constructor, always wins over the stored value.
"""
from __future__ import annotations

import json
from pathlib import Path
import ipaddress
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEARTH_", extra="ignore")
    _explicit: frozenset[str] = PrivateAttr(default=frozenset())

    server_name: str = Field("hearth.local", description="The name in every user ID; never changes.")
    data_dir: Path = Field(Path("./data"), description="SQLite file, signing key and media.")
    bind: str = Field("0.0.0.0:8008", description="host:port the HTTP server listens on.")
    registration: Literal["open", "token", "closed"] = "token"
    public_baseurl: str | None = Field(
        None, description="The URL clients use to reach us (confirmed in the setup wizard; derived if unset).")
    lan_discovery: bool = Field(True, description="Advertise the web UI on the LAN over mDNS (_http._tcp).")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Reverse proxies (addresses or CIDRs, comma-separated) whose "
                                          "Forwarded / X-Forwarded-For headers name the client; none by default.")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="More host names the web pages answer to (comma-separated), besides "
                                          "the server name, hearth.local, the public URL's host and localhost.")

    # Limits (spec: events larger than 65,536 bytes are refused).
    max_event_bytes: int = 65536
    max_request_bytes: int = 1024 * 1024
    rate_limit_per_second: float = Field(10.0, description="Sustained requests/s per user or IP.")
    rate_limit_burst: int = Field(50, description="Burst size of the per-user/IP rate limiter.")
    login_rate_per_second: float = 0.5
    login_rate_burst: int = 10
    # Password guesses per account (and for the setup code), from any address (login_throttle.py).
    login_failures_per_second: float = Field(
        0.17, description="After the first few, one password try per account every ~6 s (Synapse's rate).")
    login_failures_burst: int = Field(3, description="Password tries per account before slowing down.")
    login_lockout_failures: int = Field(
        10, description="Failed password tries in a row that lock the account's sign-in for a while; 0 = never.")
    login_lockout_minutes: float = Field(15.0, gt=0, description="How long such a lock lasts.")
    registration_rate_per_second: float = Field(0.17, description="Registration requests per address (own bucket).")
    registration_rate_burst: int = Field(20, description="Burst of the per-address registration limiter.")

    refresh_access_token_lifetime_ms: int = Field(
        5 * 60 * 1000, description="Lifetime of access tokens issued with a refresh token (others never expire)."
    )

    # Media (content repository). An SD card is small: a size limit per file and a quota per user.
    max_upload_bytes: int = Field(50 * 1024 * 1024, description="Largest file a user may upload.")
    media_quota_bytes: int = Field(1024 * 1024 * 1024, description="Total media one user may upload; 0 = none.")
    freeze_legacy_media: bool = Field(
        True, description="Media uploaded while on is served only by the authenticated /client/v1/media API.")
    url_previews: bool = Field(False, description="Fetch web pages for link previews (never LAN addresses).")

    default_room_version: str = "12"
    cache_budget_bytes: int = 32 * 1024 * 1024
    sync_timeout_max_ms: int = 60_000
    presence_enabled: bool = Field(True, description="Share online/away/offline with people in your rooms.")
    presence_idle_after_s: float = Field(
        300.0, gt=0, description="Seconds without a message or other activity before someone shows as away.")
    presence_offline_after_s: float = Field(
        30.0, gt=0, description="Seconds after a client's longest /sync long-poll before it shows as offline.")
    notification_retention_days: float = Field(
        30.0, gt=0, description="Read notifications (/notifications) older than this are deleted; unread ones stay.")
    notification_prune_interval_hours: float = Field(6.0, gt=0, description="Hours between notification prunes.")
    members_can_invite: bool = Field(False, description="Family members (not only admins) may make invite codes.")
    registration_shared_secret_enabled: bool = Field(
        False, description="Serve /_synapse/admin/v1/register: whoever holds the secret "
                           "(`hearth registration-secret show`) may create accounts, admins included.")

    # Durability and backups (issue 5).
    min_free_mb: int = Field(16, description="Refuse to start with less free space in data_dir (room for the WAL).")
    backup_dir: Path | None = Field(None, description="Folder for scheduled backups (a USB drive, a share).")
    backup_interval_hours: float = Field(24.0, description="Hours between scheduled backups.")
    backup_keep: int = Field(7, description="How many scheduled backups to keep in backup_dir.")

    @field_validator("trusted_proxies", "allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for entry in v:
            ipaddress.ip_network(entry, strict=False)  # ValueError: not an address or CIDR
        return v

    def model_post_init(self, context: Any) -> None:
        # Fields given by the environment or the constructor: the operator's choice, never overridden.
        self._explicit = frozenset(self.model_fields_set)

    @property
    def explicit_fields(self) -> frozenset[str]:
        return self._explicit

    def apply_stored(self, stored: dict[str, str]) -> list[str]:
        """Take stored values (`key` -> JSON) for the fields not set explicitly; returns those taken.

        Keys that are not fields (another part's settings, wizard progress) and values that no
        longer validate are left alone: the stored row stays, the default applies.
        """
        taken = []
        for key, raw in stored.items():
            field = type(self).model_fields.get(key)
            if field is None or key in self._explicit:
                continue
            try:
                value = TypeAdapter(field.annotation).validate_python(json.loads(raw))
            except (ValueError, ValidationError):
                continue
            object.__setattr__(self, key, value)  # not recorded as explicitly set
            taken.append(key)
        return taken

    @property
    def database_path(self) -> Path:
        return self.data_dir / "hearth.db"

    @property
    def signing_key_path(self) -> Path:
        return self.data_dir / "signing.key"

    @property
    def registration_secret_path(self) -> Path:
        return self.data_dir / "registration_shared_secret"

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.bind.rpartition(":")
        return (host.strip("[]") or "0.0.0.0", int(port))

    def base_url(self) -> str:
        """The URL clients use: the one configured or confirmed in the wizard, else derived from
        the machine (public_address: its .local name or LAN address, never "0.0.0.0")."""
        if self.public_baseurl:
            return self.public_baseurl.rstrip("/")
        from .public_address import derived_base_url

        host, port = self.host_port
        return derived_base_url(host, port, self.lan_discovery)
