"""Authorisation rules (spec rooms/v*.md "Authorisation rules") over small hand-built rooms.

Event IDs are fake ("$e12"): the auth rules never look at hashes. Each test names the rule it
exercises; failures are asserted by the rule prefix of the AuthFailure message.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import nacl.signing
import pytest
from canonicaljson import encode_canonical_json
from unpaddedbase64 import encode_base64

from appliance.core.protocol import room_versions as rv
from appliance.core.protocol.auth_rules import (
    AuthFailure,
    auth_types_for_event,
    check_auth,
    check_auth_event_selection,
    servers_required_to_sign,
)
from appliance.core.protocol.events import Pdu
from appliance.core.protocol.power_levels import (
    can_ban,
    can_kick,
    can_redact,
    can_send,
    creators,
    get_notification_level,
    get_required_level,
    get_user_power_level,
    parse_level,
)
from appliance.core.protocol.room_versions import RoomVersion

ALICE = "@alice:a.test"  # the creator
BOB = "@bob:b.test"
CAROL = "@carol:c.test"
DAVE = "@dave:a.test"
ALL = list(rv.KNOWN.values())
PRE_V12 = [v for v in ALL if not v.auth.privileged_creators]

_ids = itertools.count()


def make_pdu(
    version: RoomVersion,
    type: str,
    sender: str,
    content: dict[str, Any],
    *,
    state_key: str | None = None,
    room_id: str | None = None,
    prev: list[str] | None = None,
    event_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Pdu:
    data: dict[str, Any] = {
        "type": type,
        "sender": sender,
        "content": content,
        "prev_events": prev or [],
    }
    if room_id is not None:
        data["room_id"] = room_id
    if state_key is not None:
        data["state_key"] = state_key
    data.update(extra or {})
    return Pdu(event_id or f"$e{next(_ids)}:a.test", version, data)


def make_create(version: RoomVersion, sender: str = ALICE, **content: Any) -> Pdu:
    body: dict[str, Any] = {"room_version": version.id}
    if not version.auth.creator_is_create_sender:
        body["creator"] = sender
    body.update(content)
    room_id = None if version.event_format.room_id_is_create_hash else "!room:a.test"
    return make_pdu(
        version, "m.room.create", sender, body, state_key="", room_id=room_id, event_id="$create"
    )


class Room:
    """A room's current state, grown by events that pass the auth rules."""

    def __init__(
        self,
        version: RoomVersion,
        *,
        join_rule: str | None = "public",
        users: dict[str, Any] | None = None,
        power_levels: dict[str, Any] | None = None,
        create_content: dict[str, Any] | None = None,
    ) -> None:
        self.version = version
        self.create = make_create(version, **(create_content or {}))
        self.room_id = self.create.room_id
        self.state: dict[tuple[str, str], Pdu] = {("m.room.create", ""): self.create}
        self.send(self.member(ALICE, "join", prev=[self.create.event_id]))
        if power_levels is not None or users is not None:
            # Before v12 the creator is listed at 100 unless the test says otherwise.
            creator = {} if version.auth.privileged_creators else {ALICE: 100}
            content = {"users": {**creator, **(users or {})}, **(power_levels or {})}
            self.send(self.state_event("m.room.power_levels", ALICE, content))
        if join_rule is not None:
            self.send(self.state_event("m.room.join_rules", ALICE, {"join_rule": join_rule}))

    def event(self, type: str, sender: str, content: dict[str, Any], **kw: Any) -> Pdu:
        kw.setdefault("prev", ["$previous"])
        return make_pdu(self.version, type, sender, content, room_id=self.room_id, **kw)

    def state_event(
        self, type: str, sender: str, content: dict[str, Any], state_key: str = "", **kw: Any
    ) -> Pdu:
        return self.event(type, sender, content, state_key=state_key, **kw)

    def member(
        self, target: str, membership: str, sender: str | None = None, **content: Any
    ) -> Pdu:
        prev = content.pop("prev", None)
        body = {"membership": membership, **content}
        return self.state_event(
            "m.room.member", sender or target, body, state_key=target, prev=prev or ["$previous"]
        )

    def check(self, event: Pdu) -> None:
        check_auth(event, self.state, create_event=self.create)

    def send(self, event: Pdu) -> Pdu:
        self.check(event)
        if event.is_state:
            self.state[event.state_tuple] = event
        return event

    def join(self, *users: str) -> None:
        for user in users:
            self.send(self.member(user, "join"))

    def set_users(self, sender: str, users: dict[str, Any], **content: Any) -> Pdu:
        return self.send(
            self.state_event("m.room.power_levels", sender, {"users": users, **content})
        )


def rejected(room: Room, event: Pdu, rule: str) -> str:
    with pytest.raises(AuthFailure) as info:
        room.check(event)
    assert str(info.value).startswith(rule), str(info.value)
    return str(info.value)


# --- auth events selection --------------------------------------------------------------------


def test_auth_types_for_a_message_v11_and_v12() -> None:
    assert auth_types_for_event(rv.V11, "m.room.message", None, BOB, {}) == [
        ("m.room.create", ""),
        ("m.room.power_levels", ""),
        ("m.room.member", BOB),
    ]
    # v12: the create event is implied by the room ID and not selected.
    assert auth_types_for_event(rv.V12, "m.room.message", None, BOB, {}) == [
        ("m.room.power_levels", ""),
        ("m.room.member", BOB),
    ]


def test_auth_types_for_create_is_empty() -> None:
    assert auth_types_for_event(rv.V1, "m.room.create", "", ALICE, {"creator": ALICE}) == []


def test_auth_types_for_restricted_join_only_from_v8() -> None:
    content = {"membership": "join", "join_authorised_via_users_server": ALICE}
    assert auth_types_for_event(rv.V8, "m.room.member", BOB, BOB, content) == [
        ("m.room.create", ""),
        ("m.room.power_levels", ""),
        ("m.room.member", BOB),
        ("m.room.join_rules", ""),
        ("m.room.member", ALICE),
    ]
    assert ("m.room.member", ALICE) not in auth_types_for_event(
        rv.V7, "m.room.member", BOB, BOB, content
    )


