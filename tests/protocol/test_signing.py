from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from unpaddedbase64 import decode_base64

from appliance.core.protocol import room_versions
from appliance.core.protocol.redaction import redact
from appliance.core.protocol.signing import (
    SignatureError,
    SigningKey,
    hash_and_sign_event,
    sign_event,
    sign_json,
    verify_event_signature,
    verify_json_signature,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "signing.json").read_text("utf-8"))
KEY = VECTORS["key"]
SERVER = KEY["server_name"]
EVENT_CASES = [(v, vid) for v in VECTORS["events"] for vid in v["versions"]]


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_seed_base64(KEY["seed"], KEY["key_id"].split(":", 1)[1])


@pytest.fixture
def verify_key() -> bytes:
    return decode_base64(KEY["verify_key"])


def test_key_from_spec_seed(key: SigningKey) -> None:
    assert key.key_id == KEY["key_id"]
    assert key.verify_key_base64 == KEY["verify_key"]
    # The spec's seed ends in "1": its last two bits are padding, so it re-encodes as "...XA0".
    assert key.seed_base64 == KEY["seed"][:-1] + "0"


def test_key_line_round_trip(key: SigningKey) -> None:
    line = key.to_line()
    assert line == f"ed25519 1 {key.seed_base64}"
    assert SigningKey.from_line(line).verify_key_bytes == key.verify_key_bytes
    with pytest.raises(ValueError):
        SigningKey.from_line("rsa 1 abc")


def test_generated_keys_differ_and_sign() -> None:
    a, b = SigningKey.generate(), SigningKey.generate("custom")
    assert a.verify_key_bytes != b.verify_key_bytes
    assert a.key_id.startswith("ed25519:a_") and len(a.version) == 6
    assert b.key_id == "ed25519:custom"
    verify_json_signature(sign_json({"x": 1}, "s", a), "s", a.key_id, a.verify_key_bytes)


def test_repr_hides_the_seed(key: SigningKey) -> None:
    assert key.seed_base64 not in repr(key)


@pytest.mark.parametrize("vector", VECTORS["json"], ids=lambda v: v["section"][-40:])
def test_sign_json(vector: dict, key: SigningKey, verify_key: bytes) -> None:
    before = copy.deepcopy(vector["input"])
    signed = sign_json(vector["input"], SERVER, key)
    assert signed == vector["signed"]
    assert vector["input"] == before
    verify_json_signature(signed, SERVER, KEY["key_id"], verify_key)


@pytest.mark.parametrize(("vector", "version_id"), EVENT_CASES, ids=lambda x: str(x)[:12])
def test_hash_and_sign_event(
    vector: dict, version_id: str, key: SigningKey, verify_key: bytes
) -> None:
    version = room_versions.KNOWN[version_id]
    signed = hash_and_sign_event(vector["input"], SERVER, key, version)
    assert signed == vector["signed"]
    verify_event_signature(signed, SERVER, KEY["key_id"], verify_key, version)
    # Still valid once redacted: the signature covers only the redacted form.
    verify_event_signature(redact(signed, version), SERVER, KEY["key_id"], verify_key, version)


def test_v11_signature_differs_because_origin_is_not_covered(
    key: SigningKey, verify_key: bytes
) -> None:
    vector = VECTORS["events"][0]
    v11 = hash_and_sign_event(vector["input"], SERVER, key, room_versions.V11)
    assert v11["signatures"] != vector["signed"]["signatures"]
    verify_event_signature(v11, SERVER, KEY["key_id"], verify_key, room_versions.V11)
    # origin can change without breaking a v11 signature, but not a v10 one.
    moved = {**v11, "origin": "elsewhere"}
    verify_event_signature(moved, SERVER, KEY["key_id"], verify_key, room_versions.V11)
    with pytest.raises(SignatureError):
        verify_event_signature(
            {**vector["signed"], "origin": "elsewhere"}, SERVER, KEY["key_id"], verify_key,
            room_versions.V10,
        )


def test_sign_event_adds_a_second_signature(key: SigningKey, verify_key: bytes) -> None:
    other = SigningKey.generate("other")
    signed = VECTORS["events"][1]["signed"]
    cosigned = sign_event(signed, "resident.example", other, room_versions.V1)
    assert cosigned["signatures"]["domain"] == signed["signatures"]["domain"]
    assert cosigned["hashes"] == signed["hashes"]
    verify_event_signature(cosigned, SERVER, KEY["key_id"], verify_key, room_versions.V1)
    verify_event_signature(
        cosigned, "resident.example", other.key_id, other.verify_key_bytes, room_versions.V1
    )


