"""Authorisation rules for room versions 1–12 (spec: rooms/v*.md "Authorisation rules").

`check_auth` is given the state it judges the event against and never fetches anything. It
raises `AuthFailure` naming the rule that failed. There is one small function per event
type. Comments number the steps as in the v12 text (v1–v11 number them one lower from rule 2
on); the rules that v12 no longer has carry their number in the v1 fragment (aliases, rule 4,
v1–v5; redaction, rule 11, v1–v2).

Two checks of the spec need keys and therefore live with signature checking, not here:
"events must be signed by the server denoted by `sender`" and, for restricted joins, "signed
by the homeserver of `join_authorised_via_users_server`". `servers_required_to_sign` lists the
servers whose signatures the caller must verify.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from unpaddedbase64 import decode_base64

from .events import Pdu, StateKey
from .ids import is_valid_user_id
from .power_levels import (
    NAMED_LEVEL_DEFAULTS,
    Level,
    creators,
    get_named_level,
    get_required_level,
    get_user_power_level,
    parse_level,
)
from .room_versions import KNOWN, RoomVersion
from .signing import SignatureError, verify_json_signature

CREATE: StateKey = ("m.room.create", "")
POWER_LEVELS: StateKey = ("m.room.power_levels", "")
JOIN_RULES: StateKey = ("m.room.join_rules", "")


class AuthFailure(Exception):
    """The event is not allowed. The message names the rule: "member/join: sender is banned"."""


# --- auth events selection (server-server-api.md "Auth events selection") -------------------


def auth_types_for_event(
    version: RoomVersion,
    event_type: str,
    state_key: str | None,
    sender: str,
    content: Mapping[str, Any],
) -> list[StateKey]:
    """The (type, state_key) pairs an event's auth_events are chosen from, in a stable order."""
    if event_type == "m.room.create":
        return []
    out: list[StateKey] = []
    if version.auth.create_event_in_auth_events:
        out.append(CREATE)
    out += [POWER_LEVELS, ("m.room.member", sender)]
    if event_type == "m.room.member" and isinstance(state_key, str):
        membership = content.get("membership")
        out.append(("m.room.member", state_key))
        if membership in ("join", "invite", "knock"):
            out.append(JOIN_RULES)
        if membership == "invite":
            token = _third_party_invite_token(content)
            if token is not None:
                out.append(("m.room.third_party_invite", token))
        authoriser = content.get("join_authorised_via_users_server")
        if membership == "join" and version.auth.restricted_join and isinstance(authoriser, str):
            out.append(("m.room.member", authoriser))
    return list(dict.fromkeys(out))  # the sender may also be the target or the authoriser


def _third_party_invite_token(content: Mapping[str, Any]) -> str | None:
    tpi = content.get("third_party_invite")
    signed = tpi.get("signed") if isinstance(tpi, dict) else None
    token = signed.get("token") if isinstance(signed, dict) else None
    return token if isinstance(token, str) else None


def check_auth_event_selection(event: Pdu, auth_events: Sequence[Pdu]) -> None:
    """Rules 3.1–3.2 (v12; 2.1–2.2 before): the event's own auth_events list has no duplicate
    (type, state_key) and nothing outside the selection. Only meaningful for the events the
    PDU lists; `check_auth` covers the other auth_events rules."""
    if event.type == "m.room.create":
        return
    allowed = set(
        auth_types_for_event(
            event.room_version, event.type, event.state_key, event.sender, event.content
        )
    )
    seen: set[StateKey] = set()
    for auth_event in auth_events:
        key = (auth_event.type, auth_event.state_key or "")
        if auth_event.state_key is None or key in seen:
            raise AuthFailure(f"auth_events: duplicate or non-state entry {key}")
        if key not in allowed:
            raise AuthFailure(f"auth_events: {key} is not selected for this event")
        seen.add(key)


def servers_required_to_sign(event: Pdu) -> set[str]:
    """Servers whose signature the event must carry: the sender's, the event ID's in v1–v2,
    and the authorising user's for a restricted join (v8+)."""
    servers = {_domain(event.sender)}
    if event.room_version.event_format.event_id_in_event:
        servers.add(_domain(event.event_id))
    authoriser = event.content.get("join_authorised_via_users_server")
    if (
        event.room_version.auth.restricted_join
        and event.membership == "join"
        and isinstance(authoriser, str)
    ):
        servers.add(_domain(authoriser))
    return servers


