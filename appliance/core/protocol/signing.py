"""Signing JSON and events (appendices.md "Signing JSON", "Checking for a Signature";
server-server-api.md "Signing Events").

A signature covers the canonical JSON without `signatures` and `unsigned`. An event's
signature covers its redacted form, so it still verifies after the event is redacted; the
content hash (`hashes.sha256`, inside the signed part) is what protects the rest.
"""
from __future__ import annotations

import binascii
import hashlib
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.signing
from unpaddedbase64 import decode_base64, encode_base64

from .canonical_json import encode_canonical_json, encode_normalised, normalise
from .hashes import add_content_hash
from .redaction import redact
from .room_versions import EventIdFormat, RoomVersion

ALGORITHM = "ed25519"


class SignatureError(Exception):
    """A signature is missing, malformed, or does not match."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An ed25519 signing key and its version (the part after `ed25519:` in the key ID)."""

    version: str
    key: nacl.signing.SigningKey

    @classmethod
    def generate(cls, version: str | None = None) -> SigningKey:
        """A new random key; the version defaults to a random `a_XXXX`, as Synapse does."""
        if version is None:
            version = "a_" + "".join(secrets.choice(string.ascii_letters) for _ in range(4))
        return cls(version, nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed_base64(cls, seed: str, version: str) -> SigningKey:
        """The key whose 32-byte seed is `seed` in (unpadded) base64."""
        return cls(version, nacl.signing.SigningKey(decode_base64(seed)))

    @classmethod
    def from_line(cls, line: str) -> SigningKey:
        """Parse `ed25519 <version> <seed base64>`, the line format of Synapse's key files."""
        parts = line.split()
        if len(parts) != 3 or parts[0] != ALGORITHM:
            raise ValueError("expected 'ed25519 <version> <seed>'")
        return cls.from_seed_base64(parts[2], parts[1])

    def to_line(self) -> str:
        return f"{ALGORITHM} {self.version} {self.seed_base64}"

    @property
    def seed_base64(self) -> str:
        return encode_base64(bytes(self.key))

    @property
    def key_id(self) -> str:
        return f"{ALGORITHM}:{self.version}"

    @property
    def verify_key_bytes(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def verify_key_base64(self) -> str:
        """The public key as published in `/_matrix/key/v2/server` `verify_keys`."""
        return encode_base64(self.verify_key_bytes)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached signature of `message`."""
        return self.key.sign(message).signature

    def __repr__(self) -> str:  # never print the seed
        return f"SigningKey({self.key_id}, verify_key={self.verify_key_base64})"


def sign_json(obj: Mapping[str, Any], server_name: str, key: SigningKey) -> dict[str, Any]:
    """A copy of `obj` with `server_name`'s signature added; existing signatures are kept."""
    signature = key.sign(encode_canonical_json(_signed_part(obj)))
    signatures = {
        name: dict(sigs) for name, sigs in (obj.get("signatures") or {}).items()
    }
    signatures.setdefault(server_name, {})[key.key_id] = encode_base64(signature)
    return {**obj, "signatures": signatures}


def verify_json_signature(
    obj: Mapping[str, Any], server_name: str, key_id: str, verify_key: bytes
) -> None:
    """Check `server_name`'s signature under `key_id`; raise SignatureError if it fails.

    Looking up `verify_key` (and whether it was valid at the time) is the caller's job.
    """
    if not key_id.startswith(ALGORITHM + ":"):
        raise SignatureError(f"unsupported signing algorithm in {key_id!r}")
    signatures = obj.get("signatures")
    try:
        encoded = signatures[server_name][key_id]
        signature = decode_base64(encoded)
    except (KeyError, TypeError):
        raise SignatureError(f"no signature from {server_name} with {key_id}") from None
    except (ValueError, binascii.Error):
        raise SignatureError(f"signature from {server_name} is not base64") from None
    try:
        message = encode_canonical_json(_signed_part(obj))
        nacl.signing.VerifyKey(verify_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError) as e:
        raise SignatureError(f"bad signature from {server_name} with {key_id}: {e}") from None


def hash_and_sign_event(
    event_dict: Mapping[str, Any], server_name: str, key: SigningKey, version: RoomVersion
) -> dict[str, Any]:
    """Add the content hash, then sign: what the origin server does to a new event."""
    return sign_event(add_content_hash(event_dict), server_name, key, version)


def hash_sign_and_encode_event(
    event_dict: Mapping[str, Any], server_name: str, key: SigningKey, version: RoomVersion
) -> tuple[dict[str, Any], bytes, str | None]:
    """`hash_and_sign_event` for a new local event, plus its canonical JSON (strict in room
    versions that require it) and, where event IDs are hashes (v3+), its event ID.

    One normalisation and three encodings instead of four of each: the bytes that are signed
    (the redacted event without `signatures` and `unsigned`) are also the bytes of the
    reference hash. Raises ValueError like `encode_canonical_json(..., strict)` would.
    """
    hashes = event_dict.get("hashes")
    if isinstance(hashes, Mapping) and "sha256" in hashes:
        raise ValueError("event is hashed already; use sign_event")
    norm = normalise(event_dict, strict=version.event_format.strict_canonical_json)
    content_hash = hashlib.sha256(encode_normalised(
        {k: v for k, v in norm.items() if k not in ("unsigned", "signatures", "hashes")})).digest()
    old_hashes = norm.get("hashes")
    new_hashes = {**(old_hashes if isinstance(old_hashes, Mapping) else {}), "sha256": encode_base64(content_hash)}
    redacted = redact({**norm, "hashes": new_hashes}, version)
    signed_bytes = encode_normalised(_signed_part(redacted))
    signatures = {name: dict(sigs) for name, sigs in (event_dict.get("signatures") or {}).items()}
    signatures.setdefault(server_name, {})[key.key_id] = encode_base64(key.sign(signed_bytes))
    signed = {**event_dict, "hashes": new_hashes, "signatures": signatures}
    encoded = encode_normalised({**norm, "hashes": new_hashes, "signatures": signatures})
    event_id = None
    if version.event_ids is not EventIdFormat.V1:
        # The reference hash also leaves out `age_ts`, which a new event does not carry.
        ref = signed_bytes if "age_ts" not in redacted else encode_normalised(
            {k: v for k, v in redacted.items() if k not in ("signatures", "unsigned", "age_ts")})
        event_id = "$" + encode_base64(hashlib.sha256(ref).digest(),
                                       urlsafe=version.event_ids is EventIdFormat.V4)
    return signed, encoded, event_id


def sign_event(
    event_dict: Mapping[str, Any], server_name: str, key: SigningKey, version: RoomVersion
) -> dict[str, Any]:
    """A copy of the event with `server_name`'s signature over its redacted form added.

    The event must already carry `hashes.sha256` (use `hash_and_sign_event` for a new event);
    this form is for adding a second signature, e.g. the resident server's on a send_join.
    """
    hashes = event_dict.get("hashes")
    if not isinstance(hashes, Mapping) or "sha256" not in hashes:
        raise ValueError("event has no content hash; use hash_and_sign_event")
    signed = sign_json(redact(event_dict, version), server_name, key)
    return {**event_dict, "signatures": signed["signatures"]}


def verify_event_signature(
    event_dict: Mapping[str, Any],
    server_name: str,
    key_id: str,
    verify_key: bytes,
    version: RoomVersion,
) -> None:
    """Check `server_name`'s signature on the event's redacted form; raise SignatureError."""
    verify_json_signature(redact(event_dict, version), server_name, key_id, verify_key)


def _signed_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