def test_auth_types_for_invite_kick_and_third_party_invite() -> None:
    assert auth_types_for_event(rv.V12, "m.room.member", BOB, ALICE, {"membership": "leave"}) == [
        ("m.room.power_levels", ""),
        ("m.room.member", ALICE),
        ("m.room.member", BOB),
    ]
    tpi = {"membership": "invite", "third_party_invite": {"signed": {"mxid": BOB, "token": "tok"}}}
    assert auth_types_for_event(rv.V12, "m.room.member", BOB, ALICE, tpi) == [
        ("m.room.power_levels", ""),
        ("m.room.member", ALICE),
        ("m.room.member", BOB),
        ("m.room.join_rules", ""),
        ("m.room.third_party_invite", "tok"),
    ]
    # Garbage content selects what it can and never raises.
    garbage = {"membership": "invite", "third_party_invite": 3}
    assert auth_types_for_event(rv.V12, "m.room.member", BOB, ALICE, garbage) == [
        ("m.room.power_levels", ""),
        ("m.room.member", ALICE),
        ("m.room.member", BOB),
        ("m.room.join_rules", ""),
    ]


def test_auth_event_selection_list() -> None:
    room = Room(rv.V11)
    event = room.event("m.room.message", ALICE, {"body": "hi"})
    create, member = room.create, room.state[("m.room.member", ALICE)]
    check_auth_event_selection(event, [create, member])
    with pytest.raises(AuthFailure, match="^auth_events: duplicate"):
        check_auth_event_selection(event, [create, member, member])
    with pytest.raises(AuthFailure, match="^auth_events: .* is not selected"):
        check_auth_event_selection(event, [create, member, room.state[("m.room.join_rules", "")]])
    room12 = Room(rv.V12)
    event12 = room12.event("m.room.message", ALICE, {"body": "hi"})
    with pytest.raises(AuthFailure, match="^auth_events: .*m.room.create.* is not selected"):
        check_auth_event_selection(event12, [room12.create, room12.state[("m.room.member", ALICE)]])


def test_servers_required_to_sign() -> None:
    v1_event = make_pdu(rv.V1, "m.room.message", BOB, {}, room_id="!r:a.test", event_id="$x:c.test")
    assert servers_required_to_sign(v1_event) == {"b.test", "c.test"}
    v3_event = make_pdu(rv.V3, "m.room.message", BOB, {}, room_id="!r:a.test", event_id="$hash")
    assert servers_required_to_sign(v3_event) == {"b.test"}
    join = {"membership": "join", "join_authorised_via_users_server": ALICE}
    assert servers_required_to_sign(make_pdu(rv.V8, "m.room.member", BOB, join, state_key=BOB)) == {
        "b.test",
        "a.test",
    }
    assert servers_required_to_sign(make_pdu(rv.V7, "m.room.member", BOB, join, state_key=BOB)) == {
        "b.test"
    }


# --- 1. m.room.create -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL, ids=lambda v: f"v{v.id}")
def test_create_allowed_in_every_version(version: RoomVersion) -> None:
    check_auth(make_create(version), {})


@pytest.mark.parametrize("version", ALL, ids=lambda v: f"v{v.id}")
def test_create_with_prev_events_rejected(version: RoomVersion) -> None:
    create = make_create(version)
    create.data["prev_events"] = ["$other"]
    with pytest.raises(AuthFailure, match="^create: has prev_events"):
        check_auth(create, {})


@pytest.mark.parametrize("version", PRE_V12, ids=lambda v: f"v{v.id}")
def test_create_room_id_domain_must_match_sender(version: RoomVersion) -> None:
    create = make_create(version)
    create.data["room_id"] = "!room:elsewhere.test"
    with pytest.raises(AuthFailure, match="^create: room_id domain"):
        check_auth(create, {})


def test_v12_create_must_not_have_room_id() -> None:
    create = make_create(rv.V12)
    assert create.room_id == "!create"
    create.data["room_id"] = "!create"
    with pytest.raises(AuthFailure, match="^create: has a room_id"):
        check_auth(create, {})


def test_create_unknown_room_version_rejected() -> None:
    with pytest.raises(AuthFailure, match="^create: unknown room_version"):
        check_auth(make_create(rv.V10, room_version="999"), {})
    with pytest.raises(AuthFailure, match="^create: unknown room_version"):
        check_auth(make_create(rv.V10, room_version=10), {})


def test_creator_required_until_v11() -> None:
    for version, allowed in ((rv.V1, False), (rv.V10, False), (rv.V11, True), (rv.V12, True)):
        create = make_create(version)
        create.data["content"].pop("creator", None)
        if allowed:
            check_auth(create, {})
        else:
            with pytest.raises(AuthFailure, match="^create: no creator"):
                check_auth(create, {})


@pytest.mark.parametrize(
    "additional, ok",
    [
        ([BOB, CAROL], True),
        ([], True),
        ("@bob:b.test", False),
        ([BOB, 5], False),
        (["bob"], False),
        (["@bob"], False),
        (["@bob:bad host"], False),
        (["@bob:[::1]:8448"], True),
    ],
)
def test_v12_additional_creators_validated(additional: Any, ok: bool) -> None:
    create = make_create(rv.V12, additional_creators=additional)
    if ok:
        check_auth(create, {})
    else:
        with pytest.raises(AuthFailure, match="^create: additional_creators"):
            check_auth(create, {})


def test_v11_ignores_additional_creators() -> None:
    check_auth(make_create(rv.V11, additional_creators="not a list"), {})


# --- 2./3. the room and the auth events -------------------------------------------------------


def test_v12_room_id_must_be_the_create_event() -> None:
    room = Room(rv.V12)
    other = room.event("m.room.message", ALICE, {})
    other.data["room_id"] = "!someotherroom"
    rejected(room, other, "auth_events")


