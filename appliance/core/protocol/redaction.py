"""The redaction algorithm (rooms/fragments/v1-, v6-, v9-, v11-redactions.md, and v8.md).

Redaction decides what a signature and a reference hash cover, so a difference of one key
here changes event IDs and breaks signature checks with other servers. Every rule is driven
by a `RedactionRules` flag; nothing branches on the version's name.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .room_versions import RedactionRules, RoomVersion

_TOP_LEVEL_KEYS = frozenset({
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures",
    "depth", "prev_events", "auth_events", "origin_server_ts",
})
_TOP_LEVEL_KEYS_BEFORE_V11 = frozenset({"origin", "membership", "prev_state"})

_POWER_LEVELS_KEYS = (
    "ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default",
)


def redact(event_dict: Mapping[str, Any], version: RoomVersion) -> dict[str, Any]:
    """The redacted copy of a PDU's JSON. The input is not modified, but the copy is
    shallow: nested values (`signatures`, kept content values) are shared with it.

    The result has no `unsigned`: callers serving the redacted event add `redacted_because`
    themselves. `content` is always present (empty if nothing survives), as other servers do,
    so that reference hashes agree.
    """
    rules = version.redaction
    keep = _TOP_LEVEL_KEYS
    if rules.keep_top_level_origin_membership_prev_state:
        keep = keep | _TOP_LEVEL_KEYS_BEFORE_V11
    out = {k: v for k, v in event_dict.items() if k in keep}
    content = event_dict.get("content")
    out["content"] = _redact_content(
        event_dict.get("type"), content if isinstance(content, Mapping) else {}, rules
    )
    return out


def _redact_content(
    event_type: Any, content: Mapping[str, Any], rules: RedactionRules
) -> dict[str, Any]:
    if event_type == "m.room.member":
        out = _pick(content, "membership")
        if rules.keep_member_join_authorised:
            out |= _pick(content, "join_authorised_via_users_server")
        if rules.keep_third_party_invite_signed:
            invite = content.get("third_party_invite")
            # Like Synapse and ruma: an object stays, holding only `signed` (so possibly {}).
            if isinstance(invite, Mapping):
                out["third_party_invite"] = _pick(invite, "signed")
        return out
    if event_type == "m.room.create":
        if rules.keep_all_create_content:
            return dict(content)
        return _pick(content, "creator")
    if event_type == "m.room.join_rules":
        if rules.keep_join_rules_allow:
            return _pick(content, "join_rule", "allow")
        return _pick(content, "join_rule")
    if event_type == "m.room.power_levels":
        if rules.keep_power_levels_invite:
            return _pick(content, *_POWER_LEVELS_KEYS, "invite")
        return _pick(content, *_POWER_LEVELS_KEYS)
    if event_type == "m.room.aliases" and rules.keep_aliases:
        return _pick(content, "aliases")
    if event_type == "m.room.history_visibility":
        return _pick(content, "history_visibility")
    if event_type == "m.room.redaction" and rules.keep_redaction_redacts:
        return _pick(content, "redacts")
    return {}


def _pick(content: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: content[k] for k in keys if k in content}
