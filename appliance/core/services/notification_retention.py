"""Notification retention: old notification rows that no count needs are deleted.

A row is written for every local member a message notifies (services/push.py), and /sync's
unread counts, /notifications and pushers read them. Like Synapse (which keeps 30 days of
push actions), rows older than the retention go, with one exception that keeps the counts
exact: a row still unread (after the user's read point in its room and thread, the same rule
`PushService.unread_counts` applies) stays whatever its age. Read points only move forward
(receipts never go back, the user's own latest event only gets newer), so a row read once is
never counted again and deleting it changes no count.

Run by the server every `notification_prune_interval_hours` (a background task, the first
run a few minutes after start-up) and by `hearth prune-notifications`; both log progress.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from ..storage.database import Database
from ..storage.stores.push import PushStore
from .push import MAIN, PushService

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
PAGE = 2000            # rows read per query
DELETE_CHUNK = 500     # rows deleted per writer job: the writer is shared with every send
FIRST_RUN_AFTER = 300  # seconds after start-up at most

Progress = Callable[[int, int, int], None]  # users done, users in all, rows deleted so far


class NotificationRetention:
    def __init__(self, db: Database, push: PushService, retention_days: Callable[[], float],
                 interval_hours: Callable[[], float]):
        # Callables: the settings are read at each run, so a changed setting applies live.
        self.db = db
        self.store = push.store
        self.push = push
        self.retention_days = retention_days
        self.interval_hours = interval_hours
        self.runs = 0

    async def run(self) -> None:
        """Background task: prune now and then, until cancelled."""
        delay = min(self.interval_hours() * 3600, FIRST_RUN_AFTER)
        while True:
            await asyncio.sleep(delay)
            try:
                await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pruning old notifications failed; trying again at the next run")
            delay = self.interval_hours() * 3600

    async def prune(self, now_ms: int | None = None, progress: Progress | None = None) -> int:
        """Delete the read notification rows older than the retention; returns how many."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        days = self.retention_days()
        cutoff = now_ms - int(days * DAY_MS)
        users = await self.store.users_with_notifications_before(cutoff)
        log.info("pruning read notifications older than %g days: %d users have some", days, len(users))
        deleted = 0
        for done, (user_nid, user_id) in enumerate(users, 1):
            deleted += await self._prune_user(user_nid, user_id, cutoff)
            if progress is not None:
                progress(done, len(users), deleted)
            if done % 50 == 0 or done == len(users):
                log.info("pruning notifications: %d/%d users, %d rows deleted", done, len(users), deleted)
        self.runs += 1
        return deleted

    async def _prune_user(self, user_nid: int, user_id: str, cutoff: int) -> int:
        points: dict[str, dict[str, int]] = {}  # room → read points, read once per run
        deleted = 0
        after = -1
        while True:
            rows = await self.store.notifications_before(user_nid, cutoff, after, PAGE)
            if not rows:
                return deleted
            after = rows[-1][0]
            read = []
            for pos, room_id, thread_id in rows:
                room_points = points.get(room_id)
                if room_points is None:
                    room_points = points[room_id] = await self.push.read_points(user_id, room_id)
                # Read exactly when PushService.unread_counts skips it.
                if pos <= max(room_points.get("", 0), room_points.get(thread_id or MAIN, 0)):
                    read.append((room_id, pos))
            for i in range(0, len(read), DELETE_CHUNK):
                deleted += await self.db.write(partial(PushStore.delete_notifications_job, user_nid=user_nid,
                                                       positions=read[i:i + DELETE_CHUNK]), long=True)
            if len(rows) < PAGE:
                return deleted
