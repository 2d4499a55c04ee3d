"""Application service registrations (application-service-api.md "Registration"): parsing,
checking, and which users, aliases and rooms a registration claims. Pure: no I/O.

A registration names namespaces of user IDs, room aliases and room IDs by regular expression.
Matching follows the reference server: a regex matches when it matches at the start of the ID
(`re.match`), so `@_irc_.*` and `^@_irc_.*:example\\.org$` both work as their authors expect.
The sender (`@sender_localpart:server`) is always the registration's own.

Unstable keys that current bridges send and that Hearth honours: `de.sorunome.msc2409.push_ephemeral`
(the old name of `receive_ephemeral`), `org.matrix.msc3202` (device lists and one-time key counts
in transactions), `io.element.msc4190` (device management by the appservice).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import ids

KINDS = ("users", "aliases", "rooms")
MAX_REGEX_LENGTH = 1024
MAX_TOKEN_LENGTH = 512


class RegistrationError(ValueError):
    """A registration that cannot be served; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class Namespace:
    regex: str
    exclusive: bool
    pattern: re.Pattern[str] = field(compare=False, repr=False)

    def matches(self, value: str) -> bool:
        return self.pattern.match(value) is not None


@dataclass(frozen=True, slots=True)
class Registration:
    id: str
    url: str | None
    as_token: str
    hs_token: str
    sender_localpart: str
    users: tuple[Namespace, ...]
    aliases: tuple[Namespace, ...]
    rooms: tuple[Namespace, ...]
    rate_limited: bool
    protocols: tuple[str, ...]
    receive_ephemeral: bool
    device_lists: bool       # MSC3202: device list changes and one-time key counts in transactions
    device_management: bool  # MSC4190: devices made and deleted by the appservice without UIA
    source: dict[str, Any] = field(compare=False, repr=False)  # as written (kept for download)

    def sender(self, server_name: str) -> str:
        return f"@{self.sender_localpart}:{server_name}"

    def namespaces(self, kind: str) -> tuple[Namespace, ...]:
        return {"users": self.users, "aliases": self.aliases, "rooms": self.rooms}[kind]

    def claims(self, kind: str, value: str, *, exclusive_only: bool = False) -> bool:
        """Whether `value` (a user ID, alias or room ID) is in one of this registration's
        namespaces of `kind` (only the exclusive ones if asked)."""
        return any(ns.matches(value) for ns in self.namespaces(kind) if ns.exclusive or not exclusive_only)

    def is_user(self, user_id: str, server_name: str) -> bool:
        """The sender or a local user in a user namespace: someone this appservice may act as."""
        if user_id == self.sender(server_name):
            return True
        return user_id.endswith(":" + server_name) and self.claims("users", user_id)


