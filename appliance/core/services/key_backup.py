"""Server-side key backups (end_to_end_encryption.md "Server-side key backups").

Keys may only be written to the current (latest, not deleted) version. When a session is
uploaded again, the better key wins: a verified key beats an unverified one, then the lower
`first_message_index`, then the lower `forwarded_count`. The `etag` changes with the keys.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from ..protocol.errors import BadJson, InvalidParam, MissingParam, NotFound, WrongRoomKeysVersion
from ..storage.stores.key_backup import BackupVersion, KeyBackupStore, RoomKey


# The backup algorithms of the spec (end_to_end_encryption.md "Backup algorithm"); the OpenAPI
# gives `algorithm` as an enum of these. Another value is refused with M_INVALID_PARAM, the
# errcode the spec names for an algorithm that does not match.
KNOWN_ALGORITHMS = frozenset({"m.megolm_backup.v1.curve25519-aes-sha2"})


def better_key(new: RoomKey, old: RoomKey | None) -> bool:
    """Whether `new` should replace `old` (the spec's order of tie-breakers)."""
    if old is None:
        return True
    if new.is_verified != old.is_verified:
        return new.is_verified
    if new.first_message_index != old.first_message_index:
        return new.first_message_index < old.first_message_index
    return new.forwarded_count < old.forwarded_count


def parse_version(version: str | None) -> int:
    """Versions are opaque to clients; ours are decimal counters. Anything else does not exist."""
    if version is None:
        raise MissingParam("Missing version")
    if not version.isdigit() or len(version) > 18:
        raise NotFound(f"Unknown backup version {version!r}")
    return int(version)


def _room_key(room_id: str, session_id: str, data: Any) -> RoomKey:
    if not isinstance(data, dict):
        raise BadJson("Key backup data must be an object")
    fmi, fc, verified, session = (data.get("first_message_index"), data.get("forwarded_count"),
                                  data.get("is_verified"), data.get("session_data"))
    if (not isinstance(fmi, int) or isinstance(fmi, bool) or not isinstance(fc, int) or isinstance(fc, bool)
            or not isinstance(verified, bool) or not isinstance(session, dict)):
        raise BadJson("Key backup data needs integer first_message_index and forwarded_count, boolean"
                      " is_verified and object session_data")
    return RoomKey(room_id, session_id, fmi, fc, verified, session)


class KeyBackupService:
    def __init__(self, store: KeyBackupStore):
        self.store = store

    # -- versions --------------------------------------------------------------------------------

    @staticmethod
    def _check_config(body: Mapping[str, Any]) -> tuple[str, dict]:
        algorithm, auth_data = body.get("algorithm"), body.get("auth_data")
        if algorithm is None or auth_data is None:
            raise MissingParam("algorithm and auth_data are required")
        if not isinstance(algorithm, str) or not algorithm or not isinstance(auth_data, dict):
            raise BadJson("algorithm must be a string and auth_data an object")
        if algorithm not in KNOWN_ALGORITHMS:
            raise InvalidParam(f"Unknown backup algorithm {algorithm[:100]!r}; supported: "
                               + ", ".join(sorted(KNOWN_ALGORITHMS)))
        return algorithm, auth_data

    async def create_version(self, user_id: str, body: Mapping[str, Any]) -> str:
        algorithm, auth_data = self._check_config(body)
        return str(await self.store.create_version(user_id, algorithm, auth_data))

    async def _live(self, user_id: str, version: str | None) -> BackupVersion:
        found = await self.store.get_version(user_id, None if version is None else parse_version(version))
        if found is None or found.deleted:
            raise NotFound("Unknown backup version" if version is not None else "No current backup version")
        return found

    async def get_version(self, user_id: str, version: str | None) -> dict[str, Any]:
        v = await self._live(user_id, version)
        return {"algorithm": v.algorithm, "auth_data": v.auth_data, "version": str(v.version),
                "etag": str(v.etag), "count": await self.store.count(user_id, v.version)}

    async def update_version(self, user_id: str, version: str, body: Mapping[str, Any]) -> None:
        algorithm, auth_data = self._check_config(body)
        v = await self._live(user_id, version)
        if "version" in body and body["version"] != version:
            raise InvalidParam("The version in the body does not match the version in the path")
        if algorithm != v.algorithm:
            raise InvalidParam("Algorithm does not match")
        await self.store.set_auth_data(user_id, v.version, auth_data)

    async def delete_version(self, user_id: str, version: str) -> None:
        found = await self.store.get_version(user_id, parse_version(version))
        if found is None:
            raise NotFound("Unknown backup version")
        if not found.deleted:
            await self.store.delete_version(user_id, found.version)

    # -- keys ----------------------------------------------------------------------------------

    async def put_keys(self, user_id: str, version: str | None, rooms: Any) -> dict[str, Any]:
        """Store `{room_id: {"sessions": {session_id: data}}}`; returns the new etag and count."""
        wanted = parse_version(version)
        if not isinstance(rooms, dict):
            raise BadJson("rooms must be an object")
        keys: list[RoomKey] = []
        for room_id, room in rooms.items():
            sessions = room.get("sessions") if isinstance(room, dict) else None
            if not isinstance(sessions, dict):
                raise BadJson("Each room needs a sessions object")
            keys += [_room_key(room_id, sid, data) for sid, data in sessions.items()]

        def job(conn: sqlite3.Connection) -> dict[str, Any]:
            current = KeyBackupStore.current_version_job(conn, user_id)
            if current is None:
                raise NotFound("No current backup version")
            if current.version != wanted:
                raise WrongRoomKeysVersion("Wrong backup version.", current_version=str(current.version))
            changed = False
            for key in keys:
                old = KeyBackupStore.get_key_job(conn, user_id, wanted, key.room_id, key.session_id)
                if better_key(key, old):
                    KeyBackupStore.put_key_job(conn, user_id, wanted, key)
                    changed = True
            etag = KeyBackupStore.bump_etag_job(conn, user_id, wanted) if changed else current.etag
            return {"etag": str(etag), "count": KeyBackupStore.count_job(conn, user_id, wanted)}
        return await self.store.db.write(job)

    async def get_keys(self, user_id: str, version: str | None, room_id: str | None = None,
                       session_id: str | None = None) -> dict[str, Any]:
        if version is None:
            raise MissingParam("Missing version")
        v = await self._live(user_id, version)
        keys = await self.store.get_keys(user_id, v.version, room_id, session_id)
        if session_id is not None:
            if not keys:
                raise NotFound("Key not found.")
            return keys[0].to_json()
        rooms: dict[str, Any] = {}
        for key in keys:
            rooms.setdefault(key.room_id, {"sessions": {}})["sessions"][key.session_id] = key.to_json()
        if room_id is not None:
            return rooms.get(room_id, {"sessions": {}})
        return {"rooms": rooms}

    async def delete_keys(self, user_id: str, version: str | None, room_id: str | None = None,
                          session_id: str | None = None) -> dict[str, Any]:
        if version is None:
            raise MissingParam("Missing version")
        v = await self._live(user_id, version)

        def job(conn: sqlite3.Connection) -> dict[str, Any]:
            removed = KeyBackupStore.delete_keys_job(conn, user_id, v.version, room_id, session_id)
            etag = KeyBackupStore.bump_etag_job(conn, user_id, v.version) if removed else v.etag
            return {"etag": str(etag), "count": KeyBackupStore.count_job(conn, user_id, v.version)}
        return await self.store.db.write(job)
