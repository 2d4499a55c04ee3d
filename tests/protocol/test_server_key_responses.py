from __future__ import annotations

import copy

import pytest

from appliance.core.protocol.server_key_responses import OldKey, build_server_keys, parse_server_keys
from appliance.core.protocol.signing import SignatureError, SigningKey, sign_json

KEY = SigningKey.from_seed_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1", "1")
OLD = SigningKey.generate("old")


def _ours() -> dict:
    return build_server_keys("hearth.example", KEY, 1_700_000_000_000,
                             [OldKey(OLD.key_id, OLD.verify_key_base64, 1_600_000_000_000)])


def test_build_and_parse_round_trip() -> None:
    body = _ours()
    assert body["verify_keys"] == {"ed25519:1": {"key": "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"}}
    keys = parse_server_keys(body, "hearth.example")
    current, old = keys
    assert (current.key_id, current.key, current.valid_until_ts, current.expired) == (
        "ed25519:1", KEY.verify_key_bytes, 1_700_000_000_000, False)
    assert (old.key_id, old.key, old.valid_until_ts, old.expired) == (
        "ed25519:old", OLD.verify_key_bytes, 1_600_000_000_000, True)
    assert current.valid_at(1_700_000_000_000) and not current.valid_at(1_700_000_000_001)


def test_notary_signature_added_still_parses() -> None:
    notary = SigningKey.generate("n")
    body = sign_json(_ours(), "notary.example", notary)
    assert len(parse_server_keys(body, "hearth.example")) == 2


@pytest.mark.parametrize("tamper", [
    "wrong_server", "forged_sig", "changed_key", "changed_validity", "no_validity", "no_keys",
    "not_object", "key_not_base64", "short_key", "only_other_algorithm", "old_without_expiry", "unsigned",
])
def test_bad_responses_refused(tamper: str) -> None:
    body = copy.deepcopy(_ours())
    expected = "hearth.example"
    if tamper == "wrong_server":
        expected = "other.example"
    elif tamper == "forged_sig":
        body = sign_json({k: v for k, v in body.items() if k != "signatures"}, "hearth.example",
                         SigningKey.generate("1"))
    elif tamper == "changed_key":
        body["verify_keys"]["ed25519:1"]["key"] = OLD.verify_key_base64
    elif tamper == "changed_validity":
        body["valid_until_ts"] += 1
    elif tamper == "no_validity":
        del body["valid_until_ts"]
    elif tamper == "no_keys":
        body["verify_keys"] = {}
    elif tamper == "not_object":
        body = ["x"]
    elif tamper == "key_not_base64":
        body["verify_keys"]["ed25519:1"]["key"] = "!!!"
    elif tamper == "short_key":
        body["verify_keys"]["ed25519:1"]["key"] = "AAAA"
    elif tamper == "only_other_algorithm":
        body["verify_keys"] = {"curve:1": body["verify_keys"]["ed25519:1"]}
    elif tamper == "old_without_expiry":
        del body["old_verify_keys"]["ed25519:old"]["expired_ts"]
        body = sign_json({k: v for k, v in body.items() if k != "signatures"}, "hearth.example", KEY)
    elif tamper == "unsigned":
        del body["signatures"]
    with pytest.raises(SignatureError):
        parse_server_keys(body, expected)
