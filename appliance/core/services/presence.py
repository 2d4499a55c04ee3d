"""Presence (modules/presence, presence.yaml): online / unavailable / offline, shown to users
who share a room.

A user's presence is stored when it is set (PUT /presence, /sync?set_presence, coming back
after being idle or away) at a stream position; idling and disconnecting are computed when
presence is read:

- `online` turns into `unavailable` once the last pro-active action (a message, setting
  presence online) is older than the idle timeout (settings.presence_idle_after_s, 5 minutes);
- `online` / `unavailable` turn into `offline` once the user has neither synced nor acted for
  longer than the longest /sync long-poll plus a grace period (presence_offline_after_s).

A stored change advances the stream with the keys of the user and of their joined rooms, so
the /sync long-polls of everyone sharing a room wake up. So that those changes computed on
reading reach others too, one timer (`run`) watches the users others last saw online or
unavailable: when what others would now see differs (gone idle, gone offline, or no longer
`currently_active`, after which the spec lets clients stop assuming it), the row is stored
again at a new stream position, unchanged, and the /sync of everyone sharing a room gets the
m.presence event with the decayed state. Nothing is written while nothing changes.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import replace
from typing import Any

from ..protocol import ids
from ..protocol.errors import Forbidden, InvalidParam, NotFound
from ..storage.database import Database
from ..storage.stores.accounts import AccountStore
from ..storage.stores.presence import PresenceRow, PresenceStore
from ..stream import Stream

log = logging.getLogger(__name__)

STATES = ("online", "unavailable", "offline")
IDLE_AFTER_MS = 5 * 60 * 1000          # spec: "e.g. 5 minutes"
CURRENTLY_ACTIVE_MS = 60 * 1000        # within this, an online user is `currently_active`
SYNC_GRACE_MS = 30 * 1000              # after the longest long-poll, a silent client is gone
MAX_STATUS_MSG_CHARS = 1024


def _now_ms() -> int:
    return int(time.time() * 1000)


class PresenceService:
    def __init__(self, db: Database, store: PresenceStore, accounts: AccountStore, stream: Stream,
                 server_name: str, *, enabled: bool = True, max_sync_timeout_ms: int = 60_000,
                 idle_after_ms: int = IDLE_AFTER_MS, sync_grace_ms: int = SYNC_GRACE_MS):
        self.db = db
        self.store = store
        self.accounts = accounts
        self.stream = stream
        self.server_name = server_name
        self.enabled = enabled
        self.idle_after_ms = idle_after_ms
        self.offline_after_ms = max_sync_timeout_ms + sync_grace_ms
        # The timer's period: a fraction of the shortest timeout, at most 5 s (a decay is seen late
        # by at most that much), at least 50 ms.
        self.tick_s = max(0.05, min(5.0, min(idle_after_ms, self.offline_after_ms, CURRENTLY_ACTIVE_MS) / 4000))
        self._rows: dict[str, PresenceRow] = {}      # cache of stored rows (one per user who set presence)
        self._last_seen: dict[str, int] = {}         # user → ms of the last /sync or action (memory only)
        # User → what others were last told (`_visible`), for users not told "offline": the timer's work.
        self._announced: dict[str, tuple[str, bool]] = {}
        self._tasks: set[asyncio.Task] = set()

    # -- reading ----------------------------------------------------------------------------

    async def _row(self, user_id: str) -> PresenceRow | None:
        row = self._rows.get(user_id)
        if row is None:
            row = await self.store.get(user_id)
            if row is None:
                return None
            self._rows[user_id] = row
        return row

    def effective_state(self, row: PresenceRow, now: int | None = None) -> str:
        """The state as others should see it now (idle and disconnected users decay)."""
        now = now if now is not None else _now_ms()
        if row.state == "offline":
            return "offline"
        if not self._is_local(row.user_id):
            return row.state  # another server's user: their server decides (m.presence EDUs)
        # Seen = the last /sync or action in this process (or its start, for those online
        # before it: `_load_watched`); a stored time from before a restart says nothing about a
        # live connection.
        if now - self._last_seen.get(row.user_id, 0) > self.offline_after_ms:
            return "offline"
        if row.state == "online" and now - row.last_active_ts > self.idle_after_ms:
            return "unavailable"
        return row.state

    def _visible(self, row: PresenceRow, now: int) -> tuple[str, bool]:
        """What an m.presence event for the row says now, as far as it changes by itself: the
        state, and `currently_active` while online."""
        state = self.effective_state(row, now)
        return state, state == "online" and now - row.last_active_ts <= CURRENTLY_ACTIVE_MS

    def _content(self, row: PresenceRow | None, user_id: str, now: int) -> dict[str, Any]:
        if row is None:
            return {"presence": "offline"}
        state = self.effective_state(row, now)
        out: dict[str, Any] = {"presence": state, "last_active_ago": max(0, now - row.last_active_ts)}
        if row.status_msg is not None:
            out["status_msg"] = row.status_msg
        if state == "online":
            out["currently_active"] = now - row.last_active_ts <= CURRENTLY_ACTIVE_MS
        return out

    async def get_presence(self, requester: str, user_id: str) -> dict[str, Any]:
        """GET /presence/{userId}/status: for oneself and for users sharing a room."""
        try:
            _, server = ids.parse_user_id(user_id)
        except ValueError:
            raise InvalidParam("Not a user ID") from None
        if user_id != requester:
            if server == self.server_name and not await self.accounts.user_exists(user_id):
                raise NotFound("Unknown user")
            if not await self.share_a_room(requester, user_id):
                raise Forbidden("You are not allowed to see their presence")
        if not self.enabled:
            return {"presence": "offline"}
        return self._content(await self._row(user_id), user_id, _now_ms())

    async def share_a_room(self, a: str, b: str) -> bool:
        return await self.store.share_a_room(a, b)

    async def shares_with_local(self, user_id: str) -> bool:
        """Whether someone of ours is joined to a room `user_id` is joined to."""
        return await self.store.shares_with_server(user_id, self.server_name)

    async def sync_events(self, user_id: str, after: int | None, upto: int) -> list[dict[str, Any]]:
        """m.presence events for /sync: users sharing a joined room (and oneself) whose presence
        changed in (after, upto]; everyone's current presence on an initial sync (after None).
        Incrementally, also the current presence of whoever came to share a room with the user
        in that range (their presence may not have changed for months: the user has never been
        sent it), as Synapse does and Complement's "Newly joined room includes presence"."""
        if not self.enabled:
            return []
        rows = await self.store.changed_for(user_id, after or 0, upto)
        if after is not None:
            seen = {r.user_id for r in rows}
            rows += [r for r in await self.store.newly_sharing(user_id, after, upto) if r.user_id not in seen]
        now = _now_ms()
        out = []
        for row in rows:
            cached = self._rows.get(row.user_id)
            if cached is not None and cached.stream_pos == row.stream_pos:
                row = cached  # same change, with a fresher last_active_ts
            out.append({"type": "m.presence", "sender": row.user_id, "content": self._content(row, row.user_id, now)})
        return out

    async def changes(self, after: int, upto: int) -> list[dict[str, Any]]:
        """m.presence events of everyone whose presence changed in (after, upto] (appservices)."""
        if not self.enabled:
            return []
        now = _now_ms()
        return [{"type": "m.presence", "sender": row.user_id, "content": self._content(row, row.user_id, now)}
                for row in await self.store.changed_between(after, upto)]

    async def local_changes(self, after: int, upto: int) -> list[tuple[str, dict[str, Any]]]:
        """(user ID, m.presence content) of our own users whose presence changed in (after, upto]
        (the federation sender's m.presence EDUs)."""
        if not self.enabled:
            return []
        now = _now_ms()
        return [(row.user_id, self._content(row, row.user_id, now))
                for row in await self.store.changed_between(after, upto) if self._is_local(row.user_id)]

    async def receive_remote(self, user_id: str, content: dict[str, Any]) -> bool:
        """Another server's word on one of its users (an m.presence EDU's `push` entry); stored
        when it changes what others see. False if it is malformed or changes nothing."""
        state, status_msg, ago = content.get("presence"), content.get("status_msg"), content.get("last_active_ago")
        if not self.enabled or self._is_local(user_id) or state not in STATES:
            return False
        if status_msg is not None and (not isinstance(status_msg, str) or len(status_msg) > MAX_STATUS_MSG_CHARS):
            return False
        now = _now_ms()
        last_active = now - ago if isinstance(ago, int) and not isinstance(ago, bool) and 0 <= ago < now else now
        old = await self._row(user_id)
        if old is not None and old.state == state and old.status_msg == status_msg \
                and abs(old.last_active_ts - last_active) < CURRENTLY_ACTIVE_MS:
            return False
        await self._store(PresenceRow(user_id, state, status_msg, last_active, 0))
        return True

    def _is_local(self, user_id: str) -> bool:
        try:
            return ids.parse_user_id(user_id)[1] == self.server_name
        except ValueError:
            return False

    async def joined_rooms(self, user_id: str) -> list[str]:
        return await self.store.joined_rooms(user_id)

    # -- writing ----------------------------------------------------------------------------

    async def set_presence(self, user_id: str, state: str, status_msg: str | None = None, *,
                           keep_status: bool = False) -> None:
        """PUT /presence/{userId}/status (and /sync?set_presence): store a change, if any."""
        if state not in STATES:
            raise InvalidParam(f"presence must be one of {', '.join(STATES)}")
        if status_msg is not None and len(status_msg) > MAX_STATUS_MSG_CHARS:
            raise InvalidParam("status_msg is too long")
        if not self.enabled:
            return
        now = _now_ms()
        old = await self._row(user_id)
        if keep_status and old is not None:
            status_msg = old.status_msg
        self._last_seen[user_id] = now
        last_active = now if state == "online" else (old.last_active_ts if old else now)
        if old is not None and state != "online":
            if old.state == state and old.status_msg == status_msg and self.effective_state(old, now) == state:
                return
        if old is not None and state == "online" and old.state == "online" and old.status_msg == status_msg \
                and self.effective_state(old, now) == "online" and now - old.last_active_ts <= CURRENTLY_ACTIVE_MS:
            # Still currently active: remember the time without telling everyone again.
            self._rows[user_id] = replace(old, last_active_ts=now)
            return
        await self._store(PresenceRow(user_id, state, status_msg, last_active, 0))

    async def user_syncing(self, user_id: str, set_presence: str | None) -> None:
        """A /sync request: `set_presence` absent means online; offline leaves presence alone."""
        if not self.enabled:
            return
        wanted = set_presence or "online"
        now = _now_ms()
        if wanted == "offline":
            return
        old = await self._row(user_id)
        was = self.effective_state(old, now) if old is not None else "offline"
        self._last_seen[user_id] = now
        if wanted == "online":
            if old is None or old.state != "online" or was == "offline":
                await self._store(PresenceRow(user_id, "online", old.status_msg if old else None, now, 0))
        elif wanted == "unavailable":
            if old is None or old.state == "offline" or was == "offline" or (old.state == "online" and was == "online"):
                last_active = old.last_active_ts if old else now
                await self._store(PresenceRow(user_id, "unavailable", old.status_msg if old else None,
                                              last_active, 0))

    def bump_active(self, user_id: str) -> None:
        """A pro-active action (sending an event): online again if the user was idle or away."""
        if not self.enabled:
            return
        now = _now_ms()
        self._last_seen[user_id] = now
        row = self._rows.get(user_id)
        if row is not None and row.state == "online" and self.effective_state(row, now) == "online" \
                and now - row.last_active_ts <= CURRENTLY_ACTIVE_MS:
            self._rows[user_id] = replace(row, last_active_ts=now)
            return
        task = asyncio.get_running_loop().create_task(self._bump(user_id, now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bump(self, user_id: str, now: int) -> None:
        try:
            row = await self._row(user_id)
            if row is not None and row.state == "offline":
                return  # explicitly offline (hidden) stays so
            if row is not None and row.state == "online" and self.effective_state(row, now) == "online" \
                    and now - row.last_active_ts <= CURRENTLY_ACTIVE_MS:
                self._rows[user_id] = replace(row, last_active_ts=max(now, row.last_active_ts))
                return
            await self._store(PresenceRow(user_id, "online", row.status_msg if row else None, now, 0))
        except Exception:
            log.exception("presence bump failed for %s", user_id)

    def on_event(self, persisted: Any) -> None:
        """EventPipeline listener: a local user's message counts as activity."""
        pdu = persisted.pdu
        if pdu.is_state and pdu.type == "m.room.member":
            return
        if self._is_local(pdu.sender):
            self.bump_active(pdu.sender)

    async def _store(self, row: PresenceRow) -> None:
        def job(conn: sqlite3.Connection) -> int:
            pos = self.stream.allocate(conn)
            self.store.put_job(conn, row, pos)
            return pos

        pos = await self.db.write(job)
        stored = self._rows[row.user_id] = replace(row, stream_pos=pos)
        self._watch(stored, _now_ms())
        rooms = await self.store.joined_rooms(row.user_id)
        self.stream.advance(pos, [row.user_id, *rooms])

    # -- pushing decays ------------------------------------------------------------------------

    def _watch(self, row: PresenceRow, now: int) -> None:
        """Others were just told about `row`: watch it for decays (until it is offline)."""
        visible = self._visible(row, now)
        if visible[0] == "offline":
            self._announced.pop(row.user_id, None)
        else:
            self._announced[row.user_id] = visible

    async def run(self) -> None:
        """Background task: store again the rows whose visible presence decayed, so that /sync
        carries the change to everyone sharing a room."""
        if not self.enabled:
            return
        await self._load_watched()
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.announce_decays()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("announcing presence changes failed; retrying")

    async def _load_watched(self) -> None:
        """After a start, the rows others last saw online or unavailable. The start counts as
        seeing their clients: those that reconnect within the offline timeout never flap
        offline, the others are announced offline when it passes."""
        now = _now_ms()
        for row in await self.store.not_offline():
            if row.user_id in self._announced:
                continue  # changed since the start: already watched
            self._rows.setdefault(row.user_id, row)
            self._last_seen.setdefault(row.user_id, now)
            # Told when stored: an online row was stored active (a touch since may have told more;
            # then one event repeats it).
            self._announced[row.user_id] = (
                row.state, row.state == "online" and now - row.last_active_ts <= CURRENTLY_ACTIVE_MS)

    async def announce_decays(self) -> int:
        """One pass of the timer; returns how many users' presence was announced."""
        now = _now_ms()
        announced = 0
        for user_id, told in list(self._announced.items()):
            row = self._rows.get(user_id)
            if row is None:
                self._announced.pop(user_id, None)
                continue
            if self._visible(row, now) == told:
                continue
            await self._store(replace(row, stream_pos=0))
            announced += 1
        return announced
