"""POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync (MSC4186).

A client keeps a *connection* (its device and `conn_id`; matrix-rust-sdk opens "room-list" and
"encryption"). Each response hands out a `pos`; the next request sends it back and gets what
changed since. Per connection, in memory:

- a `RoomIndex`: every room of the person (membership, bump stamp, type, encryption, DM) and one
  sorted `ListView` per list. The first request reads it from the database; later ones apply
  only the rooms that changed since (memberships, rooms with new events, m.direct, tags).
- a few `Snapshot`s, one per `pos` handed out: what each room was last sent with (up to which
  stream position, timeline limit, required_state, lazily sent members). A client that retries
  an older `pos` (the answer was lost) is answered from that snapshot. A `pos` this process did
  not hand out (a restart, an evicted connection) gets `M_UNKNOWN_POS`, and the client starts
  the connection again, as the MSC asks.

A room goes into a response when it is in a list's window or subscribed to, and it was never
sent, or it changed since it was sent (events, its membership, the person's own read receipts
moving the unread counts), or the timeline limit or required_state asked for grew. Timelines,
state at a stream position, the client form of events, unread counts, stripped state of
invites, receipts, typing, account data and the E2EE sections come from the same services as
/sync's; the long-poll sleeps on the same stream keys.
"""
from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..protocol.errors import MatrixError
from ..protocol.events import StateKey
from ..protocol.sliding_sync import BUMP_TYPES, ListFilters, ListView, RequiredState, RoomEntry
from ..storage.stores.events import EventStore, StoredEvent
from ..storage.stores.memberships import MembershipRow, MembershipStore
from ..stream import Position, Stream
from .account_data import AccountDataService
from .client_events import ClientEventFormatter
from .e2ee import E2eeService
from .filtering import EventFilter
from .presence import PresenceService
from .push import PushService
from .receipts import ReceiptService, receipt_content
from .rooms.invite_permission import INVITE_PERMISSION_CONFIG, blocks_invites
from .room_read import RoomReadService
from .sync import SyncService
from .tokens import make_token, parse_token
from .typing import TypingService

MAX_TIMELINE_LIMIT = 100
MAX_HEROES = 5
CONNECTIONS = 512          # connections kept (least recently used dropped)
SNAPSHOTS = 8              # `pos` tokens kept per connection
EVERY_EVENT = EventFilter()


class UnknownPos(MatrixError):
    status = 400
    errcode = "M_UNKNOWN_POS"


# -- the request, as the service takes it -------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RoomConfig:
    timeline_limit: int = 0
    required_state: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ListRequest:
    ranges: tuple[tuple[int, int], ...]
    config: RoomConfig
    filters: ListFilters = ListFilters()


@dataclass(frozen=True, slots=True)
class ExtensionScope:
    """An extension that works per room: which lists and subscriptions it covers (None: all)."""

    lists: tuple[str, ...] | None = None
    rooms: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SlidingSyncRequest:
    user_id: str
    device_id: str | None
    conn_id: str = ""
    pos: str | None = None
    timeout_ms: int = 0
    set_presence: str | None = None
    lists: dict[str, ListRequest] = field(default_factory=dict)
    room_subscriptions: dict[str, RoomConfig] = field(default_factory=dict)
    to_device: bool = False
    to_device_since: str | None = None
    e2ee: bool = False
    account_data: ExtensionScope | None = None
    receipts: ExtensionScope | None = None
    typing: ExtensionScope | None = None


# -- what a connection remembers ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RoomSent:
    pos: int                      # the room's timeline and state were sent up to here
    membership: str
    timeline_limit: int
    required_state: RequiredState
    lazy_members: frozenset[str]  # members sent for $LAZY


@dataclass(frozen=True, slots=True)
class Snapshot:
    number: int
    at: Position
    sent: dict[str, RoomSent]
    counts: dict[str, int]


@dataclass(slots=True)
class RoomIndex:
    upto: int
    entries: dict[str, RoomEntry]
    last_activity: dict[str, int]                # room → newest event seen since the index was built
    dm_rooms: frozenset[str]
    tags: dict[str, frozenset[str]]
    invites_blocked: bool = False                # m.invite_permission_config (invite_permission.md)
    ignored: frozenset[str] = frozenset()        # m.ignored_user_list
    hidden: set[str] = field(default_factory=set)  # invites hidden by those two
    views: dict[str, ListView] = field(default_factory=dict)

    def hide_unwanted_invite(self, e: RoomEntry) -> bool:
        """Hide an invite the person blocks or whose inviter they ignore; whether that changed."""
        hidden = e.membership == "invite" and (self.invites_blocked or e.sender in self.ignored)
        changed = hidden != e.hidden
        e.hidden = hidden
        if hidden:
            self.hidden.add(e.room_id)
        else:
            self.hidden.discard(e.room_id)
        return changed


