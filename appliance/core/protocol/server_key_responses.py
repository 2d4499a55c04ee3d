"""Server key responses (server-server-api.md "Retrieving server keys").

`/_matrix/key/v2/server` answers a JSON object with `server_name`, `verify_keys`,
`old_verify_keys` and `valid_until_ts`, signed by the server's own current key(s); a notary
(`/_matrix/key/v2/query`) passes it on with its own signature added. Pure: building ours and
checking one received, which yields the keys it vouches for.
"""
from __future__ import annotations

import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from unpaddedbase64 import decode_base64

from .signing import ALGORITHM, SignatureError, SigningKey, sign_json, verify_json_signature


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """A server's public key as known from a key response."""

    server_name: str
    key_id: str
    key: bytes
    valid_until_ts: int  # for old keys: `expired_ts`, the last time it was valid
    expired: bool = False

    def valid_at(self, ts: int) -> bool:
        return ts <= self.valid_until_ts


@dataclass(frozen=True, slots=True)
class OldKey:
    key_id: str
    key_base64: str
    expired_ts: int


def build_server_keys(server_name: str, key: SigningKey, valid_until_ts: int,
                      old_keys: Iterable[OldKey] = ()) -> dict[str, Any]:
    """Our `/_matrix/key/v2/server` body, signed with our current key."""
    body = {
        "server_name": server_name,
        "verify_keys": {key.key_id: {"key": key.verify_key_base64}},
        "old_verify_keys": {k.key_id: {"key": k.key_base64, "expired_ts": k.expired_ts} for k in old_keys},
        "valid_until_ts": valid_until_ts,
    }
    return sign_json(body, server_name, key)


def _decode_key(server_name: str, key_id: str, entry: Any) -> bytes:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("key"), str):
        raise SignatureError(f"{server_name} key {key_id} has no key")
    try:
        raw = decode_base64(entry["key"])
    except (ValueError, binascii.Error):
        raise SignatureError(f"{server_name} key {key_id} is not base64") from None
    if len(raw) != 32:
        raise SignatureError(f"{server_name} key {key_id} is not an ed25519 key")
    return raw


def parse_server_keys(response: Any, expected_server: str) -> list[VerifyKey]:
    """Check a key response for `expected_server`: shape, name, and that every current key
    listed (ed25519 only) signed it. Returns its current and old keys; raises SignatureError.

    Whether `valid_until_ts` is recent enough for the caller's purpose is the caller's
    decision (a key is used for events up to its validity, spec "Validity of keys").
    """
    if not isinstance(response, Mapping):
        raise SignatureError("key response is not an object")
    if response.get("server_name") != expected_server:
        raise SignatureError(f"key response is for {response.get('server_name')!r}, not {expected_server}")
    valid_until = response.get("valid_until_ts")
    if not isinstance(valid_until, int) or isinstance(valid_until, bool):
        raise SignatureError("key response has no valid_until_ts")
    verify_keys = response.get("verify_keys")
    if not isinstance(verify_keys, Mapping) or not verify_keys:
        raise SignatureError("key response has no verify_keys")
    current: list[VerifyKey] = []
    for key_id, entry in verify_keys.items():
        if not isinstance(key_id, str) or not key_id.startswith(ALGORITHM + ":"):
            continue  # other algorithms are ignored, as the spec allows
        raw = _decode_key(expected_server, key_id, entry)
        verify_json_signature(response, expected_server, key_id, raw)
        current.append(VerifyKey(expected_server, key_id, raw, valid_until))
    if not current:
        raise SignatureError("key response has no ed25519 key")
    old: list[VerifyKey] = []
    old_keys = response.get("old_verify_keys") or {}
    if not isinstance(old_keys, Mapping):
        raise SignatureError("old_verify_keys is not an object")
    for key_id, entry in old_keys.items():
        if not isinstance(key_id, str) or not key_id.startswith(ALGORITHM + ":") or key_id in verify_keys:
            continue
        expired = entry.get("expired_ts") if isinstance(entry, Mapping) else None
        if not isinstance(expired, int) or isinstance(expired, bool):
            raise SignatureError(f"old key {key_id} has no expired_ts")
        old.append(VerifyKey(expected_server, key_id, _decode_key(expected_server, key_id, entry), expired, True))
    return current + old
