"""Server admins managing rooms: list and inspect, block, and shut down (delete) a room.

Deleting a room (Synapse's "shutdown"): block it if asked, move our users out (each leaves; with
`new_room_user_id` they land in a new room holding an explanation and the old room's aliases),
unlist it, then purge its events and state. It runs as a background task whose progress lives
in `room_deletions`, so the API answers at once and the status survives a restart.

Shared by the Synapse-compatible admin API and the admin web pages; results are dataclasses
whose `to_json()` is the Synapse admin API shape.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from ..protocol import ids
from ..protocol.errors import Forbidden, InvalidParam, MatrixError, NotFound
from ..protocol.redaction import redact
from ..storage.stores.admin import AdminStore, RoomDeletion
from ..storage.stores.events import EventStore
from .client_events import ClientEventFormatter
from .pipeline import EventPipeline
from ..protocol.topics import plain_topic
from .rooms.aliases import RoomAliases
from .rooms.create import CreateRoomRequest, RoomCreation
from .rooms.membership import Membership
from .rooms.messages import RoomMessages

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
DEFAULT_NEW_ROOM_NAME = "Content Violation Notification"
DEFAULT_MESSAGE = "Sharing illegal content on this server is not permitted and rooms in violation will be blocked."

_SUMMARY_TYPES = ("m.room.create", "m.room.name", "m.room.canonical_alias", "m.room.encryption",
                  "m.room.join_rules", "m.room.guest_access", "m.room.history_visibility", "m.room.topic",
                  "m.room.avatar", "m.room.tombstone")

# order_by → (sort key, largest first when dir=f)
_ORDER: dict[str, tuple[str, bool]] = {
    "name": ("name", False), "alphabetical": ("name", False),
    "canonical_alias": ("canonical_alias", False),
    "joined_members": ("joined_members", True), "size": ("joined_members", True),
    "joined_local_members": ("joined_local_members", True),
    "version": ("version", True),
    "creator": ("creator", False),
    "encryption": ("encryption", False),
    "federatable": ("federatable", True),
    "public": ("public", True),
    "join_rules": ("join_rules", False),
    "guest_access": ("guest_access", False),
    "history_visibility": ("history_visibility", False),
    "state_events": ("state_events", True),
    "events": ("events", True),  # Hearth's own: size in events, for "the biggest rooms"
}


@dataclass(slots=True)
class AdminRoom:
    room_id: str
    name: str | None
    canonical_alias: str | None
    joined_members: int
    joined_local_members: int
    version: str
    creator: str | None
    encryption: str | None
    federatable: bool
    public: bool
    join_rules: str | None
    guest_access: str | None
    history_visibility: str | None
    state_events: int
    room_type: str | None
    # details
    topic: str | None = None
    avatar: str | None = None
    events: int = 0
    created_ts: int = 0
    tombstoned: bool = False
    replacement_room: str | None = None

    def to_json(self) -> dict[str, Any]:
        keys = ("room_id", "name", "canonical_alias", "joined_members", "joined_local_members", "version",
                "creator", "encryption", "federatable", "public", "join_rules", "guest_access",
                "history_visibility", "state_events", "room_type")
        return {k: getattr(self, k) for k in keys}


@dataclass(frozen=True, slots=True)
class RoomPage:
    rooms: list[AdminRoom]
    offset: int
    total_rooms: int
    next_batch: int | None
    prev_batch: int | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rooms": [r.to_json() for r in self.rooms], "offset": self.offset,
                               "total_rooms": self.total_rooms}
        if self.next_batch is not None:
            out["next_batch"] = self.next_batch
            out["next_token"] = self.next_batch  # the name Synapse's own examples and older tools use
        if self.prev_batch is not None:
            out["prev_batch"] = self.prev_batch
        return out


@dataclass(frozen=True, slots=True)
class DeleteRequest:
    """DELETE /_synapse/admin/v{1,2}/rooms/{room_id}."""

    block: bool = False
    purge: bool = True
    force_purge: bool = False
    new_room_user_id: str | None = None
    room_name: str = DEFAULT_NEW_ROOM_NAME
    message: str = DEFAULT_MESSAGE


@dataclass(slots=True)
class ShutdownResult:
    kicked_users: list[str] = field(default_factory=list)
    failed_to_kick_users: list[str] = field(default_factory=list)
    local_aliases: list[str] = field(default_factory=list)
    new_room_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DeleteStatus:
    delete_id: str
    room_id: str
    status: str  # scheduled | active | complete | failed
    error: str | None
    shutdown_room: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"delete_id": self.delete_id, "room_id": self.room_id, "status": self.status,
                               "shutdown_room": self.shutdown_room}
        if self.status == "failed" and self.error:
            out["error"] = self.error
        return out


class AdminRoomService:
    def __init__(self, server_name: str, events: EventStore, pipeline: EventPipeline,
                 room_creation: RoomCreation, room_messages: RoomMessages, membership: Membership,
                 aliases: RoomAliases, formatter: ClientEventFormatter, store: AdminStore):
        self.server_name = server_name
        self.events = events
        self.pipeline = pipeline
        self.room_creation = room_creation
        self.room_messages = room_messages
        self.membership = membership
        self.aliases = aliases
        self.formatter = formatter
        self.store = store
        self._tasks: dict[str, asyncio.Task] = {}

    # -- lookups ----------------------------------------------------------------------------

    @staticmethod
    def check_room_id(room_id: str) -> str:
        if not ids.is_valid_room_id(room_id):
            raise InvalidParam(f"{room_id!r} is not a room ID")
        return room_id

    async def _summaries(self, room_id: str | None = None) -> list[AdminRoom]:
        rows = await self.store.room_rows(room_id)
        local = await self.store.joined_local_members(self.server_name, room_id)
        contents: dict[str, dict[str, dict[str, Any]]] = {}
        for r in await self.store.room_state_json(_SUMMARY_TYPES, room_id):
            data = json.loads(r["json"])
            if r["redacted_by"]:
                data = redact(data, r["room_version"])
            content = data.get("content")
            contents.setdefault(r["room_id"], {})[r["type"]] = content if isinstance(content, dict) else {}
        out = []
        for row in rows:
            state = contents.get(row["room_id"], {})

            def s(type_: str, key: str) -> Any:
                value = state.get(type_, {}).get(key)
                return value if isinstance(value, str) and value else None

            create = state.get("m.room.create", {})
            room_type = create.get("type")
            tombstone = state.get("m.room.tombstone")
            out.append(AdminRoom(
                room_id=row["room_id"], name=s("m.room.name", "name"),
                canonical_alias=s("m.room.canonical_alias", "alias"),
                joined_members=row["joined_members"], joined_local_members=local.get(row["room_id"], 0),
                version=row["room_version"], creator=row["creator"],
                encryption=s("m.room.encryption", "algorithm"),
                federatable=create.get("m.federate", True) is not False,
                public=bool(row["is_public"]), join_rules=s("m.room.join_rules", "join_rule"),
                guest_access=s("m.room.guest_access", "guest_access"),
                history_visibility=s("m.room.history_visibility", "history_visibility"),
                state_events=row["state_events"], room_type=room_type if isinstance(room_type, str) else None,
                topic=plain_topic(state.get("m.room.topic", {})), avatar=s("m.room.avatar", "url"),
                events=row["events"], created_ts=row["created_ts"], tombstoned=tombstone is not None,
                replacement_room=s("m.room.tombstone", "replacement_room")))
        return out

    async def list_rooms(self, *, offset: int = 0, limit: int = DEFAULT_LIMIT, order_by: str = "name",
                         backwards: bool = False, search_term: str | None = None,
                         public_rooms: bool | None = None, empty_rooms: bool | None = None) -> RoomPage:
        if offset < 0 or limit < 0:
            raise InvalidParam("from and limit must not be negative")
        if order_by not in _ORDER:
            raise InvalidParam(f"Unknown value for order_by: {order_by}")
        rooms = await self._summaries()
        if search_term:
            term = search_term.casefold()
            rooms = [r for r in rooms if term in (r.name or "").casefold()
                     or term in (r.canonical_alias or "").split(":")[0].casefold()
                     or search_term in r.room_id]
        if public_rooms is not None:
            rooms = [r for r in rooms if r.public == public_rooms]
        if empty_rooms is not None:
            rooms = [r for r in rooms if (r.joined_members == 0) == empty_rooms]
        key, largest_first = _ORDER[order_by]

        def value(r: AdminRoom) -> Any:
            v = getattr(r, key)
            return (int(v) if v.isdigit() else 0) if key == "version" else v

        rooms.sort(key=lambda r: r.room_id)
        present = sorted((r for r in rooms if value(r) is not None), key=value, reverse=largest_first)
        rooms = present + [r for r in rooms if value(r) is None]  # missing values last
        if backwards:
            rooms.reverse()
        total = len(rooms)
        page = rooms[offset:offset + limit]
        next_batch = offset + len(page) if offset + len(page) < total and page else None
        prev_batch = max(0, offset - limit) if offset > 0 else None
        return RoomPage(page, offset, total, next_batch, prev_batch)

    async def get_room(self, room_id: str) -> AdminRoom:
        found = await self._summaries(self.check_room_id(room_id))
        if not found:
            raise NotFound("Room not found")
        return found[0]

    async def room_details_json(self, room_id: str) -> dict[str, Any]:
        """GET /_synapse/admin/v1/rooms/{room_id}: the summary plus details."""
        room = await self.get_room(room_id)
        out = room.to_json()
        out.update({
            "topic": room.topic, "avatar": room.avatar,
            "joined_local_devices": await self.store.joined_local_devices(room_id, self.server_name),
            "forgotten": await self.store.all_local_members_forgot(room_id, self.server_name),
            "tombstoned": room.tombstoned, "replacement_room": room.replacement_room,
        })
        return out

    async def members(self, room_id: str) -> list[str]:
        await self.get_room(room_id)
        return await self.events.members(room_id)

    async def state(self, room_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        """The room's current state events, in the client format."""
        await self.get_room(room_id)
        state_ids = await self.events.current_state_ids(room_id)
        wanted = [eid for (t, _), eid in sorted(state_ids.items()) if event_type is None or t == event_type]
        found = await self.events.get_events(wanted)
        return await self.formatter.serialize([found[e] for e in wanted if e in found], bundle=False)

    # -- blocking ---------------------------------------------------------------------------

    async def block_status(self, room_id: str) -> tuple[bool, str | None]:
        by = await self.store.blocked_by(self.check_room_id(room_id))
        return by is not None, by

    async def set_blocked(self, room_id: str, block: bool, *, by: str) -> None:
        """Block or unblock a room, known here or not."""
        self.check_room_id(room_id)
        if block:
            await self.store.block_room(room_id, by)
        else:
            await self.store.unblock_room(room_id)

    async def check_not_blocked(self, room_id: str, user_id: str, membership: str) -> None:
        """RoomService's membership check: nobody joins, is invited to or knocks on a blocked room."""
        if await self.store.blocked_by(room_id) is not None:
            raise Forbidden("This room has been blocked on this server")

    # -- deletion ---------------------------------------------------------------------------

    def _check_delete(self, request: DeleteRequest) -> None:
        if request.new_room_user_id is not None:
            try:
                _, server = ids.parse_user_id(request.new_room_user_id)
            except ValueError:
                raise InvalidParam("new_room_user_id is not a user ID") from None
            if server != self.server_name:
                raise InvalidParam("User must be our own: new_room_user_id")

    async def start_delete(self, room_id: str, request: DeleteRequest, *, by: str) -> str:
        """Start deleting a known room in the background; returns the delete ID (v2)."""
        self.check_room_id(room_id)
        self._check_delete(request)
        if await self.events.room_version(room_id) is None:
            raise NotFound(f"Unknown room id {room_id}")
        if any(t.get_name() == room_id and not t.done() for t in self._tasks.values()):
            raise InvalidParam(f"History purge already in progress for {room_id}", errcode="M_UNKNOWN")
        delete_id = secrets.token_urlsafe(12)
        await self.store.add_deletion(delete_id, room_id, by)
        task = asyncio.create_task(self._run_delete(delete_id, room_id, request, by), name=room_id)
        self._tasks[delete_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(delete_id, None))
        return delete_id

    async def delete_now(self, room_id: str, request: DeleteRequest, *, by: str) -> ShutdownResult:
        """Delete a room and wait for it (v1). An unknown room can only be blocked."""
        self.check_room_id(room_id)
        self._check_delete(request)
        if await self.events.room_version(room_id) is None:
            if not request.block:
                raise InvalidParam(f"Unknown room id {room_id}")
            await self.store.block_room(room_id, by)
            return ShutdownResult()
        return await self._shutdown_and_purge(room_id, request, by, None)

    async def _run_delete(self, delete_id: str, room_id: str, request: DeleteRequest, by: str) -> None:
        result = ShutdownResult()
        try:
            await self.store.update_deletion(delete_id, "active", result.to_json())
            result = await self._shutdown_and_purge(room_id, request, by, delete_id)
            await self.store.update_deletion(delete_id, "complete", result.to_json())
        except Exception as exc:  # the status reports it; nothing else waits for this task
            error = exc.error if isinstance(exc, MatrixError) else f"{type(exc).__name__}: {exc}"
            log.exception("deleting room %s failed", room_id)
            await self.store.update_deletion(delete_id, "failed", result.to_json(), error)

    async def _shutdown_and_purge(self, room_id: str, request: DeleteRequest, by: str,
                                  delete_id: str | None) -> ShutdownResult:
        result = ShutdownResult()
        if request.block:
            await self.store.block_room(room_id, by)
        if request.new_room_user_id is not None:
            creator = request.new_room_user_id
            result.new_room_id = await self.room_creation.create_room(creator, CreateRoomRequest(
                preset="public_chat", name=request.room_name,
                power_level_content_override={"users_default": -10}))
            await self.room_messages.send_message(result.new_room_id, creator, "m.room.message",
                                                  {"msgtype": "m.text", "body": request.message}, None, None)
        for user_id, membership in await self.store.local_users_in_room(room_id, self.server_name):
            try:
                await self.membership.leave(room_id, user_id)
                if result.new_room_id is not None and membership == "join":
                    await self.membership.join(user_id, result.new_room_id)
                result.kicked_users.append(user_id)
            except MatrixError as exc:
                log.warning("room deletion: %s could not leave %s: %s", user_id, room_id, exc.error)
                result.failed_to_kick_users.append(user_id)
            if delete_id is not None:
                await self.store.update_deletion(delete_id, "active", result.to_json())
        aliases = await self.store.room_aliases(room_id)
        if result.new_room_id is not None:
            await self.store.move_aliases(room_id, result.new_room_id)
            result.local_aliases = aliases
        else:
            await self.store.delete_aliases(room_id)
        await self.aliases.store.set_public(room_id, False)
        if request.purge:
            if result.failed_to_kick_users and not request.force_purge:
                raise MatrixError("Users are still joined to this room", errcode="M_UNKNOWN")
            async with self.pipeline.room_lock(room_id):
                removed = await self.store.purge_room(room_id)
            self.events.forget_room(room_id, removed)
        log.info("room %s deleted by %s (block=%s purge=%s)", room_id, by, request.block, request.purge)
        return result

    async def delete_status(self, delete_id: str) -> DeleteStatus:
        found = await self.store.get_deletion(delete_id)
        if found is None:
            raise NotFound("delete id '%s' not found" % delete_id)
        return self._status(found)

    async def delete_statuses(self, room_id: str) -> list[DeleteStatus]:
        found = await self.store.deletions_of_room(self.check_room_id(room_id))
        if not found:
            raise NotFound(f"No delete task for room_id '{room_id}' found")
        return [self._status(d) for d in found]

    def _status(self, d: RoomDeletion) -> DeleteStatus:
        if d.status in ("scheduled", "active") and d.delete_id not in self._tasks:
            return DeleteStatus(d.delete_id, d.room_id, "failed", "Interrupted by a restart", d.shutdown_room)
        return DeleteStatus(d.delete_id, d.room_id, d.status, d.error, d.shutdown_room)
