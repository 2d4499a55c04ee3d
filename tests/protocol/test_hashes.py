from __future__ import annotations

import json
from pathlib import Path

import pytest
from unpaddedbase64 import encode_base64

from appliance.core.protocol import room_versions
from appliance.core.protocol.hashes import (
    add_content_hash,
    check_content_hash,
    compute_content_hash,
    compute_event_id,
    compute_reference_hash,
    make_v1_event_id,
)
from appliance.core.protocol.ids import is_valid_event_id, room_id_for_create_event
from appliance.core.protocol.redaction import redact

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "hashes.json").read_text("utf-8"))


@pytest.mark.parametrize("vector", VECTORS["content_hash"], ids=lambda v: v["section"][-30:])
def test_content_hash(vector: dict) -> None:
    assert encode_base64(compute_content_hash(vector["event"])) == vector["sha256"]
    hashed = add_content_hash(vector["event"])
    assert hashed["hashes"] == {"sha256": vector["sha256"]}
    assert check_content_hash(hashed)


def test_content_hash_ignores_unsigned_signatures_and_hashes() -> None:
    event = VECTORS["content_hash"][0]["event"]
    noisy = {**event, "unsigned": {"age": 1}, "signatures": {"x": {}}, "hashes": {"sha256": "zz"}}
    assert compute_content_hash(noisy) == compute_content_hash(event)


def test_content_hash_covers_content() -> None:
    hashed = add_content_hash(VECTORS["content_hash"][1]["event"])
    tampered = {**hashed, "content": {"body": "Here is other content"}}
    assert not check_content_hash(tampered)
    # A redacted copy fails the content hash: the receiver then keeps the redacted form.
    assert not check_content_hash(redact(hashed, room_versions.V1))


def test_add_content_hash_keeps_other_algorithms_and_input() -> None:
    event = {"type": "X", "content": {}, "hashes": {"sha512": "abc"}}
    out = add_content_hash(event)
    assert set(out["hashes"]) == {"sha256", "sha512"}
    assert event["hashes"] == {"sha512": "abc"}


@pytest.mark.parametrize(
    "hashes", [None, {}, {"sha256": 5}, {"sha256": "not base64!"}, "sha256", {"sha256": "5jM4"}]
)
def test_check_content_hash_fails_closed(hashes: object) -> None:
    event = {**VECTORS["content_hash"][0]["event"], "hashes": hashes}
    assert check_content_hash(event) is False


def test_check_content_hash_accepts_padding() -> None:
    event = add_content_hash(VECTORS["content_hash"][0]["event"])
    event["hashes"]["sha256"] += "="
    assert check_content_hash(event)


@pytest.mark.parametrize("vector", VECTORS["event_ids"], ids=lambda v: "v" + v["version"])
def test_event_id(vector: dict) -> None:
    version = room_versions.KNOWN[vector["version"]]
    event_id = compute_event_id(vector["event"], version)
    assert event_id == vector["event_id"]
    assert is_valid_event_id(event_id, version)
    if "room_id" in vector:
        assert room_id_for_create_event(event_id) == vector["room_id"]


def test_event_ids_v4_to_v10_agree_and_v11_differs() -> None:
    event = VECTORS["event_ids"][1]["event"]
    ids = {vid: compute_event_id(event, room_versions.KNOWN[vid]) for vid in map(str, range(4, 13))}
    assert {ids[str(v)] for v in range(4, 11)} == {VECTORS["event_ids"][1]["event_id"]}
    assert ids["11"] == ids["12"] == VECTORS["event_ids"][2]["event_id"]


def test_event_id_survives_redaction_and_ignores_unsigned() -> None:
    vector = VECTORS["event_ids"][1]
    version = room_versions.KNOWN[vector["version"]]
    assert compute_event_id(redact(vector["event"], version), version) == vector["event_id"]
    moved = {**vector["event"], "unsigned": {"age": 99}, "signatures": {}}
    assert compute_event_id(moved, version) == vector["event_id"]


@pytest.mark.parametrize("vector", VECTORS["reference_hashes"], ids=lambda v: "v" + v["version"])
def test_reference_hash_for_v1_pairs(vector: dict) -> None:
    version = room_versions.KNOWN[vector["version"]]
    assert encode_base64(compute_reference_hash(vector["event"], version)) == vector["sha256"]


@pytest.mark.parametrize("version", [room_versions.V1, room_versions.V2])
def test_v1_v2_event_ids_are_not_derived(version: room_versions.RoomVersion) -> None:
    with pytest.raises(ValueError):
        compute_event_id(VECTORS["reference_hashes"][0]["event"], version)


def test_make_v1_event_id() -> None:
    first, second = make_v1_event_id("example.org"), make_v1_event_id("example.org")
    assert first != second
    assert first.startswith("$") and first.endswith(":example.org")
    assert is_valid_event_id(first, room_versions.V1)
    assert not is_valid_event_id(first, room_versions.V4)