@dataclass(slots=True)
class Connection:
    snapshots: OrderedDict[int, Snapshot] = field(default_factory=OrderedDict)
    index: RoomIndex | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(slots=True)
class _Want:
    timeline_limit: int
    required_state: RequiredState


class BumpStamps:
    """Room → stream position of its newest bump event, for every connection: kept current by
    the pipeline's `persisted` event (the newest event persisted is the newest of its room), and
    read from the database once for a room not seen since the start."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._by_room: dict[str, int] = {}

    def on_persisted(self, persisted: Any) -> None:
        pdu = persisted.pdu
        if pdu.type in BUMP_TYPES:
            if len(self._by_room) >= self.LIMIT:
                self._by_room.clear()
            self._by_room[pdu.room_id] = max(self._by_room.get(pdu.room_id, 0), persisted.stream_pos)

    def get(self, room_id: str) -> int | None:
        return self._by_room.get(room_id)

    def learn(self, room_id: str, pos: int | None) -> None:
        if pos is not None and len(self._by_room) < self.LIMIT:
            self._by_room[room_id] = max(self._by_room.get(room_id, 0), pos)


class SlidingSyncService:
    def __init__(self, memberships: MembershipStore, events: EventStore, stream: Stream, reader: RoomReadService,
                 formatter: ClientEventFormatter, sync: SyncService, account_data: AccountDataService,
                 receipts: ReceiptService, typing: TypingService, e2ee: E2eeService, presence: PresenceService,
                 push: PushService, bumps: BumpStamps, max_timeout_ms: int = 60_000):
        self.memberships = memberships
        self.bumps = bumps
        self.events = events
        self.stream = stream
        self.reader = reader
        self.formatter = formatter
        self.sync_v2 = sync  # stripped state of invites, as /sync gives it
        self.account_data = account_data
        self.receipts = receipts
        self.typing = typing
        self.e2ee = e2ee
        self.presence = presence
        self.push = push
        self.max_timeout_ms = max_timeout_ms
        self._connections: OrderedDict[tuple[str, str | None, str], Connection] = OrderedDict()
        self._boot = secrets.token_hex(3)  # a pos from before a restart is unknown, not misread
        self._numbers = itertools.count(1)

    # -- the request ----------------------------------------------------------------------------

    async def sync(self, req: SlidingSyncRequest) -> dict[str, Any]:
        key = (req.user_id, req.device_id, req.conn_id)
        conn = self._connections.get(key)
        prev: Snapshot | None = None
        if req.pos is not None:
            number = self._parse_pos(req.pos)
            prev = conn.snapshots.get(number) if conn is not None and number is not None else None
            if prev is None:
                raise UnknownPos("Unknown position; start the connection again")
        if conn is None or prev is None:
            conn = Connection()  # no pos: the client starts over, and so does the connection
            self._connections[key] = conn
        self._connections.move_to_end(key)
        while len(self._connections) > CONNECTIONS:
            self._connections.popitem(last=False)

        await self.presence.user_syncing(req.user_id, req.set_presence)
        timeout = min(max(req.timeout_ms, 0), self.max_timeout_ms) / 1000
        deadline = time.monotonic() + timeout
        while True:
            upto = self.stream.position()
            async with conn.lock:
                body, snap, keys, news = await self._build(req, conn, prev, upto)
            remaining = deadline - time.monotonic()
            if news or prev is None or remaining <= 0:
                break
            if not await self.stream.wait_for_change(keys, upto, remaining):
                async with conn.lock:
                    body, snap, _, _ = await self._build(req, conn, prev, self.stream.position())
                break
        conn.snapshots[snap.number] = snap
        while len(conn.snapshots) > SNAPSHOTS:
            conn.snapshots.popitem(last=False)
        body["pos"] = f"{self._boot}.{snap.number}"
        return body

    def _parse_pos(self, pos: str) -> int | None:
        boot, _, number = pos.partition(".")
        if boot != self._boot or not number.isdigit():
            return None
        return int(number)

    # -- one response ---------------------------------------------------------------------------

    async def _build(self, req: SlidingSyncRequest, conn: Connection, prev: Snapshot | None,
                     upto: Position) -> tuple[dict[str, Any], Snapshot, list[str], bool]:
        user = req.user_id
        if not req.lists and not req.room_subscriptions:
            # The "encryption" connection: extensions only, no room index to keep.
            return await self._build_extensions(req, prev, upto, {}, [], {}, {}, set(), set(),
                                                await self.memberships.joined_room_ids(user))
        index = await self._refresh_index(conn, user, upto.stream)
        upto = Position(max(upto.stream, index.upto), upto.ephemeral)
        if prev is not None:
            self._drop_told_leaves(index, prev)

        # Lists: counts and windows; each room's config is the union of what asks for it.
        want: dict[str, _Want] = {}
        lists_out: dict[str, Any] = {}
        counts: dict[str, int] = {}
        in_list: dict[str, list[str]] = {}
        for name in [n for n in index.views if n not in req.lists]:
            del index.views[name]
        for name, lreq in req.lists.items():
            view = await self._view(index, name, lreq.filters)
            counts[name] = len(view)
            lists_out[name] = {"count": len(view)}
            rs = RequiredState.parse(lreq.config.required_state, user)
            window = view.window(lreq.ranges)
            in_list[name] = window
            for room_id in window:
                self._merge(want, room_id, lreq.config.timeline_limit, rs)
        subscribed = [r for r in req.room_subscriptions if r in index.entries and not index.entries[r].hidden]
        for room_id in subscribed:
            cfg = req.room_subscriptions[room_id]
            self._merge(want, room_id, cfg.timeline_limit, RequiredState.parse(cfg.required_state, user))

        rooms_out, sent, initial_rooms = await self._rooms(req, want, index, prev, upto)
        joined = [r for r, e in index.entries.items() if e.membership == "join"]
        body, snap, keys, news = await self._build_extensions(
            req, prev, upto, sent, subscribed, in_list, counts, initial_rooms,
            set(joined), joined)
        body["lists"] = lists_out
        body["rooms"] = rooms_out
        return body, snap, keys, news or bool(rooms_out) or (prev is not None and counts != prev.counts)

    async def _build_extensions(self, req: SlidingSyncRequest, prev: Snapshot | None, upto: Position,
                                sent: dict[str, RoomSent], subscribed: list[str], in_list: dict[str, list[str]],
                                counts: dict[str, int], initial_rooms: set[str], joined_set: set[str],
                                joined: list[str]) -> tuple[dict[str, Any], Snapshot, list[str], bool]:
        user = req.user_id
        snap = Snapshot(next(self._numbers), upto, sent, counts)
        ext: dict[str, Any] = {}
        news = False
        keys = [user, *joined]
        if req.to_device and req.device_id is not None:
            since = parse_token(req.to_device_since, "since").stream if req.to_device_since else None
            events = await self.e2ee.deliver_to_device(user, req.device_id, since, upto.stream)
            ext["to_device"] = {"next_batch": make_token(upto.stream), "events": events}
            news = news or bool(events)
        if req.e2ee and req.device_id is not None:
            changed, left = await self.e2ee.device_list_changes(user, prev.at.stream if prev else None, upto.stream)
            ext["e2ee"] = {"device_lists": {"changed": changed, "left": left},
                           **await self.e2ee.key_counts(user, req.device_id)}
            news = news or bool(changed or left)
        if req.to_device or req.e2ee:
            keys += [k for k in self.e2ee.wait_keys(user) if k not in keys]
        for name, scope in (("account_data", req.account_data), ("receipts", req.receipts),
                            ("typing", req.typing)):
            if scope is None:
                continue
            rooms = self._scope_rooms(scope, in_list, subscribed)
            if name == "account_data":
                section = await self._account_data(user, rooms, prev, upto, initial_rooms)
                news = news or bool(section["global"] or section["rooms"])
            else:
                rooms = [r for r in rooms if r in joined_set]
                if name == "receipts":
                    section = await self._receipts(user, rooms, prev, upto, initial_rooms)
                else:
                    section = self._typing(rooms, prev, initial_rooms)
                news = news or bool(section["rooms"])
            ext[name] = section
        body: dict[str, Any] = {"lists": {}, "rooms": {}, "extensions": ext}
        return body, snap, keys, news

    @staticmethod
    def _drop_told_leaves(index: RoomIndex, prev: Snapshot) -> None:
        """A room the person left themselves stays listed until a response has carried the leave."""
        for room_id in [r for r, e in index.entries.items() if e.left_self]:
            was = prev.sent.get(room_id)
            if was is not None and was.pos >= index.entries[room_id].membership_pos:
                del index.entries[room_id]
                for view in index.views.values():
                    view.update(room_id, None, None, frozenset())

    @staticmethod
    def _merge(want: dict[str, _Want], room_id: str, timeline_limit: int, rs: RequiredState) -> None:
        limit = min(max(timeline_limit, 0), MAX_TIMELINE_LIMIT)
        w = want.get(room_id)
        if w is None:
            want[room_id] = _Want(limit, rs)
        else:
            w.timeline_limit = max(w.timeline_limit, limit)
            w.required_state = w.required_state.union(rs)

    @staticmethod
    def _scope_rooms(scope: ExtensionScope, in_list: dict[str, list[str]], subscribed: list[str]) -> list[str]:
        out: dict[str, None] = {}
        for name, window in in_list.items():
            if scope.lists is None or "*" in scope.lists or name in scope.lists:
                out.update(dict.fromkeys(window))
        for room_id in subscribed:
            if scope.rooms is None or "*" in scope.rooms or room_id in scope.rooms:
                out[room_id] = None
        return list(out)

    # -- the room index -------------------------------------------------------------------------

    async def _refresh_index(self, conn: Connection, user: str, upto: int) -> RoomIndex:
        index = conn.index
        if index is None:
            rows = await self.memberships.not_forgotten(user)
            top = max([upto, *(r.stream_pos for r in rows)])
            dm_rooms = await self._dm_rooms(user)
            # Rooms left by the person themselves before the connection began are not listed.
            entries = [e for e in await self._entries(user, rows, top, dm_rooms) if not e.left_self]
            index = conn.index = RoomIndex(top, {e.room_id: e for e in entries}, {}, dm_rooms, await self._tags(user))
            await self._read_invite_rules(index, user)
            return index
        if upto <= index.upto:
            return index
        after = index.upto
        changed_rows = await self.memberships.changed_since(user, after)
        top = max([upto, *(r.stream_pos for r in changed_rows)])
        ad = {(r.room_id, r.type) for r in await self.account_data.changed(user, after, top)}
        dm_changed = ("", "m.direct") in ad
        if dm_changed:
            index.dm_rooms = await self._dm_rooms(user)
        changed: set[str] = set()
        if ("", INVITE_PERMISSION_CONFIG) in ad or ("", "m.ignored_user_list") in ad:
            await self._read_invite_rules(index, user)
            changed |= {r for r, e in index.entries.items() if e.membership == "invite"}
        if any(t == "m.tag" for _, t in ad):
            index.tags = await self._tags(user)
            changed |= {r for r, t in ad if t == "m.tag"}
        activity = await self.events.newest_event_per_room_between(after, top)
        for room_id, pos in activity.items():
            if room_id in index.entries:
                index.last_activity[room_id] = pos
        active_rooms = [r for r in activity if r in index.entries and index.entries[r].membership == "join"]
        rows = [r for r in changed_rows if r.membership != "forgotten"]
        for r in changed_rows:
            if r.membership == "forgotten" and r.room_id in index.entries:
                del index.entries[r.room_id]
                changed.add(r.room_id)
        for e in await self._entries(user, rows, top, index.dm_rooms):
            index.hide_unwanted_invite(e)
            index.entries[e.room_id] = e
            index.last_activity[e.room_id] = max(index.last_activity.get(e.room_id, 0), e.membership_pos)
            changed.add(e.room_id)
        fresh = [r for r in active_rooms if r not in changed]
        if fresh:
            bumps = await self._bump_stamps([MembershipRow(r, "join", "", top) for r in fresh], top)
            enc = await self._encrypted(fresh)
            for room_id in fresh:
                e = index.entries[room_id]
                new_bump = bumps.get(room_id) or e.bump_stamp
                if new_bump != e.bump_stamp or (room_id in enc) != e.encrypted:
                    e.bump_stamp, e.encrypted = new_bump, room_id in enc
                    changed.add(room_id)
        if dm_changed:
            for e in index.entries.values():
                is_dm = e.room_id in index.dm_rooms or (e.is_dm and e.membership == "invite")
                if is_dm != e.is_dm:
                    e.is_dm = is_dm
                    changed.add(e.room_id)
        index.upto = top
        for view in index.views.values():
            if view.filters.spaces is not None:
                continue  # rebuilt when used: a space's children change without touching the person
            for room_id in changed:
                view.update(room_id, index.entries.get(room_id), None, index.tags.get(room_id, frozenset()))
        return index

    async def _view(self, index: RoomIndex, name: str, filters: ListFilters) -> ListView:
        view = index.views.get(name)
        if view is not None and view.filters == filters and filters.spaces is None:
            return view
        view = index.views[name] = ListView(filters)
        children = await self._space_children(filters.spaces) if filters.spaces is not None else None
        view.rebuild(index.entries.values(), children, index.tags)
        return view

    async def _space_children(self, spaces: tuple[str, ...]) -> frozenset[str]:
        out: set[str] = set()
        for space in spaces:
            rows = await self.events.current_state_of_type(space, "m.space.child")
            loaded = await self.events.get_events(eid for _, eid in rows)
            for state_key, eid in rows:
                ev = loaded.get(eid)
                if ev is not None and isinstance(ev.pdu.content.get("via"), list) and ev.pdu.content["via"]:
                    out.add(state_key)
        return frozenset(out)

    async def _read_invite_rules(self, index: RoomIndex, user: str) -> None:
        index.invites_blocked = blocks_invites(await self.account_data.get(user, INVITE_PERMISSION_CONFIG))
        index.ignored = await self.account_data.ignored_users(user)
        for e in index.entries.values():
            index.hide_unwanted_invite(e)

    async def _dm_rooms(self, user: str) -> frozenset[str]:
        content = await self.account_data.get(user, "m.direct") or {}
        return frozenset(r for rooms in content.values() if isinstance(rooms, list) for r in rooms
                         if isinstance(r, str))

    async def _tags(self, user: str) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for r in await self.account_data.changed(user, 0, self.stream.current):
            if r.room_id and r.type == "m.tag" and isinstance(r.content.get("tags"), dict):
                out[r.room_id] = frozenset(r.content["tags"])
        return out

    async def _encrypted(self, room_ids: list[str]) -> set[str]:
        return {r for r, _, _, _ in await self.events.current_state_ids_of_types(room_ids, ("m.room.encryption",))}

    async def _bump_stamps(self, rows: list[MembershipRow], upto: int) -> dict[str, int | None]:
        """Bump stamps of joined rooms (from the shared cache when it knows them) and of rooms
        left or banned from (capped at the membership: the person sees no further)."""
        out: dict[str, int | None] = {}
        points = []
        for r in rows:
            if r.membership in ("invite", "knock"):
                continue
            known = self.bumps.get(r.room_id) if r.membership == "join" else None
            if known is not None:
                out[r.room_id] = known
            else:
                points.append((r.room_id, upto if r.membership == "join" else r.stream_pos))
        if points:
            read = await self.events.latest_of_types(points, BUMP_TYPES)
            for r in rows:
                if r.room_id in read and r.membership == "join":
                    self.bumps.learn(r.room_id, read[r.room_id])
            out.update(read)
        return out

    async def _entries(self, user: str, rows: list[MembershipRow], upto: int,
                       dm_rooms: frozenset[str]) -> list[RoomEntry]:
        """Index entries for membership rows: what the filters and the sort need, read for all
        the rooms at once (member events, bump stamps, create and encryption state)."""
        members = await self.events.get_events([r.event_id for r in rows])
        rows = [r for r in rows if r.membership in ("join", "invite", "knock", "leave", "ban")]
        joined_ids = [r.room_id for r in rows if r.membership == "join"]
        bumps = await self._bump_stamps(rows, upto)
        state = await self.events.current_state_ids_of_types(
            joined_ids, ("m.room.create", "m.room.encryption")) if joined_ids else []
        encrypted = {r for r, t, _, _ in state if t == "m.room.encryption"}
        creates = await self.events.get_events(eid for _, t, _, eid in state if t == "m.room.create")
        room_type = {ev.pdu.room_id: ev.pdu.content.get("type") for ev in creates.values()}
        out: list[RoomEntry] = []
        for r in rows:
            member = members.get(r.event_id)
            if r.membership in ("invite", "knock"):
                stripped = await self.sync_v2.stripped_state(r.event_id, frozenset()) or []
                types = {e.get("type"): e for e in stripped}
                create = types.get("m.room.create", {}).get("content", {})
                out.append(RoomEntry(
                    r.room_id, r.membership, r.stream_pos, r.event_id, r.stream_pos,
                    create.get("type") if isinstance(create, dict) else None, "m.room.encryption" in types,
                    r.room_id in dm_rooms or bool(member and member.pdu.content.get("is_direct") is True),
                    sender=member.pdu.sender if member else ""))
                continue
            rtype = room_type.get(r.room_id)
            if r.room_id not in room_type and r.membership != "join":
                create_ev = await self.events.current_state_event(r.room_id, "m.room.create")
                rtype = create_ev.content.get("type") if create_ev else None
            out.append(RoomEntry(
                r.room_id, r.membership, r.stream_pos, r.event_id, bumps.get(r.room_id) or r.stream_pos,
                rtype if isinstance(rtype, str) else None, r.room_id in encrypted, r.room_id in dm_rooms,
                left_self=bool(r.membership == "leave" and member and member.pdu.sender == user),
                sender=member.pdu.sender if member else ""))
        return out

    # -- rooms ----------------------------------------------------------------------------------

    async def _rooms(self, req: SlidingSyncRequest, want: dict[str, _Want], index: RoomIndex,
                     prev: Snapshot | None, upto: Position,
                     ) -> tuple[dict[str, Any], dict[str, RoomSent], set[str]]:
        user = req.user_id
        sent = dict(prev.sent) if prev else {}
        for room_id in index.hidden:  # sent again in full if it comes back
            sent.pop(room_id, None)
        out: dict[str, Any] = {}
        initial_rooms: set[str] = set()
        own_receipts: set[str] = set()
        if prev is not None:
            candidates = [r for r in want if r in sent and r in index.entries
                          and index.entries[r].membership == "join"]
            if candidates:  # the person's own receipts move the unread counts
                changed = await self.receipts.changed(candidates, prev.at.stream, upto.stream)
                own_receipts = {rc.room_id for rc in changed if rc.user_id == user}

        todo: list[tuple[str, RoomSent | None, bool]] = []  # (room, what was sent, timeline from scratch)
        for room_id, w in want.items():
            e = index.entries.get(room_id)
            if e is None:
                continue
            was = sent.get(room_id)
            if e.membership in ("invite", "knock"):
                if was is not None and was.membership == e.membership and was.pos >= e.membership_pos:
                    continue
                ignored = await self.account_data.ignored_users(user)
                stripped = await self.sync_v2.stripped_state(e.member_event_id, ignored)
                if stripped is None:
                    continue
                # A knock's stripped state goes in `invite_state` too (as Synapse sends it); its
                # own member event there says which it is.
                room: dict[str, Any] = {"initial": True, "bump_stamp": e.bump_stamp, "invite_state": stripped}
                if e.is_dm:
                    room["is_dm"] = True
                names = [s for s in stripped if s.get("type") == "m.room.name" and isinstance(s.get("content"), dict)]
                if names and isinstance(names[0]["content"].get("name"), str):
                    room["name"] = names[0]["content"]["name"]
                out[room_id] = room
                initial_rooms.add(room_id)
                sent[room_id] = RoomSent(upto.stream, e.membership, w.timeline_limit, w.required_state, frozenset())
                continue
            if was is None or was.membership in ("invite", "knock"):
                todo.append((room_id, None, True))
                continue
            grown = w.timeline_limit > was.timeline_limit
            if (grown or not was.required_state.covers(w.required_state)
                    or (e.membership == "join" and index.last_activity.get(room_id, 0) > was.pos)
                    or e.membership_pos > was.pos
                    or room_id in own_receipts):
                todo.append((room_id, was, grown))
        if todo:
            built, new_sent = await self._room_bodies(req, todo, want, index, prev, upto)
            out.update(built)
            sent.update(new_sent)
            initial_rooms |= {r for r, was, _ in todo if was is None}
        return out, sent, initial_rooms

    async def _room_bodies(self, req: SlidingSyncRequest, todo: list[tuple[str, RoomSent | None, bool]],
                           want: dict[str, _Want], index: RoomIndex, prev: Snapshot | None, upto: Position,
                           ) -> tuple[dict[str, Any], dict[str, RoomSent]]:
        user = req.user_id
        ends = {r: upto.stream if index.entries[r].membership == "join" else index.entries[r].membership_pos
                for r, _, _ in todo}
        afters = {r: 0 if (was is None or fresh) else was.pos for r, was, fresh in todo}

        # Timelines: the newest events of every room at once (grouped by limit), then the scan
        # that applies history visibility, as /sync does.
        timelines: dict[str, tuple[list[StoredEvent], bool, int]] = {}
        by_limit: dict[int, list[tuple[str, int, int]]] = {}
        for r, _, _ in todo:
            limit = want[r].timeline_limit
            if limit > 0 and afters[r] < ends[r]:
                by_limit.setdefault(limit, []).append((r, afters[r], ends[r]))
            else:
                timelines[r] = ([], False, ends[r])  # no timeline asked for, or nothing new
        for limit, ranges in by_limit.items():
            first = await self.events.latest_in_rooms(ranges, limit + 1)
            for r, after, end in ranges:
                page = await self.reader.scan(r, user, after=after, upto=end, limit=limit, efilter=EVERY_EVENT,
                                              first_batch=(first.get(r, []), limit + 1))
                evs = list(reversed(page.events))
                prev_tok = page.cursor if page.more else (evs[0].stream_pos - 1 if evs else end)
                timelines[r] = (evs, page.more, prev_tok)

        # State at the end of each timeline (and where each room was last sent, for deltas).
        points = [(r, ends[r]) for r, _, _ in todo]
        points += [(r, was.pos) for r, was, _ in todo if was is not None]
        groups = await self.reader.state_groups_at(points)
        selected: dict[str, dict[StateKey, str]] = {}
        now_states: dict[str, dict[StateKey, str]] = {}
        new_sent: dict[str, RoomSent] = {}
        for r, was, _ in todo:
            w = want[r]
            now = await self.reader.state_at_group(groups[(r, ends[r])])
            now_states[r] = now
            senders = {ev.pdu.sender for ev in timelines[r][0]}
            if was is None or not was.required_state.covers(w.required_state):
                chosen = w.required_state.select(now, senders)
                lazy_sent = frozenset(s for s in senders if ("m.room.member", s) in now
                                      and w.required_state.lazy_members)
            else:
                before = await self.reader.state_at_group(groups[(r, was.pos)])
                delta = {k: v for k, v in now.items() if before.get(k) != v}
                chosen = {k: v for k, v in delta.items()
                          if w.required_state.wants(k) or (k[0] == "m.room.member" and k[1] in was.lazy_members)}
                lazy_sent = was.lazy_members
                if w.required_state.lazy_members:
                    for s in senders - was.lazy_members:
                        if ("m.room.member", s) in now:
                            chosen[("m.room.member", s)] = now[("m.room.member", s)]
                    lazy_sent = lazy_sent | {s for s in senders if ("m.room.member", s) in now}
            selected[r] = chosen
            new_sent[r] = RoomSent(ends[r], index.entries[r].membership, w.timeline_limit, w.required_state, lazy_sent)

        # One formatter pass over every event of the response (relations, redactions at once).
        loaded = await self.events.get_events({eid for ch in selected.values() for eid in ch.values()})
        flat: list[StoredEvent] = []
        state_evs: dict[str, list[StoredEvent]] = {}
        for r, _, _ in todo:
            evs = sorted((loaded[e] for e in selected[r].values() if e in loaded), key=lambda e: e.stream_pos)
            state_evs[r] = evs
            flat += timelines[r][0]
            flat += evs
        serialized = await self.formatter.serialize(flat, user_id=user, device_id=req.device_id, with_room_id=False)

        member_change = {r for r, was, _ in todo if was is None or any(
            k[0] == "m.room.member" for k in selected[r]) or any(
            ev.pdu.type == "m.room.member" for ev in timelines[r][0])}
        counts = await self.memberships.member_counts(sorted(member_change)) if member_change else {}
        out: dict[str, Any] = {}
        i = 0
        live_after = prev.at.stream if prev is not None else None
        for r, was, fresh in todo:
            e = index.entries[r]
            timeline, limited, prev_tok = timelines[r]
            room: dict[str, Any] = {"bump_stamp": e.bump_stamp}
            if was is None:
                room["initial"] = True
            tl_json = serialized[i:i + len(timeline)]
            i += len(timeline)
            st_json = serialized[i:i + len(state_evs[r])]
            i += len(state_evs[r])
            if tl_json:
                room["timeline"] = tl_json
            if st_json:
                room["required_state"] = st_json
            if want[r].timeline_limit > 0:
                room["prev_batch"] = make_token(prev_tok, upto.ephemeral)
                room["limited"] = limited
                room["num_live"] = 0 if live_after is None else sum(1 for ev in timeline if ev.stream_pos > live_after)
            if e.is_dm:
                room["is_dm"] = True
            now = now_states[r]
            name_ev = await self._state_content(now, "m.room.name")
            if was is None or ("m.room.name", "") in selected[r] or fresh:
                if isinstance(name_ev.get("name"), str) and name_ev["name"]:
                    room["name"] = name_ev["name"]
            if was is None or ("m.room.avatar", "") in selected[r]:
                url = (await self._state_content(now, "m.room.avatar")).get("url")
                if isinstance(url, str) and url:
                    room["avatar"] = url
            if r in counts:
                room["joined_count"] = counts[r].get("join", 0)
                room["invited_count"] = counts[r].get("invite", 0)
                if not (isinstance(name_ev.get("name"), str) and name_ev["name"]):
                    room["heroes"] = await self._heroes(r, user, now)
            if e.membership == "join":
                unread, _ = await self.push.unread_counts(user, r, upto.stream)
                room.update(unread)
            out[r] = room
        return out, new_sent

    async def _state_content(self, state: dict[StateKey, str], event_type: str) -> dict[str, Any]:
        eid = state.get((event_type, ""))
        ev = await self.events.get_event(eid) if eid else None
        return ev.pdu.content if ev is not None else {}

    async def _heroes(self, room_id: str, user: str, state: dict[StateKey, str]) -> list[dict[str, Any]]:
        """The first members other than the person (joined or invited, else any), with the name
        and avatar of their member events, as /sync's summary picks its heroes."""
        ids = await self.memberships.first_members(room_id, user, MAX_HEROES, joined_or_invited=True)
        if not ids:
            ids = await self.memberships.first_members(room_id, user, MAX_HEROES, joined_or_invited=False)
        loaded = await self.events.get_events(state[("m.room.member", u)] for u in ids if ("m.room.member", u) in state)
        out = []
        for u in ids:
            hero: dict[str, Any] = {"user_id": u}
            ev = loaded.get(state.get(("m.room.member", u), ""))
            if ev is not None:
                if isinstance(ev.pdu.content.get("displayname"), str):
                    hero["displayname"] = ev.pdu.content["displayname"]
                if isinstance(ev.pdu.content.get("avatar_url"), str):
                    hero["avatar_url"] = ev.pdu.content["avatar_url"]
            out.append(hero)
        return out

    # -- extensions -----------------------------------------------------------------------------

    async def _account_data(self, user: str, rooms: list[str], prev: Snapshot | None, upto: Position,
                            initial_rooms: set[str]) -> dict[str, Any]:
        after = prev.at.stream if prev else 0
        rows = await self.account_data.changed(user, after, upto.stream)
        global_ad = [{"type": r.type, "content": r.content} for r in rows if not r.room_id]
        if prev is None and not any(e["type"] == "m.push_rules" for e in global_ad):
            global_ad.append({"type": "m.push_rules", "content": await self.push.rules.account_data_content(user)})
        wanted = set(rooms)
        by_room: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            if r.room_id in wanted:
                by_room.setdefault(r.room_id, []).append({"type": r.type, "content": r.content})
        newly = [r for r in rooms if r in initial_rooms and r not in by_room] if prev is not None else []
        if newly:  # a room first sent now: all its account data (its tags), not just the changes
            for r in await self.account_data.changed(user, 0, after):
                if r.room_id in newly:
                    by_room.setdefault(r.room_id, []).append({"type": r.type, "content": r.content})
        return {"global": global_ad, "rooms": by_room}

    async def _receipts(self, user: str, rooms: list[str], prev: Snapshot | None, upto: Position,
                        initial_rooms: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not rooms:
            return {"rooms": out}
        fresh = [r for r in rooms if prev is None or r in initial_rooms]
        rest = [r for r in rooms if r not in set(fresh)]
        found: dict[str, list] = {}
        for rc in (await self.receipts.changed(fresh, 0, upto.stream) if fresh else []) + (
                await self.receipts.changed(rest, prev.at.stream, upto.stream) if rest and prev else []):
            found.setdefault(rc.room_id, []).append(rc)
        for room_id, rcs in found.items():
            content = receipt_content(rcs, user)
            if content:
                out[room_id] = {"type": "m.receipt", "content": content}
        return {"rooms": out}

    def _typing(self, rooms: list[str], prev: Snapshot | None, initial_rooms: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for room_id in rooms:
            users = self.typing.typing_users(room_id)
            if prev is None or room_id in initial_rooms:
                if not users:
                    continue
            elif not self.typing.changed_since(room_id, prev.at.ephemeral):
                continue
            out[room_id] = {"type": "m.typing", "content": {"user_ids": users}}
        return {"rooms": out}
