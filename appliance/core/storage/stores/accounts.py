"""Users, devices and tokens."""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from ..database import Database


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    password_hash: str | None
    created_ts: int
    admin: bool
    deactivated: bool
    is_guest: bool
    displayname: str | None
    avatar_url: str | None
    locked: bool = False        # spec: account locking (0111)
    suspended: bool = False     # spec: account suspension (0111)


@dataclass(frozen=True, slots=True)
class Device:
    user_id: str
    device_id: str
    display_name: str | None
    last_seen_ts: int | None
    last_seen_ip: str | None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    user_id: str
    device_id: str
    expires_ts: int | None
    token_hash: str


def _user(row: sqlite3.Row) -> User:
    return User(
        row["user_id"], row["password_hash"], row["created_ts"], bool(row["admin"]),
        bool(row["deactivated"]), bool(row["is_guest"]), row["displayname"], row["avatar_url"],
        bool(row["locked"]), bool(row["suspended"]),
    )


class AccountStore:
    def __init__(self, db: Database):
        self.db = db

    # users
    async def get_user(self, user_id: str) -> User | None:
        row = await self.db.fetchone("SELECT * FROM users WHERE user_id = ?", (user_id,))
        return _user(row) if row else None

    async def user_exists(self, user_id: str) -> bool:
        return await self.db.fetchval("SELECT 1 FROM users WHERE user_id = ?", (user_id,)) is not None

    async def list_users(self) -> list[User]:
        return [_user(r) for r in await self.db.fetchall("SELECT * FROM users ORDER BY user_id")]

    async def count_users(self) -> int:
        return await self.db.fetchval("SELECT COUNT(*) FROM users")

    async def create_user(self, user_id: str, password_hash: str | None, *, admin: bool = False,
                          is_guest: bool = False, displayname: str | None = None) -> None:
        await self.db.write(lambda conn: self.create_user_job(
            conn, user_id, password_hash, admin=admin, is_guest=is_guest, displayname=displayname))

    @staticmethod
    def create_user_job(conn: sqlite3.Connection, user_id: str, password_hash: str | None, *,
                        admin: bool = False, is_guest: bool = False, displayname: str | None = None) -> None:
        """In a writer job; raises sqlite3.IntegrityError if the user ID is taken."""
        conn.execute(
            "INSERT INTO users (user_id, password_hash, created_ts, admin, is_guest, displayname)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, password_hash, now_ms(), int(admin), int(is_guest), displayname),
        )

    async def set_password_hash(self, user_id: str, password_hash: str | None) -> None:
        await self.db.write(lambda c: c.execute(
            "UPDATE users SET password_hash = ? WHERE user_id = ?", (password_hash, user_id)))

    async def set_admin(self, user_id: str, admin: bool) -> None:
        await self.db.write(lambda c: c.execute(
            "UPDATE users SET admin = ? WHERE user_id = ?", (int(admin), user_id)))

    async def set_deactivated(self, user_id: str) -> None:
        await self.db.write(lambda c: c.execute(
            "UPDATE users SET deactivated = 1, password_hash = NULL WHERE user_id = ?", (user_id,)))

    async def set_profile_field(self, user_id: str, field: str, value: str | None) -> None:
        assert field in ("displayname", "avatar_url")
        await self.db.write(lambda c: c.execute(
            f"UPDATE users SET {field} = ? WHERE user_id = ?", (value, user_id)))

    # devices
    async def get_device(self, user_id: str, device_id: str) -> Device | None:
        row = await self.db.fetchone(
            "SELECT user_id, device_id, display_name, last_seen_ts, last_seen_ip FROM devices"
            " WHERE user_id = ? AND device_id = ?", (user_id, device_id))
        return Device(*row) if row else None

    async def list_devices(self, user_id: str) -> list[Device]:
        rows = await self.db.fetchall(
            "SELECT user_id, device_id, display_name, last_seen_ts, last_seen_ip FROM devices"
            " WHERE user_id = ? ORDER BY device_id", (user_id,))
        return [Device(*r) for r in rows]

    async def upsert_device(self, user_id: str, device_id: str, display_name: str | None, ip: str | None) -> None:
        def job(conn: sqlite3.Connection) -> None:
            ts = now_ms()
            conn.execute(
                "INSERT INTO devices (user_id, device_id, display_name, last_seen_ts, last_seen_ip, created_ts)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, device_id) DO UPDATE SET"
                " display_name = COALESCE(excluded.display_name, devices.display_name),"
                " last_seen_ts = excluded.last_seen_ts, last_seen_ip = excluded.last_seen_ip",
                (user_id, device_id, display_name, ts, ip, ts),
            )
        await self.db.write(job)

    async def set_device_display_name(self, user_id: str, device_id: str, name: str | None) -> None:
        await self.db.write(lambda c: c.execute(
            "UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?", (name, user_id, device_id)))

    async def touch_device(self, user_id: str, device_id: str, ip: str, ts: int,
                           user_agent: str | None = None) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE devices SET last_seen_ts = ?, last_seen_ip = ? WHERE user_id = ? AND device_id = ?",
                         (ts, ip, user_id, device_id))
            if user_agent is not None:  # the connections whois lists (user_ips, migration 0085)
                conn.execute(
                    "INSERT INTO user_ips (user_id, device_id, ip, user_agent, last_seen) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (user_id, device_id, ip, user_agent) DO UPDATE SET last_seen = excluded.last_seen",
                    (user_id, device_id, ip, user_agent, ts))
        await self.db.write(job)

    async def delete_devices(self, user_id: str, device_ids: list[str]) -> list[str]:
        """Delete devices and every token of theirs; returns the token hashes removed."""
        def job(conn: sqlite3.Connection) -> list[str]:
            removed: list[str] = []
            for device_id in device_ids:
                removed += [r[0] for r in conn.execute(
                    "SELECT token_hash FROM access_tokens WHERE user_id = ? AND device_id = ?", (user_id, device_id))]
                conn.execute("DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?", (user_id, device_id))
                conn.execute("DELETE FROM refresh_tokens WHERE user_id = ? AND device_id = ?", (user_id, device_id))
                conn.execute("DELETE FROM devices WHERE user_id = ? AND device_id = ?", (user_id, device_id))
            return removed
        return await self.db.write(job)

    # tokens
    async def add_access_token(self, token_hash: str, user_id: str, device_id: str,
                               expires_ts: int | None, refresh_hash: str | None) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, refresh_token_hash)"
                " VALUES (?, ?, ?, ?, ?, ?)", (token_hash, user_id, device_id, now_ms(), expires_ts, refresh_hash))
            if refresh_hash is not None:
                conn.execute(
                    "INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts) VALUES (?, ?, ?, ?)",
                    (refresh_hash, user_id, device_id, now_ms()))
        await self.db.write(job)

    async def get_access_token(self, token_hash: str) -> TokenInfo | None:
        row = await self.db.fetchone(
            "SELECT user_id, device_id, expires_ts, token_hash FROM access_tokens WHERE token_hash = ?", (token_hash,))
        return TokenInfo(*row) if row else None

    async def get_refresh_token(self, token_hash: str) -> tuple[str, str] | None:
        row = await self.db.fetchone(
            "SELECT user_id, device_id FROM refresh_tokens WHERE token_hash = ?", (token_hash,))
        return (row[0], row[1]) if row else None

    async def rotate_refresh_token(self, old_hash: str, new_access_hash: str, new_refresh_hash: str,
                                   expires_ts: int | None) -> tuple[str, str] | None:
        """Issue a new access/refresh pair for a refresh token.

        The old access token stops working at once. The old refresh token keeps working until
        the new pair is first used (`confirm_refresh_successor`), so a client that lost the
        response can retry; a retry replaces the unused pair it had been given before.
        """
        def job(conn: sqlite3.Connection) -> tuple[str, str] | None:
            row = conn.execute(
                "SELECT user_id, device_id FROM refresh_tokens WHERE token_hash = ?", (old_hash,)).fetchone()
            if row is None:
                return None
            user_id, device_id = row[0], row[1]
            for (unused,) in conn.execute(
                    "SELECT token_hash FROM refresh_tokens WHERE replaces = ?", (old_hash,)).fetchall():
                conn.execute("DELETE FROM access_tokens WHERE refresh_token_hash = ?", (unused,))
                conn.execute("DELETE FROM refresh_tokens WHERE token_hash = ?", (unused,))
            conn.execute("DELETE FROM access_tokens WHERE refresh_token_hash = ?", (old_hash,))
            ts = now_ms()
            conn.execute(
                "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, refresh_token_hash)"
                " VALUES (?, ?, ?, ?, ?, ?)", (new_access_hash, user_id, device_id, ts, expires_ts, new_refresh_hash))
            conn.execute(
                "INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts, replaces)"
                " VALUES (?, ?, ?, ?, ?)", (new_refresh_hash, user_id, device_id, ts, old_hash))
            return (user_id, device_id)
        return await self.db.write(job)

    async def refresh_token_replaces(self, refresh_hash: str) -> str | None:
        return await self.db.fetchval("SELECT replaces FROM refresh_tokens WHERE token_hash = ?", (refresh_hash,))

    async def confirm_refresh_successor(self, refresh_hash: str) -> None:
        """The pair issued with `refresh_hash` was used: the refresh token it replaced is revoked."""
        def job(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT replaces FROM refresh_tokens WHERE token_hash = ?", (refresh_hash,)).fetchone()
            if row is None or row[0] is None:
                return
            conn.execute("DELETE FROM refresh_tokens WHERE token_hash = ?", (row[0],))
            conn.execute("UPDATE refresh_tokens SET replaces = NULL WHERE token_hash = ?", (refresh_hash,))
        await self.db.write(job)

    async def access_token_refresh_hash(self, token_hash: str) -> str | None:
        return await self.db.fetchval(
            "SELECT refresh_token_hash FROM access_tokens WHERE token_hash = ?", (token_hash,))

    async def device_ids_with_tokens(self, user_id: str) -> list[str]:
        rows = await self.db.fetchall("SELECT DISTINCT device_id FROM access_tokens WHERE user_id = ?", (user_id,))
        return [r[0] for r in rows]

    async def delete_device_tokens(self, user_id: str, device_id: str) -> list[str]:
        """Sign a device out but keep it (a login reusing its device ID); returns the token hashes removed."""
        def job(conn: sqlite3.Connection) -> list[str]:
            removed = [r[0] for r in conn.execute(
                "SELECT token_hash FROM access_tokens WHERE user_id = ? AND device_id = ?", (user_id, device_id))]
            conn.execute("DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?", (user_id, device_id))
            conn.execute("DELETE FROM refresh_tokens WHERE user_id = ? AND device_id = ?", (user_id, device_id))
            return removed
        return await self.db.write(job)

    async def device_ids(self, user_id: str) -> list[str]:
        """Every device of a user, with or without a live token."""
        rows = await self.db.fetchall(
            "SELECT device_id FROM devices WHERE user_id = ? UNION SELECT device_id FROM access_tokens"
            " WHERE user_id = ?", (user_id, user_id))
        return [r[0] for r in rows]

    # rooms a user is in, from the membership index the event pipeline maintains
    async def room_ids_with_membership(self, user_id: str, memberships: tuple[str, ...]) -> list[str]:
        marks = ",".join("?" * len(memberships))
        rows = await self.db.fetchall(
            f"SELECT room_id FROM room_memberships WHERE user_id = ? AND membership IN ({marks}) ORDER BY room_id",
            (user_id, *memberships))
        return [r[0] for r in rows]

    # profile fields other than displayname / avatar_url (canonical JSON values)
    async def get_profile_fields(self, user_id: str) -> dict[str, str]:
        rows = await self.db.fetchall("SELECT key, value FROM profile_fields WHERE user_id = ?", (user_id,))
        return {r[0]: r[1] for r in rows}

    async def set_extra_profile_field(self, user_id: str, key: str, value_json: str | None) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if value_json is None:
                conn.execute("DELETE FROM profile_fields WHERE user_id = ? AND key = ?", (user_id, key))
            else:
                conn.execute(
                    "INSERT INTO profile_fields (user_id, key, value) VALUES (?, ?, ?)"
                    " ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value", (user_id, key, value_json))
        await self.db.write(job)

    async def delete_profile_fields(self, user_id: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM profile_fields WHERE user_id = ?", (user_id,))
            conn.execute("UPDATE users SET displayname = NULL, avatar_url = NULL WHERE user_id = ?", (user_id,))
        await self.db.write(job)
