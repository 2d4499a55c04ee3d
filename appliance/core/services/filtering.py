"""Filters (client-server-api "Filtering", filter.yaml): parse, validate, store, apply.

A filter arrives as JSON (uploaded, or inline in /sync and /messages). It is validated into
small frozen dataclasses once; matching an event is then a few set lookups. Type and sender
lists accept `*` wildcards as the spec's EventFilter describes.
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from ..protocol import ids
from ..protocol.errors import BadJson, InvalidParam, NotFound
from ..protocol.json_text import loads_bounded
from ..protocol.events import Pdu
from ..storage.stores.filters import FilterStore

MAX_LIMIT = 1000


def _patterns(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadJson(f"{name} must be a list of strings")
    return tuple(value)


def _ids(value: Any, name: str, valid: Callable[[str], bool], what: str) -> tuple[str, ...] | None:
    """A list of user or room IDs (EventFilter `senders`, RoomFilter `rooms`…): no wildcards."""
    out = _patterns(value, name)
    for v in out or ():
        if not valid(v):
            raise BadJson(f"{name} must hold {what}: {v[:100]!r} is not one")
    return out


def _user_ids(value: Any, name: str) -> tuple[str, ...] | None:
    return _ids(value, name, ids.is_valid_user_id, "user IDs")


def _room_ids(value: Any, name: str) -> tuple[str, ...] | None:
    return _ids(value, name, ids.is_valid_room_id, "room IDs")


def _matches(value: str, patterns: tuple[str, ...]) -> bool:
    for p in patterns:
        if "*" in p:
            if fnmatch.fnmatchcase(value, p.replace("[", "[[]").replace("?", "[?]")):
                return True
        elif p == value:
            return True
    return False


@dataclass(frozen=True, slots=True)
class EventFilter:
    """EventFilter / RoomEventFilter: what passes `types`, `senders`, `rooms` and the `not_`s."""

    limit: int | None = None
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    contains_url: bool | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    unread_thread_notifications: bool = False

    @classmethod
    def parse(cls, data: Any, name: str = "filter") -> EventFilter:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise BadJson(f"{name} must be an object")
        limit = data.get("limit")
        if limit is not None:
            # The schema says "greater than 0"; 0 is taken too (as Synapse does, and clients send
            # it for a sync of rooms without their timelines): nothing, marked `limited`.
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise BadJson(f"{name}.limit must be a non-negative integer")
            limit = min(limit, MAX_LIMIT)
        for flag in ("contains_url", "lazy_load_members", "include_redundant_members",
                     "unread_thread_notifications"):
            if flag in data and not isinstance(data[flag], bool):
                raise BadJson(f"{name}.{flag} must be a boolean")
        return cls(
            limit=limit,
            types=_patterns(data.get("types"), f"{name}.types"),
            not_types=_patterns(data.get("not_types"), f"{name}.not_types") or (),
            senders=_user_ids(data.get("senders"), f"{name}.senders"),
            not_senders=_user_ids(data.get("not_senders"), f"{name}.not_senders") or (),
            rooms=_room_ids(data.get("rooms"), f"{name}.rooms"),
            not_rooms=_room_ids(data.get("not_rooms"), f"{name}.not_rooms") or (),
            contains_url=data.get("contains_url"),
            lazy_load_members=bool(data.get("lazy_load_members", False)),
            include_redundant_members=bool(data.get("include_redundant_members", False)),
            unread_thread_notifications=bool(data.get("unread_thread_notifications", False)),
        )

    def allows_type(self, event_type: str) -> bool:
        if self.not_types and _matches(event_type, self.not_types):
            return False
        return self.types is None or _matches(event_type, self.types)

    def allows_sender(self, sender: str) -> bool:
        if sender in self.not_senders:
            return False
        return self.senders is None or sender in self.senders

    def allows_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    def allows_event(self, pdu: Pdu) -> bool:
        if not (self.allows_type(pdu.type) and self.allows_sender(pdu.sender)):
            return False
        if self.contains_url is not None:
            has_url = isinstance(pdu.content.get("url"), str)
            if has_url != self.contains_url:
                return False
        return True

    def allows_json(self, event: dict[str, Any]) -> bool:
        """For account data / presence / ephemeral objects: type (and sender if any)."""
        if not self.allows_type(str(event.get("type", ""))):
            return False
        sender = event.get("sender")
        return not isinstance(sender, str) or self.allows_sender(sender)

    @property
    def blocks_everything(self) -> bool:
        return self.types == () or self.rooms == () or self.senders == ()

    @property
    def allows_every_event(self) -> bool:
        """Whether `allows_event` is true for any event (the default filter): callers skip it."""
        return (self.types is None and not self.not_types and self.senders is None and not self.not_senders
                and self.contains_url is None)


@dataclass(frozen=True, slots=True)
class RoomFilter:
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    include_leave: bool = False
    timeline: EventFilter = field(default_factory=EventFilter)
    state: EventFilter = field(default_factory=EventFilter)
    ephemeral: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)

    def allows_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms


@dataclass(frozen=True, slots=True)
class Filter:
    event_fields: tuple[str, ...] | None = None
    event_format: str = "client"
    presence: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)
    room: RoomFilter = field(default_factory=RoomFilter)

    @classmethod
    def parse(cls, data: Any) -> Filter:
        if not isinstance(data, dict):
            raise BadJson("A filter must be a JSON object")
        fields = _patterns(data.get("event_fields"), "event_fields")
        fmt = data.get("event_format", "client")
        if fmt not in ("client", "federation"):
            raise BadJson("event_format must be 'client' or 'federation'")
        room = data.get("room")
        if room is not None and not isinstance(room, dict):
            raise BadJson("room must be an object")
        room = room or {}
        if "include_leave" in room and not isinstance(room["include_leave"], bool):
            raise BadJson("room.include_leave must be a boolean")
        return cls(
            event_fields=fields,
            event_format=fmt,
            presence=EventFilter.parse(data.get("presence"), "presence"),
            account_data=EventFilter.parse(data.get("account_data"), "account_data"),
            room=RoomFilter(
                rooms=_room_ids(room.get("rooms"), "room.rooms"),
                not_rooms=_room_ids(room.get("not_rooms"), "room.not_rooms") or (),
                include_leave=bool(room.get("include_leave", False)),
                timeline=EventFilter.parse(room.get("timeline"), "room.timeline"),
                state=EventFilter.parse(room.get("state"), "room.state"),
                ephemeral=EventFilter.parse(room.get("ephemeral"), "room.ephemeral"),
                account_data=EventFilter.parse(room.get("account_data"), "room.account_data"),
            ),
        )


_FIELD_SPLIT = re.compile(r"(?<!\\)\.")


def apply_event_fields(event: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    """Keep only the listed (dotted, `\\.`-escaped) fields of a client event."""
    if fields is None:
        return event
    out: dict[str, Any] = {}
    for f in fields:
        path = [p.replace("\\.", ".").replace("\\\\", "\\") for p in _FIELD_SPLIT.split(f)]
        src: Any = event
        for p in path:
            if not isinstance(src, dict) or p not in src:
                break
            src = src[p]
        else:
            dst = out
            for p in path[:-1]:
                dst = dst.setdefault(p, {})
                if not isinstance(dst, dict):
                    break
            else:
                dst[path[-1]] = src
    return out


class FilterService:
    """Uploaded filters, stored per user in `user_filters` with a per-user counter as ID."""

    def __init__(self, store: FilterStore):
        self.store = store

    async def create(self, user_id: str, data: dict[str, Any]) -> str:
        Filter.parse(data)  # validate before storing
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return str(await self.store.add(user_id, text))

    async def get_json(self, user_id: str, filter_id: str) -> dict[str, Any]:
        if not filter_id.isdigit():
            raise NotFound("No such filter")
        text = await self.store.get(user_id, int(filter_id))
        if text is None:
            raise NotFound("No such filter")
        return json.loads(text)

    async def resolve(self, user_id: str, filter_param: str | None) -> Filter:
        """The `filter` query parameter of /sync: an uploaded filter's ID, or inline JSON."""
        if not filter_param:
            return Filter()
        if filter_param.lstrip().startswith("{"):
            try:
                data = loads_bounded(filter_param)
            except ValueError:
                raise InvalidParam("filter is not valid JSON") from None
            try:
                return Filter.parse(data)
            except BadJson as exc:
                raise InvalidParam(exc.error) from None
        return Filter.parse(await self.get_json(user_id, filter_param))


def parse_room_event_filter(param: str | None) -> EventFilter:
    """The `filter` query parameter of /messages and /context: inline RoomEventFilter JSON."""
    if not param:
        return EventFilter()
    try:
        data = loads_bounded(param)
    except ValueError:
        raise InvalidParam("filter is not valid JSON") from None
    try:
        return EventFilter.parse(data)
    except BadJson as exc:
        raise InvalidParam(exc.error) from None
