"""Checks on a PDU received over federation, in the spec's order (server-server-api.md
"Checks performed on receipt of a PDU"):

1. a valid event, otherwise dropped;
2. valid signatures (the servers `servers_required_to_sign` names), otherwise dropped;
3. a matching content hash, otherwise the event is redacted before going further;
4. allowed by the auth rules against its own auth events, otherwise rejected;
5. allowed against the state before the event, otherwise rejected;
6. allowed against the room's current state, otherwise soft-failed (kept, not sent to clients,
   not used as a prev event).

Pure: the caller supplies the verify keys it has fetched (a function that knows which key was
valid when), the auth events, and the two states; the verdict says what to keep and how.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .auth_rules import AuthFailure, check_auth, check_auth_event_selection, servers_required_to_sign
from .canonical_json import check_event_json_valid, encode_canonical_json
from .events import Pdu, StateKey
from .hashes import check_content_hash, compute_event_id
from .ids import is_valid_user_id
from .redaction import redact
from .room_versions import RoomVersion
from .signing import SignatureError, verify_event_signature

MAX_PDU_BYTES = 65536
MAX_DEPTH = 2**63 - 1

# (server name, key ID, origin_server_ts) -> the verify key valid then, or None if unknown.
KeyLookup = Callable[[str, str, int], bytes | None]


class PduDropped(Exception):
    """Steps 1–2 failed: the PDU is not an event of this room version or is not signed by
    whom it must be. It is dropped, neither stored nor rejected."""


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"        # stored as rejected; never part of the state or the timeline
    SOFT_FAILED = "soft_failed"  # stored and may be in state later, not shown nor built upon


@dataclass(frozen=True, slots=True)
class Verdict:
    pdu: Pdu  # the redacted form when the content hash did not match
    outcome: Outcome
    redacted: bool = False
    reason: str | None = None


def check_format(event: Any, version: RoomVersion) -> Pdu:
    """Step 1: the fields every PDU has, with the right types, within size, JSON the room
    version accepts; the event ID taken (v1/v2) or computed (v3+). Raises PduDropped."""
    if not isinstance(event, dict):
        raise PduDropped("PDU is not an object")
    for key, kind in (("type", str), ("sender", str), ("content", dict), ("origin_server_ts", int),
                      ("depth", int), ("prev_events", list), ("auth_events", list), ("hashes", dict),
                      ("signatures", dict)):
        value = event.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise PduDropped(f"PDU field {key} is missing or not a {kind.__name__}")
    is_v12_create = event["type"] == "m.room.create" and version.event_format.room_id_is_create_hash
    if not is_v12_create and not isinstance(event.get("room_id"), str):
        raise PduDropped("PDU field room_id is missing or not a string")
    if "state_key" in event and not isinstance(event["state_key"], str):
        raise PduDropped("state_key is not a string")
    if not is_valid_user_id(event["sender"]):
        raise PduDropped("sender is not a user ID")
    if not 0 <= event["depth"] <= MAX_DEPTH:
        raise PduDropped("depth is out of range")
    try:
        check_event_json_valid(event, version)
        size = len(encode_canonical_json(event))
    except (ValueError, TypeError) as e:
        raise PduDropped(f"PDU is not valid JSON for room version {version.id}: {e}") from None
    if size > MAX_PDU_BYTES:
        raise PduDropped(f"PDU is {size} bytes, more than {MAX_PDU_BYTES}")
    if version.event_format.event_id_in_event:
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id.startswith("$"):
            raise PduDropped("event_id is missing")
    else:
        event_id = compute_event_id(event, version)
    return Pdu(event_id, version, event)


def check_signatures(pdu: Pdu, keys: KeyLookup) -> None:
    """Step 2: each server that must sign has a valid signature by a key valid at the event's
    origin_server_ts. Raises PduDropped."""
    signatures = pdu.data.get("signatures") or {}
    for server in servers_required_to_sign(pdu):
        by_server = signatures.get(server) if server else None
        if not isinstance(by_server, Mapping) or not by_server:
            raise PduDropped(f"PDU is not signed by {server}")
        ok = False
        for key_id in by_server:
            key = keys(server, key_id, pdu.origin_server_ts) if isinstance(key_id, str) else None
            if key is None:
                continue
            try:
                verify_event_signature(pdu.data, server, key_id, key, pdu.room_version)
            except SignatureError:
                continue
            ok = True
            break
        if not ok:
            raise PduDropped(f"no valid signature from {server}")


def check_pdu(event: Any, version: RoomVersion, keys: KeyLookup, auth_events: Sequence[Pdu],
              state_before: Mapping[StateKey, Pdu], current_state: Mapping[StateKey, Pdu],
              create_event: Pdu | None = None) -> Verdict:
    """All six steps; raises PduDropped for 1–2, else a Verdict. `auth_events` are the events
    the PDU lists (fetched by the caller); `create_event` is the room's (v12 keeps it out of them)."""
    pdu = check_format(event, version)
    check_signatures(pdu, keys)
    redacted = not check_content_hash(pdu.data)
    if redacted:  # step 3: keep the redacted form, whose signature we just checked
        pdu = Pdu(pdu.event_id, version, redact(pdu.data, version))
    by_key = {(e.type, e.state_key or ""): e for e in auth_events if e.state_key is not None}
    try:
        listed = set(pdu.auth_event_ids)
        if {e.event_id for e in auth_events} != listed:
            raise AuthFailure("auth_events: the events given are not the ones the PDU lists")
        check_auth_event_selection(pdu, list(auth_events))
        check_auth(pdu, by_key, create_event=create_event)  # step 4
    except AuthFailure as e:
        return Verdict(pdu, Outcome.REJECTED, redacted, f"auth events: {e}")
    try:
        check_auth(pdu, state_before, create_event=create_event)  # step 5
    except AuthFailure as e:
        return Verdict(pdu, Outcome.REJECTED, redacted, f"state before the event: {e}")
    try:
        check_auth(pdu, current_state, create_event=create_event)  # step 6
    except AuthFailure as e:
        return Verdict(pdu, Outcome.SOFT_FAILED, redacted, f"current state: {e}")
    return Verdict(pdu, Outcome.ACCEPTED, redacted)