def parse_registration(data: Any, server_name: str) -> Registration:
    """A registration (the decoded YAML or JSON object) → Registration, or RegistrationError."""
    if not isinstance(data, dict):
        raise RegistrationError("A registration is a map of keys to values (YAML or JSON).")
    for key in ("id", "as_token", "hs_token", "sender_localpart"):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise RegistrationError(f"The registration needs `{key}` (a non-empty string).")
    if len(data["id"]) > 255:
        raise RegistrationError("`id` is longer than 255 characters.")
    for key in ("as_token", "hs_token"):
        if len(data[key]) > MAX_TOKEN_LENGTH or not data[key].isprintable() or " " in data[key]:
            raise RegistrationError(f"`{key}` must be up to {MAX_TOKEN_LENGTH} printable characters without spaces.")
    if data["as_token"] == data["hs_token"]:
        raise RegistrationError("`as_token` and `hs_token` must differ.")
    if "url" not in data:
        raise RegistrationError("The registration needs `url` (the appservice's address, or null).")
    url = data["url"]
    if url is not None:
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            raise RegistrationError("`url` must be an http:// or https:// address, or null.")
        url = url.rstrip("/")
    localpart = data["sender_localpart"]
    if not ids.is_valid_user_localpart(localpart) and not _is_historical_localpart(localpart):
        raise RegistrationError("`sender_localpart` is not a valid user name.")
    if len(f"@{localpart}:{server_name}") > 255:
        raise RegistrationError("`sender_localpart` makes a user ID longer than 255 bytes.")
    namespaces = data.get("namespaces")
    if not isinstance(namespaces, dict):
        raise RegistrationError("The registration needs `namespaces` (with `users`, `aliases`, `rooms` lists).")
    parsed = {kind: _namespace_list(namespaces.get(kind), kind) for kind in KINDS}
    protocols = data.get("protocols") or []
    if not isinstance(protocols, list) or not all(isinstance(p, str) and p for p in protocols):
        raise RegistrationError("`protocols` must be a list of names.")
    rate_limited = data.get("rate_limited", True)
    if not isinstance(rate_limited, bool):
        raise RegistrationError("`rate_limited` must be true or false.")
    return Registration(
        id=data["id"], url=url, as_token=data["as_token"], hs_token=data["hs_token"], sender_localpart=localpart,
        users=parsed["users"], aliases=parsed["aliases"], rooms=parsed["rooms"], rate_limited=rate_limited,
        protocols=tuple(protocols),
        receive_ephemeral=_flag(data, "receive_ephemeral", "de.sorunome.msc2409.push_ephemeral", "push_ephemeral"),
        device_lists=_flag(data, "org.matrix.msc3202", "device_lists"),
        device_management=_flag(data, "io.element.msc4190", "device_management"),
        source=data,
    )


def overlaps(new: Registration, existing: Registration) -> str | None:
    """Why two registrations cannot both be served, or None: the same id or token, or an
    exclusive namespace of one written exactly as a namespace of the other (regexes cannot be
    compared in general; the same text, or one's sender in the other's exclusive namespace,
    are the clashes people make)."""
    if new.id == existing.id:
        return f"An appservice with the id {new.id!r} is already installed."
    if new.as_token in (existing.as_token, existing.hs_token) or new.hs_token in (existing.as_token, existing.hs_token):
        return f"Its tokens are the same as those of {existing.id!r}: each appservice needs its own."
    if new.sender_localpart == existing.sender_localpart:
        return f"Its bot user (sender_localpart {new.sender_localpart!r}) is already the bot of {existing.id!r}."
    for kind in KINDS:
        mine = {ns.regex: ns for ns in new.namespaces(kind)}
        for ns in existing.namespaces(kind):
            other = mine.get(ns.regex)
            if other is not None and (other.exclusive or ns.exclusive):
                return f"The {kind[:-1]} namespace {ns.regex!r} is already claimed by {existing.id!r}."
    return None


def _namespace_list(value: Any, kind: str) -> tuple[Namespace, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RegistrationError(f"`namespaces.{kind}` must be a list.")
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("regex"), str) or not item["regex"]:
            raise RegistrationError(f"Each entry of `namespaces.{kind}` needs a `regex` (a string).")
        exclusive = item.get("exclusive", False)
        if not isinstance(exclusive, bool):
            raise RegistrationError(f"`exclusive` in `namespaces.{kind}` must be true or false.")
        regex = item["regex"]
        if len(regex) > MAX_REGEX_LENGTH:
            raise RegistrationError(f"A regex in `namespaces.{kind}` is longer than {MAX_REGEX_LENGTH} characters.")
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise RegistrationError(f"The regex {regex!r} in `namespaces.{kind}` is not valid: {exc}.") from None
        out.append(Namespace(regex, exclusive, pattern))
    return tuple(out)


def _flag(data: dict[str, Any], *keys: str) -> bool:
    for key in keys:
        value = data.get(key)
        if isinstance(value, bool):
            return value
    return False


def _is_historical_localpart(localpart: str) -> bool:
    """Bridges made before the strict grammar still use capitals in a few bot names."""
    return bool(re.fullmatch(r"[!-9;-~]+", localpart))
