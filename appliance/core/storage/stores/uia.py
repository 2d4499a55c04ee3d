"""User-interactive auth sessions and registration tokens."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from ..database import Database
from .accounts import AccountStore, now_ms


@dataclass(frozen=True, slots=True)
class UiaSession:
    session_id: str
    created_ts: int
    completed: list[str]
    request_key: str
    result: dict


@dataclass(frozen=True, slots=True)
class RegistrationToken:
    token: str
    uses_allowed: int | None
    pending: int
    completed: int
    expiry_time: int | None


def _session(row: sqlite3.Row) -> UiaSession:
    return UiaSession(row["session_id"], row["created_ts"], json.loads(row["completed"]), row["request_key"],
                      json.loads(row["result"]))


def _usable_sql(now: int) -> tuple[str, tuple]:
    """A token is usable while it has not expired and pending + completed < uses_allowed."""
    return ("(expiry_time IS NULL OR expiry_time > ?) AND (uses_allowed IS NULL OR pending + completed < uses_allowed)",
            (now,))


class UiaStore:
    def __init__(self, db: Database):
        self.db = db

    # sessions
    async def create_session(self, session_id: str, request_key: str) -> None:
        await self.db.write(lambda c: c.execute(
            "INSERT INTO uia_sessions (session_id, created_ts, request_key) VALUES (?, ?, ?)",
            (session_id, now_ms(), request_key)))

    async def get_session(self, session_id: str) -> UiaSession | None:
        row = await self.db.fetchone("SELECT * FROM uia_sessions WHERE session_id = ?", (session_id,))
        return _session(row) if row else None

    async def mark_completed(self, session_id: str, stage: str, result: dict) -> UiaSession | None:
        """Add a completed stage and merge `result` into the session's; None if it is gone."""
        def job(conn: sqlite3.Connection) -> UiaSession | None:
            row = conn.execute("SELECT * FROM uia_sessions WHERE session_id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            s = _session(row)
            completed = s.completed + ([stage] if stage not in s.completed else [])
            merged = {**s.result, **result}
            conn.execute("UPDATE uia_sessions SET completed = ?, result = ? WHERE session_id = ?",
                         (json.dumps(completed), json.dumps(merged), session_id))
            return UiaSession(s.session_id, s.created_ts, completed, s.request_key, merged)
        return await self.db.write(job)

    async def merge_result(self, session_id: str, data: dict) -> None:
        """Merge `data` into the session's result (the parameters a request left with it)."""
        def job(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT result FROM uia_sessions WHERE session_id = ?", (session_id,)).fetchone()
            if row is not None:
                conn.execute("UPDATE uia_sessions SET result = ? WHERE session_id = ?",
                             (json.dumps({**json.loads(row[0]), **data}), session_id))
        await self.db.write(job)

    async def complete_registration_token_stage(self, session_id: str, token: str) -> UiaSession | None:
        """Mark the registration-token stage done and count the token as pending, if usable.

        Returns None when the token is unknown, expired or used up (or the session is gone).
        """
        def job(conn: sqlite3.Connection) -> UiaSession | None:
            where, params = _usable_sql(now_ms())
            cur = conn.execute(f"UPDATE registration_tokens SET pending = pending + 1 WHERE token = ? AND {where}",
                               (token, *params))
            if cur.rowcount != 1:
                return None
            row = conn.execute("SELECT * FROM uia_sessions WHERE session_id = ?", (session_id,)).fetchone()
            if row is None:
                raise LookupError("session gone")  # rolls back the pending count
            s = _session(row)
            completed = s.completed + ["m.login.registration_token"]
            merged = {**s.result, "registration_token": token}
            conn.execute("UPDATE uia_sessions SET completed = ?, result = ? WHERE session_id = ?",
                         (json.dumps(completed), json.dumps(merged), session_id))
            return UiaSession(s.session_id, s.created_ts, completed, s.request_key, merged)
        try:
            return await self.db.write(job)
        except LookupError:
            return None

    async def finish_session(self, session_id: str, *, token_used: bool = False) -> bool:
        """Delete a session whose request succeeded (see `finish_session_job`)."""
        return await self.db.write(lambda conn: self.finish_session_job(conn, session_id, token_used))

    async def finish_session_creating_user(self, session_id: str, user_id: str, password_hash: str,
                                           displayname: str) -> bool:
        """Registration: count the session's token as used and create the account, in one
        transaction. The session stays (until it expires) holding `registered_user_id`, so that a
        client retrying the completed request gets the same account back. False if another
        request finished the session first; raises sqlite3.IntegrityError if the user ID is taken
        (and then nothing is written)."""
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT result FROM uia_sessions WHERE session_id = ?", (session_id,)).fetchone()
            if row is None or "registered_user_id" in json.loads(row[0]):
                return False
            result = json.loads(row[0])
            token = result.pop("registration_token", None)
            if token is not None:
                conn.execute("UPDATE registration_tokens SET pending = MAX(pending - 1, 0), completed = completed + 1"
                             " WHERE token = ?", (token,))
            result.pop("password_hash", None)
            result["registered_user_id"] = user_id
            conn.execute("UPDATE uia_sessions SET result = ? WHERE session_id = ?", (json.dumps(result), session_id))
            AccountStore.create_user_job(conn, user_id, password_hash, displayname=displayname)
            return True

        return await self.db.write(job)

    @staticmethod
    def finish_session_job(conn: sqlite3.Connection, session_id: str, token_used: bool) -> bool:
        """In a writer job: delete the session; a registration token it held as pending becomes
        completed (`token_used`) or is released. False if another request already finished it."""
        row = conn.execute("SELECT result FROM uia_sessions WHERE session_id = ?", (session_id,)).fetchone()
        if row is None:
            return False
        token = json.loads(row[0]).get("registration_token")
        if token is not None:
            conn.execute(
                "UPDATE registration_tokens SET pending = MAX(pending - 1, 0), completed = completed + ?"
                " WHERE token = ?", (1 if token_used else 0, token))
        conn.execute("DELETE FROM uia_sessions WHERE session_id = ?", (session_id,))
        return True

    async def expire_sessions(self, older_than_ts: int) -> int:
        """Drop abandoned sessions, releasing the registration tokens they held as pending."""
        def job(conn: sqlite3.Connection) -> int:
            rows = conn.execute("SELECT session_id, result FROM uia_sessions WHERE created_ts < ?",
                                (older_than_ts,)).fetchall()
            for session_id, result in rows:
                token = json.loads(result).get("registration_token")
                if token is not None:
                    conn.execute("UPDATE registration_tokens SET pending = MAX(pending - 1, 0) WHERE token = ?",
                                 (token,))
                conn.execute("DELETE FROM uia_sessions WHERE session_id = ?", (session_id,))
            return len(rows)
        return await self.db.write(job)

    # registration tokens
    async def add_registration_token(self, token: str, uses_allowed: int | None, expiry_time: int | None) -> None:
        await self.db.write(lambda c: c.execute(
            "INSERT INTO registration_tokens (token, uses_allowed, expiry_time, created_ts) VALUES (?, ?, ?, ?)",
            (token, uses_allowed, expiry_time, now_ms())))

    async def get_registration_token(self, token: str) -> RegistrationToken | None:
        row = await self.db.fetchone(
            "SELECT token, uses_allowed, pending, completed, expiry_time FROM registration_tokens WHERE token = ?",
            (token,))
        return RegistrationToken(*row) if row else None

    async def registration_token_usable(self, token: str) -> bool:
        where, params = _usable_sql(now_ms())
        return await self.db.fetchval(
            f"SELECT 1 FROM registration_tokens WHERE token = ? AND {where}", (token, *params)) is not None
