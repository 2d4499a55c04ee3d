"""Device keys, one-time and fallback keys, cross-signing keys and signatures, device-list changes.

Writes that must record a device-list change take the stream position from the caller's job
(`*_job` static methods run inside one writer transaction).
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...protocol.canonical_json import encode_canonical_json
from ..database import Database


def _dump(obj: Any) -> str:
    return encode_canonical_json(obj).decode()


@dataclass(frozen=True, slots=True)
class DeviceKeys:
    device_id: str
    keys: dict[str, Any]
    display_name: str | None


@dataclass(frozen=True, slots=True)
class Signature:
    target_key_id: str
    signer_user_id: str
    signer_key_id: str
    signature: str


class E2eKeyStore:
    def __init__(self, db: Database):
        self.db = db

    # -- device keys ---------------------------------------------------------------------------

    async def get_device_keys(self, user_id: str, device_ids: Iterable[str] = ()) -> list[DeviceKeys]:
        """Keys of the user's devices that still exist (all of them when device_ids is empty)."""
        ids = list(device_ids)
        sql = ("SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys k"
               " JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id WHERE k.user_id = ?")
        params: list[Any] = [user_id]
        if ids:
            sql += f" AND k.device_id IN ({','.join('?' * len(ids))})"
            params += ids
        rows = await self.db.fetchall(sql + " ORDER BY k.device_id", tuple(params))
        return [DeviceKeys(r[0], json.loads(r[1]), r[2]) for r in rows]

    @staticmethod
    def get_device_keys_job(conn: sqlite3.Connection, user_id: str, device_id: str) -> dict | None:
        row = conn.execute("SELECT key_json FROM e2e_device_keys WHERE user_id = ? AND device_id = ?",
                           (user_id, device_id)).fetchone()
        return json.loads(row[0]) if row else None

    @staticmethod
    def set_device_keys_job(conn: sqlite3.Connection, user_id: str, device_id: str, keys: dict, pos: int) -> None:
        conn.execute(
            "INSERT INTO e2e_device_keys (user_id, device_id, key_json, stream_pos) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json,"
            " stream_pos = excluded.stream_pos", (user_id, device_id, _dump(keys), pos))

    # -- one-time and fallback keys ----------------------------------------------------------------

    @staticmethod
    def get_one_time_key_job(conn: sqlite3.Connection, user_id: str, device_id: str, algorithm: str,
                             key_id: str) -> Any | None:
        row = conn.execute(
            "SELECT key_json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ?"
            " AND key_id = ?", (user_id, device_id, algorithm, key_id)).fetchone()
        return json.loads(row[0]) if row else None

    @staticmethod
    def add_one_time_keys_job(conn: sqlite3.Connection, user_id: str, device_id: str,
                              keys: list[tuple[str, str, Any]]) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json)"
            " VALUES (?, ?, ?, ?, ?)", [(user_id, device_id, a, k, _dump(v)) for a, k, v in keys])

    @staticmethod
    def get_fallback_key_job(conn: sqlite3.Connection, user_id: str, device_id: str,
                             algorithm: str) -> tuple[str, Any, bool] | None:
        row = conn.execute(
            "SELECT key_id, key_json, used FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ?"
            " AND algorithm = ?", (user_id, device_id, algorithm)).fetchone()
        return (row[0], json.loads(row[1]), bool(row[2])) if row else None

    @staticmethod
    def set_fallback_key_job(conn: sqlite3.Connection, user_id: str, device_id: str, algorithm: str,
                             key_id: str, key: Any) -> None:
        conn.execute(
            "INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)"
            " VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET"
            " key_id = excluded.key_id, key_json = excluded.key_json, used = 0",
            (user_id, device_id, algorithm, key_id, _dump(key)))

    @staticmethod
    def claim_one_time_key_job(conn: sqlite3.Connection, user_id: str, device_id: str,
                               algorithm: str) -> tuple[str, Any] | None:
        """Take the oldest one-time key of `algorithm`, else the fallback key (marking it used)."""
        row = conn.execute(
            "SELECT id, key_id, key_json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?"
            " AND algorithm = ? ORDER BY id LIMIT 1", (user_id, device_id, algorithm)).fetchone()
        if row is not None:
            conn.execute("DELETE FROM e2e_one_time_keys WHERE id = ?", (row[0],))
            return row[1], json.loads(row[2])
        row = conn.execute(
            "SELECT key_id, key_json FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND algorithm = ?",
            (user_id, device_id, algorithm)).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE e2e_fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ? AND algorithm = ?",
                     (user_id, device_id, algorithm))
        return row[0], json.loads(row[1])

    async def one_time_key_counts(self, user_id: str, device_id: str) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT algorithm, COUNT(*) FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?"
            " GROUP BY algorithm", (user_id, device_id))
        return {r[0]: r[1] for r in rows}

    @staticmethod
    def one_time_key_counts_job(conn: sqlite3.Connection, user_id: str, device_id: str) -> dict[str, int]:
        rows = conn.execute(
            "SELECT algorithm, COUNT(*) FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?"
            " GROUP BY algorithm", (user_id, device_id)).fetchall()
        return {r[0]: r[1] for r in rows}

    async def unused_fallback_key_types(self, user_id: str, device_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT algorithm FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0"
            " ORDER BY algorithm", (user_id, device_id))
        return [r[0] for r in rows]

    # -- cross-signing keys and signatures ---------------------------------------------------------

    async def get_cross_signing_keys(self, user_id: str) -> dict[str, dict]:
        rows = await self.db.fetchall(
            "SELECT key_type, key_json FROM e2e_cross_signing_keys WHERE user_id = ?", (user_id,))
        return {r[0]: json.loads(r[1]) for r in rows}

    @staticmethod
    def get_cross_signing_keys_job(conn: sqlite3.Connection, user_id: str) -> dict[str, dict]:
        rows = conn.execute(
            "SELECT key_type, key_json FROM e2e_cross_signing_keys WHERE user_id = ?", (user_id,)).fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}

    @staticmethod
    def set_cross_signing_key_job(conn: sqlite3.Connection, user_id: str, key_type: str, public_key: str,
                                  key: dict, pos: int) -> None:
        conn.execute(
            "INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json, stream_pos)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, key_type) DO UPDATE SET"
            " public_key = excluded.public_key, key_json = excluded.key_json, stream_pos = excluded.stream_pos",
            (user_id, key_type, public_key, _dump(key), pos))

    async def get_signatures(self, target_user_id: str, signers: Iterable[str]) -> list[Signature]:
        signers = list(signers)
        rows = await self.db.fetchall(
            "SELECT target_key_id, signer_user_id, signer_key_id, signature FROM e2e_signatures"
            f" WHERE target_user_id = ? AND signer_user_id IN ({','.join('?' * len(signers))})",
            (target_user_id, *signers))
        return [Signature(*r) for r in rows]

    @staticmethod
    def add_signature_job(conn: sqlite3.Connection, target_user_id: str, target_key_id: str,
                          signer_user_id: str, signer_key_id: str, signature: str) -> None:
        conn.execute(
            "INSERT INTO e2e_signatures (target_user_id, target_key_id, signer_user_id, signer_key_id, signature)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET signature = excluded.signature",
            (target_user_id, target_key_id, signer_user_id, signer_key_id, signature))

    # -- device deletion -----------------------------------------------------------------------

    @staticmethod
    def delete_device_job(conn: sqlite3.Connection, user_id: str, device_id: str) -> None:
        for table in ("e2e_device_keys", "e2e_one_time_keys", "e2e_fallback_keys"):
            conn.execute(f"DELETE FROM {table} WHERE user_id = ? AND device_id = ?", (user_id, device_id))
        conn.execute("DELETE FROM e2e_signatures WHERE target_user_id = ? AND target_key_id = ?",
                     (user_id, device_id))

    # -- device-list changes ---------------------------------------------------------------------

    @staticmethod
    def record_change_job(conn: sqlite3.Connection, user_id: str, device_id: str, pos: int) -> None:
        conn.execute("INSERT INTO device_list_changes (stream_pos, user_id, device_id) VALUES (?, ?, ?)",
                     (pos, user_id, device_id))

    async def users_changed_anywhere(self, since: int, to: int) -> set[str]:
        """Everyone whose device list changed in (since, to] (appservice transactions)."""
        rows = await self.db.fetchall("SELECT DISTINCT user_id FROM device_list_changes"
                                      " WHERE stream_pos > ? AND stream_pos <= ?", (since, to))
        return {r[0] for r in rows}

    async def users_changed_between(self, user_ids: Iterable[str], since: int, to: int) -> set[str]:
        ids = list(user_ids)
        if not ids:
            return set()
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = await self.db.fetchall(
                "SELECT DISTINCT user_id FROM device_list_changes WHERE stream_pos > ? AND stream_pos <= ?"
                f" AND user_id IN ({','.join('?' * len(chunk))})", (since, to, *chunk))
            found.update(r[0] for r in rows)
        return found

    async def device_ids(self, user_id: str) -> set[str]:
        """The user's devices (whether or not they uploaded keys)."""
        rows = await self.db.fetchall("SELECT device_id FROM devices WHERE user_id = ?", (user_id,))
        return {r[0] for r in rows}

    # -- room memberships (read side of the device-list rules) ---------------------------------

    async def joined_rooms(self, user_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join'", (user_id,))
        return [r[0] for r in rows]

    async def users_sharing_rooms(self, user_id: str) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT o.user_id FROM room_memberships m JOIN room_memberships o ON o.room_id = m.room_id"
            " WHERE m.user_id = ? AND m.membership = 'join' AND o.membership = 'join'", (user_id,))
        return {r[0] for r in rows}

    async def membership_changes(self, user_id: str, since: int, to: int) -> list[tuple[str, str, str]]:
        """(room_id, user_id, membership) of membership changes in (since, to] in rooms where
        `user_id` is joined now or whose own membership changed in that window."""
        rows = await self.db.fetchall(
            "SELECT o.room_id, o.user_id, o.membership FROM room_memberships o WHERE o.stream_pos > ?"
            " AND o.stream_pos <= ? AND o.room_id IN (SELECT room_id FROM room_memberships m"
            " WHERE m.user_id = ? AND (m.membership = 'join' OR (m.stream_pos > ? AND m.stream_pos <= ?)))",
            (since, to, user_id, since, to))
        return [(r[0], r[1], r[2]) for r in rows]

    async def joined_members(self, room_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT user_id FROM room_memberships WHERE room_id = ? AND membership = 'join'", (room_id,))
        return [r[0] for r in rows]
