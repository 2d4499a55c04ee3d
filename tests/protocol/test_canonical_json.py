from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.core.protocol import room_versions
from appliance.core.protocol.canonical_json import (
    check_canonical_json,
    check_event_json_valid,
    encode_canonical_json,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "canonical_json.json").read_text("utf-8")
)["vectors"]
ENCODABLE = [v for v in VECTORS if "expected" in v]
STRICT_OK = [v for v in ENCODABLE if not v.get("strict_error")]
STRICT_ERROR = [v for v in VECTORS if v.get("strict_error")]
ERROR = [v for v in VECTORS if v.get("error")]


def _id(v: dict) -> str:
    return v["section"][:60] + " " + v["input"][:30]


@pytest.mark.parametrize("vector", ENCODABLE, ids=_id)
def test_encodes_exactly(vector: dict) -> None:
    out = encode_canonical_json(json.loads(vector["input"]))
    assert out == vector["expected"].encode("utf-8")


@pytest.mark.parametrize("vector", STRICT_OK, ids=_id)
def test_strict_mode_accepts_and_agrees(vector: dict) -> None:
    obj = json.loads(vector["input"])
    assert encode_canonical_json(obj, strict=True) == vector["expected"].encode("utf-8")
    check_canonical_json(obj)


@pytest.mark.parametrize("vector", STRICT_ERROR, ids=_id)
def test_strict_mode_rejects(vector: dict) -> None:
    obj = json.loads(vector["input"])
    with pytest.raises(ValueError):
        encode_canonical_json(obj, strict=True)
    with pytest.raises(ValueError):
        check_canonical_json(obj)


@pytest.mark.parametrize("vector", ERROR, ids=_id)
def test_never_encodable(vector: dict) -> None:
    obj = json.loads(vector["input"])
    with pytest.raises(ValueError):
        encode_canonical_json(obj)
    with pytest.raises(ValueError):
        encode_canonical_json(obj, strict=True)


def test_bools_are_not_numbers() -> None:
    assert encode_canonical_json({"t": True, "f": False}, strict=True) == b'{"f":false,"t":true}'


def test_tuples_encode_as_arrays() -> None:
    assert encode_canonical_json({"a": (1, "x")}) == b'{"a":[1,"x"]}'


def test_non_string_keys_are_rejected() -> None:
    # json.dumps would silently turn 1 into "1"; two dicts would then collide.
    with pytest.raises(ValueError):
        encode_canonical_json({1: "a"})


def test_non_json_values_are_rejected() -> None:
    with pytest.raises(TypeError):
        encode_canonical_json({"a": {1, 2}})
    with pytest.raises(TypeError):
        encode_canonical_json({"a": b"bytes"})


def test_input_is_not_modified() -> None:
    obj = {"b": [1.0], "a": {"d": 2, "c": -0.0}}
    encode_canonical_json(obj)
    assert obj == {"b": [1.0], "a": {"d": 2, "c": -0.0}}
    assert isinstance(obj["b"][0], float)


@pytest.mark.parametrize("version_id", ["1", "2", "3", "4", "5"])
def test_event_json_lenient_before_v6(version_id: str) -> None:
    version = room_versions.KNOWN[version_id]
    check_event_json_valid({"content": {"n": 2**60, "f": 1.5}}, version)


@pytest.mark.parametrize("version_id", ["6", "7", "8", "9", "10", "11", "12"])
def test_event_json_strict_from_v6(version_id: str) -> None:
    version = room_versions.KNOWN[version_id]
    check_event_json_valid({"content": {"n": 2**53 - 1}}, version)
    with pytest.raises(ValueError):
        check_event_json_valid({"content": {"n": 2**53}}, version)
    with pytest.raises(ValueError):
        check_event_json_valid({"content": {"pl": [50.0]}}, version)
