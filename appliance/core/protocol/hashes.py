"""Content hashes, reference hashes and hash-based event IDs (server-server-api.md
"Calculating the content hash for an event", "Calculating the reference hash for an event";
rooms/fragments/v1-event-ids.md, v4-event-ids.md, rooms/v3.md "Event IDs").

The content hash covers the whole unredacted event, so a redacted copy fails it; the
reference hash covers only the redacted event, so it survives redaction and can name the event.
"""
from __future__ import annotations

import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from unpaddedbase64 import decode_base64, encode_base64

from .canonical_json import encode_canonical_json
from .ids import make_v1_event_id
from .redaction import redact
from .room_versions import EventIdFormat, RoomVersion

__all__ = [
    "add_content_hash",
    "check_content_hash",
    "compute_content_hash",
    "compute_event_id",
    "compute_reference_hash",
    "make_v1_event_id",
]


def compute_content_hash(event_dict: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of the event without `unsigned`, `signatures`, `hashes`."""
    stripped = {
        k: v for k, v in event_dict.items() if k not in ("unsigned", "signatures", "hashes")
    }
    return hashlib.sha256(encode_canonical_json(stripped)).digest()


def add_content_hash(event_dict: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the event with `hashes.sha256` set (other hash algorithms are kept)."""
    out = dict(event_dict)
    hashes = event_dict.get("hashes")
    out["hashes"] = {
        **(hashes if isinstance(hashes, Mapping) else {}),
        "sha256": encode_base64(compute_content_hash(event_dict)),
    }
    return out


def check_content_hash(event_dict: Mapping[str, Any]) -> bool:
    """True if `hashes.sha256` matches the event. False if it is missing or not base64.

    A mismatch usually means we were sent a redacted copy: the caller should then keep the
    redacted form (server-server-api.md "Validating hashes and signatures on received events").
    """
    hashes = event_dict.get("hashes")
    claimed = hashes.get("sha256") if isinstance(hashes, Mapping) else None
    if not isinstance(claimed, str):
        return False
    try:
        expected = decode_base64(claimed)
    except (ValueError, binascii.Error):
        return False
    return expected == compute_content_hash(event_dict)


def compute_reference_hash(event_dict: Mapping[str, Any], version: RoomVersion) -> bytes:
    """SHA-256 of the redacted event without `signatures`, `unsigned` (and legacy `age_ts`).

    Defined for every room version: in v1/v2 it is the hash carried in `prev_events` and
    `auth_events` pairs (`[event_id, {"sha256": ...}]`); from v3 it is the event ID.
    """
    redacted = redact(event_dict, version)
    for key in ("signatures", "unsigned", "age_ts"):
        redacted.pop(key, None)
    return hashlib.sha256(encode_canonical_json(redacted)).digest()


def compute_event_id(event_dict: Mapping[str, Any], version: RoomVersion) -> str:
    """`$` + the reference hash in unpadded base64: standard alphabet in v3, URL-safe from v4.

    Raises ValueError for v1/v2, where the origin server chooses the ID (`make_v1_event_id`)
    and it is carried in the event's `event_id`.
    """
    if version.event_ids is EventIdFormat.V1:
        raise ValueError(f"room version {version.id} event IDs are not derived from the event")
    digest = compute_reference_hash(event_dict, version)
    return "$" + encode_base64(digest, urlsafe=version.event_ids is EventIdFormat.V4)
