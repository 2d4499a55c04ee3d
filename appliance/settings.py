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

from pydantic import Field, PrivateAttr, SecretStr, TypeAdapter, ValidationError, field_validator, model_validator
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
    bridges_enabled: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="In-process bridges to run (comma-separated ids, e.g. irc); when set, "
                                          "this decides over what the admin pages chose.")
    bridge_call_timeout_s: float = Field(
        15.0, gt=0, description="Seconds a bridge plugin has to handle an event or a command before it counts as hung.")
    metrics_enabled: bool = Field(
        False, description="Serve /_hearth/metrics (Prometheus text) to admins' access tokens and to the LAN.")
    registration_shared_secret_enabled: bool = Field(
        False, description="Serve /_synapse/admin/v1/register: whoever holds the secret "
                           "(`hearth registration-secret show`) may create accounts, admins included.")

    # Durability and backups (issue 5).
    min_free_mb: int = Field(16, description="Refuse to start with less free space in data_dir (room for the WAL).")
    backup_dir: Path | None = Field(None, description="Folder for scheduled backups (a USB drive, a share).")
    backup_interval_hours: float = Field(24.0, description="Hours between scheduled backups.")
    backup_keep: int = Field(7, description="How many scheduled backups to keep in backup_dir.")

    # Federation (issue 18). Off keeps everything local: no listener, no outbound requests.
    federation_enabled: bool = Field(False, description="Talk to other Matrix servers (off: everything stays local).")
    federation_bind: str = Field("0.0.0.0:8448", description="host:port of the federation listener (TLS).")
    federation_tls_cert: Path | None = Field(None, description="Certificate chain (PEM) of the federation listener.")
    federation_tls_key: Path | None = Field(None, description="Private key (PEM) of the federation listener.")
    federation_ca_bundle: Path | None = Field(
        None, description="CA certificates (PEM) trusted for peers; unset: the system's trust store.")
    federation_verify_tls: bool = Field(
        True, description="Check peers' certificates. False is for tests only and is logged loudly.")
    federation_allow_private_peers: bool = Field(
        False, description="Contact peers on loopback or private addresses (refused by default, as for URL previews).")
    federation_allowed_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Only these servers (comma-separated, `*` globs) may federate; empty: all.")
    federation_denied_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Servers (comma-separated, `*` globs) never federated with.")
    federation_presence: bool = Field(
        False, description="Tell other servers who of ours is online, and show theirs (off: presence stays at home).")

    # Reaching Hearth from outside the home (issue 18): a certificate from an ACME CA, TLS listeners.
    reach_mode: Literal["lan", "domain", "dyndns"] = Field(
        "lan", description="lan: only at home; domain: your own domain; dyndns: a free dynamic-DNS name.")
    reach_domain: str | None = Field(None, description="The name Hearth is reached by from outside (chat.example.org).")
    acme_challenge: Literal["http-01", "dns-01"] = Field(
        "http-01", description="How the CA checks the name: http-01 (port 80 forwarded) or dns-01 (a DNS provider).")
    reach_dns_provider: Literal["desec", "duckdns", "cloudflare", "challtestsrv"] | None = Field(
        None, description="The DNS provider for dns-01 and dynamic-DNS names.")
    reach_dns_token: SecretStr | None = Field(
        None, description="The DNS provider's API token (else the one stored from the admin page).")
    reach_dns_api_url: str | None = Field(
        None, description="Another API address for the DNS provider (the test DNS server's management URL).")
    acme_directory_url: str = Field(
        "https://acme-v02.api.letsencrypt.org/directory", description="The ACME CA's directory (Let's Encrypt).")
    acme_ca_bundle: Path | None = Field(None, description="CA certificates (PEM) trusted for the ACME CA (tests).")
    acme_email: str | None = Field(None, description="Contact address given to the CA (expiry warnings).")
    acme_renew_days: float = Field(30.0, gt=0, description="Renew the certificate this many days before it expires.")
    acme_check_interval_s: float = Field(
        6 * 3600.0, gt=0, description="Seconds between checks whether the certificate needs renewing.")
    tls_bind: str = Field("0.0.0.0:8443", description="host:port of the HTTPS listener (the router's 443 comes here).")
    reach_http_port: int = Field(80, description="The public port the CA and the self-test use for HTTP (80).")
    reach_https_port: int = Field(443, description="The public HTTPS port the self-test checks (443).")
    reach_federation_port: int = Field(8448, description="The public federation port the self-test checks (8448).")
    reach_dns_resolver: str | None = Field(
        None, description="A DNS server (host:port) for the self-test's lookups; unset: the system's.")
    reach_ip_echo_url: str | None = Field(
        "https://checkipv4.dedyn.io/", description="Answers the home's internet address (the self-test); empty: none.")

    @field_validator("federation_allowed_servers", "federation_denied_servers", "bridges_enabled", mode="before")
    @classmethod
    def _server_lists(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [part.strip().lower() for part in v.split(",") if part.strip()]
        return v

    @model_validator(mode="after")
    def _federation_tls_pair(self) -> Settings:
        if (self.federation_tls_cert is None) != (self.federation_tls_key is None):
            raise ValueError("federation_tls_cert and federation_tls_key go together: set both or neither")
        return self

    def federation_warnings(self) -> list[str]:
        """What start-up says loudly about the federation settings (logged and printed)."""
        if not self.federation_enabled:
            return []
        out = []
        if not self.federation_verify_tls:
            out.append("FEDERATION TLS VERIFICATION IS OFF (HEARTH_FEDERATION_VERIFY_TLS=false): any server can "
                       "impersonate any other. This is for tests only; never run a real server like this.")
        if self.federation_allow_private_peers:
            out.append("Federation may contact servers on loopback and private addresses "
                       "(HEARTH_FEDERATION_ALLOW_PRIVATE_PEERS=true).")
        return out

    @property
    def tls_host_port(self) -> tuple[str, int]:
        host, _, port = self.tls_bind.rpartition(":")
        return (host.strip("[]") or "0.0.0.0", int(port))

    @property
    def tls_dir(self) -> Path:
        """The certificate from the ACME CA and its key (hypercorn reads files)."""
        return self.data_dir / "tls"

    @property
    def federation_host_port(self) -> tuple[str, int]:
        host, _, port = self.federation_bind.rpartition(":")
        return (host.strip("[]") or "0.0.0.0", int(port))

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