def test_v12_create_from_parameter_or_from_auth_events() -> None:
    room = Room(rv.V12)
    event = room.event("m.room.message", ALICE, {"body": "hi"})
    without_create = {k: v for k, v in room.state.items() if k != ("m.room.create", "")}
    check_auth(event, without_create, create_event=room.create)
    check_auth(event, room.state)
    with pytest.raises(AuthFailure, match="^auth_events: no m.room.create"):
        check_auth(event, without_create)


@pytest.mark.parametrize("version", PRE_V12, ids=lambda v: f"v{v.id}")
def test_missing_create_rejected(version: RoomVersion) -> None:
    room = Room(version)
    state = {k: v for k, v in room.state.items() if k != ("m.room.create", "")}
    with pytest.raises(AuthFailure, match="^auth_events: no m.room.create"):
        check_auth(room.event("m.room.message", ALICE, {}), state)


def test_rejected_create_or_auth_event_rejected() -> None:
    room = Room(rv.V12)
    bad_create = Pdu(room.create.event_id, rv.V12, room.create.data, rejected=True)
    with pytest.raises(AuthFailure, match="^auth_events: the m.room.create event is rejected"):
        check_auth(room.event("m.room.message", ALICE, {}), room.state, create_event=bad_create)
    member = room.state[("m.room.member", ALICE)]
    room.state[("m.room.member", ALICE)] = Pdu(member.event_id, rv.V12, member.data, rejected=True)
    rejected(room, room.event("m.room.message", ALICE, {}), "auth_events: ")


def test_auth_event_from_another_room_rejected() -> None:
    room = Room(rv.V10)
    member = room.state[("m.room.member", ALICE)]
    room.state[("m.room.member", ALICE)] = Pdu(
        member.event_id, rv.V10, {**member.data, "room_id": "!other:a.test"}
    )
    rejected(room, room.event("m.room.message", ALICE, {}), "auth_events: ")


def test_unrelated_state_is_ignored() -> None:
    """Only the selected auth events count: a rejected topic in the state changes nothing."""
    room = Room(rv.V10)
    topic = room.state_event("m.room.topic", ALICE, {"topic": "x"})
    room.state[("m.room.topic", "")] = Pdu(topic.event_id, rv.V10, topic.data, rejected=True)
    room.check(room.event("m.room.message", ALICE, {}))


# --- 4. m.federate --------------------------------------------------------------------------


def test_unfederated_room_rejects_other_servers() -> None:
    room = Room(rv.V10, create_content={"m.federate": False})
    rejected(room, room.member(BOB, "join"), "federate")
    room.join(DAVE)  # same server as the creator


# --- v1–v5 rule 4: m.room.aliases -------------------------------------------------------------


@pytest.mark.parametrize("version", [rv.V1, rv.V3, rv.V5], ids=lambda v: f"v{v.id}")
def test_aliases_special_case_v1_to_v5(version: RoomVersion) -> None:
    room = Room(version)
    # Bob is not even in the room: only his server has to match the state key.
    room.check(
        room.state_event("m.room.aliases", BOB, {"aliases": ["#x:b.test"]}, state_key="b.test")
    )
    rejected(
        room,
        room.state_event("m.room.aliases", BOB, {"aliases": []}, state_key="a.test"),
        "aliases: state_key",
    )
    rejected(room, room.event("m.room.aliases", BOB, {"aliases": []}), "aliases: no state_key")


@pytest.mark.parametrize("version", [rv.V6, rv.V12], ids=lambda v: f"v{v.id}")
def test_aliases_are_ordinary_state_from_v6(version: RoomVersion) -> None:
    room = Room(version, users={})
    event = room.state_event("m.room.aliases", BOB, {"aliases": []}, state_key="b.test")
    rejected(room, event, "joined: sender is not joined")
    room.join(BOB)
    rejected(room, event, "power: ")  # state_default 50, Bob has 0


# --- 5.3 join -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL, ids=lambda v: f"v{v.id}")
def test_creator_joins_after_create_and_no_one_else(version: RoomVersion) -> None:
    room = Room(version, join_rule=None)  # no join rules: invite-only
    assert room.state[("m.room.member", ALICE)].membership == "join"
    # Bob cannot take the creator's first-join shortcut.
    rejected(
        room,
        room.member(BOB, "join", prev=[room.create.event_id]),
        "member/join: join rule is invite",
    )


def test_v10_creator_is_content_creator_v11_is_sender() -> None:
    for version, first_joiner in ((rv.V10, BOB), (rv.V11, ALICE)):
        create = make_create(version, creator=BOB)
        state = {("m.room.create", ""): create}
        room_id = create.room_id
        for user in (ALICE, BOB):
            join = make_pdu(
                version,
                "m.room.member",
                user,
                {"membership": "join"},
                state_key=user,
                room_id=room_id,
                prev=[create.event_id],
            )
            if user == first_joiner:
                check_auth(join, state)
            else:
                with pytest.raises(AuthFailure, match="^member/join: join rule is invite"):
                    check_auth(join, state)
        assert creators(create) == {first_joiner}


def test_v12_additional_creators_do_not_take_the_first_join() -> None:
    create = make_create(rv.V12, additional_creators=[BOB])
    join = make_pdu(
        rv.V12,
        "m.room.member",
        BOB,
        {"membership": "join"},
        state_key=BOB,
        room_id=create.room_id,
        prev=[create.event_id],
    )
    with pytest.raises(AuthFailure, match="^member/join: join rule is invite"):
        check_auth(join, {}, create_event=create)


@pytest.mark.parametrize("version", ALL, ids=lambda v: f"v{v.id}")
def test_public_room_kicked_user_rejoins_banned_user_does_not(version: RoomVersion) -> None:
    room = Room(version)
    room.join(BOB, CAROL)
    room.send(room.member(BOB, "leave", sender=ALICE))  # kick
    room.send(room.member(BOB, "join"))
    room.send(room.member(CAROL, "ban", sender=ALICE))
    rejected(room, room.member(CAROL, "join"), "member/join: user is banned")
    room.send(room.member(CAROL, "leave", sender=ALICE))  # unban
    room.send(room.member(CAROL, "join"))


