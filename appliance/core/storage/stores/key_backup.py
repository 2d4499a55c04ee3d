"""Server-side key backups: versions per user and the encrypted session keys in each."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ...protocol.canonical_json import encode_canonical_json
from ..database import Database


@dataclass(frozen=True, slots=True)
class BackupVersion:
    version: int
    algorithm: str
    auth_data: dict[str, Any]
    etag: int
    deleted: bool


@dataclass(frozen=True, slots=True)
class RoomKey:
    room_id: str
    session_id: str
    first_message_index: int
    forwarded_count: int
    is_verified: bool
    session_data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"first_message_index": self.first_message_index, "forwarded_count": self.forwarded_count,
                "is_verified": self.is_verified, "session_data": self.session_data}


def _version(row: sqlite3.Row) -> BackupVersion:
    return BackupVersion(row[0], row[1], json.loads(row[2]), row[3], bool(row[4]))


def _key(row: sqlite3.Row) -> RoomKey:
    return RoomKey(row[0], row[1], row[2], row[3], bool(row[4]), json.loads(row[5]))


_VERSION_COLS = "version, algorithm, auth_data, etag, deleted"
_KEY_COLS = "room_id, session_id, first_message_index, forwarded_count, is_verified, session_data"


class KeyBackupStore:
    def __init__(self, db: Database):
        self.db = db

    async def create_version(self, user_id: str, algorithm: str, auth_data: dict) -> int:
        def job(conn: sqlite3.Connection) -> int:
            top = conn.execute("SELECT MAX(version) FROM e2e_room_keys_versions WHERE user_id = ?",
                               (user_id,)).fetchone()[0] or 0
            conn.execute(
                "INSERT INTO e2e_room_keys_versions (user_id, version, algorithm, auth_data) VALUES (?, ?, ?, ?)",
                (user_id, top + 1, algorithm, encode_canonical_json(auth_data).decode()))
            return top + 1
        return await self.db.write(job)

    async def get_version(self, user_id: str, version: int | None) -> BackupVersion | None:
        """A version (deleted ones too), or the latest live one when `version` is None."""
        if version is None:
            row = await self.db.fetchone(
                f"SELECT {_VERSION_COLS} FROM e2e_room_keys_versions WHERE user_id = ? AND deleted = 0"
                " ORDER BY version DESC LIMIT 1", (user_id,))
        else:
            row = await self.db.fetchone(
                f"SELECT {_VERSION_COLS} FROM e2e_room_keys_versions WHERE user_id = ? AND version = ?",
                (user_id, version))
        return _version(row) if row else None

    @staticmethod
    def current_version_job(conn: sqlite3.Connection, user_id: str) -> BackupVersion | None:
        row = conn.execute(
            f"SELECT {_VERSION_COLS} FROM e2e_room_keys_versions WHERE user_id = ? AND deleted = 0"
            " ORDER BY version DESC LIMIT 1", (user_id,)).fetchone()
        return _version(row) if row else None

    async def set_auth_data(self, user_id: str, version: int, auth_data: dict) -> None:
        await self.db.write(lambda c: c.execute(
            "UPDATE e2e_room_keys_versions SET auth_data = ? WHERE user_id = ? AND version = ?",
            (encode_canonical_json(auth_data).decode(), user_id, version)))

    async def delete_version(self, user_id: str, version: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE e2e_room_keys_versions SET deleted = 1 WHERE user_id = ? AND version = ?",
                         (user_id, version))
            conn.execute("DELETE FROM e2e_room_keys WHERE user_id = ? AND version = ?", (user_id, version))
        await self.db.write(job)

    async def count(self, user_id: str, version: int) -> int:
        return await self.db.fetchval(
            "SELECT COUNT(*) FROM e2e_room_keys WHERE user_id = ? AND version = ?", (user_id, version))

    @staticmethod
    def count_job(conn: sqlite3.Connection, user_id: str, version: int) -> int:
        return conn.execute("SELECT COUNT(*) FROM e2e_room_keys WHERE user_id = ? AND version = ?",
                            (user_id, version)).fetchone()[0]

    @staticmethod
    def get_key_job(conn: sqlite3.Connection, user_id: str, version: int, room_id: str,
                    session_id: str) -> RoomKey | None:
        row = conn.execute(
            f"SELECT {_KEY_COLS} FROM e2e_room_keys WHERE user_id = ? AND version = ? AND room_id = ?"
            " AND session_id = ?", (user_id, version, room_id, session_id)).fetchone()
        return _key(row) if row else None

    @staticmethod
    def put_key_job(conn: sqlite3.Connection, user_id: str, version: int, key: RoomKey) -> None:
        conn.execute(
            f"INSERT OR REPLACE INTO e2e_room_keys (user_id, version, {_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (user_id, version, key.room_id, key.session_id, key.first_message_index, key.forwarded_count,
             int(key.is_verified), encode_canonical_json(key.session_data).decode()))

    @staticmethod
    def bump_etag_job(conn: sqlite3.Connection, user_id: str, version: int) -> int:
        conn.execute("UPDATE e2e_room_keys_versions SET etag = etag + 1 WHERE user_id = ? AND version = ?",
                     (user_id, version))
        return conn.execute("SELECT etag FROM e2e_room_keys_versions WHERE user_id = ? AND version = ?",
                            (user_id, version)).fetchone()[0]

    async def get_keys(self, user_id: str, version: int, room_id: str | None = None,
                       session_id: str | None = None) -> list[RoomKey]:
        sql = f"SELECT {_KEY_COLS} FROM e2e_room_keys WHERE user_id = ? AND version = ?"
        params: list[Any] = [user_id, version]
        if room_id is not None:
            sql += " AND room_id = ?"
            params.append(room_id)
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        return [_key(r) for r in await self.db.fetchall(sql + " ORDER BY room_id, session_id", tuple(params))]

    @staticmethod
    def delete_keys_job(conn: sqlite3.Connection, user_id: str, version: int, room_id: str | None,
                        session_id: str | None) -> int:
        sql = "DELETE FROM e2e_room_keys WHERE user_id = ? AND version = ?"
        params: list[Any] = [user_id, version]
        if room_id is not None:
            sql += " AND room_id = ?"
            params.append(room_id)
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        return conn.execute(sql, tuple(params)).rowcount
