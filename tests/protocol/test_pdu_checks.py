"""Inbound PDU checks in the spec's order, over a small room signed by a remote server."""
from __future__ import annotations

import copy

import pytest

from appliance.core.protocol import room_versions
from appliance.core.protocol.events import Pdu
from appliance.core.protocol.hashes import compute_event_id
from appliance.core.protocol.pdu_checks import Outcome, PduDropped, check_format, check_pdu
from appliance.core.protocol.signing import SigningKey, hash_and_sign_event

V10 = room_versions.get("10")
KEY = SigningKey.generate("r1")
ROOM = "!room:remote.example"
ALICE, BOB = "@alice:remote.example", "@bob:remote.example"


def keys(server: str, key_id: str, ts: int) -> bytes | None:
    return KEY.verify_key_bytes if (server, key_id) == ("remote.example", KEY.key_id) else None


def make(type_: str, sender: str, content: dict, auth: list[Pdu], prev: list[Pdu], state_key: str | None = None,
         depth: int = 1, key: SigningKey = KEY) -> dict:
    event = {"type": type_, "room_id": ROOM, "sender": sender, "content": content, "origin_server_ts": 1000 + depth,
             "depth": depth, "prev_events": [p.event_id for p in prev], "auth_events": [a.event_id for a in auth]}
    if state_key is not None:
        event["state_key"] = state_key
    return hash_and_sign_event(event, "remote.example", key, V10)


def pdu(event: dict) -> Pdu:
    return Pdu(compute_event_id(event, V10), V10, event)


@pytest.fixture(scope="module")
def room():
    create = pdu(make("m.room.create", ALICE, {"room_version": "10"}, [], [], "", 1))
    alice = pdu(make("m.room.member", ALICE, {"membership": "join"}, [create], [create], ALICE, 2))
    power = pdu(make("m.room.power_levels", ALICE, {"users": {ALICE: 100}}, [create, alice], [alice], "", 3))
    rules = pdu(make("m.room.join_rules", ALICE, {"join_rule": "public"}, [create, alice, power], [power], "", 4))
    bob = pdu(make("m.room.member", BOB, {"membership": "join"}, [create, power, rules], [rules], BOB, 5))
    state = {(e.type, e.state_key): e for e in (create, alice, power, rules, bob)}
    return {"create": create, "alice": alice, "power": power, "rules": rules, "bob": bob, "state": state}


def message(room, sender=BOB, body="hi", key=KEY) -> dict:
    member = room["bob"] if sender == BOB else room["alice"]
    return make("m.room.message", sender, {"msgtype": "m.text", "body": body},
                [room["create"], room["power"], member], [member], depth=6, key=key)


def check(room, event, state_before=None, current=None):
    auth = [room["create"], room["power"], room["bob"] if event["sender"] == BOB else room["alice"]]
    auth = [a for a in auth if a.event_id in event["auth_events"]]
    return check_pdu(event, V10, keys, auth, state_before or room["state"], current or room["state"])


def test_a_good_message_is_accepted(room):
    verdict = check(room, message(room))
    assert verdict.outcome is Outcome.ACCEPTED and not verdict.redacted
    assert verdict.pdu.content["body"] == "hi"


def test_forged_signature_is_dropped(room):
    with pytest.raises(PduDropped, match="no valid signature"):
        check(room, message(room, key=SigningKey.generate("r1")))  # same key ID, another key


def test_unsigned_and_unknown_key_are_dropped(room):
    event = message(room)
    unknown = copy.deepcopy(event)
    unknown["signatures"] = {"remote.example": {"ed25519:nope": unknown["signatures"]["remote.example"][KEY.key_id]}}
    with pytest.raises(PduDropped):
        check(room, unknown)
    event["signatures"] = {"other.example": event["signatures"]["remote.example"]}
    with pytest.raises(PduDropped, match="not signed by remote.example"):
        check(room, event)


def test_bad_content_hash_means_redacted(room):
    event = message(room)
    event["content"]["body"] = "tampered"  # content is not covered by the (redacted) signature
    verdict = check(room, event)
    assert verdict.redacted and verdict.outcome is Outcome.ACCEPTED
    assert verdict.pdu.content == {}


def test_changing_a_signed_field_breaks_the_signature(room):
    event = message(room)
    event["origin_server_ts"] += 1
    with pytest.raises(PduDropped):
        check(room, event)


def test_failing_auth_against_its_auth_events_is_rejected(room):
    stranger = "@eve:remote.example"  # never joined
    event = make("m.room.message", stranger, {"body": "x"}, [room["create"], room["power"]], [room["bob"]], depth=6)
    verdict = check_pdu(event, V10, keys, [room["create"], room["power"]], room["state"], room["state"])
    assert verdict.outcome is Outcome.REJECTED and "auth events" in verdict.reason


def test_auth_events_must_be_the_ones_listed(room):
    event = message(room)
    verdict = check_pdu(event, V10, keys, [room["create"], room["power"]], room["state"], room["state"])
    assert verdict.outcome is Outcome.REJECTED


def test_failing_against_state_before_is_rejected(room):
    ban = pdu(make("m.room.member", ALICE, {"membership": "ban"}, [room["create"], room["alice"], room["power"],
                   room["bob"]], [room["bob"]], BOB, 6))
    before = {**room["state"], ("m.room.member", BOB): ban}
    verdict = check(room, message(room), state_before=before)
    assert verdict.outcome is Outcome.REJECTED and "state before" in verdict.reason


def test_failing_against_current_state_is_soft_failed(room):
    ban = pdu(make("m.room.member", ALICE, {"membership": "ban"}, [room["create"], room["alice"], room["power"],
                   room["bob"]], [room["bob"]], BOB, 6))
    current = {**room["state"], ("m.room.member", BOB): ban}
    verdict = check(room, message(room), current=current)
    assert verdict.outcome is Outcome.SOFT_FAILED


@pytest.mark.parametrize("breakage", [
    "not_object", "no_type", "bool_depth", "negative_depth", "bad_sender", "no_room", "int_state_key", "float",
    "too_big", "no_hashes",
])
def test_malformed_pdus_are_dropped(room, breakage):
    event: object = message(room)
    if breakage == "not_object":
        event = ["x"]
    elif breakage == "no_type":
        del event["type"]
    elif breakage == "bool_depth":
        event["depth"] = True
    elif breakage == "negative_depth":
        event["depth"] = -1
    elif breakage == "bad_sender":
        event["sender"] = "bob"
    elif breakage == "no_room":
        del event["room_id"]
    elif breakage == "int_state_key":
        event["state_key"] = 5
    elif breakage == "float":
        event["content"]["n"] = 1.5  # v6+: strict canonical JSON
    elif breakage == "too_big":
        event["content"]["body"] = "x" * 70000
    elif breakage == "no_hashes":
        del event["hashes"]
    with pytest.raises(PduDropped):
        check_format(event, V10)


def test_format_gives_the_computed_event_id(room):
    event = message(room)
    assert check_format(event, V10).event_id == compute_event_id(event, V10)
