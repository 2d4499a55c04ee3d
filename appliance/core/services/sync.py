"""/sync (client-server-api "Syncing", sync.yaml): initial, incremental and long-polling.

A sync token is `s{stream}_{ephemeral}` (tokens.py). A response covers the stream range
(since, upto] where `upto` is the stream's committed position when the response is built:

- rooms.join: timeline (the newest `limit` visible events of the range, `limited` and
  `prev_batch` when older ones were left out), state (changes between `since` and the start
  of the timeline, or everything at that point for initial syncs, `full_state` and rooms
  joined since `since`), ephemeral (typing, receipts), room account data, summary and
  unread counts;
- rooms.invite / rooms.knock: stripped state; rooms.leave: what happened up to the leave;
- account data, and the E2EE-related sections (empty until their owners fill them).

Long-polling: if there is nothing to say, sleep in `Stream.wait_for_change` on the user's
key and the keys of their joined rooms, and build again when something touched them.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..protocol.events import StateKey
from ..storage.stores.events import EventStore, StoredEvent
from ..storage.stores.memberships import MembershipStore
from ..storage.stores.state import StateMap
from ..stream import Position, Stream
from .account_data import AccountDataService
from .client_events import ClientEventFormatter
from .e2ee import E2eeService
from .filtering import Filter
from .presence import PresenceService
from .push import PushService
from .receipts import ReceiptService, receipt_content
from .room_read import RoomReadService
from .rooms.invite_permission import INVITE_PERMISSION_CONFIG, blocks_invites
from .tokens import make_token, parse_token
from .typing import TypingService
from .visibility import Visibility

DEFAULT_TIMELINE_LIMIT = 10
MAX_HEROES = 5
STRIPPED_STATE_TYPES = (
    "m.room.create", "m.room.name", "m.room.avatar", "m.room.topic", "m.room.join_rules",
    "m.room.canonical_alias", "m.room.encryption",
)


@dataclass(frozen=True, slots=True)
class SyncParams:
    user_id: str
    device_id: str | None
    since: str | None = None
    filter: Filter = Filter()
    full_state: bool = False
    timeout_ms: int = 0
    use_state_after: bool = False
    set_presence: str | None = None


class _SentMembers:
    """Per device: which member events a lazy-loading client already has (include_redundant_members)."""

    def __init__(self, devices: int = 256):
        self._by_device: OrderedDict[tuple[str, str | None], dict[str, dict[str, str]]] = OrderedDict()
        self._devices = devices

    def for_device(self, user_id: str, device_id: str | None, reset: bool) -> dict[str, dict[str, str]]:
        key = (user_id, device_id)
        if reset or key not in self._by_device:
            self._by_device[key] = {}
        self._by_device.move_to_end(key)
        while len(self._by_device) > self._devices:
            self._by_device.popitem(last=False)
        return self._by_device[key]


class SyncService:
    def __init__(self, memberships: MembershipStore, events: EventStore, stream: Stream, reader: RoomReadService,
                 formatter: ClientEventFormatter, visibility: Visibility, account_data: AccountDataService,
                 receipts: ReceiptService, typing: TypingService, e2ee: E2eeService, presence: PresenceService,
                 push: PushService, max_timeout_ms: int = 60_000):
        self.memberships = memberships
        self.events = events
        self.stream = stream
        self.reader = reader
        self.formatter = formatter
        self.visibility = visibility
        self.account_data = account_data
        self.receipts = receipts
        self.typing = typing
        self.max_timeout_ms = max_timeout_ms
        self._sent_members = _SentMembers()
        self.e2ee = e2ee  # to_device, device_lists and key counts
        self.presence = presence
        self.push = push  # unread counts, default push rules

    async def sync(self, p: SyncParams) -> dict[str, Any]:
        since = parse_token(p.since, "since") if p.since else None
        if since is not None:
            now = self.stream.position()
            # A token from before a restart may carry an ephemeral serial we have not reached.
            since = Position(min(since.stream, now.stream),
                             since.ephemeral if since.ephemeral <= now.ephemeral else 0)
        await self.presence.user_syncing(p.user_id, p.set_presence)
        timeout = min(max(p.timeout_ms, 0), self.max_timeout_ms) / 1000
        deadline = time.monotonic() + timeout
        while True:
            upto = self.stream.position()
            response, keys, has_news = await self._build(p, since, upto)
            remaining = deadline - time.monotonic()
            if has_news or since is None or p.full_state or remaining <= 0:
                return response
            if not await self.stream.wait_for_change(keys, upto, remaining):
                upto = self.stream.position()
                response, _, _ = await self._build(p, since, upto)
                return response

    # -- one response -----------------------------------------------------------------------

    async def _build(self, p: SyncParams, since: Position | None, upto: Position) -> tuple[dict, list[str], bool]:
        user = p.user_id
        f = p.filter
        rows = [(m.room_id, m.membership, m.event_id, m.stream_pos)
                for m in await self.memberships.not_forgotten(user)]
        # A membership row is committed, and so is every position before it.
        top = max([upto.stream, *(r[3] for r in rows)])
        upto = Position(top, upto.ephemeral)
        after = since.stream if since else 0
        keys = [user] + [r[0] for r in rows if r[1] == "join"]

        sent = self._sent_members.for_device(user, p.device_id, reset=since is None or p.full_state)
        ad_rows = await self.account_data.changed(user, after, upto.stream)
        global_ad = [{"type": r.type, "content": r.content} for r in ad_rows if not r.room_id]
        if since is None and not any(e["type"] == "m.push_rules" for e in global_ad):
            global_ad.append({"type": "m.push_rules", "content": await self.push.rules.account_data_content(user)})
        room_ad: dict[str, list[dict[str, Any]]] = {}
        for r in ad_rows:
            if r.room_id:
                room_ad.setdefault(r.room_id, []).append({"type": r.type, "content": r.content})

        joined = [r for r in rows if r[1] == "join" and f.room.allows_room(r[0])]
        active: set[str] | None = None
        if since is not None:
            active = await self.events.room_ids_with_events_between(after, upto.stream)
        receipts_by_room: dict[str, list] = {}
        if joined and not f.room.ephemeral.blocks_everything:
            for rc in await self.receipts.changed([r[0] for r in joined], after, upto.stream):
                receipts_by_room.setdefault(rc.room_id, []).append(rc)

        ignored = await self.account_data.ignored_users(user)
        todo: list[tuple[str, bool]] = []
        for room_id, _m, _eid, mpos in joined:
            newly = since is not None and mpos > after and not await self._was_joined(room_id, user, after)
            initial = since is None or newly
            if (not initial and not p.full_state and room_id not in active and room_id not in room_ad
                    and room_id not in receipts_by_room and not self.typing.changed_since(room_id, since.ephemeral)):
                continue
            todo.append((room_id, initial))
        built = await self._joined_rooms(p, todo, since, upto, sent, room_ad, receipts_by_room, ignored)
        join_out: dict[str, Any] = {}
        for room_id, initial in todo:
            room = built[room_id]
            if initial or p.full_state or _has_content(room):
                join_out[room_id] = room

        invite_out: dict[str, Any] = {}
        knock_out: dict[str, Any] = {}
        leave_out: dict[str, Any] = {}
        invites_blocked: bool | None = None  # read at the first invite (invite_permission.md)
        for room_id, membership, event_id, mpos in rows:
            if not f.room.allows_room(room_id) or (since is not None and mpos <= after):
                continue
            if membership == "invite":
                if invites_blocked is None:
                    invites_blocked = blocks_invites(await self.account_data.get(user, INVITE_PERMISSION_CONFIG))
                if invites_blocked:
                    continue
                stripped = await self.stripped_state(event_id, ignored)
                if stripped is not None:
                    invite_out[room_id] = {"invite_state": {"events": stripped}}
            elif membership == "knock":
                stripped = await self.stripped_state(event_id, frozenset())
                if stripped is not None:
                    knock_out[room_id] = {"knock_state": {"events": stripped}}
            elif membership in ("leave", "ban"):
                if since is None and not f.room.include_leave:
                    continue
                leave_out[room_id] = await self._left_room(p, room_id, since, mpos, sent, room_ad.get(room_id, []))

        account_data = [e for e in global_ad if f.account_data.allows_json(e)]
        response: dict[str, Any] = {
            "next_batch": make_token(upto),
            "rooms": {"join": join_out, "invite": invite_out, "knock": knock_out, "leave": leave_out},
            "account_data": {"events": account_data},
            "presence": {"events": []},
            "to_device": {"events": []},
            "device_lists": {"changed": [], "left": []},
            "device_one_time_keys_count": {},
            "device_unused_fallback_key_types": [],
        }
        has_news = bool(join_out or invite_out or knock_out or leave_out or account_data)
        if not f.presence.blocks_everything:
            presence = [e for e in await self.presence.sync_events(user, after if since else None, upto.stream)
                        if f.presence.allows_json(e)][:f.presence.limit]
            response["presence"]["events"] = presence
            has_news = has_news or bool(presence)
        if p.device_id is not None:
            keys += [k for k in self.e2ee.wait_keys(user) if k not in keys]
            e2ee = await self.e2ee.sync_e2ee(user, p.device_id, after if since else None, upto.stream)
            response.update(e2ee)
            has_news = has_news or bool(e2ee["to_device"]["events"] or e2ee["device_lists"]["changed"]
                                        or e2ee["device_lists"]["left"])
        return response, keys, has_news

    async def _was_joined(self, room_id: str, user_id: str, pos: int) -> bool:
        state = await self.reader.state_ids_at(room_id, pos)
        eid = state.get(("m.room.member", user_id))
        ev = await self.events.get_event(eid) if eid else None
        return ev is not None and ev.pdu.membership == "join"

    # -- sections ---------------------------------------------------------------------------

    async def _timeline(self, p: SyncParams, room_id: str, after: int, upto: int,
                        first_batch: tuple[list[StoredEvent], int] | None = None, joined: bool = False,
                        ) -> tuple[list[StoredEvent], bool, int]:
        """`joined`: the room is one the user is in, whose current state events are never hidden
        from the timeline (RoomReadService.scan)."""
        tf = p.filter.room.timeline
        limit = DEFAULT_TIMELINE_LIMIT if tf.limit is None else tf.limit
        if tf.blocks_everything or not tf.allows_room(room_id):
            return [], False, upto
        page = await self.reader.scan(room_id, p.user_id, after=after, upto=upto, limit=limit, efilter=tf,
                                      first_batch=first_batch, current_state=joined)
        evs = list(reversed(page.events))
        prev = evs[0].stream_pos - 1 if evs else upto
        if page.more:
            prev = page.cursor
        return evs, page.more, prev

    async def _state_section(self, p: SyncParams, room_id: str, timeline: list[StoredEvent], start: int,
                             since: Position | None, full: bool, sent: dict[str, dict[str, str]],
                             end: int, now_state: StateMap | None = None, before: StateMap | None = None,
                             limited: bool = False) -> tuple[str, list[StoredEvent]]:
        """The `state` (or `state_after`) events for a room, as StoredEvents. `now_state` (the state
        at the timeline's start, or its end for state_after) and `before` (at `since`) may be
        handed in when they were read for many rooms at once.

        Lazy-loading members: the member events of the timeline's senders (and the user's own)
        the device has not been sent; and, when an incremental timeline is `limited`, every
        membership that changed in the gap, redundant or not (sync.yaml: "the server MUST return
        membership events for events in the gap ... This ensures that joins/leaves and profile
        changes which occur during the gap are not lost")."""
        sf = p.filter.room.state
        point = end if p.use_state_after else start
        if now_state is None:
            now_state = await self.reader.state_ids_at(room_id, point)
        if full or since is None:
            delta: StateMap = dict(now_state)
        else:
            if before is None:
                before = await self.reader.state_ids_at(room_id, since.stream)
            delta = {k: v for k, v in now_state.items() if before.get(k) != v}
        in_timeline = {ev.event_id for ev in timeline}
        if not p.use_state_after:
            delta = {k: v for k, v in delta.items() if v not in in_timeline}
        lazy = sf.lazy_load_members
        room_sent = sent.setdefault(room_id, {})
        wanted: dict[StateKey, str] = {}
        if lazy:
            senders = {ev.pdu.sender for ev in timeline}
            if full or since is None:
                # "servers MUST include the syncing user's own membership event when they join a
                # room, or when the full state of rooms is requested"; otherwise it is one more
                # member (with include_redundant_members, only when they sent something).
                senders.add(p.user_id)
            gapped = limited and since is not None and not full
            for k, v in delta.items():
                if k[0] != "m.room.member" or gapped:
                    wanted[k] = v
            for s in senders:
                eid = now_state.get(("m.room.member", s))
                if eid is None or eid in in_timeline and not p.use_state_after:
                    continue
                if not sf.include_redundant_members and room_sent.get(s) == eid:
                    continue
                wanted[("m.room.member", s)] = eid
        else:
            wanted = delta
        loaded = await self.events.get_events(wanted.values())
        evs = [loaded[e] for e in wanted.values() if e in loaded]
        if not sf.allows_every_event:
            evs = [e for e in evs if sf.allows_event(e.pdu)]
        if sf.blocks_everything:
            evs = []
        evs.sort(key=lambda e: e.stream_pos)
        for ev in [*evs, *timeline]:
            if ev.pdu.type == "m.room.member" and ev.pdu.state_key is not None:
                room_sent[ev.pdu.state_key] = ev.event_id
        return ("state_after" if p.use_state_after else "state"), evs

    async def _joined_rooms(self, p: SyncParams, todo: list[tuple[str, bool]], since: Position | None,
                            upto: Position, sent: dict, room_ad: dict[str, list[dict[str, Any]]],
                            receipts: dict[str, list], ignored: frozenset[str]) -> dict[str, dict[str, Any]]:
        """rooms.join entries for (room_id, initial) pairs. What can be read for all rooms at once
        is: the newest events of each timeline, the state groups, the client forms of every
        event (one formatter pass, so relations and redactions are one query each) and the
        summaries."""
        if not todo:
            return {}
        user = p.user_id
        tf = p.filter.room.timeline
        afters = {room_id: 0 if initial else since.stream for room_id, initial in todo}  # type: ignore[union-attr]
        ranges = [(r, afters[r], upto.stream) for r, _ in todo if not tf.blocks_everything and tf.allows_room(r)]
        # limit + 1 newest events per room: enough to fill the timeline and know it is limited,
        # unless filters or history visibility drop some (the scan then reads on).
        batch = (DEFAULT_TIMELINE_LIMIT if tf.limit is None else tf.limit) + 1
        first = await self.events.latest_in_rooms(ranges, batch) if ranges else {}
        timelines: dict[str, tuple[list[StoredEvent], bool, int]] = {}
        for room_id, initial in todo:
            got = first.get(room_id)
            timelines[room_id] = evs, limited, prev = await self._timeline(
                p, room_id, afters[room_id], upto.stream, None if got is None else (got, batch), joined=True)
            if initial and since is not None and not limited and not (evs and evs[0].pdu.type == "m.room.create"):
                # Newly joined: the timeline does not hold every event of the room (a filter
                # or history visibility left the first ones out), so it is a gap the client
                # may paginate, as Synapse marks every newly joined room.
                timelines[room_id] = evs, True, prev

        starts = {r: (tl[0][0].stream_pos - 1 if tl[0] else upto.stream) for r, tl in timelines.items()}
        points = {r: upto.stream if p.use_state_after else starts[r] for r, _ in todo}
        wanted = [(r, points[r]) for r, _ in todo]
        wanted += [(r, since.stream) for r, initial in todo  # type: ignore[union-attr]
                   if not initial and not p.full_state]
        groups = await self.reader.state_groups_at(wanted)

        sections: dict[str, tuple[str, list[StoredEvent]]] = {}
        for room_id, initial in todo:
            full = initial or p.full_state
            now_state = await self.reader.state_at_group(groups[(room_id, points[room_id])])
            before = None if full else await self.reader.state_at_group(
                groups[(room_id, since.stream)])  # type: ignore[union-attr]
            sections[room_id] = await self._state_section(
                p, room_id, timelines[room_id][0], starts[room_id], None if initial else since, full, sent,
                upto.stream, now_state=now_state, before=before, limited=timelines[room_id][1])

        fmt = {"user_id": user, "device_id": p.device_id, "with_room_id": False,
               "event_format": p.filter.event_format, "event_fields": p.filter.event_fields}
        flat: list[StoredEvent] = []
        for room_id, _ in todo:
            flat += timelines[room_id][0]
            flat += sections[room_id][1]
        serialized = await self.formatter.serialize(flat, **fmt)

        summaries = await self._summaries(
            [r for r, initial in todo if initial or p.full_state or any(
                e.pdu.type == "m.room.member" for e in [*timelines[r][0], *sections[r][1]])], user)
        out: dict[str, dict[str, Any]] = {}
        i = 0
        for room_id, initial in todo:
            timeline, limited, prev = timelines[room_id]
            key, state_evs = sections[room_id]
            tl_json = serialized[i:i + len(timeline)]
            i += len(timeline)
            state_json = serialized[i:i + len(state_evs)]
            i += len(state_evs)
            room: dict[str, Any] = {
                "timeline": {
                    "events": tl_json,
                    "limited": limited,
                    "prev_batch": make_token(prev, upto.ephemeral),
                },
                key: {"events": state_json},
                "ephemeral": {"events": self._ephemeral(p, room_id, since if not initial else None,
                                                        receipts.get(room_id, []))},
                "account_data": {"events": [e for e in room_ad.get(room_id, [])
                                            if p.filter.room.account_data.allows_json(e)]},
            }
            room["summary"] = summaries.get(room_id, {})
            # counts from push rules (services/push.py)
            by_thread = p.filter.room.timeline.unread_thread_notifications
            counts, threads = await self.push.unread_counts(user, room_id, upto.stream, by_thread)
            room["unread_notifications"] = counts
            if by_thread and threads:  # "If no threads have notification counts, this whole object can be omitted."
                room["unread_thread_notifications"] = threads
            out[room_id] = room
        return out

    def _ephemeral(self, p: SyncParams, room_id: str, since: Position | None, receipts: list) -> list[dict]:
        ef = p.filter.room.ephemeral
        if ef.blocks_everything or not ef.allows_room(room_id):
            return []
        out = []
        typing_users = self.typing.typing_users(room_id)
        if since is None and typing_users or since is not None and self.typing.changed_since(room_id, since.ephemeral):
            out.append({"type": "m.typing", "content": {"user_ids": typing_users}})
        content = receipt_content(receipts, p.user_id)
        if content:
            out.append({"type": "m.receipt", "content": content})
        return [e for e in out if ef.allows_json(e)]

    async def _summaries(self, room_ids: list[str], user_id: str) -> dict[str, dict[str, Any]]:
        """Summaries of rooms the user is joined to: member counts (one query for all rooms) and
        heroes, the first joined or invited members other than the user, or else the first of
        any membership."""
        counts = await self.memberships.member_counts(room_ids)
        out = {}
        for room_id in room_ids:
            # The user is joined to these rooms: when the counts hold nobody else joined or
            # invited, only the fallback can find heroes.
            others = counts[room_id].get("join", 0) + counts[room_id].get("invite", 0) - 1
            heroes = await self.memberships.first_members(
                room_id, user_id, MAX_HEROES, joined_or_invited=True) if others > 0 else []
            if not heroes:
                heroes = await self.memberships.first_members(room_id, user_id, MAX_HEROES, joined_or_invited=False)
            out[room_id] = {
                "m.heroes": heroes,
                "m.joined_member_count": counts[room_id].get("join", 0),
                "m.invited_member_count": counts[room_id].get("invite", 0),
            }
        return out

    async def stripped_state(self, member_event_id: str, ignored: frozenset[str]) -> list[dict[str, Any]] | None:
        ev = await self.events.get_event(member_event_id)
        if ev is None:
            return []
        if ev.pdu.sender in ignored:
            return None
        unsigned = ev.pdu.data.get("unsigned")
        # What the room's server gave with an invite, or with a knock on a room held elsewhere.
        given = (unsigned.get("invite_room_state") or unsigned.get("knock_room_state")) if isinstance(
            unsigned, dict) else None
        out: list[dict[str, Any]] = []
        if isinstance(given, list):
            out = [e for e in given if isinstance(e, dict)]
        elif ev.state_group is not None:
            state = await self.reader.state.get_state(ev.state_group)
            ids = [state[(t, "")] for t in STRIPPED_STATE_TYPES if (t, "") in state]
            loaded = await self.events.get_events(ids)
            for eid in ids:
                s = loaded.get(eid)
                if s is not None:
                    out.append({"type": s.pdu.type, "state_key": s.pdu.state_key, "content": s.pdu.content,
                                "sender": s.pdu.sender})
        out = [e for e in out if not (e.get("type") == "m.room.member" and e.get("state_key") == ev.pdu.state_key)]
        out.append({"type": ev.pdu.type, "state_key": ev.pdu.state_key, "content": ev.pdu.content,
                    "sender": ev.pdu.sender, "event_id": ev.event_id,
                    "origin_server_ts": ev.pdu.origin_server_ts})
        return out

    async def _left_room(self, p: SyncParams, room_id: str, since: Position | None, leave_pos: int,
                         sent: dict, account_data: list[dict[str, Any]]) -> dict[str, Any]:
        after = since.stream if since else 0
        timeline, limited, prev = await self._timeline(p, room_id, after, leave_pos)
        start = timeline[0].stream_pos - 1 if timeline else leave_pos
        was_joined = since is not None and await self._was_joined(room_id, p.user_id, since.stream)
        key, state_evs = await self._state_section(p, room_id, timeline, start, since if was_joined else None,
                                                   not was_joined or p.full_state, sent, leave_pos, limited=limited)
        # Someone who was in the room up to the leave (joined and left within this batch too)
        # had its state; someone who only rejected an invite, or was kicked or banned before
        # joining, sees only the state that history visibility lets them see.
        if not was_joined and not await self._was_joined(room_id, p.user_id, leave_pos - 1):
            state_evs = await self.visibility.filter_events(p.user_id, state_evs, ignore=False)
        fmt = {"user_id": p.user_id, "device_id": p.device_id, "with_room_id": False,
               "event_format": p.filter.event_format, "event_fields": p.filter.event_fields}
        return {
            "timeline": {"events": await self.formatter.serialize(timeline, **fmt), "limited": limited,
                         "prev_batch": make_token(prev, self.stream.ephemeral)},
            key: {"events": await self.formatter.serialize(state_evs, **fmt)},
            "account_data": {"events": [e for e in account_data if p.filter.room.account_data.allows_json(e)]},
        }


def _has_content(room: dict[str, Any]) -> bool:
    # `limited` alone: a timeline.limit of 0 hides new events, yet the room has news
    return bool(room["timeline"]["events"] or room["timeline"]["limited"] or room.get("state", room.get("state_after", {})).get("events")
                or room["ephemeral"]["events"] or room["account_data"]["events"])
