"""Push evaluation (client-server-api "Push Notifications", "Receiving notifications").

Every event is evaluated against the push rules of each local member of its room (the sender
excluded), in stream order: push evaluation is the stream consumer "push"
(core/stream_consumer.py), woken by the stream, and a restart continues where the last batch
ended. A notification row is stored for each "notify" outcome, in the same write job as the
consumer's position; it is what /sync counts, /notifications lists and pushers deliver.

/sync asks for counts up to the position it is answering for; what the evaluator has not
recorded up to there is evaluated for the one user on the spot, so a new event's count is in
the same response as the event itself.
Counts are the rows after the user's read point: the newest of their m.read / m.read.private
receipts (unthreaded, or for the notification's thread) and their own latest event.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from ..cache import LruCache
from ..protocol import ids
from ..protocol import push_rules as pr
from ..protocol.events import Pdu
from ..protocol.power_levels import get_notification_level, get_user_power_level
from ..storage.database import Database
from ..storage.stores.events import EventStore, StoredEvent
from ..storage.stores.push import PUSH_CONSUMER, Notification, PushStore
from ..storage.stores.state import StateStore
from ..storage.stores.stream_consumers import StreamConsumerStore
from ..stream import Stream
from ..stream_consumer import Batch, StreamConsumer
from .account_data import AccountDataService
from .push_rules import PushRuleService

log = logging.getLogger(__name__)

BATCH = 200
KNOWN_PUSH_IDS = 50_000  # push_ids / push_actions numbers remembered (PushStore.known_*)
# State groups whose members, names and power levels are kept (_RoomAt), bounded by the members
# they list (~100 bytes each): a few big rooms' churn cannot pin tens of megabytes.
ROOMS_CACHED_MEMBERS = 20_000
THREAD_HOPS = 3
MAIN = "main"


@dataclass(slots=True)
class _RoomAt:
    """A room at one state group, as push evaluation sees it."""

    member_count: int  # joined members, every server
    local_joined: list[str]  # sorted
    names: dict[str, str | None]  # local members' display names (any membership)
    power_levels: Pdu | None
    create: Pdu | None
    levels: dict[str, int]  # notification levels by key
    sender_levels: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Recorded:
    """What one batch's write job stored: its notifications, and the push_ids and push_actions
    numbers it used (remembered once committed)."""

    notifications: list[Notification]
    ids: dict[str, int]
    actions: dict[str, int]


class PushService:
    def __init__(self, db: Database, store: PushStore, events: EventStore, state: StateStore, stream: Stream,
                 rules: PushRuleService, account_data: AccountDataService, server_name: str,
                 consumers: StreamConsumerStore):
        self.store = store
        self.events = events
        self.state = state
        self.stream = stream
        self.rules = rules
        self.account_data = account_data
        self.server_name = server_name
        self.consumer = StreamConsumer(PUSH_CONSUMER, db, stream, consumers, self._batch, self._recorded)
        self._lock = self.consumer.lock  # held while a batch is evaluated and recorded
        self._rooms: LruCache[int, _RoomAt] = LruCache(ROOMS_CACHED_MEMBERS)
        # Called with the new notifications after they are committed (pushers).
        self.notification_listeners: list[Callable[[list[Notification]], None]] = []

    # -- driving the evaluator ----------------------------------------------------------------

    async def run(self) -> None:
        """Background task: evaluate whatever the stream has that we have not."""
        await self.consumer.run()

    async def position(self) -> int:
        """Every event up to here is evaluated and its notifications recorded."""
        return await self.consumer.position()

    async def catch_up(self, target: int) -> None:
        """Evaluate every event up to `target` (and whatever else is committed by now)."""
        await self.consumer.catch_up(target)

    async def _batch(self, after: int, upto: int) -> Batch[_Recorded]:
        """The consumer's next batch: up to BATCH events after `after`, evaluated."""
        evs = await self.events.live_events_between(after, upto, BATCH)
        if not evs:
            return Batch(upto)
        end = evs[-1].stream_pos if len(evs) == BATCH else upto
        notes: list[Notification] = []
        for ev in evs:
            try:
                notes += await self._evaluate(ev)
            except Exception:  # one bad event never blocks the rest
                log.exception("push evaluation of %s failed", ev.event_id)
        store = self.store

        def record(conn: sqlite3.Connection) -> _Recorded:
            ids, actions = PushStore.record_notifications_job(conn, notes, store.known_ids, store.known_actions)
            return _Recorded(notes, ids, actions)

        return Batch(end, record)

    def _recorded(self, done: _Recorded) -> None:
        """After a batch committed: remember its numbers, tell the pushers."""
        store = self.store
        for known, learnt in ((store.known_ids, done.ids), (store.known_actions, done.actions)):
            if len(known) > KNOWN_PUSH_IDS:  # users, rooms and action sets: bounded
                known.clear()
            known.update(learnt)  # committed now
        if done.notifications:
            for listener in self.notification_listeners:
                try:
                    listener(done.notifications)
                except Exception:
                    log.exception("notification listener failed")

    # -- one event ------------------------------------------------------------------------------

    def _is_local(self, user_id: str) -> bool:
        return ids.server_name_of(user_id) == self.server_name

    async def _room_at(self, state_group: int) -> _RoomAt:
        """What every evaluation at this state needs, worked out once per state group (a group's
        state never changes; consecutive messages in a room share their group)."""
        room = self._rooms.get(state_group)
        if room is not None:
            return room
        state = await self.state.get_state(state_group)
        member_ids = {k[1]: eid for k, eid in state.items() if k[0] == "m.room.member"}
        members = await self.events.get_events(member_ids.values())
        joined = {u for u, eid in member_ids.items() if eid in members and members[eid].pdu.membership == "join"}
        pl_id, create_id = state.get(("m.room.power_levels", "")), state.get(("m.room.create", ""))
        specials = await self.events.get_events([e for e in (pl_id, create_id) if e])
        pl = specials[pl_id].pdu if pl_id in specials else None
        create = specials[create_id].pdu if create_id in specials else None
        keys = {"room"}
        if pl is not None and isinstance(pl.content.get("notifications"), dict):
            keys |= {k for k in pl.content["notifications"] if isinstance(k, str)}
        names: dict[str, str | None] = {}
        for user, eid in member_ids.items():
            if self._is_local(user):
                member = members.get(eid)
                name = member.pdu.content.get("displayname") if member is not None else None
                names[user] = name if isinstance(name, str) else None
        room = _RoomAt(member_count=len(joined), local_joined=sorted(u for u in joined if self._is_local(u)),
                       names=names, power_levels=pl, create=create,
                       levels={k: get_notification_level(pl, k) for k in keys})
        self._rooms.put(state_group, room, 1 + len(names) + len(room.local_joined))
        return room

    async def _evaluate(self, ev: StoredEvent, only: str | None = None) -> list[Notification]:
        """The notifications an event makes (for `only` that user, when given)."""
        pdu = ev.pdu
        if ev.state_group is None:
            return []
        room = await self._room_at(ev.state_group)
        sender = pdu.sender
        recipients = [u for u in room.local_joined if u != sender]
        target = pdu.state_key
        if (pdu.type == "m.room.member" and pdu.membership == "invite" and target and target != sender
                and self._is_local(target) and target not in recipients):
            recipients.append(target)
            recipients.sort()
        if only is not None:
            recipients = [u for u in recipients if u == only]
        if not recipients:
            return []
        sender_level = room.sender_levels.get(sender)
        if sender_level is None:
            sender_level = room.sender_levels[sender] = get_user_power_level(sender, room.power_levels, room.create)
        ctx = pr.EvalContext(member_count=room.member_count, sender_power_level=sender_level,
                             notification_levels=room.levels)
        thread_id = await self._thread_of(pdu.content)
        event = pdu.data
        memo: dict[Any, bool] = {}  # member-independent outcomes, shared by the recipients
        now = int(time.time() * 1000)
        out = []
        for user in recipients:
            if sender in await self.account_data.ignored_users(user):
                continue
            result = pr.evaluate_compiled(await self.rules.compiled(user), event, ctx, room.names.get(user), memo)
            if result is None or not pr.notifies(result[1]):
                continue
            actions = result[1]
            out.append(Notification(user, ev.stream_pos, pdu.room_id, ev.event_id, thread_id,
                                    pr.is_highlight(actions), actions, now))
        return out

    async def _thread_of(self, content: dict[str, Any]) -> str:
        """The thread root this event belongs to ('' for the main timeline), following
        relations at most THREAD_HOPS times."""
        for _ in range(THREAD_HOPS):
            rel = content.get("m.relates_to")
            if not isinstance(rel, dict) or not isinstance(rel.get("event_id"), str):
                return ""
            if rel.get("rel_type") == "m.thread":
                return rel["event_id"]
            if not isinstance(rel.get("rel_type"), str):
                return ""
            parent = await self.events.get_event(rel["event_id"])
            if parent is None:
                return ""
            content = parent.pdu.content
        return ""

    # -- reading ---------------------------------------------------------------------------------

    async def read_points(self, user_id: str, room_id: str, threads: Collection[str] | None = None) -> dict[str, int]:
        """Thread ('' unthreaded, 'main', or a thread root) → stream position read up to: the
        user's receipts, and their own events, each of which reads its own thread only (a reply
        in a thread leaves the rest of the room unread, MSC3771). `threads`: the thread roots
        whose own-event points are wanted (None: all)."""
        points = await self._receipt_points(user_id, room_id)
        return await self._with_own_points(points, user_id, room_id, threads)

    async def _receipt_points(self, user_id: str, room_id: str) -> dict[str, int]:
        receipts = await self.store.read_receipts(user_id, room_id)
        evs = await self.events.get_events({r[2] for r in receipts})
        points: dict[str, int] = {}
        for _room, thread, eid in receipts:
            if eid in evs:
                points[thread] = max(points.get(thread, 0), evs[eid].stream_pos)
        return points

    async def _with_own_points(self, points: dict[str, int], user_id: str, room_id: str,
                               threads: Collection[str] | None) -> dict[str, int]:
        for thread, pos in (await self.store.own_read_points(user_id, room_id, threads)).items():
            points[thread] = max(points.get(thread, 0), pos)
        return points

    async def unread_counts(self, user_id: str, room_id: str, upto: int, by_thread: bool = False
                            ) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """`unread_notifications` for the room and, when by_thread, `unread_thread_notifications`
        (the room's counts then cover the main timeline only)."""
        pending = await self._unrecorded(user_id, room_id, upto)
        points = await self._receipt_points(user_id, room_id)
        base = points.get("", 0)  # an unthreaded receipt reads everything before it
        room = {"notification_count": 0, "highlight_count": 0}
        threads: dict[str, dict[str, int]] = {}
        rows = await self.store.room_notifications(user_id, room_id, base, upto)
        recorded = {r[0] for r in rows}  # the evaluator may have committed some of `pending` since
        rows += [(n.stream_pos, n.thread_id, n.highlight) for n in pending
                 if n.stream_pos > base and n.stream_pos not in recorded]
        if not rows:
            return room, threads
        points = await self._with_own_points(points, user_id, room_id, {t for _, t, _ in rows if t})
        for pos, thread, highlight in rows:
            if pos <= max(base, points.get(thread or MAIN, 0)):
                continue
            counts = threads.setdefault(thread, {"notification_count": 0, "highlight_count": 0}) \
                if by_thread and thread else room
            counts["notification_count"] += 1
            counts["highlight_count"] += int(highlight)
        return room, threads

    async def _unrecorded(self, user_id: str, room_id: str, upto: int) -> list[Notification]:
        """The user's notifications from this room's events up to `upto` that the background
        evaluator has not recorded yet, evaluated here and not stored.

        A /sync that woke for a new message counts it at once, without waiting for the
        evaluator's write of everyone's notifications to commit: under a send load that wait
        (behind the group commits of other rooms' messages) was most of the time from a message
        being sent to another member's /sync showing it. Far behind, it catches up as before."""
        recorded_upto = await self.position()
        if recorded_upto >= upto:
            return []
        evs = await self.events.live_events_between(recorded_upto, upto, BATCH, room_id=room_id)
        if len(evs) == BATCH:
            await self.catch_up(upto)
            return []
        out: list[Notification] = []
        for ev in evs:
            try:
                out += await self._evaluate(ev, only=user_id)
            except Exception:  # as in _batch: one bad event never breaks the counts
                log.exception("push evaluation of %s failed", ev.event_id)
        return out

    async def total_unread(self, user_id: str) -> int:
        """Unread notifications across the rooms the user is joined to (the pushers' badge)."""
        upto = self.stream.current
        total = 0
        for room_id in await self.store.joined_rooms(user_id):
            counts, _ = await self.unread_counts(user_id, room_id, upto)
            total += counts["notification_count"]
        return total

    async def is_read(self, n: Notification, cache: dict[str, dict[str, int]]) -> bool:
        points = cache.get(n.room_id)
        if points is None:
            points = cache[n.room_id] = await self.read_points(n.user_id, n.room_id)
        return n.stream_pos <= max(points.get("", 0), points.get(n.thread_id or MAIN, 0))

    async def notifications(self, user_id: str, from_token: str | None, limit: int, only: str | None,
                            formatter: Any) -> dict[str, Any]:
        """GET /notifications: newest first; `next_token` is the position to continue below."""
        from ..protocol.errors import InvalidParam

        before = None
        if from_token is not None:
            if not from_token.isdigit():
                raise InvalidParam("Unknown pagination token")
            before = int(from_token)
        await self.catch_up(self.stream.current)
        rows = await self.store.list_notifications(user_id, before, limit, only == "highlight")
        evs = await self.events.get_events([n.event_id for n in rows])
        read_cache: dict[str, dict[str, int]] = {}
        out = []
        for n in rows:
            ev = evs.get(n.event_id)
            if ev is None:
                continue
            out.append({
                "actions": n.actions,
                "event": await formatter.serialize_one(ev, user_id=user_id, with_room_id=False),
                "read": await self.is_read(n, read_cache),
                "room_id": n.room_id,
                "ts": n.ts,
            })
        body: dict[str, Any] = {"notifications": out}
        if len(rows) == limit and rows:
            body["next_token"] = str(rows[-1].stream_pos)
        return body