# --- the rules ------------------------------------------------------------------------------


def check_auth(
    event: Pdu, auth_events: Mapping[StateKey, Pdu], *, create_event: Pdu | None = None
) -> None:
    """Raise AuthFailure unless the event is allowed against `auth_events`.

    `auth_events` may be the whole state before the event or just its auth events: only the
    entries the auth events selection picks are looked at. From v12 the create event is not
    one of them and comes in `create_event` (or under ("m.room.create", "") in auth_events).
    """
    version = event.room_version
    # 1. m.room.create
    if event.type == "m.room.create":
        _check_create(event)
        return

    create = create_event if create_event is not None else auth_events.get(CREATE)
    state = _select(event, auth_events)
    # 2. (v12) the room ID is the create event's ID; before v12: 2.4 a create event is among
    # the auth events. Either way we need one, accepted, for this room.
    if create is None:
        raise AuthFailure("auth_events: no m.room.create event")
    if create.type != "m.room.create" or create.rejected:
        raise AuthFailure("auth_events: the m.room.create event is rejected or not a create event")
    # 3.3, 3.5 (2.3, 2.5 before v12): no rejected auth event, none from another room.
    for auth_event in (create, *state.values()):
        if auth_event.rejected:
            raise AuthFailure(f"auth_events: {auth_event.event_id} was rejected")
        if auth_event.room_id != event.room_id:
            raise AuthFailure(f"auth_events: {auth_event.event_id} is from another room")

    # 4. m.federate
    if create.content.get("m.federate", True) is False and _domain(event.sender) != _domain(
        create.sender
    ):
        raise AuthFailure("federate: room is not federated and sender is from another server")

    # v1–v5, rule 4: m.room.aliases is judged by the sender's domain alone.
    if event.type == "m.room.aliases" and version.auth.special_case_aliases:
        _check_aliases(event)
        return

    # 5. m.room.member
    if event.type == "m.room.member":
        _check_member(event, state, create)
        return

    # 6. The sender must be joined.
    if _membership(state, event.sender) != "join":
        raise AuthFailure("joined: sender is not joined to the room")

    power_levels = state.get(POWER_LEVELS)
    sender_level = get_user_power_level(event.sender, power_levels, create)

    # 7. m.room.third_party_invite needs the invite level.
    if event.type == "m.room.third_party_invite":
        if sender_level < get_named_level(power_levels, "invite"):
            raise AuthFailure("third_party_invite: sender is below the invite level")
        return

    # 8. The event type's required power level.
    required = get_required_level(power_levels, event.type, event.state_key)
    if sender_level < required:
        raise AuthFailure(
            f"power: sending {event.type} needs level {required}, sender has {sender_level}"
        )

    # 9. A state key starting with @ is reserved to that user.
    if (
        isinstance(event.state_key, str)
        and event.state_key.startswith("@")
        and event.state_key != event.sender
    ):
        raise AuthFailure("state_key: a state key starting with @ must be the sender")

    # 10. m.room.power_levels
    if event.type == "m.room.power_levels":
        _check_power_levels(event, power_levels, sender_level, create)
        return

    # v1–v2, rule 11: m.room.redaction needs the redact level or the same event ID domain.
    if event.type == "m.room.redaction" and version.auth.redaction_domain_check_in_auth:
        _check_redaction(event, power_levels, sender_level)
        return

    # 11. Otherwise, allow.


def _select(event: Pdu, auth_events: Mapping[StateKey, Pdu]) -> dict[StateKey, Pdu]:
    keys = auth_types_for_event(
        event.room_version, event.type, event.state_key, event.sender, event.content
    )
    return {key: auth_events[key] for key in keys if key in auth_events}


# 1. m.room.create


def _check_create(event: Pdu) -> None:
    version = event.room_version
    # 1.1 No prev_events.
    if event.prev_event_ids:
        raise AuthFailure("create: has prev_events")
    # 1.2 v12: no room_id (it is derived from the event ID); before: room_id domain = sender's.
    if version.event_format.room_id_is_create_hash:
        if "room_id" in event.data:
            raise AuthFailure("create: has a room_id")
    elif _domain(event.data.get("room_id")) != _domain(event.sender):
        raise AuthFailure("create: room_id domain does not match sender")
    # 1.3 A recognised room_version, if given.
    content = event.content
    if "room_version" in content and content["room_version"] not in KNOWN:
        raise AuthFailure("create: unknown room_version")
    # 1.4 (v1–v10) content.creator is required.
    if not version.auth.creator_is_create_sender and "creator" not in content:
        raise AuthFailure("create: no creator")
    # 1.4 (v12) additional_creators, if present, is a list of valid user IDs.
    if version.auth.privileged_creators and "additional_creators" in content:
        extra = content["additional_creators"]
        if not isinstance(extra, list) or not all(_is_user_id(u) for u in extra):
            raise AuthFailure("create: additional_creators is not a list of user IDs")
    # 1.5 Otherwise, allow.