def test_cannot_join_someone_else() -> None:
    room = Room(rv.V10)
    rejected(
        room, room.member(BOB, "join", sender=ALICE), "member/join: sender is not the state_key"
    )


def test_joining_twice_is_allowed() -> None:
    """A join over a join (a profile change) passes in public and invite-only rooms alike."""
    for rule in ("public", "invite"):
        room = Room(rv.V10, join_rule=rule)
        room.send(room.member(BOB, "invite", sender=ALICE))
        room.join(BOB)
        room.send(room.member(BOB, "join", displayname="Bob"))


def test_invite_only_room() -> None:
    room = Room(rv.V10, join_rule="invite")
    rejected(room, room.member(BOB, "join"), "member/join: join rule is invite")
    room.send(room.member(BOB, "invite", sender=ALICE))
    room.join(BOB)


@pytest.mark.parametrize("rule", ["private", "something", None])
def test_unknown_join_rules_reject_joins(rule: Any) -> None:
    room = Room(rv.V10)
    room.state[("m.room.join_rules", "")] = room.state_event(
        "m.room.join_rules", ALICE, {"join_rule": rule}
    )
    room.send(room.member(BOB, "invite", sender=ALICE))
    rejected(room, room.member(BOB, "join"), "member/join: join rule")


# --- 5.4 invite -----------------------------------------------------------------------------


def test_invite_rules() -> None:
    room = Room(rv.V10, join_rule="invite", users={ALICE: 100}, power_levels={"invite": 50})
    # 5.4.2 the sender must be joined
    rejected(room, room.member(CAROL, "invite", sender=BOB), "member/invite: sender is not joined")
    room.send(room.member(BOB, "invite", sender=ALICE))
    room.join(BOB)
    # 5.4.4 the invite level
    rejected(
        room,
        room.member(CAROL, "invite", sender=BOB),
        "member/invite: sender is below the invite level",
    )
    # 5.4.3 not a joined or banned target
    rejected(room, room.member(BOB, "invite", sender=ALICE), "member/invite: target is join")
    room.send(room.member(CAROL, "ban", sender=ALICE))
    rejected(room, room.member(CAROL, "invite", sender=ALICE), "member/invite: target is ban")
    # re-inviting an invited user is fine
    room.send(room.member(DAVE, "invite", sender=ALICE))
    room.send(room.member(DAVE, "invite", sender=ALICE))


# --- 5.4.1 third-party invites ------------------------------------------------------------------


def _third_party_room() -> tuple[Room, nacl.signing.SigningKey]:
    room = Room(rv.V11, join_rule="invite")
    key = nacl.signing.SigningKey(b"\x01" * 32)
    room.send(
        room.state_event(
            "m.room.third_party_invite",
            ALICE,
            {
                "display_name": "b...",
                "public_keys": [{"public_key": encode_base64(bytes(key.verify_key), urlsafe=True)}],
            },
            state_key="tok",
        )
    )
    return room, key


def _signed(key: nacl.signing.SigningKey, mxid: str = BOB, token: str = "tok") -> dict[str, Any]:
    signed: dict[str, Any] = {"mxid": mxid, "token": token}
    sig = key.sign(encode_canonical_json(signed)).signature
    signed["signatures"] = {"id.test": {"ed25519:0": encode_base64(sig)}}
    return signed


def test_third_party_invite_accepted_when_signed_by_the_invite_key() -> None:
    room, key = _third_party_room()
    tpi = {"display_name": "b...", "signed": _signed(key)}
    room.send(room.member(BOB, "invite", sender=ALICE, third_party_invite=tpi))
    room.join(BOB)


def test_third_party_invite_rejections() -> None:
    room, key = _third_party_room()
    other_key = nacl.signing.SigningKey(b"\x02" * 32)

    def invite(sender: str = ALICE, target: str = BOB, **tpi: Any) -> Pdu:
        return room.member(target, "invite", sender=sender, third_party_invite=tpi)

    rejected(room, invite(), "member/invite: third_party_invite has no signed")
    rejected(room, invite(signed={"mxid": BOB}), "member/invite: signed has no mxid or token")
    rejected(
        room,
        invite(target=CAROL, signed=_signed(key)),
        "member/invite: signed mxid is not the state_key",
    )
    rejected(
        room,
        invite(signed=_signed(key, token="nope")),
        "member/invite: no m.room.third_party_invite",
    )
    room.send(room.member(DAVE, "invite", sender=ALICE))
    room.join(DAVE)
    rejected(room, invite(sender=DAVE, signed=_signed(key)), "member/invite: sender did not send")
    rejected(room, invite(signed=_signed(other_key)), "member/invite: signed is not signed")
    room.send(room.member(BOB, "ban", sender=ALICE))
    rejected(room, invite(signed=_signed(key)), "member/invite: target is banned")


def test_third_party_invite_event_needs_invite_level() -> None:
    room = Room(rv.V10, users={ALICE: 100}, power_levels={"invite": 50})
    room.join(BOB)
    rejected(
        room,
        room.state_event("m.room.third_party_invite", BOB, {}, state_key="t"),
        "third_party_invite: ",
    )
    room.check(room.state_event("m.room.third_party_invite", ALICE, {}, state_key="t"))


# --- 5.5 leave / 5.6 ban --------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL, ids=lambda v: f"v{v.id}")
def test_ban_needs_strictly_higher_level(version: RoomVersion) -> None:
    users = {BOB: 50, CAROL: 50}
    if not version.auth.privileged_creators:
        users[ALICE] = 100
    room = Room(version, users=users)
    room.join(BOB, CAROL, DAVE)
    rejected(
        room, room.member(CAROL, "ban", sender=BOB), "member/ban: target's power level is not below"
    )
    rejected(
        room,
        room.member(CAROL, "leave", sender=BOB),
        "member/leave: target's power level is not below",
    )
    rejected(
        room, room.member(BOB, "ban", sender=DAVE), "member/ban: sender is below the ban level"
    )
    room.send(room.member(DAVE, "ban", sender=BOB))
    room.send(room.member(CAROL, "ban", sender=ALICE))
    # Nobody may ban or kick the creator from a level of 50.
    rejected(room, room.member(ALICE, "ban", sender=BOB), "member/ban: target's")