def test_sign_event_requires_a_content_hash(key: SigningKey) -> None:
    with pytest.raises(ValueError):
        sign_event(VECTORS["events"][0]["input"], SERVER, key, room_versions.V1)


def test_tampered_content_keeps_signature_but_not_hash(key: SigningKey, verify_key: bytes) -> None:
    """Content outside the redacted form is protected by the hash, not the signature."""
    signed = VECTORS["events"][1]["signed"]
    tampered = {**signed, "content": {"body": "forged"}}
    verify_event_signature(tampered, SERVER, KEY["key_id"], verify_key, room_versions.V1)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o.update(one=2),
        lambda o: o.update(extra=True),
        lambda o: o.pop("two"),
        lambda o: o["signatures"]["domain"].update({"ed25519:1": "AAAA"}),
        lambda o: o["signatures"]["domain"].update({"ed25519:1": "not base64!"}),
        lambda o: o["signatures"].pop("domain"),
        lambda o: o.pop("signatures"),
        lambda o: o.update(signatures="nope"),
    ],
)
def test_verify_json_rejects(mutate, verify_key: bytes) -> None:
    obj = copy.deepcopy(VECTORS["json"][1]["signed"])
    mutate(obj)
    with pytest.raises(SignatureError):
        verify_json_signature(obj, SERVER, KEY["key_id"], verify_key)


def test_verify_json_ignores_unsigned(verify_key: bytes) -> None:
    obj = {**VECTORS["json"][1]["signed"], "unsigned": {"anything": 1}}
    verify_json_signature(obj, SERVER, KEY["key_id"], verify_key)


def test_verify_json_rejects_wrong_key_server_and_algorithm(verify_key: bytes) -> None:
    signed = VECTORS["json"][1]["signed"]
    with pytest.raises(SignatureError):
        verify_json_signature(signed, SERVER, KEY["key_id"], SigningKey.generate().verify_key_bytes)
    with pytest.raises(SignatureError):
        verify_json_signature(signed, "other", KEY["key_id"], verify_key)
    with pytest.raises(SignatureError):
        verify_json_signature(signed, SERVER, "ed25519:2", verify_key)
    with pytest.raises(SignatureError):
        verify_json_signature(signed, SERVER, "rsa:1", verify_key)
    with pytest.raises(SignatureError):
        verify_json_signature(signed, SERVER, KEY["key_id"], b"short")


def _new_events() -> list[dict]:
    base = {"type": "m.room.message", "sender": "@a:domain", "room_id": "!r:domain", "depth": 3,
            "origin_server_ts": 1_000_000, "prev_events": ["$p"], "auth_events": ["$a", "$b"],
            "content": {"msgtype": "m.text", "body": "héllo \u2028 😀", "n": 2, "nested": {"z": [1, None, True]}}}
    state = {**base, "type": "m.room.member", "state_key": "@a:domain",
             "content": {"membership": "join", "displayname": "A", "avatar_url": "mxc://x/y"}}
    floaty = {**base, "content": {"body": "x", "f": 2.0}}
    return [base, state, floaty, {**base, "unsigned": {"age": 5}}]


@pytest.mark.parametrize("version_id", sorted(room_versions.KNOWN))
def test_hash_sign_and_encode_event_matches_the_separate_steps(version_id: str, key: SigningKey,
                                                              verify_key: bytes) -> None:
    """One normalisation and the signed bytes reused as the reference hash: the same event,
    JSON and event ID as hash_and_sign_event, encode_canonical_json and compute_event_id."""
    from appliance.core.protocol.canonical_json import encode_canonical_json
    from appliance.core.protocol.hashes import compute_event_id
    from appliance.core.protocol.signing import hash_sign_and_encode_event

    version = room_versions.KNOWN[version_id]
    strict = version.event_format.strict_canonical_json
    for event in _new_events():
        if version.event_ids is room_versions.EventIdFormat.V1:
            event = {**event, "event_id": "$x:domain", "origin": "domain"}
        before = copy.deepcopy(event)
        try:
            expected = hash_and_sign_event(event, SERVER, key, version)
            expected_json = encode_canonical_json(expected, strict=strict)
        except ValueError:
            with pytest.raises(ValueError):
                hash_sign_and_encode_event(event, SERVER, key, version)
            continue
        signed, encoded, event_id = hash_sign_and_encode_event(event, SERVER, key, version)
        assert event == before
        assert signed == expected and encoded == expected_json
        if version.event_ids is room_versions.EventIdFormat.V1:
            assert event_id is None
        else:
            assert event_id == compute_event_id(expected, version)
        verify_event_signature(signed, SERVER, KEY["key_id"], verify_key, version)