# v1–v5, rule 4: m.room.aliases


def _check_aliases(event: Pdu) -> None:
    # 4.1 A state key is required.
    if event.state_key is None:
        raise AuthFailure("aliases: no state_key")
    # 4.2 The state key is the sender's domain.
    if event.state_key != _domain(event.sender):
        raise AuthFailure("aliases: state_key is not the sender's domain")
    # 4.3 Otherwise, allow.


# 5. m.room.member


def _check_member(event: Pdu, state: Mapping[StateKey, Pdu], create: Pdu) -> None:
    # 5.1 A state_key and a membership are required.
    membership = event.membership
    if not isinstance(event.state_key, str) or not isinstance(membership, str):
        raise AuthFailure("member: no state_key or no membership")
    # 5.2 (v8+) join_authorised_via_users_server's signature: see servers_required_to_sign.
    auth = event.room_version.auth
    if membership == "join":
        _check_join(event, state, create)  # 5.3
    elif membership == "invite":
        _check_invite(event, state, create)  # 5.4
    elif membership == "leave":
        _check_leave(event, state, create)  # 5.5
    elif membership == "ban":
        _check_ban(event, state, create)  # 5.6
    elif membership == "knock" and auth.knocking:
        _check_knock(event, state)  # 5.7 (v7+)
    else:
        # 5.8 Otherwise, the membership is unknown.
        raise AuthFailure(f"member: unknown membership {membership!r}")


def _check_join(event: Pdu, state: Mapping[StateKey, Pdu], create: Pdu) -> None:
    auth = event.room_version.auth
    target = event.state_key
    # 5.3.1 The creator's join straight after the create event.
    if event.prev_event_ids == [create.event_id] and target == _original_creator(create):
        return
    # 5.3.2 Only the user can join themselves.
    if event.sender != target:
        raise AuthFailure("member/join: sender is not the state_key")
    # 5.3.3 Banned users cannot join.
    current = _membership(state, target)
    if current == "ban":
        raise AuthFailure("member/join: user is banned")
    join_rule = _join_rule(state)
    # 5.3.4 invite (or knock, v7+): only the invited or already joined.
    if join_rule == "invite" or (join_rule == "knock" and auth.knocking):
        if current in ("invite", "join"):
            return
        raise AuthFailure(f"member/join: join rule is {join_rule} and user is not invited")
    # 5.3.5 restricted (v8+) or knock_restricted (v10+).
    if (join_rule == "restricted" and auth.restricted_join) or (
        join_rule == "knock_restricted" and auth.knock_restricted_join
    ):
        _check_restricted_join(event, state, create, current)
        return
    # 5.3.6 public
    if join_rule == "public":
        return
    # 5.3.7 Otherwise, reject.
    raise AuthFailure(f"member/join: join rule {join_rule!r} does not allow joining")


def _check_restricted_join(
    event: Pdu, state: Mapping[StateKey, Pdu], create: Pdu, current: str | None
) -> None:
    # 5.3.5.1 Already joined or invited.
    if current in ("join", "invite"):
        return
    # 5.3.5.2 Otherwise a joined user able to invite must have authorised the join.
    authoriser = event.content.get("join_authorised_via_users_server")
    if not isinstance(authoriser, str):
        raise AuthFailure("member/join: restricted room and no join_authorised_via_users_server")
    if _membership(state, authoriser) != "join":
        raise AuthFailure("member/join: join_authorised_via_users_server is not joined")
    power_levels = state.get(POWER_LEVELS)
    if get_user_power_level(authoriser, power_levels, create) < get_named_level(
        power_levels, "invite"
    ):
        raise AuthFailure("member/join: join_authorised_via_users_server cannot invite")
    # 5.3.5.3 Otherwise, allow.