def test_ban_by_non_member_rejected() -> None:
    room = Room(rv.V10, users={ALICE: 100, BOB: 100})
    rejected(room, room.member(CAROL, "ban", sender=BOB), "member/ban: sender is not joined")
    rejected(room, room.member(CAROL, "leave", sender=BOB), "member/leave: sender is not joined")


def test_unban_needs_ban_and_kick_levels() -> None:
    room = Room(rv.V10, users={ALICE: 100, BOB: 60}, power_levels={"ban": 50, "kick": 70})
    room.join(BOB)
    room.send(room.member(CAROL, "ban", sender=BOB))
    rejected(
        room,
        room.member(CAROL, "leave", sender=BOB),
        "member/leave: sender is below the kick level",
    )
    room2 = Room(rv.V10, users={ALICE: 100, BOB: 60}, power_levels={"ban": 70, "kick": 50})
    room2.join(BOB)
    room2.send(room2.member(CAROL, "ban", sender=ALICE))
    rejected(
        room2,
        room2.member(CAROL, "leave", sender=BOB),
        "member/leave: sender is below the ban level",
    )
    room2.send(room2.member(CAROL, "leave", sender=ALICE))


def test_leave_oneself() -> None:
    room = Room(rv.V10)
    rejected(room, room.member(BOB, "leave"), "member/leave: cannot leave from membership None")
    room.send(room.member(BOB, "invite", sender=ALICE))
    room.send(room.member(BOB, "leave"))  # reject the invite
    room.join(CAROL)
    room.send(room.member(CAROL, "leave"))
    rejected(
        room, room.member(CAROL, "leave"), "member/leave: cannot leave from membership 'leave'"
    )
    room.send(room.member(DAVE, "ban", sender=ALICE))
    rejected(room, room.member(DAVE, "leave"), "member/leave: cannot leave from membership 'ban'")


def test_demoted_admin_cannot_act() -> None:
    room = Room(rv.V10, users={ALICE: 100, BOB: 100, CAROL: 50})
    room.join(BOB, CAROL, DAVE)
    # Bob demotes himself (his own entry, so allowed even at his level), then has no power.
    room.set_users(BOB, {ALICE: 100, BOB: 0, CAROL: 50})
    rejected(
        room, room.member(DAVE, "leave", sender=BOB), "member/leave: sender is below the kick level"
    )
    rejected(room, room.state_event("m.room.name", BOB, {"name": "x"}), "power: ")
    rejected(
        room,
        room.state_event("m.room.power_levels", BOB, {"users": {ALICE: 100, BOB: 100, CAROL: 50}}),
        "power: ",
    )
    # An admin cannot demote another admin at the same level.
    room2 = Room(rv.V10, users={ALICE: 100, BOB: 100})
    room2.join(BOB)
    rejected(
        room2,
        room2.state_event("m.room.power_levels", BOB, {"users": {ALICE: 0, BOB: 100}}),
        "power_levels: sender cannot change the level of @alice",
    )
    # But can demote a moderator, who then cannot kick.
    room.set_users(ALICE, {ALICE: 100, BOB: 0, CAROL: 0})
    rejected(
        room,
        room.member(DAVE, "leave", sender=CAROL),
        "member/leave: sender is below the kick level",
    )


# --- 5.7 knock ------------------------------------------------------------------------------


def test_knock_v7_and_not_v6() -> None:
    room6 = Room(rv.V6, join_rule="knock")
    rejected(room6, room6.member(BOB, "knock"), "member: unknown membership 'knock'")
    # v6 does not know the knock join rule: even an invited user cannot join.
    room6.send(room6.member(BOB, "invite", sender=ALICE))
    rejected(room6, room6.member(BOB, "join"), "member/join: join rule 'knock' does not allow")

    room7 = Room(rv.V7, join_rule="knock")
    room7.send(room7.member(BOB, "knock"))
    rejected(
        room7, room7.member(BOB, "join"), "member/join: join rule is knock and user is not invited"
    )
    room7.send(room7.member(BOB, "leave"))  # rescind the knock
    room7.send(room7.member(BOB, "knock"))
    room7.send(room7.member(BOB, "invite", sender=ALICE))
    room7.join(BOB)
    rejected(room7, room7.member(BOB, "knock"), "member/knock: user is already join")
    rejected(
        room7, room7.member(CAROL, "knock", sender=BOB), "member/knock: sender is not the state_key"
    )
    room7.send(room7.member(CAROL, "ban", sender=ALICE))
    rejected(room7, room7.member(CAROL, "knock"), "member/knock: user is already ban")


def test_knock_needs_a_knock_join_rule() -> None:
    room = Room(rv.V7, join_rule="public")
    rejected(room, room.member(BOB, "knock"), "member/knock: join rule 'public'")


def test_leave_from_knock_only_with_knocking() -> None:
    # A knock membership in the state of a v6 room (it could not get there legitimately).
    room = Room(rv.V6)
    room.state[("m.room.member", BOB)] = room.member(BOB, "knock")
    rejected(room, room.member(BOB, "leave"), "member/leave: cannot leave from membership 'knock'")


# --- 5.3.5 restricted joins -------------------------------------------------------------------


def _restricted_room(version: RoomVersion, rule: str = "restricted") -> Room:
    room = Room(version, join_rule="public", users={ALICE: 100}, power_levels={"invite": 50})
    room.join(CAROL)  # joined, but below the invite level
    room.send(room.state_event("m.room.join_rules", ALICE, {"join_rule": rule, "allow": []}))
    return room


