"""Power levels: who the room's creators are, what level a user has, what level an action needs.

Values are read as the event's room version allows (spec "v1-stringy-power-levels" and
"v1-floaty-power-levels"): v1–v9 accept integers and strings holding an integer, v1–v5 also
floats (truncated); v10+ accept integers only. A value that cannot be read counts as absent,
so the default applies; the auth rules decide whether such an event may enter the room at all.

Room creators (v12) have an infinite power level, returned as ``float("inf")``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .events import Pdu
from .room_versions import RoomVersion

# The levels named at the top level of m.room.power_levels content, and their defaults
# whether or not the room has a power levels event (client-server spec, m.room.power_levels).
NAMED_LEVEL_DEFAULTS: dict[str, int] = {
    "users_default": 0,
    "events_default": 0,
    "state_default": 50,
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
}
NOTIFICATION_LEVEL_DEFAULTS: dict[str, int] = {"room": 50}
CREATOR_LEVEL_WITHOUT_POWER_LEVELS = 100  # v1–v11: the creator, while there is no PL event

Level = int | float  # float only for float("inf"): a v12 room creator

# "v1-stringy-power-levels": optional whitespace, one optional sign, base-10 digits.
_STRINGY = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)


def parse_level(value: Any, version: RoomVersion) -> int | None:
    """The integer a power level value stands for in this room version, or None if invalid."""
    if isinstance(value, bool):  # JSON true/false are not numbers
        return None
    if isinstance(value, int):
        return value
    if version.auth.integer_power_levels:
        return None
    if isinstance(value, str):
        return int(value) if _STRINGY.fullmatch(value) else None
    if isinstance(value, float) and not version.event_format.strict_canonical_json:
        # "v1-floaty-power-levels": truncate; Infinity and NaN make the value invalid.
        return int(value) if math.isfinite(value) else None
    return None


def creators(create_event: Pdu | None) -> set[str]:
    """The room's creators: `content.creator` (v1–v10), the create event's sender (v11+),
    plus `content.additional_creators` (v12)."""
    if create_event is None:
        return set()
    auth = create_event.room_version.auth
    content = create_event.content
    if not auth.creator_is_create_sender:
        creator = content.get("creator")
        return {creator} if isinstance(creator, str) else set()
    out = {create_event.sender}
    extra = content.get("additional_creators")
    if auth.privileged_creators and isinstance(extra, list):
        out.update(u for u in extra if isinstance(u, str))
    return out


def is_privileged_creator(user_id: str, create_event: Pdu | None) -> bool:
    """Whether the user is a v12 room creator, whose power level is infinite."""
    return (
        create_event is not None
        and create_event.room_version.auth.privileged_creators
        and user_id in creators(create_event)
    )


def get_named_level(power_levels: Pdu | None, name: str) -> int:
    """`ban`, `kick`, `redact`, `invite`, `users_default`, `events_default` or `state_default`."""
    default = NAMED_LEVEL_DEFAULTS[name]
    if power_levels is None:
        return default
    level = parse_level(power_levels.content.get(name), power_levels.room_version)
    return default if level is None else level


def get_user_power_level(user_id: str, power_levels: Pdu | None, create_event: Pdu | None) -> Level:
    """The user's power level: infinite for v12 creators, else `users`, else `users_default`;
    without a power levels event, 100 for the creator and 0 for everyone else."""
    if is_privileged_creator(user_id, create_event):
        return math.inf
    if power_levels is None:
        return CREATOR_LEVEL_WITHOUT_POWER_LEVELS if user_id in creators(create_event) else 0
    users = power_levels.content.get("users")
    if isinstance(users, dict) and user_id in users:
        level = parse_level(users[user_id], power_levels.room_version)
        if level is not None:
            return level
    return get_named_level(power_levels, "users_default")


def get_required_level(power_levels: Pdu | None, event_type: str, state_key: str | None) -> int:
    """The level needed to send an event of this type: `events[type]`, else `state_default`
    for state events (state_key is not None) or `events_default` for the rest."""
    if power_levels is not None:
        events = power_levels.content.get("events")
        if isinstance(events, dict) and event_type in events:
            level = parse_level(events[event_type], power_levels.room_version)
            if level is not None:
                return level
    return get_named_level(
        power_levels, "state_default" if state_key is not None else "events_default"
    )


def get_notification_level(power_levels: Pdu | None, key: str) -> int:
    """The level needed to trigger a notification of this kind (`room` for @room)."""
    default = NOTIFICATION_LEVEL_DEFAULTS.get(key, 50)
    if power_levels is None:
        return default
    notifications = power_levels.content.get("notifications")
    if isinstance(notifications, dict) and key in notifications:
        level = parse_level(notifications[key], power_levels.room_version)
        if level is not None:
            return level
    return default


# Questions the rest of the server asks before building an event. The auth rules remain the
# authority; these answer them early, for error messages and for clients' capabilities.


def can_send(
    user_id: str,
    event_type: str,
    state_key: str | None,
    power_levels: Pdu | None,
    create_event: Pdu | None,
) -> bool:
    """Whether the user's level reaches the level for sending this event type."""
    level = get_user_power_level(user_id, power_levels, create_event)
    return level >= get_required_level(power_levels, event_type, state_key)


def can_invite(user_id: str, power_levels: Pdu | None, create_event: Pdu | None) -> bool:
    return get_user_power_level(user_id, power_levels, create_event) >= get_named_level(
        power_levels, "invite"
    )


def _can_act_on(
    action: str, user_id: str, target: str, power_levels: Pdu | None, create_event: Pdu | None
) -> bool:
    mine = get_user_power_level(user_id, power_levels, create_event)
    theirs = get_user_power_level(target, power_levels, create_event)
    return mine >= get_named_level(power_levels, action) and theirs < mine


def can_kick(user_id: str, target: str, power_levels: Pdu | None, create_event: Pdu | None) -> bool:
    """At least the kick level and strictly above the target."""
    return _can_act_on("kick", user_id, target, power_levels, create_event)


def can_ban(user_id: str, target: str, power_levels: Pdu | None, create_event: Pdu | None) -> bool:
    """At least the ban level and strictly above the target."""
    return _can_act_on("ban", user_id, target, power_levels, create_event)


def can_redact(
    user_id: str, original_sender: str, power_levels: Pdu | None, create_event: Pdu | None
) -> bool:
    """Whether the user may have someone's event redacted: always their own (given they may
    send m.room.redaction at all, which the auth rules check), others' at the `redact` level."""
    if user_id == original_sender:
        return True
    return get_user_power_level(user_id, power_levels, create_event) >= get_named_level(
        power_levels, "redact"
    )


def normalised_power_levels(pl: Pdu) -> dict[str, Any]:
    """Power levels content with every level read as its room version reads it and written as
    an integer, so that it is valid in any room version (v10+ accept integers only)."""
    version = pl.room_version
    out: dict[str, Any] = {}
    for key, value in pl.content.items():
        if key in NAMED_LEVEL_DEFAULTS:
            level = parse_level(value, version)
            if level is not None:
                out[key] = level
        elif key in ("users", "events", "notifications"):
            if isinstance(value, dict):
                levels = {k: parse_level(v, version) for k, v in value.items()}
                out[key] = {k: v for k, v in levels.items() if v is not None}
        else:
            out[key] = value
    return out