def _check_invite(event: Pdu, state: Mapping[StateKey, Pdu], create: Pdu) -> None:
    target = event.state_key
    target_membership = _membership(state, target)
    # 5.4.1 An invite for a third-party invite.
    if "third_party_invite" in event.content:
        _check_third_party_invite(event, state, target_membership)
        return
    # 5.4.2 The sender must be joined.
    if _membership(state, event.sender) != "join":
        raise AuthFailure("member/invite: sender is not joined")
    # 5.4.3 The target must not be joined or banned.
    if target_membership in ("join", "ban"):
        raise AuthFailure(f"member/invite: target is {target_membership}")
    # 5.4.4 The sender needs the invite level.
    power_levels = state.get(POWER_LEVELS)
    if get_user_power_level(event.sender, power_levels, create) < get_named_level(
        power_levels, "invite"
    ):
        # 5.4.5 Otherwise, reject.
        raise AuthFailure("member/invite: sender is below the invite level")


def _check_third_party_invite(
    event: Pdu, state: Mapping[StateKey, Pdu], target_membership: str | None
) -> None:
    # 5.4.1.1 The target must not be banned.
    if target_membership == "ban":
        raise AuthFailure("member/invite: target is banned")
    # 5.4.1.2–3 third_party_invite.signed with mxid and token.
    tpi = event.content["third_party_invite"]
    signed = tpi.get("signed") if isinstance(tpi, dict) else None
    if not isinstance(signed, dict):
        raise AuthFailure("member/invite: third_party_invite has no signed")
    if "mxid" not in signed or "token" not in signed:
        raise AuthFailure("member/invite: signed has no mxid or token")
    # 5.4.1.4 mxid is the state_key.
    if signed["mxid"] != event.state_key:
        raise AuthFailure("member/invite: signed mxid is not the state_key")
    # 5.4.1.5 The m.room.third_party_invite for the token.
    token = signed["token"]
    invite = state.get(("m.room.third_party_invite", token)) if isinstance(token, str) else None
    if invite is None:
        raise AuthFailure("member/invite: no m.room.third_party_invite for the token")
    # 5.4.1.6 Same sender as the m.room.third_party_invite.
    if invite.sender != event.sender:
        raise AuthFailure("member/invite: sender did not send the m.room.third_party_invite")
    # 5.4.1.7 A signature in `signed` by a public key of the m.room.third_party_invite.
    if _signed_by_any(signed, _third_party_public_keys(invite.content)):
        return
    # 5.4.1.8 Otherwise, reject.
    raise AuthFailure("member/invite: signed is not signed by the third_party_invite's keys")


def _check_leave(event: Pdu, state: Mapping[StateKey, Pdu], create: Pdu) -> None:
    target = event.state_key
    target_membership = _membership(state, target)
    # 5.5.1 Leaving oneself: from invite, join or (v7+) knock.
    if event.sender == target:
        can_leave = (
            ("invite", "join", "knock") if event.room_version.auth.knocking else ("invite", "join")
        )
        if target_membership in can_leave:
            return
        raise AuthFailure(f"member/leave: cannot leave from membership {target_membership!r}")
    # 5.5.2 Kicking or unbanning: the sender must be joined.
    if _membership(state, event.sender) != "join":
        raise AuthFailure("member/leave: sender is not joined")
    power_levels = state.get(POWER_LEVELS)
    sender_level = get_user_power_level(event.sender, power_levels, create)
    # 5.5.3 Unbanning needs the ban level.
    if target_membership == "ban" and sender_level < get_named_level(power_levels, "ban"):
        raise AuthFailure("member/leave: sender is below the ban level and target is banned")
    # 5.5.4 The kick level, and strictly above the target.
    if sender_level < get_named_level(power_levels, "kick"):
        raise AuthFailure("member/leave: sender is below the kick level")
    if get_user_power_level(target, power_levels, create) >= sender_level:
        # 5.5.5 Otherwise, reject.
        raise AuthFailure("member/leave: target's power level is not below the sender's")


def _check_ban(event: Pdu, state: Mapping[StateKey, Pdu], create: Pdu) -> None:
    # 5.6.1 The sender must be joined.
    if _membership(state, event.sender) != "join":
        raise AuthFailure("member/ban: sender is not joined")
    # 5.6.2 The ban level, and strictly above the target.
    power_levels = state.get(POWER_LEVELS)
    sender_level = get_user_power_level(event.sender, power_levels, create)
    if sender_level < get_named_level(power_levels, "ban"):
        raise AuthFailure("member/ban: sender is below the ban level")
    if get_user_power_level(event.state_key, power_levels, create) >= sender_level:
        # 5.6.3 Otherwise, reject.
        raise AuthFailure("member/ban: target's power level is not below the sender's")


