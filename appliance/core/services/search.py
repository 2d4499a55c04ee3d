"""Server-side search (modules/search, search.yaml): the `room_events` category over SQLite FTS5.

The index (`event_search`, migration 0061) is fed in batches by the search indexer
(search_index.py), which catches up before every search: `content.body` of m.room.message,
`content.name` of m.room.name and the plain-text topic of m.room.topic. Redacted and rejected
events drop out of it.

A user searches the rooms they are joined to and the rooms they left (up to their leave);
every hit passes through history visibility before it is returned. Results are ordered by
FTS5's bm25 (`rank`, higher is better) or by stream position (`recent`). `next_batch` is an
offset into the ordered candidates (rank) or the stream position to continue below (recent).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..protocol.errors import BadJson, InvalidParam
from ..storage.stores.events import EventStore, StoredEvent
from ..storage.stores.search import SearchStore
from .filtering import EventFilter
from .room_read import RoomReadService
from .search_index import SearchIndexer
from .tokens import make_token

KEYS = ("content.body", "content.name", "content.topic")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
DEFAULT_CONTEXT = 5
MAX_CONTEXT = 50
BATCH = 100
MAX_SCANNED = 2000  # candidates looked at per request before answering with a next_batch
_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r"(rank|recent)_([0-9]{1,15})")


@dataclass(frozen=True, slots=True)
class _Criteria:
    term: str
    words: tuple[str, ...]
    keys: tuple[str, ...]
    efilter: EventFilter
    order_by: str
    before_limit: int
    after_limit: int
    include_profile: bool
    include_state: bool
    group_by: tuple[str, ...]


def fts_query(words: tuple[str, ...]) -> str:
    """Each word as a quoted FTS5 string with prefix matching, all of them required."""
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def _int_in(value: Any, name: str, default: int, lo: int, hi: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadJson(f"{name} must be a non-negative integer")
    return max(lo, min(value, hi))


def parse_criteria(body: dict[str, Any]) -> _Criteria | None:
    """The room_events criteria of a /search body; None if the category was not asked for."""
    cats = body.get("search_categories")
    if not isinstance(cats, dict):
        raise BadJson("search_categories must be an object")
    crit = cats.get("room_events")
    if crit is None:
        return None
    if not isinstance(crit, dict):
        raise BadJson("room_events must be an object")
    term = crit.get("search_term")
    if not isinstance(term, str):
        raise BadJson("room_events.search_term must be a string")
    keys = crit.get("keys", list(KEYS))
    if not isinstance(keys, list) or not all(k in KEYS for k in keys):
        raise BadJson(f"room_events.keys must be a list of {', '.join(KEYS)}")
    order_by = crit.get("order_by", "rank")
    if order_by not in ("rank", "recent"):
        raise BadJson("room_events.order_by must be 'rank' or 'recent'")
    ctx = crit.get("event_context")
    if ctx is not None and not isinstance(ctx, dict):
        raise BadJson("room_events.event_context must be an object")
    include_profile = (ctx or {}).get("include_profile", False)
    include_state = crit.get("include_state", False)
    if not isinstance(include_profile, bool) or not isinstance(include_state, bool):
        raise BadJson("include_profile and include_state must be booleans")
    groupings = crit.get("groupings") or {}
    if not isinstance(groupings, dict) or not isinstance(groupings.get("group_by", []), list):
        raise BadJson("room_events.groupings.group_by must be a list")
    group_by = []
    for g in groupings.get("group_by", []):
        if not isinstance(g, dict) or g.get("key") not in ("room_id", "sender"):
            raise BadJson("group_by keys must be 'room_id' or 'sender'")
        group_by.append(g["key"])
    return _Criteria(
        term=term,
        words=tuple(w.casefold() for w in _WORD.findall(term))[:32],
        keys=tuple(dict.fromkeys(keys)) or KEYS,
        efilter=EventFilter.parse(crit.get("filter"), "room_events.filter"),
        order_by=order_by,
        before_limit=_int_in((ctx or {}).get("before_limit"), "before_limit", DEFAULT_CONTEXT, 0, MAX_CONTEXT)
        if ctx is not None else 0,
        after_limit=_int_in((ctx or {}).get("after_limit"), "after_limit", DEFAULT_CONTEXT, 0, MAX_CONTEXT)
        if ctx is not None else 0,
        include_profile=include_profile,
        include_state=include_state,
        group_by=tuple(dict.fromkeys(group_by)),
    )


class SearchService:
    def __init__(self, store: SearchStore, events: EventStore, reader: RoomReadService, indexer: SearchIndexer):
        self.store = store
        self.events = events
        self.reader = reader
        self.indexer = indexer

    async def _searchable_rooms(self, user_id: str, efilter: EventFilter) -> dict[str, int]:
        """room → the last stream position the user may search up to (joined: now; left: the leave)."""
        out = {}
        for room_id, membership, pos in await self.store.memberships(user_id):
            if not efilter.allows_room(room_id):
                continue
            if membership == "join":
                out[room_id] = max(self.reader.stream.current, pos)
            else:
                out[room_id] = pos
        return out

    async def search(self, user_id: str, device_id: str | None, body: dict[str, Any],
                     next_batch: str | None) -> dict[str, Any]:
        crit = parse_criteria(body)
        if crit is None:
            return {"search_categories": {}}
        return {"search_categories": {"room_events": await self._room_events(user_id, device_id, crit, next_batch)}}

    async def _room_events(self, user_id: str, device_id: str | None, crit: _Criteria,
                           next_batch: str | None) -> dict[str, Any]:
        limit = min(crit.efilter.limit or DEFAULT_LIMIT, MAX_LIMIT)
        cursor = None
        if next_batch is not None:
            m = _TOKEN.fullmatch(next_batch)
            if m is None or m.group(1) != crit.order_by:
                raise InvalidParam("Unknown next_batch token")
            cursor = int(m.group(2))
        await self.indexer.catch_up()  # every event acknowledged before this search is found
        rooms = await self._searchable_rooms(user_id, crit.efilter)
        empty: dict[str, Any] = {"count": 0, "highlights": list(crit.words), "results": []}
        if not crit.words or not rooms:
            return empty
        match = fts_query(crit.words)
        count = await self.store.count(match, crit.keys, rooms)  # rooms: bound by where the user may read

        hits: list[tuple[StoredEvent, float]] = []
        seen: set[int] = set()
        offset = cursor if (crit.order_by == "rank" and cursor is not None) else 0
        below = cursor if (crit.order_by == "recent" and cursor is not None) else None
        more = False
        scanned = 0
        while len(hits) < limit:
            if crit.order_by == "rank":
                rows = await self.store.by_rank(match, crit.keys, rooms, BATCH, offset)
            else:
                rows = await self.store.by_recency(match, crit.keys, rooms, BATCH, below)
            if not rows:
                break
            loaded = await self.events.get_events(r[0] for r in rows)
            stopped = False
            for i, (event_id, pos, score) in enumerate(rows):
                scanned += 1
                if crit.order_by == "rank":
                    offset += 1
                else:
                    below = pos
                ev = loaded.get(event_id)
                if ev is None or pos in seen or not crit.efilter.allows_event(ev.pdu):
                    continue
                if not await self.reader.visibility.filter_events(user_id, [ev]):
                    continue
                seen.add(pos)
                hits.append((ev, float(score)))
                if len(hits) == limit:
                    more = i + 1 < len(rows) or len(rows) == BATCH
                    stopped = True
                    break
            if stopped:
                break
            if len(rows) < BATCH:
                break
            if scanned >= MAX_SCANNED:
                more = True
                break

        fmt = {"user_id": user_id, "device_id": device_id}
        serialized = await self.reader.formatter.serialize([ev for ev, _ in hits], **fmt)
        results = []
        for (ev, score), event in zip(hits, serialized):
            result: dict[str, Any] = {"rank": score, "result": event}
            if crit.before_limit or crit.after_limit or crit.include_profile:
                result["context"] = await self._context(user_id, device_id, ev, rooms[ev.pdu.room_id], crit)
            results.append(result)
        out: dict[str, Any] = {"count": count, "highlights": list(crit.words), "results": results}
        if more:
            out["next_batch"] = f"{crit.order_by}_{offset if crit.order_by == 'rank' else below}"
        if crit.group_by:
            groups: dict[str, dict[str, Any]] = {}
            for key in crit.group_by:
                by: dict[str, Any] = {}
                for ev, _ in hits:
                    value = ev.pdu.room_id if key == "room_id" else ev.pdu.sender
                    entry = by.setdefault(value, {"order": len(by) + 1, "results": []})
                    entry["results"].append(ev.event_id)
                groups[key] = by
            out["groups"] = groups
        if crit.include_state:
            state: dict[str, Any] = {}
            for room_id in dict.fromkeys(ev.pdu.room_id for ev, _ in hits):
                state[room_id] = await self.reader.room_state(user_id, room_id)
            out["state"] = state
        return out

    async def _context(self, user_id: str, device_id: str | None, ev: StoredEvent, upto: int,
                       crit: _Criteria) -> dict[str, Any]:
        room_id = ev.pdu.room_id
        everything = EventFilter()
        before = await self.reader.scan(room_id, user_id, after=0, upto=ev.stream_pos - 1,
                                        limit=crit.before_limit, efilter=everything) if crit.before_limit else None
        after = await self.reader.scan(room_id, user_id, after=ev.stream_pos, upto=upto, limit=crit.after_limit,
                                       efilter=everything, backwards=False) if crit.after_limit else None
        fmt = {"user_id": user_id, "device_id": device_id}
        eph = self.reader.stream.ephemeral
        out: dict[str, Any] = {
            "events_before": await self.reader.formatter.serialize(before.events, **fmt) if before else [],
            "events_after": await self.reader.formatter.serialize(after.events, **fmt) if after else [],
            "start": make_token(before.cursor if before else ev.stream_pos - 1, eph),
            "end": make_token(after.cursor if after else ev.stream_pos, eph),
        }
        if crit.include_profile:
            evs = [ev, *(before.events if before else []), *(after.events if after else [])]
            profiles: dict[str, Any] = {}
            for member in await self.reader.member_events_for_senders(evs):
                content = member.pdu.content
                profile = {k: content[k] for k in ("displayname", "avatar_url") if isinstance(content.get(k), str)}
                profiles[member.pdu.state_key] = profile
            out["profile_info"] = profiles
        return out
