"""Room versions 1–12 as data.

Each version is the one before it plus its changes, grouped by the spec fragment the
change comes from (`spec/content/rooms/fragments/`). Code branches on these named flags,
never on `RoomVersion.id`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class EventIdFormat(enum.Enum):
    V1 = "v1"  # "$localpart:server", chosen by the origin server (v1, v2)
    V3 = "v3"  # "$" + unpadded standard base64 of the reference hash (v3)
    V4 = "v4"  # "$" + unpadded URL-safe base64 of the reference hash (v4+)


class StateRes(enum.Enum):
    V1 = "v1"
    V2 = "v2"
    V2_1 = "v2.1"  # room v12 (MSC4297): empty starting state, conflicted subgraph


@dataclass(frozen=True, slots=True)
class EventFormat:
    event_id_in_event: bool = True      # v1/v2 carry event_id; v3+ derive it from the hash
    prev_refs_with_hashes: bool = True  # v1/v2: prev_events / auth_events as [id, {hashes}]
    create_has_creator: bool = True     # dropped in v11 (creator is the create event's sender)
    redacts_in_content: bool = False    # v11: m.room.redaction carries content.redacts
    room_id_is_create_hash: bool = False  # v12: room ID = "!" + create event's reference hash
    strict_canonical_json: bool = False   # v6: integers in range, no floats, no NaN


@dataclass(frozen=True, slots=True)
class RedactionRules:
    keep_aliases: bool = True                  # m.room.aliases keeps `aliases`; dropped in v6
    keep_join_rules_allow: bool = False        # v8
    keep_member_join_authorised: bool = False  # v9
    keep_all_create_content: bool = False      # v11
    keep_power_levels_invite: bool = False     # v11
    keep_redaction_redacts: bool = False       # v11
    keep_top_level_origin_membership_prev_state: bool = True  # dropped in v11
    keep_third_party_invite_signed: bool = False  # v11


@dataclass(frozen=True, slots=True)
class AuthRules:
    special_case_aliases: bool = True         # v1–v5: m.room.aliases auth special case
    redaction_domain_check_in_auth: bool = True  # v1–v2: redaction authorised by domain match
    notifications_power_level: bool = False   # v6: `notifications` key checked in power levels
    knocking: bool = False                    # v7
    restricted_join: bool = False             # v8
    knock_restricted_join: bool = False       # v10
    integer_power_levels: bool = False        # v10: power level values must be integers
    creator_is_create_sender: bool = False    # v11: creator is the create event's sender
    privileged_creators: bool = False         # v12: creators have infinite power, no PL entry
    create_event_in_auth_events: bool = True  # v12: the create event is no longer listed
    enforce_key_validity: bool = False        # v5


@dataclass(frozen=True, slots=True)
class RoomVersion:
    id: str
    event_ids: EventIdFormat
    event_format: EventFormat
    redaction: RedactionRules
    auth: AuthRules
    state_res: StateRes
    stable: bool = True


V1 = RoomVersion("1", EventIdFormat.V1, EventFormat(), RedactionRules(), AuthRules(), StateRes.V1)
V2 = replace(V1, id="2", state_res=StateRes.V2)
V3 = replace(
    V2,
    id="3",
    event_ids=EventIdFormat.V3,
    event_format=replace(V2.event_format, event_id_in_event=False, prev_refs_with_hashes=False),
    auth=replace(V2.auth, redaction_domain_check_in_auth=False),
)
V4 = replace(V3, id="4", event_ids=EventIdFormat.V4)
V5 = replace(V4, id="5", auth=replace(V4.auth, enforce_key_validity=True))
V6 = replace(
    V5,
    id="6",
    event_format=replace(V5.event_format, strict_canonical_json=True),
    redaction=replace(V5.redaction, keep_aliases=False),
    auth=replace(V5.auth, special_case_aliases=False, notifications_power_level=True),
)
V7 = replace(V6, id="7", auth=replace(V6.auth, knocking=True))
V8 = replace(
    V7,
    id="8",
    redaction=replace(V7.redaction, keep_join_rules_allow=True),
    auth=replace(V7.auth, restricted_join=True),
)
V9 = replace(V8, id="9", redaction=replace(V8.redaction, keep_member_join_authorised=True))
V10 = replace(
    V9, id="10", auth=replace(V9.auth, knock_restricted_join=True, integer_power_levels=True)
)
V11 = replace(
    V10,
    id="11",
    event_format=replace(V10.event_format, create_has_creator=False, redacts_in_content=True),
    redaction=replace(
        V10.redaction,
        keep_all_create_content=True,
        keep_power_levels_invite=True,
        keep_redaction_redacts=True,
        keep_top_level_origin_membership_prev_state=False,
        keep_third_party_invite_signed=True,
    ),
    auth=replace(V10.auth, creator_is_create_sender=True),
)
V12 = replace(
    V11,
    id="12",
    event_format=replace(V11.event_format, room_id_is_create_hash=True),
    auth=replace(V11.auth, privileged_creators=True, create_event_in_auth_events=False),
    state_res=StateRes.V2_1,
)

KNOWN: dict[str, RoomVersion] = {
    v.id: v for v in (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12)
}
DEFAULT = V12


def get(version_id: str) -> RoomVersion | None:
    """The room version with this identifier, or None if we do not know it."""
    return KNOWN.get(version_id)