def _check_knock(event: Pdu, state: Mapping[StateKey, Pdu]) -> None:
    # 5.7.1 The join rule is knock, or (v10+) knock_restricted.
    join_rule = _join_rule(state)
    knock_restricted = (
        join_rule == "knock_restricted" and event.room_version.auth.knock_restricted_join
    )
    if join_rule != "knock" and not knock_restricted:
        raise AuthFailure(f"member/knock: join rule {join_rule!r} does not allow knocking")
    # 5.7.2 Only the user can knock for themselves.
    if event.sender != event.state_key:
        raise AuthFailure("member/knock: sender is not the state_key")
    # 5.7.3 Not banned, invited or joined already.
    current = _membership(state, event.sender)
    if current in ("ban", "invite", "join"):
        # 5.7.4 Otherwise, reject.
        raise AuthFailure(f"member/knock: user is already {current}")


# 10. m.room.power_levels

_LEVEL_MAPS = ("events", "notifications")


def _check_power_levels(event: Pdu, current: Pdu | None, sender_level: Level, create: Pdu) -> None:
    version = event.room_version
    new = event.content
    # 10.1–10.3 The content's shape (v10+: integers only; before, `users` only).
    _check_power_levels_content(event)
    # 10.4 (v12) Creators cannot be listed in `users`.
    if version.auth.privileged_creators:
        listed = creators(create) & set(new.get("users", {}))
        if listed:
            raise AuthFailure(f"power_levels: users lists room creators {sorted(listed)}")
    # 10.5 The first power levels event is allowed.
    if current is None:
        return
    old = current.content
    # 10.6 Top-level levels added, changed or removed: neither old nor new above the sender.
    for name in NAMED_LEVEL_DEFAULTS:
        before, after = _level(old, name, version), _level(new, name, version)
        if before == after:
            continue
        if before is not None and before > sender_level:  # 10.6.1
            raise AuthFailure(
                f"power_levels: sender cannot change {name} from {before}, above their own"
            )
        if after is not None and after > sender_level:  # 10.6.2
            raise AuthFailure(f"power_levels: sender cannot set {name} to {after}, above their own")
    # 10.7–10.8 `events` and (v6+) `notifications` entries.
    maps = _LEVEL_MAPS if version.auth.notifications_power_level else _LEVEL_MAPS[:1]
    for field in maps:
        old_map, new_map = _map(old, field), _map(new, field)
        for key in set(old_map) | set(new_map):
            before, after = _level(old_map, key, version), _level(new_map, key, version)
            if before == after:
                continue
            if before is not None and before > sender_level:  # 10.7 changed or removed
                raise AuthFailure(
                    f"power_levels: sender cannot change {field}[{key}] from {before}"
                )
            if after is not None and after > sender_level:  # 10.8 added or changed
                raise AuthFailure(f"power_levels: sender cannot set {field}[{key}] to {after}")
    # 10.9–10.10 `users` entries.
    old_users, new_users = _map(old, "users"), _map(new, "users")
    for user in set(old_users) | set(new_users):
        before, after = _level(old_users, user, version), _level(new_users, user, version)
        if before == after:
            continue
        if user != event.sender and before is not None and before >= sender_level:  # 10.9
            raise AuthFailure(
                f"power_levels: sender cannot change the level of {user}, at or above their own"
            )
        if after is not None and after > sender_level:  # 10.10
            raise AuthFailure(
                f"power_levels: sender cannot raise {user} to {after}, above their own"
            )
    # 10.11 Otherwise, allow.


def _check_power_levels_content(event: Pdu) -> None:
    version = event.room_version
    content = event.content
    if version.auth.integer_power_levels:
        # 10.1 (v10+) Top-level levels are integers.
        for name in NAMED_LEVEL_DEFAULTS:
            if name in content and parse_level(content[name], version) is None:
                raise AuthFailure(f"power_levels: {name} is not an integer")
        # 10.2 (v10+) events and notifications map to integers.
        for field in _LEVEL_MAPS:
            if field in content and not _is_level_map(content[field], version):
                raise AuthFailure(f"power_levels: {field} is not an object of integers")
    elif not version.event_format.strict_canonical_json:
        # v1–v5 ("v1-floaty-power-levels"): Infinity, -Infinity and NaN reject the event.
        values = [content.get(name) for name in NAMED_LEVEL_DEFAULTS]
        for field in (*_LEVEL_MAPS, "users"):
            values += list(_map(content, field).values())
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise AuthFailure("power_levels: a level is not a finite number")
    # 10.3 users maps valid user IDs to integers (before v10: or integer strings; before v6:
    # or floats).
    if "users" in content:
        users = content["users"]
        if not _is_level_map(users, version) or not all(_is_user_id(u) for u in users):
            raise AuthFailure("power_levels: users is not an object of user IDs to integers")


