"""What the admin API and pages read and write beyond the other stores: user listings, room
summaries, blocked rooms, device connections, erased users, room deletions, token upkeep."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..database import Database
from .accounts import now_ms
from .uia import RegistrationToken

# Admin listing sort keys → SQL (whitelisted: these strings are pasted into ORDER BY).
USER_ORDER = {
    "name": "u.user_id",
    "is_guest": "u.is_guest",
    "admin": "u.admin",
    "user_type": "NULL",
    "deactivated": "u.deactivated",
    "shadow_banned": "0",
    "displayname": "u.displayname",
    "avatar_url": "u.avatar_url",
    "creation_ts": "u.created_ts",
    "last_seen_ts": "last_seen_ts",
}


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: str
    is_guest: bool
    admin: bool
    deactivated: bool
    erased: bool
    displayname: str | None
    avatar_url: str | None
    created_ts: int
    last_seen_ts: int | None


@dataclass(frozen=True, slots=True)
class Connection:
    device_id: str
    ip: str
    user_agent: str
    last_seen: int


@dataclass(frozen=True, slots=True)
class RoomDeletion:
    delete_id: str
    room_id: str
    status: str
    error: str | None
    shutdown_room: dict[str, Any]
    requester: str
    created_ts: int
    finished_ts: int | None


def _deletion(row: sqlite3.Row) -> RoomDeletion:
    return RoomDeletion(row["delete_id"], row["room_id"], row["status"], row["error"],
                        json.loads(row["shutdown_room"]), row["requester"], row["created_ts"], row["finished_ts"])


# Tables holding a room's data, deleted when a room is purged (event-keyed ones first).
_ROOM_EVENT_TABLES = ("event_edges", "event_auth")
_ROOM_TABLES = ("events", "forward_extremities", "current_state", "room_memberships", "room_aliases",
                "receipts", "rooms")


class AdminStore:
    def __init__(self, db: Database):
        self.db = db

    # -- users ------------------------------------------------------------------------------

    async def list_users(self, *, offset: int, limit: int, user_id: str | None, name: str | None,
                         guests: bool, admins: bool | None, deactivated: bool | None,
                         order_by: str, backwards: bool) -> tuple[list[UserRow], int]:
        """One page of users and how many match. `deactivated` None: both; False: active only."""
        where, params = ["1 = 1"], []
        if name is not None:
            # localpart or display name contains
            where.append("(substr(u.user_id, 2, instr(u.user_id, ':') - 2) LIKE ? ESCAPE '\\'"
                         " OR u.displayname LIKE ? ESCAPE '\\')")
            params += [_like(name), _like(name)]
        elif user_id is not None:
            where.append("u.user_id LIKE ? ESCAPE '\\'")
            params.append(_like(user_id))
        if not guests:
            where.append("u.is_guest = 0")
        if admins is not None:
            where.append("u.admin = ?")
            params.append(int(admins))
        if deactivated is not None:
            where.append("u.deactivated = ?")
            params.append(int(deactivated))
        cond = " AND ".join(where)
        total = await self.db.fetchval(f"SELECT COUNT(*) FROM users u WHERE {cond}", tuple(params))
        direction = "DESC" if backwards else "ASC"
        order = USER_ORDER[order_by]
        rows = await self.db.fetchall(
            "SELECT u.user_id, u.is_guest, u.admin, u.deactivated, u.displayname, u.avatar_url, u.created_ts,"
            " (SELECT MAX(last_seen_ts) FROM devices d WHERE d.user_id = u.user_id) AS last_seen_ts,"
            " EXISTS (SELECT 1 FROM erased_users e WHERE e.user_id = u.user_id) AS erased"
            f" FROM users u WHERE {cond} ORDER BY {order} {direction}, u.user_id {direction} LIMIT ? OFFSET ?",
            (*params, limit, offset))
        return [_user_row(r) for r in rows], total

    async def get_user(self, user_id: str) -> UserRow | None:
        row = await self.db.fetchone(
            "SELECT u.user_id, u.is_guest, u.admin, u.deactivated, u.displayname, u.avatar_url, u.created_ts,"
            " (SELECT MAX(last_seen_ts) FROM devices d WHERE d.user_id = u.user_id) AS last_seen_ts,"
            " EXISTS (SELECT 1 FROM erased_users e WHERE e.user_id = u.user_id) AS erased"
            " FROM users u WHERE u.user_id = ?", (user_id,))
        return _user_row(row) if row else None

    async def mark_erased(self, user_id: str) -> None:
        await self.db.write(lambda c: c.execute(
            "INSERT OR IGNORE INTO erased_users (user_id) VALUES (?)", (user_id,)))

    async def reactivate(self, user_id: str, password_hash: str | None) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE users SET deactivated = 0, password_hash = ? WHERE user_id = ?",
                         (password_hash, user_id))
            conn.execute("DELETE FROM erased_users WHERE user_id = ?", (user_id,))
        await self.db.write(job)

    async def connections(self, user_id: str) -> list[Connection]:
        """Where each current device of a user was seen (user_ips rows of live devices)."""
        rows = await self.db.fetchall(
            "SELECT i.device_id, i.ip, i.user_agent, i.last_seen FROM user_ips i"
            " JOIN devices d ON d.user_id = i.user_id AND d.device_id = i.device_id"
            " WHERE i.user_id = ? ORDER BY i.device_id, i.last_seen", (user_id,))
        return [Connection(*r) for r in rows]

    async def connection_history(self, user_id: str) -> list[Connection]:
        """Every user_ips row of a user, deleted devices included, oldest first."""
        rows = await self.db.fetchall(
            "SELECT device_id, ip, user_agent, last_seen FROM user_ips WHERE user_id = ? ORDER BY last_seen",
            (user_id,))
        return [Connection(*r) for r in rows]

    async def device_user_agents(self, user_id: str) -> dict[str, str]:
        """The user agent each device was last seen with."""
        rows = await self.db.fetchall(
            "SELECT device_id, user_agent FROM user_ips WHERE user_id = ? ORDER BY last_seen", (user_id,))
        return {r[0]: r[1] for r in rows}

    # -- rooms ------------------------------------------------------------------------------

    async def room_rows(self, room_id: str | None = None) -> list[sqlite3.Row]:
        """Each room with its version, creator, directory flag and member/state counts."""
        where, params = ("WHERE r.room_id = ?", (room_id,)) if room_id else ("", ())
        return await self.db.fetchall(
            "SELECT r.room_id, r.room_version, r.creator, r.is_public, r.created_ts,"
            " (SELECT COUNT(*) FROM current_state cs WHERE cs.room_id = r.room_id) AS state_events,"
            " (SELECT COUNT(*) FROM current_state cs WHERE cs.room_id = r.room_id"
            "   AND cs.type = 'm.room.member' AND cs.membership = 'join') AS joined_members,"
            " (SELECT COUNT(*) FROM events e WHERE e.room_id = r.room_id) AS events"
            f" FROM rooms r {where}", params)

    async def joined_local_members(self, server_name: str, room_id: str | None = None) -> dict[str, int]:
        where, params = ("AND room_id = ?", (room_id,)) if room_id else ("", ())
        rows = await self.db.fetchall(
            "SELECT room_id, COUNT(*) FROM current_state WHERE type = 'm.room.member' AND membership = 'join'"
            f" AND state_key LIKE ? {where} GROUP BY room_id", (f"%:{server_name}", *params))
        return {r[0]: r[1] for r in rows}

    async def room_state_json(self, types: tuple[str, ...], room_id: str | None = None) -> list[sqlite3.Row]:
        """The current state events of these types (state key '') with their JSON and redaction."""
        marks = ",".join("?" * len(types))
        where, params = ("AND cs.room_id = ?", (room_id,)) if room_id else ("", ())
        return await self.db.fetchall(
            "SELECT cs.room_id, cs.type, e.json, e.redacted_by, r.room_version FROM current_state cs"
            " JOIN events e ON e.event_id = cs.event_id JOIN rooms r ON r.room_id = cs.room_id"
            f" WHERE cs.state_key = '' AND cs.type IN ({marks}) {where}", (*types, *params))

    async def all_local_members_forgot(self, room_id: str, server_name: str) -> bool:
        row = await self.db.fetchone(
            "SELECT COUNT(*), SUM(forgotten) FROM room_memberships WHERE room_id = ? AND user_id LIKE ?",
            (room_id, f"%:{server_name}"))
        return bool(row[0]) and row[0] == (row[1] or 0)

    async def joined_local_devices(self, room_id: str, server_name: str) -> int:
        return await self.db.fetchval(
            "SELECT COUNT(*) FROM devices d JOIN room_memberships m ON m.user_id = d.user_id"
            " WHERE m.room_id = ? AND m.membership = 'join' AND m.user_id LIKE ?", (room_id, f"%:{server_name}"))

    async def local_users_in_room(self, room_id: str, server_name: str) -> list[tuple[str, str]]:
        """(user_id, membership) of our users with a membership other than leave in a room."""
        rows = await self.db.fetchall(
            "SELECT user_id, membership FROM room_memberships WHERE room_id = ? AND user_id LIKE ?"
            " AND membership IN ('join', 'invite', 'knock') ORDER BY user_id", (room_id, f"%:{server_name}"))
        return [(r[0], r[1]) for r in rows]

    async def room_aliases(self, room_id: str) -> list[str]:
        rows = await self.db.fetchall("SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias", (room_id,))
        return [r[0] for r in rows]

    async def move_aliases(self, from_room: str, to_room: str) -> None:
        await self.db.write(lambda c: c.execute(
            "UPDATE room_aliases SET room_id = ? WHERE room_id = ?", (to_room, from_room)))

    async def delete_aliases(self, room_id: str) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM room_aliases WHERE room_id = ?", (room_id,)))

    async def purge_room(self, room_id: str) -> list[str]:
        """Delete every trace of a room's events and state; returns the event IDs removed."""
        def job(conn: sqlite3.Connection) -> list[str]:
            event_ids = [r[0] for r in conn.execute("SELECT event_id FROM events WHERE room_id = ?", (room_id,))]
            for table in _ROOM_EVENT_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM events WHERE room_id = ?)",
                             (room_id,))
            conn.execute("DELETE FROM state_group_entries WHERE state_group IN"
                         " (SELECT id FROM state_groups WHERE room_id = ?)", (room_id,))
            conn.execute("DELETE FROM state_groups WHERE room_id = ?", (room_id,))
            conn.execute("DELETE FROM account_data WHERE room_id = ?", (room_id,))
            for table in _ROOM_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE room_id = ?", (room_id,))
            return event_ids
        return await self.db.write(job, long=True)  # a room's whole history: off the event loop

    # -- blocked rooms ----------------------------------------------------------------------

    async def blocked_by(self, room_id: str) -> str | None:
        return await self.db.fetchval("SELECT user_id FROM blocked_rooms WHERE room_id = ?", (room_id,))

    async def block_room(self, room_id: str, user_id: str) -> None:
        await self.db.write(lambda c: c.execute(
            "INSERT OR IGNORE INTO blocked_rooms (room_id, user_id, created_ts) VALUES (?, ?, ?)",
            (room_id, user_id, now_ms())))

    async def unblock_room(self, room_id: str) -> None:
        await self.db.write(lambda c: c.execute("DELETE FROM blocked_rooms WHERE room_id = ?", (room_id,)))

    # -- room deletions ---------------------------------------------------------------------

    async def add_deletion(self, delete_id: str, room_id: str, requester: str) -> None:
        await self.db.write(lambda c: c.execute(
            "INSERT INTO room_deletions (delete_id, room_id, status, requester, created_ts)"
            " VALUES (?, ?, 'scheduled', ?, ?)", (delete_id, room_id, requester, now_ms())))

    async def update_deletion(self, delete_id: str, status: str, shutdown_room: dict[str, Any],
                              error: str | None = None) -> None:
        finished = now_ms() if status in ("complete", "failed") else None
        await self.db.write(lambda c: c.execute(
            "UPDATE room_deletions SET status = ?, shutdown_room = ?, error = ?, finished_ts = ?"
            " WHERE delete_id = ?", (status, json.dumps(shutdown_room), error, finished, delete_id)))

    async def get_deletion(self, delete_id: str) -> RoomDeletion | None:
        row = await self.db.fetchone("SELECT * FROM room_deletions WHERE delete_id = ?", (delete_id,))
        return _deletion(row) if row else None

    async def deletions_of_room(self, room_id: str) -> list[RoomDeletion]:
        rows = await self.db.fetchall(
            "SELECT * FROM room_deletions WHERE room_id = ? ORDER BY created_ts", (room_id,))
        return [_deletion(r) for r in rows]

    # -- registration tokens ----------------------------------------------------------------

    async def list_registration_tokens(self, valid: bool | None) -> list[RegistrationToken]:
        usable = ("((expiry_time IS NULL OR expiry_time > ?)"
                  " AND (uses_allowed IS NULL OR pending + completed < uses_allowed))")
        where, params = "", ()
        if valid is True:
            where, params = f"WHERE {usable}", (now_ms(),)
        elif valid is False:
            where, params = f"WHERE NOT {usable}", (now_ms(),)
        rows = await self.db.fetchall(
            f"SELECT token, uses_allowed, pending, completed, expiry_time FROM registration_tokens {where}"
            " ORDER BY created_ts, token", params)
        return [RegistrationToken(*r) for r in rows]

    async def update_registration_token(self, token: str, changes: dict[str, int | None]) -> bool:
        assert set(changes) <= {"uses_allowed", "expiry_time"}
        if not changes:
            return await self.db.fetchval("SELECT 1 FROM registration_tokens WHERE token = ?", (token,)) is not None
        sets = ", ".join(f"{k} = ?" for k in changes)
        cur = await self.db.write(lambda c: c.execute(
            f"UPDATE registration_tokens SET {sets} WHERE token = ?", (*changes.values(), token)).rowcount)
        return cur == 1

    async def delete_registration_token(self, token: str) -> bool:
        return await self.db.write(lambda c: c.execute(
            "DELETE FROM registration_tokens WHERE token = ?", (token,)).rowcount) == 1


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _user_row(r: sqlite3.Row) -> UserRow:
    return UserRow(r["user_id"], bool(r["is_guest"]), bool(r["admin"]), bool(r["deactivated"]), bool(r["erased"]),
                   r["displayname"], r["avatar_url"], r["created_ts"], r["last_seen_ts"])


