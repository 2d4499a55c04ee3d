"""Reading a room: state, members, events, /messages, /context, relations, threads and
timestamp lookup (room_state.yaml GET, rooms.yaml, message_pagination.yaml, event_context.yaml,
relations.yaml, threads_list.yaml, room_event_by_timestamp.yaml)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from quart import Blueprint
from werkzeug.datastructures import MultiDict

from ....hearth import Hearth
from ...services.auth import Requester
from ...services.filtering import parse_room_event_filter
from ..routing import PathModel, QueryModel, endpoint, validate_query

bp = Blueprint("client_room_read", __name__)
V1 = ("/_matrix/client/v1",)


class RoomPath(PathModel):
    room_id: str


class StateEventPath(PathModel):
    room_id: str
    event_type: str
    state_key: str = ""


class EventPath(PathModel):
    room_id: str
    event_id: str


class RelationsPath(PathModel):
    room_id: str
    event_id: str
    rel_type: str | None = None
    event_type: str | None = None


class StateQuery(QueryModel):
    format: Literal["content", "event"] = "content"


class MembersQuery(QueryModel):
    at: str | None = None
    membership: Literal["join", "invite", "knock", "leave", "ban"] | None = None
    not_membership: Literal["join", "invite", "knock", "leave", "ban"] | None = None


class MessagesQuery(QueryModel):
    model_config = {"extra": "ignore", "populate_by_name": True}
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    dir: Literal["b", "f"]
    limit: int = Field(10, ge=0)
    filter: str | None = None


class ContextQuery(QueryModel):
    limit: int = Field(10, ge=0)
    filter: str | None = None


class RelationsQuery(QueryModel):
    model_config = {"extra": "ignore", "populate_by_name": True}
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    limit: int = Field(10, ge=1)
    dir: Literal["b", "f"] = "b"
    recurse: bool = False


class ThreadsQuery(QueryModel):
    model_config = {"extra": "ignore", "populate_by_name": True}
    include: Literal["all", "participated"] = "all"
    from_: str | None = Field(None, alias="from")
    limit: int = Field(10, ge=1)


class TimestampQuery(QueryModel):
    ts: int
    dir: Literal["b", "f"]


@endpoint(bp, "GET", "/rooms/{room_id}/state")
async def get_room_state(me: Requester, path: RoomPath, hearth: Hearth) -> list:
    return await hearth.reading.rooms.room_state(me.user_id, path.room_id)


@endpoint(bp, "GET", "/rooms/{room_id}/state/{event_type}/{state_key:path}")
async def get_room_state_with_key(me: Requester, path: StateEventPath, query: StateQuery, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.state_event(me.user_id, path.room_id, path.event_type, path.state_key,
                                              query.format == "event")


@endpoint(bp, "GET", "/rooms/{room_id}/state/{event_type}")
async def get_room_state_empty_key(me: Requester, path: StateEventPath, query: StateQuery, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.state_event(me.user_id, path.room_id, path.event_type, "",
                                              query.format == "event")


@endpoint(bp, "GET", "/rooms/{room_id}/members")
async def get_members_by_room(me: Requester, path: RoomPath, query: MembersQuery, hearth: Hearth) -> dict:
    chunk = await hearth.reading.rooms.members(me.user_id, path.room_id, at=query.at, membership=query.membership,
                                           not_membership=query.not_membership)
    return {"chunk": chunk}


@endpoint(bp, "GET", "/rooms/{room_id}/joined_members")
async def get_joined_members_by_room(me: Requester, path: RoomPath, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.joined_members(me.user_id, path.room_id)


@endpoint(bp, "GET", "/rooms/{room_id}/event/{event_id}")
async def get_one_room_event(me: Requester, path: EventPath, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.get_event(me.user_id, me.device_id, path.room_id, path.event_id)


@endpoint(bp, "GET", "/rooms/{room_id}/messages")
async def get_room_events(me: Requester, path: RoomPath, raw_args: MultiDict, hearth: Hearth) -> dict:
    """Access before parameters: a room the user may not read answers 403 whatever was asked."""
    await hearth.reading.rooms.access(me.user_id, path.room_id)
    query = validate_query(MessagesQuery, raw_args)
    efilter = parse_room_event_filter(query.filter)
    limit = query.limit or 10

    async def page() -> dict:
        return await hearth.reading.rooms.messages(
            me.user_id, me.device_id, path.room_id, from_=query.from_, to=query.to, direction=query.dir,
            limit=limit, efilter=efilter)

    result = await page()
    # Paging back past the oldest event held: older history is asked of the room's other servers
    # (a few rounds at most per request; the client's next page asks again).
    for _ in range(3):
        if not (hearth.settings.federation_enabled and query.dir == "b" and "end" not in result and query.to is None
                and await hearth.federation.backfill.backfill(path.room_id, max(limit, 20))):
            break
        result = await page()
    return result


@endpoint(bp, "GET", "/rooms/{room_id}/context/{event_id}")
async def get_event_context(me: Requester, path: EventPath, query: ContextQuery, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.context(me.user_id, me.device_id, path.room_id, path.event_id,
                                          limit=query.limit, efilter=parse_room_event_filter(query.filter))


async def _relations(me: Requester, path: RelationsPath, query: RelationsQuery, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.relations(
        me.user_id, me.device_id, path.room_id, path.event_id, rel_type=path.rel_type,
        event_type=path.event_type, from_=query.from_, to=query.to, limit=query.limit, direction=query.dir,
        recurse=query.recurse)


@endpoint(bp, "GET", "/rooms/{room_id}/relations/{event_id}", prefixes=V1)
async def get_relating_events(me: Requester, path: RelationsPath, query: RelationsQuery, hearth: Hearth) -> dict:
    return await _relations(me, path, query, hearth)


@endpoint(bp, "GET", "/rooms/{room_id}/relations/{event_id}/{rel_type}", prefixes=V1)
async def get_relating_events_with_rel_type(me: Requester, path: RelationsPath, query: RelationsQuery,
                                            hearth: Hearth) -> dict:
    return await _relations(me, path, query, hearth)


@endpoint(bp, "GET", "/rooms/{room_id}/relations/{event_id}/{rel_type}/{event_type}", prefixes=V1)
async def get_relating_events_with_rel_type_and_event_type(me: Requester, path: RelationsPath,
                                                           query: RelationsQuery, hearth: Hearth) -> dict:
    return await _relations(me, path, query, hearth)


@endpoint(bp, "GET", "/rooms/{room_id}/threads", prefixes=V1)
async def get_thread_roots(me: Requester, path: RoomPath, query: ThreadsQuery, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.threads(me.user_id, me.device_id, path.room_id, include=query.include,
                                          from_=query.from_, limit=query.limit)


@endpoint(bp, "GET", "/rooms/{room_id}/timestamp_to_event", prefixes=V1)
async def get_event_by_timestamp(me: Requester, path: RoomPath, query: TimestampQuery, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.timestamp_to_event(me.user_id, path.room_id, query.ts, query.dir)