def _is_level_map(value: Any, version: RoomVersion) -> bool:
    return isinstance(value, dict) and all(
        parse_level(v, version) is not None for v in value.values()
    )


def _map(content: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = content.get(field)
    return value if isinstance(value, dict) else {}


def _level(mapping: Mapping[str, Any], key: str, version: RoomVersion) -> int | None:
    """The value present under key, parsed; None when absent (or unreadable, before v10)."""
    return parse_level(mapping[key], version) if key in mapping else None


# v1–v2, rule 11: m.room.redaction


def _check_redaction(event: Pdu, power_levels: Pdu | None, sender_level: Level) -> None:
    # 11.1 The redact level.
    if sender_level >= get_named_level(power_levels, "redact"):
        return
    # 11.2 The redacted event's ID is from the same server as the redaction's.
    redacts = event.redacts
    if isinstance(redacts, str) and _domain(redacts) == _domain(event.event_id):
        return
    # 11.3 Otherwise, reject.
    raise AuthFailure(
        "redaction: sender is below the redact level and the event is from another server"
    )


# --- small helpers --------------------------------------------------------------------------


def _membership(state: Mapping[StateKey, Pdu], user_id: str | None) -> str | None:
    member = state.get(("m.room.member", user_id or ""))
    return member.membership if member is not None else None


def _join_rule(state: Mapping[StateKey, Pdu]) -> str | None:
    """The join rule; a room without m.room.join_rules is invite-only (as Synapse reads it)."""
    join_rules = state.get(JOIN_RULES)
    if join_rules is None:
        return "invite"
    rule = join_rules.content.get("join_rule")
    return rule if isinstance(rule, str) else None


def _original_creator(create: Pdu) -> str | None:
    """Rule 5.3.1's "creator": `content.creator` before v11, the create event's sender after
    (only the sender, not v12's additional creators)."""
    if create.room_version.auth.creator_is_create_sender:
        return create.sender
    creator = create.content.get("creator")
    return creator if isinstance(creator, str) else None


def _domain(identifier: Any) -> str | None:
    """The server part of a user, room or v1 event ID: everything after the first colon."""
    if not isinstance(identifier, str) or ":" not in identifier:
        return None
    return identifier.split(":", 1)[1]


def _is_user_id(value: Any) -> bool:
    """The user ID grammar applied to senders (historical localparts accepted)."""
    return isinstance(value, str) and is_valid_user_id(value)


def _third_party_public_keys(content: Mapping[str, Any]) -> list[str]:
    # 5.4.1.7.1 `public_key`; 5.4.1.7.2 `public_keys[].public_key`.
    keys = [content["public_key"]] if isinstance(content.get("public_key"), str) else []
    listed = content.get("public_keys")
    if isinstance(listed, list):
        keys += [
            k["public_key"]
            for k in listed
            if isinstance(k, dict) and isinstance(k.get("public_key"), str)
        ]
    return keys


def _signed_by_any(signed: Mapping[str, Any], public_keys: Iterable[str]) -> bool:
    """Whether any signature in `signed.signatures` verifies against any of the keys."""
    signatures = signed.get("signatures")
    if not isinstance(signatures, dict):
        return False
    keys = [key for key in (_public_key_bytes(p) for p in public_keys) if key is not None]
    for server_name, by_key in signatures.items():
        for key_id in by_key if isinstance(by_key, dict) else ():
            for key in keys:
                try:
                    verify_json_signature(signed, server_name, key_id, key)
                    return True
                except SignatureError:
                    continue
    return False


def _public_key_bytes(public_key: str) -> bytes | None:
    """Unpadded standard or URL-safe base64, as both appear in third-party invite keys."""
    try:
        return decode_base64(public_key)
    except (ValueError, binascii.Error):
        return None