@pytest.mark.parametrize(
    "version", [rv.V8, rv.V9, rv.V10, rv.V11, rv.V12], ids=lambda v: f"v{v.id}"
)
def test_restricted_join(version: RoomVersion) -> None:
    if version.auth.privileged_creators:
        room = Room(version, join_rule="public", users={}, power_levels={"invite": 50})
        room.join(CAROL)
        room.send(
            room.state_event("m.room.join_rules", ALICE, {"join_rule": "restricted", "allow": []})
        )
    else:
        room = _restricted_room(version)
    rejected(room, room.member(BOB, "join"), "member/join: restricted room and no join_authorised")
    rejected(
        room,
        room.member(BOB, "join", join_authorised_via_users_server=DAVE),
        "member/join: join_authorised_via_users_server is not joined",
    )
    rejected(
        room,
        room.member(BOB, "join", join_authorised_via_users_server=CAROL),
        "member/join: join_authorised_via_users_server cannot invite",
    )
    room.send(room.member(BOB, "join", join_authorised_via_users_server=ALICE))
    # An invited user needs no authoriser.
    room.send(room.member(DAVE, "invite", sender=ALICE))
    room.join(DAVE)


def test_restricted_join_rule_unknown_before_v8() -> None:
    room = _restricted_room(rv.V7)
    rejected(
        room,
        room.member(BOB, "join", join_authorised_via_users_server=ALICE),
        "member/join: join rule 'restricted' does not allow",
    )


def test_knock_restricted_from_v10() -> None:
    for version in (rv.V8, rv.V9):
        room = _restricted_room(version, "knock_restricted")
        rejected(
            room,
            room.member(BOB, "join", join_authorised_via_users_server=ALICE),
            "member/join: join rule 'knock_restricted' does not allow",
        )
        rejected(room, room.member(BOB, "knock"), "member/knock: join rule 'knock_restricted'")
    room = _restricted_room(rv.V10, "knock_restricted")
    room.send(room.member(BOB, "knock"))
    room.send(room.member(BOB, "join", join_authorised_via_users_server=ALICE))
    rejected(room, room.member(CAROL, "knock"), "member/knock: user is already join")


# --- 5.8, 6., 8., 9. --------------------------------------------------------------------------


def test_unknown_membership_and_missing_fields() -> None:
    room = Room(rv.V10)
    rejected(room, room.member(BOB, "dance"), "member: unknown membership 'dance'")
    rejected(
        room,
        room.state_event("m.room.member", BOB, {}, state_key=BOB),
        "member: no state_key or no membership",
    )
    rejected(room, room.event("m.room.member", BOB, {"membership": "join"}), "member: no state_key")


def test_sender_must_be_joined() -> None:
    room = Room(rv.V10)
    rejected(
        room, room.event("m.room.message", BOB, {"body": "hi"}), "joined: sender is not joined"
    )
    room.send(room.member(BOB, "invite", sender=ALICE))
    rejected(
        room, room.event("m.room.message", BOB, {"body": "hi"}), "joined: sender is not joined"
    )
    room.join(BOB)
    room.check(room.event("m.room.message", BOB, {"body": "hi"}))


def test_required_power_level() -> None:
    room = Room(
        rv.V10,
        users={ALICE: 100, BOB: 10},
        power_levels={"events": {"m.room.topic": 5, "m.custom": 20}},
    )
    room.join(BOB)
    room.check(
        room.state_event("m.room.topic", BOB, {"topic": "x"})
    )  # events overrides state_default
    rejected(
        room,
        room.state_event("m.room.name", BOB, {"name": "x"}),
        "power: sending m.room.name needs level 50",
    )
    rejected(room, room.event("m.custom", BOB, {}), "power: sending m.custom needs level 20")
    room.check(room.event("m.room.message", BOB, {}))


def test_no_power_levels_event_defaults() -> None:
    room = Room(rv.V10)  # no m.room.power_levels at all
    room.join(BOB)
    room.check(room.event("m.room.message", BOB, {}))
    rejected(
        room,
        room.state_event("m.room.name", BOB, {"name": "x"}),
        "power: sending m.room.name needs level 50",
    )
    room.check(room.state_event("m.room.name", ALICE, {"name": "x"}))  # the creator has 100
    rejected(
        room,
        room.member(ALICE, "leave", sender=BOB),
        "member/leave: sender is below the kick level",
    )
    room.send(room.member(BOB, "ban", sender=ALICE))


def test_state_key_starting_with_at_is_the_sender_s() -> None:
    room = Room(rv.V10)
    room.join(BOB)
    room.check(room.state_event("m.custom", ALICE, {}, state_key=ALICE))
    rejected(room, room.state_event("m.custom", ALICE, {}, state_key=BOB), "state_key: ")
    room.check(room.state_event("m.custom", ALICE, {}, state_key="not a user"))


# --- 10. m.room.power_levels --------------------------------------------------------------------


def test_first_power_levels_event_is_allowed() -> None:
    room = Room(rv.V10)
    room.check(
        room.state_event(
            "m.room.power_levels", ALICE, {"users": {ALICE: 100, BOB: 1000}, "ban": 9000}
        )
    )