@dataclass(frozen=True, slots=True)
class EventReportRow:
    id: int
    received_ts: int
    room_id: str
    event_id: str
    user_id: str
    reason: str | None
    score: int | None
    sender: str | None


class EventReportStore:
    """Event reports in the `reports` table (migration 0062, kind 'event'), filtered and paged
    the way the admin API pages them."""

    def __init__(self, db: Database):
        self.db = db

    async def list(self, *, offset: int, limit: int, backwards: bool, user_id: str | None,
                   room_id: str | None, sender: str | None) -> tuple[list[EventReportRow], int]:
        where, params = ["kind = 'event'"], []
        for column, value in (("reporter", user_id), ("room_id", room_id), ("target_user_id", sender)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        cond = " AND ".join(where)
        total = await self.db.fetchval(f"SELECT COUNT(*) FROM reports WHERE {cond}", tuple(params))
        order = "DESC" if backwards else "ASC"
        rows = await self.db.fetchall(
            "SELECT id, received_ts, room_id, event_id, reporter, reason, score, target_user_id FROM reports"
            f" WHERE {cond} ORDER BY received_ts {order}, id {order} LIMIT ? OFFSET ?", (*params, limit, offset))
        return [EventReportRow(*r) for r in rows], total

    async def get(self, report_id: int) -> EventReportRow | None:
        row = await self.db.fetchone(
            "SELECT id, received_ts, room_id, event_id, reporter, reason, score, target_user_id FROM reports"
            " WHERE id = ? AND kind = 'event'", (report_id,))
        return EventReportRow(*row) if row else None

    async def delete(self, report_id: int) -> bool:
        return await self.db.write(lambda c: c.execute(
            "DELETE FROM reports WHERE id = ? AND kind = 'event'", (report_id,)).rowcount) == 1
