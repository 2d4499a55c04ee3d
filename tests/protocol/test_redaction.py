from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from appliance.core.protocol import room_versions
from appliance.core.protocol.redaction import redact

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "redaction.json").read_text("utf-8")
)["vectors"]

CASES = [
    (v["section"], v["event"], version_id, group["redacted"])
    for v in VECTORS
    for group in v["expected"]
    for version_id in group["versions"]
]


@pytest.mark.parametrize(
    ("section", "event", "version_id", "expected"),
    CASES,
    ids=[f"v{c[2]}-{c[1]['type']}-{i}" for i, c in enumerate(CASES)],
)
def test_redacts_exactly(section: str, event: dict, version_id: str, expected: dict) -> None:
    assert redact(event, room_versions.KNOWN[version_id]) == expected


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["section"][:70])
def test_vector_groups_are_disjoint(vector: dict) -> None:
    seen: list[str] = [vid for g in vector["expected"] for vid in g["versions"]]
    assert len(seen) == len(set(seen))


def test_every_version_is_covered_for_member_events() -> None:
    member = VECTORS[0]
    assert member["event"]["type"] == "m.room.member"
    covered = {vid for g in member["expected"] for vid in g["versions"]}
    assert covered == set(room_versions.KNOWN)


def test_input_is_not_modified() -> None:
    event = VECTORS[0]["event"]
    before = copy.deepcopy(event)
    redact(event, room_versions.V11)
    assert event == before


def test_redacting_twice_changes_nothing() -> None:
    for version in room_versions.KNOWN.values():
        for vector in VECTORS:
            once = redact(vector["event"], version)
            assert redact(once, version) == once


def test_non_object_content_becomes_empty() -> None:
    event = {"type": "m.room.member", "content": ["membership"], "sender": "@a:b"}
    expected = {"type": "m.room.member", "content": {}, "sender": "@a:b"}
    assert redact(event, room_versions.V1) == expected