def test_power_level_changes() -> None:
    room = Room(
        rv.V10,
        users={ALICE: 100, BOB: 50, CAROL: 50},
        power_levels={"events": {"m.room.name": 60}, "kick": 40},
    )
    room.join(BOB, CAROL)

    def pl(**content: Any) -> Pdu:
        base: dict[str, Any] = {
            "users": {ALICE: 100, BOB: 50, CAROL: 50},
            "events": {"m.room.name": 60},
            "kick": 40,
            "events_default": 0,
            "state_default": 50,
        }
        return room.state_event("m.room.power_levels", BOB, {**base, **content})

    room.check(pl())  # no change
    room.check(pl(kick=50))  # 10.6 within own level
    rejected(room, pl(kick=51), "power_levels: sender cannot set kick to 51")
    rejected(
        room,
        pl(users={ALICE: 100, BOB: 50, CAROL: 50, DAVE: 51}),
        "power_levels: sender cannot raise",
    )
    room.check(pl(users={ALICE: 100, BOB: 50, CAROL: 50, DAVE: 50}))  # 10.10 up to own level
    rejected(
        room,
        pl(users={ALICE: 100, BOB: 50, CAROL: 0}),
        "power_levels: sender cannot change the level of @carol",
    )
    rejected(
        room,
        pl(users={ALICE: 100, BOB: 50}),
        "power_levels: sender cannot change the level of @carol",
    )
    rejected(room, pl(events={}), "power_levels: sender cannot change events[m.room.name]")
    rejected(
        room,
        pl(events={"m.room.name": 60, "m.room.topic": 70}),
        "power_levels: sender cannot set events[m.room.topic]",
    )
    room.check(pl(events={"m.room.name": 60, "m.room.topic": 50}))
    room.check(pl(users={ALICE: 100, BOB: 20, CAROL: 50}))  # lowering oneself
    # Removing a default (state_default 50 -> absent) is a change of a value at the sender's level.
    content = {"users": {ALICE: 100, BOB: 50, CAROL: 50}, "events": {"m.room.name": 60}, "kick": 40}
    room.check(room.state_event("m.room.power_levels", BOB, content))


def test_notifications_checked_from_v6() -> None:
    for version, checked in ((rv.V5, False), (rv.V6, True)):
        room = Room(
            version, users={ALICE: 100, BOB: 50}, power_levels={"notifications": {"room": 80}}
        )
        room.join(BOB)
        content = {"users": {ALICE: 100, BOB: 50}, "notifications": {"room": 10}}
        event = room.state_event("m.room.power_levels", BOB, content)
        if checked:
            rejected(room, event, "power_levels: sender cannot change notifications[room]")
        else:
            room.check(event)


@pytest.mark.parametrize("version", [rv.V1, rv.V5, rv.V6, rv.V9], ids=lambda v: f"v{v.id}")
def test_stringy_power_levels_before_v10(version: RoomVersion) -> None:
    room = Room(
        version,
        users={ALICE: "100", BOB: " +050 "},
        power_levels={"ban": "50", "events": {"m.room.name": "0"}},
    )
    room.join(BOB, CAROL)
    assert get_user_power_level(BOB, room.state[("m.room.power_levels", "")], room.create) == 50
    room.send(room.member(CAROL, "ban", sender=BOB))
    room.check(room.state_event("m.room.name", BOB, {"name": "x"}))
    # "users" values must be integers or integer strings.
    for bad in ("1.5", "ten", "", True, None, [1]):
        rejected(
            room,
            room.state_event("m.room.power_levels", ALICE, {"users": {ALICE: 100, BOB: bad}}),
            "power_levels: users is not an object",
        )
    # Unchanged values compare by what they stand for: "50" == 50.
    room.check(
        room.state_event(
            "m.room.power_levels",
            BOB,
            {"users": {ALICE: 100, BOB: 50}, "ban": 50, "events": {"m.room.name": 0}},
        )
    )


@pytest.mark.parametrize("version", [rv.V10, rv.V11, rv.V12], ids=lambda v: f"v{v.id}")
def test_v10_rejects_non_integer_power_levels(version: RoomVersion) -> None:
    room = Room(version, users={}, power_levels={})
    base = {"users": {} if version.auth.privileged_creators else {ALICE: 100}}
    for content, rule in (
        ({"ban": "50"}, "power_levels: ban is not an integer"),
        ({"users_default": 1.0}, "power_levels: users_default is not an integer"),
        ({"invite": True}, "power_levels: invite is not an integer"),
        ({"events": {"m.room.name": "50"}}, "power_levels: events is not an object of integers"),
        ({"events": []}, "power_levels: events is not an object of integers"),
        ({"notifications": {"room": "50"}}, "power_levels: notifications is not an object"),
        ({"users": {BOB: "50"}}, "power_levels: users is not an object"),
        ({"users": {"bob": 50}}, "power_levels: users is not an object"),
        ({"users": [BOB]}, "power_levels: users is not an object"),
    ):
        rejected(room, room.state_event("m.room.power_levels", ALICE, {**base, **content}), rule)
    room.check(room.state_event("m.room.power_levels", ALICE, {**base, "ban": 60}))


def test_floaty_power_levels_v1_to_v5() -> None:
    room = Room(rv.V5, users={ALICE: 100.9, BOB: 50.57}, power_levels={"kick": 5.114698e1})
    room.join(BOB, CAROL)
    pls = room.state[("m.room.power_levels", "")]
    assert get_user_power_level(ALICE, pls, room.create) == 100
    assert get_user_power_level(BOB, pls, room.create) == 50
    # The kick level 5.114698E1 reads as 51: Bob's 50.57 (read as 50) is not enough.
    rejected(
        room,
        room.member(CAROL, "leave", sender=BOB),
        "member/leave: sender is below the kick level",
    )
    room.send(room.member(CAROL, "leave", sender=ALICE))
    for bad in (math.inf, -math.inf, math.nan):
        rejected(
            room,
            room.state_event("m.room.power_levels", ALICE, {"users": {ALICE: 100}, "ban": bad}),
            "power_levels: a level is not a finite number",
        )
    # v6+: canonical JSON has no floats, so a float is not a level.
    room6 = Room(rv.V6, users={ALICE: 100})
    rejected(
        room6,
        room6.state_event("m.room.power_levels", ALICE, {"users": {ALICE: 100.0}}),
        "power_levels: users is not an object",
    )


# --- v1–v2 rule 11: m.room.redaction --------------------------------------------------------


