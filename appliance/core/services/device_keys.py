"""Device keys, one-time and fallback keys, cross-signing, and device-list changes
(end_to_end_encryption.md: "Key management API", "Cross-signing", "Tracking the device list").

Every change to a user's devices or keys records a device-list change at a stream position and
wakes the user and the rooms they are in, so that the users they share a room with learn of
it in /sync (`device_lists.changed`) and through /keys/changes.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

from unpaddedbase64 import decode_base64

from ..protocol.errors import BadJson, Forbidden, InvalidParam, InvalidSignature, MissingParam
from ..protocol.ids import is_valid_user_id, server_name_of
from ..protocol.signing import SignatureError, verify_json_signature
from ..storage.database import Database
from ..storage.stores.e2e_keys import E2eKeyStore, _dump
from ..storage.stores.to_device import ToDeviceStore
from ..stream import Stream

log = logging.getLogger(__name__)

CROSS_SIGNING_TYPES = ("master", "self_signing", "user_signing")
# Synapse always reports this count so that old clients (and matrix-nio) see a zero.
DEFAULT_OTK_ALGORITHM = "signed_curve25519"
FEDERATION_UNAVAILABLE = {"status": 503, "message": "Federation is not available on this server"}


def _signed_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}


def _ed25519_key(key_b64: Any) -> bytes:
    try:
        raw = decode_base64(key_b64)
    except Exception:  # noqa: BLE001 - any decoding problem is an invalid key
        raise InvalidParam("Invalid ed25519 key") from None
    if len(raw) != 32:
        raise InvalidParam("Invalid ed25519 key")
    return raw


def _verify(obj: Mapping[str, Any], user_id: str, key_id: str, key_b64: str) -> bool:
    try:
        verify_json_signature(obj, user_id, key_id, _ed25519_key(key_b64))
    except (SignatureError, InvalidParam):
        return False
    return True


def cross_signing_public_key(key: Mapping[str, Any]) -> str:
    """The one ed25519 public key of a cross-signing key object (its `keys` has one entry)."""
    keys = key.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        raise InvalidParam("A cross-signing key must have exactly one key")
    ((key_id, value),) = keys.items()
    if not isinstance(value, str) or key_id != f"ed25519:{value}":
        raise InvalidParam("A cross-signing key ID must be ed25519:<public key>")
    _ed25519_key(value)
    return value


class DeviceKeyService:
    def __init__(self, db: Database, store: E2eKeyStore, stream: Stream, server_name: str):
        self.db = db
        self.store = store
        self.stream = stream
        self.server_name = server_name

    def _is_local(self, user_id: str) -> bool:
        try:
            return server_name_of(user_id) == self.server_name
        except ValueError:
            return False

    # -- recording changes ---------------------------------------------------------------------

    async def _wake(self, pos: int, user_id: str) -> None:
        rooms = await self.store.joined_rooms(user_id)
        self.stream.advance(pos, [user_id, *rooms])

    async def record_device_change(self, user_id: str, device_id: str) -> None:
        """A device was added (login, registration): users who share a room re-query its keys."""
        def job(conn: sqlite3.Connection) -> int:
            pos = self.stream.allocate(conn)
            E2eKeyStore.record_change_job(conn, user_id, device_id, pos)
            return pos
        await self._wake(await self.db.write(job), user_id)

    async def on_device_deleted(self, user_id: str, device_id: str) -> None:
        """A device is gone: its keys go with it, and the change is announced."""
        def job(conn: sqlite3.Connection) -> int:
            E2eKeyStore.delete_device_job(conn, user_id, device_id)
            ToDeviceStore.delete_device_job(conn, user_id, device_id)
            pos = self.stream.allocate(conn)
            E2eKeyStore.record_change_job(conn, user_id, device_id, pos)
            return pos
        await self._wake(await self.db.write(job), user_id)

    # -- /keys/upload --------------------------------------------------------------------------

    def _check_device_keys(self, user_id: str, device_id: str, keys: Any) -> dict:
        """The shape of uploaded device keys (definitions/device_keys.yaml), not their
        self-signature. A signature that does not verify is accepted and served as uploaded, as
        Synapse does: the spec asks no such check of the server at /keys/upload, it is the
        downloading client that must verify a device's keys against its ed25519 key (the server
        is not trusted with keys anyway), and refusing breaks clients that upload their keys
        first and add or fix the signature later. `signatures` must still be there and shaped
        as the spec says (user ID → key ID → string)."""
        if not isinstance(keys, dict):
            raise BadJson("device_keys must be an object")
        if keys.get("user_id") != user_id or keys.get("device_id") != device_id:
            raise InvalidParam("device_keys.user_id and device_id must match the access token's")
        if not isinstance(keys.get("algorithms"), list) or not all(isinstance(a, str) for a in keys["algorithms"]):
            raise BadJson("device_keys.algorithms must be a list of strings")
        key_map = keys.get("keys")
        if not isinstance(key_map, dict) or not all(isinstance(v, str) for v in key_map.values()):
            raise BadJson("device_keys.keys must map key IDs to strings")
        ed_key = key_map.get(f"ed25519:{device_id}")
        if ed_key is None:
            raise InvalidParam(f"device_keys.keys must include ed25519:{device_id}")
        signatures = keys.get("signatures")
        if not isinstance(signatures, dict) or not all(
                isinstance(by_key, dict) and all(isinstance(sig, str) for sig in by_key.values())
                for by_key in signatures.values()):
            raise BadJson("device_keys.signatures must map user IDs to {key ID: signature}")
        if not _verify(keys, user_id, f"ed25519:{device_id}", ed_key):
            log.info("Device keys of %s %s do not carry a valid self-signature (kept)", user_id, device_id)
        return _signed_part(keys) | {"signatures": keys["signatures"]}

    @staticmethod
    def _parse_keys(field: str, keys: Any) -> list[tuple[str, str, Any]]:
        if not isinstance(keys, dict):
            raise BadJson(f"{field} must be an object")
        parsed = []
        for name, value in keys.items():
            algorithm, sep, key_id = name.partition(":")
            if not sep or not algorithm or not key_id:
                raise InvalidParam(f"{field} key names must be <algorithm>:<key_id>")
            if not isinstance(value, (str, dict)):
                raise BadJson(f"{field}.{name} must be a string or an object")
            parsed.append((algorithm, key_id, value))
        return parsed

    async def upload_keys(self, user_id: str, device_id: str, body: Mapping[str, Any]) -> dict[str, int]:
        device_keys = body.get("device_keys")
        if device_keys is not None:
            device_keys = self._check_device_keys(user_id, device_id, device_keys)
        one_time = self._parse_keys("one_time_keys", body.get("one_time_keys") or {})
        fallback = self._parse_keys("fallback_keys", body.get("fallback_keys") or {})
        if len({a for a, _, _ in fallback}) != len(fallback):
            raise InvalidParam("At most one fallback key per algorithm")

        def job(conn: sqlite3.Connection) -> tuple[int | None, dict[str, int]]:
            pos = None
            if device_keys is not None:
                old = E2eKeyStore.get_device_keys_job(conn, user_id, device_id)
                if old != device_keys:
                    pos = self.stream.allocate(conn)
                    E2eKeyStore.set_device_keys_job(conn, user_id, device_id, device_keys, pos)
                    E2eKeyStore.record_change_job(conn, user_id, device_id, pos)
            new = []
            for algorithm, key_id, key in one_time:
                existing = E2eKeyStore.get_one_time_key_job(conn, user_id, device_id, algorithm, key_id)
                if existing is None:
                    new.append((algorithm, key_id, key))
                elif _dump(existing) != _dump(key):
                    raise InvalidParam(f"One-time key {algorithm}:{key_id} already exists with another value")
            E2eKeyStore.add_one_time_keys_job(conn, user_id, device_id, new)
            for algorithm, key_id, key in fallback:
                old_fb = E2eKeyStore.get_fallback_key_job(conn, user_id, device_id, algorithm)
                if old_fb is None or (old_fb[0], _dump(old_fb[1])) != (key_id, _dump(key)):
                    E2eKeyStore.set_fallback_key_job(conn, user_id, device_id, algorithm, key_id, key)
            return pos, E2eKeyStore.one_time_key_counts_job(conn, user_id, device_id)

        pos, counts = await self.db.write(job)
        if pos is not None:
            await self._wake(pos, user_id)
        return {DEFAULT_OTK_ALGORITHM: 0, **counts}

    async def one_time_key_counts(self, user_id: str, device_id: str) -> dict[str, int]:
        return {DEFAULT_OTK_ALGORITHM: 0, **await self.store.one_time_key_counts(user_id, device_id)}

    async def unused_fallback_key_types(self, user_id: str, device_id: str) -> list[str]:
        return await self.store.unused_fallback_key_types(user_id, device_id)

    # -- /keys/query ---------------------------------------------------------------------------

    @staticmethod
    def _with_signatures(obj: dict, sigs: list) -> dict:
        merged = {u: dict(s) for u, s in (obj.get("signatures") or {}).items()}
        for sig in sigs:
            merged.setdefault(sig.signer_user_id, {})[sig.signer_key_id] = sig.signature
        return {**obj, "signatures": merged} if merged else obj

    async def query_keys(self, requester: str, device_keys: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {},
                                  "user_signing_keys": {}, "failures": {}}
        for user_id, device_ids in device_keys.items():
            if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
                raise BadJson("device_keys must map user IDs to lists of device IDs")
            if not is_valid_user_id(user_id):
                raise InvalidParam(f"Invalid user ID {user_id!r}")
            if not self._is_local(user_id):
                result["failures"][server_name_of(user_id)] = FEDERATION_UNAVAILABLE
                continue
            # The user's own signatures are public; others' only to their signer.
            signers = {user_id, requester}
            sigs = await self.store.get_signatures(user_id, signers)
            by_target: dict[str, list] = {}
            for sig in sigs:
                by_target.setdefault(sig.target_key_id, []).append(sig)
            devices = {}
            for dk in await self.store.get_device_keys(user_id, device_ids):
                keys = self._with_signatures(dk.keys, by_target.get(dk.device_id, []))
                unsigned = {"device_display_name": dk.display_name} if dk.display_name is not None else {}
                devices[dk.device_id] = {**keys, "unsigned": unsigned}
            result["device_keys"][user_id] = devices
            cross = await self.store.get_cross_signing_keys(user_id)
            if "master" in cross:
                master = cross["master"]
                result["master_keys"][user_id] = self._with_signatures(
                    master, by_target.get(cross_signing_public_key(master), []))
            if "self_signing" in cross:
                result["self_signing_keys"][user_id] = cross["self_signing"]
            if "user_signing" in cross and user_id == requester:
                result["user_signing_keys"][user_id] = cross["user_signing"]
        return result

    # -- /keys/claim ---------------------------------------------------------------------------

    async def claim_keys(self, one_time_keys: Mapping[str, Any]) -> dict[str, Any]:
        wanted: list[tuple[str, str, str]] = []
        failures: dict[str, Any] = {}
        for user_id, devices in one_time_keys.items():
            if not isinstance(devices, dict) or not all(isinstance(a, str) for a in devices.values()):
                raise BadJson("one_time_keys must map user IDs to {device ID: algorithm}")
            if not is_valid_user_id(user_id):
                raise InvalidParam(f"Invalid user ID {user_id!r}")
            if not self._is_local(user_id):
                failures[server_name_of(user_id)] = FEDERATION_UNAVAILABLE
                continue
            wanted += [(user_id, d, a) for d, a in devices.items()]

        def job(conn: sqlite3.Connection) -> dict[str, Any]:
            claimed: dict[str, Any] = {}
            for user_id, device_id, algorithm in wanted:
                got = E2eKeyStore.claim_one_time_key_job(conn, user_id, device_id, algorithm)
                if got is not None:
                    claimed.setdefault(user_id, {}).setdefault(device_id, {})[f"{algorithm}:{got[0]}"] = got[1]
            return claimed

        claimed = await self.db.write(job) if wanted else {}
        return {"one_time_keys": claimed, "failures": failures}

    # -- cross-signing -------------------------------------------------------------------------

    async def cross_signing_upload_needs_auth(self, user_id: str, body: Mapping[str, Any]) -> bool:
        """UIA is needed unless the user has no master key yet, or the request adds nothing new."""
        existing = await self.store.get_cross_signing_keys(user_id)
        if "master" not in existing:
            return False
        for key_type in CROSS_SIGNING_TYPES:
            new = body.get(f"{key_type}_key")
            if new is not None and (key_type not in existing or _dump(new) != _dump(existing[key_type])):
                return True
        return False

    async def upload_cross_signing_keys(self, user_id: str, body: Mapping[str, Any]) -> None:
        existing = await self.store.get_cross_signing_keys(user_id)
        new: dict[str, tuple[str, dict]] = {}
        for key_type in CROSS_SIGNING_TYPES:
            key = body.get(f"{key_type}_key")
            if key is None:
                continue
            if not isinstance(key, dict):
                raise BadJson(f"{key_type}_key must be an object")
            if key.get("user_id") != user_id:
                raise InvalidParam(f"{key_type}_key.user_id must be your user ID")
            usage = key.get("usage")
            if not isinstance(usage, list) or key_type not in usage:
                raise InvalidParam(f"{key_type}_key.usage must include {key_type!r}")
            new[key_type] = (cross_signing_public_key(key), key)
        if not new:
            return
        if "master" in new:
            master_pub = new["master"][0]
        elif "master" in existing:
            master_pub = cross_signing_public_key(existing["master"])
        else:
            raise MissingParam("No master signing key is available")
        for key_type in ("self_signing", "user_signing"):
            if key_type in new and not _verify(new[key_type][1], user_id, f"ed25519:{master_pub}", master_pub):
                raise InvalidSignature(f"{key_type}_key is not signed by the master key")
        device_ids = {d.device_id for d in await self.store.get_device_keys(user_id)}
        device_ids |= await self.store.device_ids(user_id)
        if any(pub in device_ids for pub, _ in new.values()):
            raise Forbidden("Key ID in use")

        def job(conn: sqlite3.Connection) -> int:
            pos = self.stream.allocate(conn)
            for key_type, (pub, key) in new.items():
                E2eKeyStore.set_cross_signing_key_job(conn, user_id, key_type, pub, key, pos)
            E2eKeyStore.record_change_job(conn, user_id, "", pos)
            return pos
        await self._wake(await self.db.write(job), user_id)

    async def upload_signatures(self, signer: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Check each signed object against the stored one and the signer's key; keep the new
        signatures of `signer`. Returns `failures` per user and key ID."""
        failures: dict[str, dict[str, Any]] = {}
        accepted: list[tuple[str, str, str, str]] = []  # target user, target key, signer key ID, sig
        mine = await self.store.get_cross_signing_keys(signer)
        for target_user, objects in body.items():
            if not isinstance(objects, dict):
                raise BadJson("The body must map user IDs to {key ID: signed object}")
            for key_id, signed in objects.items():
                try:
                    accepted += await self._check_signed_object(signer, mine, target_user, key_id, signed)
                except (InvalidSignature, InvalidParam, BadJson, Forbidden, MissingParam) as exc:
                    failures.setdefault(target_user, {})[key_id] = exc.to_json()
        if accepted:
            def job(conn: sqlite3.Connection) -> int:
                pos = self.stream.allocate(conn)
                for target_user, target_key, signer_key, sig in accepted:
                    E2eKeyStore.add_signature_job(conn, target_user, target_key, signer, signer_key, sig)
                for target_user in {a[0] for a in accepted}:
                    E2eKeyStore.record_change_job(conn, target_user, "", pos)
                return pos
            pos = await self.db.write(job)
            for target_user in {a[0] for a in accepted}:
                await self._wake(pos, target_user)
        return {"failures": failures}

    async def _check_signed_object(self, signer: str, mine: dict[str, dict], target_user: str, key_id: str,
                                   signed: Any) -> list[tuple[str, str, str, str]]:
        if not isinstance(signed, dict):
            raise BadJson("A signed object must be an object")
        if not self._is_local(target_user):
            raise InvalidParam("Signing keys of remote users is not supported")
        my_sigs = (signed.get("signatures") or {}).get(signer)
        if not isinstance(my_sigs, dict) or not my_sigs:
            raise InvalidSignature("The object carries no signature of yours")
        cross = await self.store.get_cross_signing_keys(target_user)
        stored: dict | None = None
        if target_user == signer and "master" in cross and cross_signing_public_key(cross["master"]) == key_id:
            # Our master key, signed by one of our devices.
            stored = cross["master"]
            devices = {d.device_id: d.keys for d in await self.store.get_device_keys(signer)}
            def signing_key(sig_key_id: str) -> str | None:
                dev = sig_key_id.removeprefix("ed25519:")
                return (devices.get(dev) or {}).get("keys", {}).get(f"ed25519:{dev}")
        elif target_user == signer:
            # One of our devices, signed by our self-signing key.
            found = await self.store.get_device_keys(signer, [key_id])
            if not found:
                raise InvalidParam(f"Unknown device or key {key_id}")
            stored = found[0].keys
            ssk = mine.get("self_signing")
            ssk_pub = cross_signing_public_key(ssk) if ssk else None
            def signing_key(sig_key_id: str) -> str | None:
                return ssk_pub if ssk_pub and sig_key_id == f"ed25519:{ssk_pub}" else None
        else:
            # Another user's master key, signed by our user-signing key.
            if "master" not in cross or cross_signing_public_key(cross["master"]) != key_id:
                raise InvalidParam(f"{key_id} is not {target_user}'s master key")
            stored = cross["master"]
            usk = mine.get("user_signing")
            usk_pub = cross_signing_public_key(usk) if usk else None
            def signing_key(sig_key_id: str) -> str | None:
                return usk_pub if usk_pub and sig_key_id == f"ed25519:{usk_pub}" else None
        if _dump(_signed_part(signed)) != _dump(_signed_part(stored)):
            raise InvalidParam("The signed object does not match the stored key")
        out = []
        for sig_key_id, sig in my_sigs.items():
            pub = signing_key(sig_key_id)
            if pub is None or not isinstance(sig, str) or not _verify(
                    {**_signed_part(stored), "signatures": {signer: {sig_key_id: sig}}}, signer, sig_key_id, pub):
                raise InvalidSignature("Invalid signature")
            out.append((target_user, key_id, sig_key_id, sig))
        return out

    # -- device-list changes ---------------------------------------------------------------------

    async def users_changed_anywhere(self, since_pos: int, to_pos: int) -> set[str]:
        return await self.store.users_changed_anywhere(since_pos, to_pos)

    async def users_sharing_rooms(self, user_id: str) -> set[str]:
        return await self.store.users_sharing_rooms(user_id)

    async def device_list_changes(self, user_id: str, since_pos: int, to_pos: int) -> tuple[list[str], list[str]]:
        """Who `user_id` must re-query (`changed`) or stop tracking (`left`) for (since, to]."""
        # Positions from clients may lie beyond anything handed out (or a restart ago).
        since_pos, to_pos = min(since_pos, self.stream.current), min(to_pos, self.stream.current)
        sharing = await self.store.users_sharing_rooms(user_id)
        sharing.add(user_id)
        changed = await self.store.users_changed_between(sharing, since_pos, to_pos)
        maybe_left: set[str] = set()
        for room_id, member, membership in await self.store.membership_changes(user_id, since_pos, to_pos):
            if member == user_id:
                members = await self.store.joined_members(room_id)
                if membership == "join":
                    changed.update(m for m in members if m in sharing)
                else:
                    maybe_left.update(members)
            elif membership == "join":
                if member in sharing:
                    changed.add(member)
            else:
                maybe_left.add(member)
        left = {u for u in maybe_left if u not in sharing and u != user_id}
        return sorted(changed), sorted(left)
