"""One settings model for the whole server.

Precedence: defaults < values stored in the database by the wizard / web UI < `HEARTH_*`
environment variables. The database layer is applied by `Settings.apply_stored()` at start-up
(and when the wizard or web UI stores a value); a field set explicitly, through a `HEARTH_*`
variable or the constructor, always wins over the stored value.

Plain Python, not pydantic-settings: every field is a scalar (str, int, float, bool, a path, a
choice, or one of those or None), and reading them needs no more than the coercions below.
pydantic-settings (with python-dotenv and its CLI and cloud sources) and pydantic itself cost a
start-up ~9 MiB and ~60 ms before the first request needs either. The pydantic-style surface the
rest of the code uses is kept: `model_fields` (with `.annotation`, `.default`, `.description`),
`model_fields_set`, `model_copy(update=)` and `model_dump(mode=)`. Lax coercion as pydantic does
it: "16" is an int, "false"/"0"/"no"/"off" a bool, a string a path; a bad value is a
`SettingsError` naming the field (and its environment variable).
"""
from __future__ import annotations

import json
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal

ENV_PREFIX = "HEARTH_"
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


class SettingsError(ValueError):
    """A setting's value does not fit its type."""


class FieldInfo:
    """One setting: its type, default, bounds and description."""

    __slots__ = ("name", "annotation", "default", "description", "gt", "ge")

    def __init__(self, default: Any, description: str | None = None, *, gt: float | None = None,
                 ge: float | None = None) -> None:
        self.name = ""
        self.annotation: Any = None
        self.default = default
        self.description = description
        self.gt = gt
        self.ge = ge

    def validate(self, value: Any) -> Any:
        value = _coerce(self.annotation, value, self.name)
        if self.gt is not None and value is not None and not value > self.gt:
            raise SettingsError(f"{self.name}: must be greater than {self.gt}")
        if self.ge is not None and value is not None and not value >= self.ge:
            raise SettingsError(f"{self.name}: must be at least {self.ge}")
        return value

    def __repr__(self) -> str:
        return f"FieldInfo({self.name}: {self.annotation!r} = {self.default!r})"


def Field(default: Any, *, description: str | None = None, gt: float | None = None,  # noqa: N802
          ge: float | None = None) -> Any:
    return FieldInfo(default, description, gt=gt, ge=ge)


def _coerce(tp: Any, value: Any, name: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise SettingsError(f"{name}: must be one of {', '.join(map(repr, typing.get_args(tp)))}, not {value!r}")
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, name)
            except SettingsError as exc:
                errors.append(str(exc))
        raise SettingsError("; ".join(errors) or f"{name}: invalid value {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise SettingsError(f"{name}: must be true or false, not {value!r}")
    if tp is int:
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise SettingsError(f"{name}: must be an integer, not {value!r}")
    if tp is float:
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise SettingsError(f"{name}: must be a number, not {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise SettingsError(f"{name}: must be a string, not {value!r}")
    if tp is Path:
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
        raise SettingsError(f"{name}: must be a path, not {value!r}")
    raise TypeError(f"setting {name}: unsupported type {tp!r}")


class _SettingsBase:
    """The machinery; `Settings` below declares the fields (annotation = default or Field(...))."""

    model_fields: typing.ClassVar[dict[str, FieldInfo]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hints = typing.get_type_hints(cls)
        fields: dict[str, FieldInfo] = {}
        for name in cls.__annotations__:
            if name.startswith("_") or typing.get_origin(hints[name]) is typing.ClassVar:
                continue
            value = cls.__dict__.get(name)
            info = value if isinstance(value, FieldInfo) else FieldInfo(value)
            info.name, info.annotation = name, hints[name]
            fields[name] = info
            if name in cls.__dict__:
                delattr(cls, name)  # instances hold the values
        cls.model_fields = fields

    def __init__(self, **values: Any) -> None:
        fields = type(self).model_fields
        given: dict[str, Any] = {}
        environ = {k.upper(): v for k, v in os.environ.items() if k[:len(ENV_PREFIX)].upper() == ENV_PREFIX}
        for name in fields:
            env = environ.get(ENV_PREFIX + name.upper())
            if env is not None:
                try:
                    given[name] = fields[name].validate(env)
                except SettingsError as exc:
                    raise SettingsError(f"{ENV_PREFIX}{name.upper()}: {exc}") from None
        for name, value in values.items():  # the constructor wins over the environment
            if name in fields:
                given[name] = fields[name].validate(value)
        for name, info in fields.items():
            object.__setattr__(self, name, given[name] if name in given else info.default)
        object.__setattr__(self, "_fields_set", frozenset(given))
        self.model_post_init(None)

    def model_post_init(self, context: Any) -> None:
        pass

    @property
    def model_fields_set(self) -> set[str]:
        return set(self._fields_set)

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        """A copy with `update` applied as is (not validated, as pydantic's model_copy)."""
        import copy

        new = object.__new__(type(self))
        state = copy.deepcopy(self.__dict__) if deep else dict(self.__dict__)
        state.update(update or {})
        state["_fields_set"] = frozenset(self._fields_set | set(update or ()))
        new.__dict__.update(state)
        return new

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        values = {name: getattr(self, name) for name in type(self).model_fields}
        if mode == "json":
            values = {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}
        return values

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.model_dump() == other.model_dump()  # type: ignore[union-attr]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.model_dump().items())})"


class Settings(_SettingsBase):
    _explicit: frozenset[str] = frozenset()

    server_name: str = Field("hearth.local", description="The name in every user ID; never changes.")
    data_dir: Path = Field(Path("./data"), description="SQLite file, signing key and media.")
    bind: str = Field("0.0.0.0:8008", description="host:port the HTTP server listens on.")
    registration: Literal["open", "token", "closed"] = "token"
    public_baseurl: str | None = Field(None, description="The URL clients use to reach us.")
    lan_discovery: bool = Field(True, description="Advertise the web UI on the LAN over mDNS (_http._tcp).")

    # Limits (spec: events larger than 65,536 bytes are refused).
    max_event_bytes: int = 65536
    max_request_bytes: int = 1024 * 1024
    rate_limit_per_second: float = Field(10.0, description="Sustained requests/s per user or IP.")
    rate_limit_burst: int = Field(50, description="Burst size of the per-user/IP rate limiter.")
    login_rate_per_second: float = 0.5
    login_rate_burst: int = 10

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

    # Durability and backups (issue 5).
    min_free_mb: int = Field(16, description="Refuse to start with less free space in data_dir (room for the WAL).")
    backup_dir: Path | None = Field(None, description="Folder for scheduled backups (a USB drive, a share).")
    backup_interval_hours: float = Field(24.0, description="Hours between scheduled backups.")
    backup_keep: int = Field(7, description="How many scheduled backups to keep in backup_dir.")

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
                value = field.validate(json.loads(raw))
            except ValueError:  # SettingsError, or not JSON
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
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.bind.rpartition(":")
        return (host.strip("[]") or "0.0.0.0", int(port))

    def base_url(self) -> str:
        if self.public_baseurl:
            return self.public_baseurl.rstrip("/")
        host, port = self.host_port
        if host in ("0.0.0.0", "::"):
            host = "localhost"
        return f"http://{host}:{port}"