def test_redaction_domain_check_v1_v2() -> None:
    for version in (rv.V1, rv.V2):
        room = Room(version, users={ALICE: 100})
        room.join(BOB)
        same = room.event(
            "m.room.redaction", BOB, {}, event_id="$r1:b.test", extra={"redacts": "$m:b.test"}
        )
        room.check(same)
        other = room.event(
            "m.room.redaction", BOB, {}, event_id="$r2:b.test", extra={"redacts": "$m:a.test"}
        )
        rejected(room, other, "redaction: ")
        room.check(
            room.event(
                "m.room.redaction", ALICE, {}, event_id="$r3:a.test", extra={"redacts": "$m:b.test"}
            )
        )


def test_redaction_needs_only_the_send_level_from_v3() -> None:
    room = Room(rv.V3, users={ALICE: 100})
    room.join(BOB)
    room.check(room.event("m.room.redaction", BOB, {}, extra={"redacts": "$m:a.test"}))
    room11 = Room(rv.V11, users={ALICE: 100}, power_levels={"events": {"m.room.redaction": 20}})
    room11.join(BOB)
    rejected(
        room11,
        room11.event("m.room.redaction", BOB, {"redacts": "$m"}),
        "power: sending m.room.redaction",
    )


# --- v12 privileged creators --------------------------------------------------------------------


def test_v12_creators_have_infinite_power() -> None:
    room = Room(rv.V12, users={BOB: 100}, create_content={"additional_creators": [CAROL]})
    room.join(BOB, CAROL, DAVE)
    pls = room.state[("m.room.power_levels", "")]
    assert get_user_power_level(ALICE, pls, room.create) == math.inf
    assert get_user_power_level(CAROL, pls, room.create) == math.inf
    assert get_user_power_level(BOB, pls, room.create) == 100
    assert get_user_power_level(ALICE, None, room.create) == math.inf
    assert creators(room.create) == {ALICE, CAROL}
    # A 100 admin can neither kick nor ban a creator; creators cannot ban each other.
    rejected(
        room, room.member(CAROL, "ban", sender=BOB), "member/ban: target's power level is not below"
    )
    rejected(
        room,
        room.member(ALICE, "leave", sender=BOB),
        "member/leave: target's power level is not below",
    )
    rejected(
        room,
        room.member(ALICE, "ban", sender=CAROL),
        "member/ban: target's power level is not below",
    )
    room.send(room.member(BOB, "ban", sender=CAROL))  # an additional creator outranks any admin
    # Creators may set any level.
    room.check(
        room.state_event("m.room.power_levels", CAROL, {"users": {DAVE: 10**15}, "ban": 10**15})
    )


def test_v12_creators_cannot_be_listed_in_power_levels() -> None:
    room = Room(rv.V12, users={}, create_content={"additional_creators": [CAROL]})
    rejected(
        room,
        room.state_event("m.room.power_levels", ALICE, {"users": {ALICE: 100}}),
        "power_levels: users lists room creators",
    )
    rejected(
        room,
        room.state_event("m.room.power_levels", ALICE, {"users": {CAROL: 0}}),
        "power_levels: users lists room creators",
    )
    room.check(room.state_event("m.room.power_levels", ALICE, {"users": {BOB: 100}}))
    # v11 has no such rule: the creator is listed as usual.
    room11 = Room(rv.V11, users={ALICE: 100})
    room11.check(room11.state_event("m.room.power_levels", ALICE, {"users": {ALICE: 100}}))


def test_v11_creator_has_no_infinite_power() -> None:
    room = Room(rv.V11, users={ALICE: 100, BOB: 100})
    room.join(BOB)
    assert get_user_power_level(ALICE, room.state[("m.room.power_levels", "")], room.create) == 100
    rejected(
        room, room.member(ALICE, "ban", sender=BOB), "member/ban: target's power level is not below"
    )
    rejected(
        room,
        room.state_event("m.room.power_levels", BOB, {"users": {ALICE: 0, BOB: 100}}),
        "power_levels: sender cannot change the level of @alice",
    )


# --- power level helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, version, expected",
    [
        (100, rv.V1, 100),
        ("100", rv.V1, 100),
        ("000100", rv.V9, 100),
        (" -100 ", rv.V9, -100),
        ("+100", rv.V9, 100),
        ("1_000", rv.V9, None),
        ("１２", rv.V9, None),  # full-width digits are not base 10 ASCII digits
        ("1.0", rv.V9, None),
        (50.9, rv.V5, 50),
        (-50.9, rv.V5, -50),
        (50.0, rv.V6, None),
        ("100", rv.V10, None),
        (100, rv.V10, 100),
        (True, rv.V1, None),
        (None, rv.V1, None),
    ],
)
def test_parse_level(value: Any, version: RoomVersion, expected: int | None) -> None:
    assert parse_level(value, version) == expected


def test_level_helpers() -> None:
    room = Room(
        rv.V10,
        users={ALICE: 100, BOB: 50},
        power_levels={"users_default": 5, "events": {"m.x": 7}, "notifications": {"room": 20}},
    )
    pls = room.state[("m.room.power_levels", "")]
    assert get_user_power_level(CAROL, pls, room.create) == 5
    assert get_required_level(pls, "m.x", None) == 7
    assert get_required_level(pls, "m.room.topic", "") == 50
    assert get_required_level(pls, "m.room.message", None) == 0
    assert get_required_level(None, "m.room.topic", "") == 50
    assert get_notification_level(pls, "room") == 20
    assert get_notification_level(None, "room") == 50
    assert can_send(BOB, "m.room.topic", "", pls, room.create)
    assert not can_send(CAROL, "m.room.topic", "", pls, room.create)
    assert can_kick(ALICE, BOB, pls, room.create) and not can_kick(BOB, ALICE, pls, room.create)
    assert can_ban(BOB, CAROL, pls, room.create) and not can_ban(CAROL, BOB, pls, room.create)
    assert can_redact(CAROL, CAROL, pls, room.create) and not can_redact(
        CAROL, BOB, pls, room.create
    )
    assert can_redact(BOB, CAROL, pls, room.create)
    assert get_user_power_level(ALICE, None, room.create) == 100
    assert get_user_power_level(BOB, None, room.create) == 0
