"""Identifier grammar (appendices.md "Identifier Grammar").

Two levels of strictness for user IDs: what we accept from others (`parse_user_id`, the
historical grammar: any code point but `:`, NUL and surrogates, even an empty localpart) and
what we allow when creating a user (`is_valid_user_localpart`, the current grammar).
"""
from __future__ import annotations

import ipaddress
import re
import secrets
import string

from .room_versions import EventIdFormat, RoomVersion

MAX_ID_BYTES = 255

_USER_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")
_DNS_NAME = re.compile(r"[A-Za-z0-9\-.]{1,255}")
_PORT = re.compile(r"[0-9]{1,5}")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]{2,45}")
# A reference hash (32 bytes) in unpadded base64 is 43 characters.
_HASH_STANDARD = re.compile(r"[A-Za-z0-9+/]{43}")
_HASH_URL_SAFE = re.compile(r"[A-Za-z0-9\-_]{43}")

_ALPHANUMERIC = string.ascii_letters + string.digits


def is_valid_server_name(name: str) -> bool:
    """`hostname [":" port]`, where hostname is a DNS name, IPv4 literal or [IPv6] literal."""
    if name.startswith("["):
        end = name.find("]")
        if end < 0:
            return False
        host, rest = name[1:end], name[end + 1:]
        if not _IPV6_CHARS.fullmatch(host) or not _is_ipv6(host):
            return False
    else:
        host, colon, port = name.partition(":")
        rest = colon + port
        # An IPv4 literal also matches dns-name, so one pattern covers both.
        if not _DNS_NAME.fullmatch(host):
            return False
    if rest:
        return rest[0] == ":" and bool(_PORT.fullmatch(rest[1:]))
    return True


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def is_valid_user_localpart(localpart: str) -> bool:
    """The current grammar, required of user IDs we create: `a-z 0-9 . _ = - / +`, not empty."""
    return bool(_USER_LOCALPART.fullmatch(localpart))


def parse_user_id(user_id: str) -> tuple[str, str]:
    """(localpart, server_name) of a user ID, accepting historical localparts.

    Raises ValueError if it is not a user ID at all.
    """
    localpart, server_name = _split_sigil_id(user_id, "@")
    return localpart, server_name


def is_valid_user_id(user_id: str) -> bool:
    """True if `user_id` parses (historical grammar).

    New users must also pass `is_valid_user_localpart`.
    """
    try:
        parse_user_id(user_id)
    except ValueError:
        return False
    return True


def is_valid_room_alias(alias: str) -> bool:
    """`#localpart:server_name`, at most 255 bytes. We require a non-empty localpart."""
    try:
        localpart, _ = _split_sigil_id(alias, "#")
    except ValueError:
        return False
    return localpart != ""


def is_valid_room_id(room_id: str, version: RoomVersion | None = None) -> bool:
    """`!opaque:server_name`, or from room version 12 `!` + the create event's hash.

    Without `version`, either form is accepted.
    """
    if not room_id.startswith("!") or not _fits(room_id):
        return False
    hashed = version is None or version.event_format.room_id_is_create_hash
    domained = version is None or not version.event_format.room_id_is_create_hash
    if hashed and _HASH_URL_SAFE.fullmatch(room_id[1:]):
        return True
    return domained and _is_domain_id(room_id, "!")


def is_valid_event_id(event_id: str, version: RoomVersion | None = None) -> bool:
    """`$opaque:server_name` (v1, v2), `$` + base64 hash (v3) or URL-safe base64 hash (v4+).

    Without `version`, any of the three is accepted.
    """
    if not event_id.startswith("$") or not _fits(event_id):
        return False
    formats = {version.event_ids} if version else set(EventIdFormat)
    rest = event_id[1:]
    return (
        (EventIdFormat.V1 in formats and _is_domain_id(event_id, "$"))
        or (EventIdFormat.V3 in formats and bool(_HASH_STANDARD.fullmatch(rest)))
        or (EventIdFormat.V4 in formats and bool(_HASH_URL_SAFE.fullmatch(rest)))
    )


def server_name_of(identifier: str) -> str:
    """The server name after the first `:` of a user ID, alias, or v1-style room or event ID.

    Raises ValueError for identifiers that have no domain (hash-based event and room IDs).
    """
    _, sep, server_name = identifier.partition(":")
    if not sep or not is_valid_server_name(server_name):
        raise ValueError(f"{identifier!r} has no server name")
    return server_name


def make_room_id(server_name: str) -> str:
    """A new `!opaque:server_name` room ID, for room versions 1–11.

    From room version 12 the room ID is derived from the create event: see
    `room_id_for_create_event`.
    """
    return f"!{_random_alphanumeric(18)}:{server_name}"


def room_id_for_create_event(create_event_id: str) -> str:
    """The room ID of a room version 12+ room: its create event's ID with the `!` sigil."""
    if not create_event_id.startswith("$"):
        raise ValueError(f"{create_event_id!r} is not an event ID")
    return "!" + create_event_id[1:]


def make_v1_event_id(server_name: str) -> str:
    """A new `$opaque:server_name` event ID for room versions 1 and 2, where the origin
    server chooses the ID (later versions derive it from the event's reference hash)."""
    return f"${_random_alphanumeric(18)}:{server_name}"


def _random_alphanumeric(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def _fits(identifier: str) -> bool:
    return len(identifier.encode("utf-8", "surrogatepass")) <= MAX_ID_BYTES


def _is_domain_id(identifier: str, sigil: str) -> bool:
    try:
        _split_sigil_id(identifier, sigil)
    except ValueError:
        return False
    return True


def _split_sigil_id(identifier: str, sigil: str) -> tuple[str, str]:
    """(localpart, server_name) of `<sigil>localpart:server_name`, historical grammar.

    The localpart may be any code points except `:`, NUL and surrogates (possibly empty); the
    whole identifier is at most 255 bytes of UTF-8.
    """
    if not identifier.startswith(sigil):
        raise ValueError(f"{identifier!r} does not start with {sigil!r}")
    if not _fits(identifier):
        raise ValueError(f"{identifier!r} is longer than {MAX_ID_BYTES} bytes")
    localpart, sep, server_name = identifier[1:].partition(":")
    if not sep:
        raise ValueError(f"{identifier!r} has no server name")
    if "\0" in localpart or any("\ud800" <= c <= "\udfff" for c in localpart):
        raise ValueError(f"{identifier!r} has a NUL or surrogate in its localpart")
    if not is_valid_server_name(server_name):
        raise ValueError(f"{identifier!r} has an invalid server name")
    return localpart, server_name
