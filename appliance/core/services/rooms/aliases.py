"""Room aliases and the published room directory (directory.yaml, list_public_rooms.yaml)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...protocol import ids
from ...protocol.errors import Forbidden, InvalidParam, MatrixError, NotFound
from ...protocol.power_levels import can_send
from ...protocol.redaction import redact as redact_event_dict
from ...protocol.topics import plain_topic
from ...storage.stores.events import EventStore
from ...storage.stores.rooms import AliasTaken, RoomStore
from ..appservices.queries import AppServiceQueries
from ..appservices.registry import AppServiceRegistry
from ..pipeline import EventPipeline
from .lookup import RoomLookup

_TOKEN = re.compile(r"o([0-9]{1,9})")


def local_alias(localpart: str, server_name: str) -> str:
    """`#localpart:server_name`, for a localpart given to /createRoom."""
    if not localpart or ":" in localpart or any(c.isspace() for c in localpart):
        raise InvalidParam("Invalid room alias localpart")
    alias = f"#{localpart}:{server_name}"
    if not ids.is_valid_room_alias(alias):
        raise InvalidParam("Room alias is too long")
    return alias


@dataclass(frozen=True, slots=True)
class PublicRoomsPage:
    chunk: list[dict[str, Any]]
    next_batch: str | None
    prev_batch: str | None
    total_room_count_estimate: int

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"chunk": self.chunk, "total_room_count_estimate": self.total_room_count_estimate}
        if self.next_batch is not None:
            out["next_batch"] = self.next_batch
        if self.prev_batch is not None:
            out["prev_batch"] = self.prev_batch
        return out


class RoomAliases:
    def __init__(self, server_name: str, events: EventStore, pipeline: EventPipeline, store: RoomStore,
                 lookup: RoomLookup, appservices: AppServiceRegistry, queries: AppServiceQueries):
        self.server_name = server_name
        self.events = events
        self.pipeline = pipeline
        self.store = store
        self.lookup = lookup
        self.appservices = appservices
        self.queries = queries

    async def resolve_room(self, room_id_or_alias: str) -> str:
        """A room ID, from itself or from one of our aliases."""
        if room_id_or_alias.startswith("#"):
            room_id, _ = await self.resolve_alias(room_id_or_alias)
            return room_id
        if not ids.is_valid_room_id(room_id_or_alias):
            raise InvalidParam("Not a room ID or alias")
        await self.lookup.version(room_id_or_alias)
        return room_id_or_alias

    def _check_alias(self, alias: str) -> None:
        if not ids.is_valid_room_alias(alias):
            raise InvalidParam("Room alias invalid")

    async def resolve_alias(self, alias: str) -> tuple[str, list[str]]:
        """GET /directory/room/{roomAlias}: (room ID, servers that know the room)."""
        self._check_alias(alias)
        found = await self.store.get_alias(alias)
        if found is None and await self.queries.alias_exists(alias):  # a bridge made its portal just now
            found = await self.store.get_alias(alias)
        if found is None:
            raise NotFound(f"Room alias {alias} not found.")
        servers = [self.server_name]
        for member in await self.events.members(found.room_id, "join"):
            try:
                server = ids.server_name_of(member)
            except ValueError:
                continue
            if server not in servers:
                servers.append(server)
        return found.room_id, servers

    async def set_alias(self, alias: str, room_id: str, user_id: str, *, admin: bool = False,
                        appservice_id: str | None = None) -> None:
        """PUT /directory/room/{roomAlias}: our own aliases only, by members of the room; an alias
        in a bridge's exclusive namespace only by that bridge (M_EXCLUSIVE)."""
        self._check_alias(alias)
        if ids.server_name_of(alias) != self.server_name:
            raise InvalidParam("Room aliases must be on this server")
        self.check_alias_allowed(alias, appservice_id)
        await self.lookup.version(room_id)
        if not admin and await self.events.membership(room_id, user_id) != "join":
            raise Forbidden("You are not in this room")
        try:
            await self.store.add_alias(alias, room_id, user_id)
        except AliasTaken:
            raise MatrixError(f"Room alias {alias} already exists.", status=409, errcode="M_UNKNOWN") from None

    def check_alias_allowed(self, alias: str, appservice_id: str | None) -> None:
        """M_EXCLUSIVE for an alias in another's exclusive namespace, or outside the namespaces of
        the appservice making it."""
        appservice = self.appservices.get(appservice_id) if appservice_id else None
        self.appservices.check_not_exclusive("aliases", alias, appservice)
        if appservice is not None:
            self.appservices.check_claims(appservice, "aliases", alias)

    async def delete_alias(self, alias: str, user_id: str, *, admin: bool = False,
                           appservice_id: str | None = None) -> None:
        """DELETE /directory/room/{roomAlias}: by its creator, an admin, someone who may change
        the room's m.room.canonical_alias, or the appservice whose namespace holds it. The alias
        also leaves the canonical alias."""
        self._check_alias(alias)
        found = await self.store.get_alias(alias)
        if found is None:
            raise NotFound(f"Room alias {alias} not found.")
        appservice = self.appservices.get(appservice_id) if appservice_id else None
        if appservice is not None and appservice.claims("aliases", alias):
            admin = True  # "full control over its namespace"
        if not admin and found.creator != user_id:
            pl, create = await self.lookup.power_levels_and_create(found.room_id)
            if (await self.events.membership(found.room_id, user_id) != "join"
                    or not can_send(user_id, "m.room.canonical_alias", "", pl, create)):
                raise Forbidden("You may not delete this alias")
        await self.store.delete_alias(alias)
        canonical = await self.lookup.state(found.room_id, "m.room.canonical_alias")
        if canonical is None:
            return
        content = dict(canonical.content)
        changed = False
        if content.get("alias") == alias:
            del content["alias"]
            changed = True
        alt = content.get("alt_aliases")
        if isinstance(alt, list) and alias in alt:
            content["alt_aliases"] = [a for a in alt if a != alias]
            changed = True
        if changed:
            try:
                await self.pipeline.create_event(found.room_id, user_id, "m.room.canonical_alias", content,
                                                 state_key="")
            except Forbidden:
                pass  # directory.yaml: the alias is deleted even if the event cannot be sent

    async def local_aliases(self, room_id: str, user_id: str, *, admin: bool = False) -> list[str]:
        """GET /rooms/{roomId}/aliases: for members, or anyone if the room is world-readable."""
        if not ids.is_valid_room_id(room_id):
            raise InvalidParam("Not a room ID")
        if await self.events.room_version(room_id) is None:
            raise Forbidden("You are not a member of the room.")
        if not admin and await self.events.membership(room_id, user_id) != "join":
            hv = await self.lookup.state(room_id, "m.room.history_visibility")
            if hv is None or hv.content.get("history_visibility") != "world_readable":
                raise Forbidden("You are not a member of the room.")
        return await self.store.aliases_of(room_id)

    async def get_visibility(self, room_id: str) -> str:
        public = await self.store.is_public(room_id)
        if public is None:
            raise NotFound("Room not found")
        return "public" if public else "private"

    async def set_visibility(self, room_id: str, user_id: str, visibility: str, *, admin: bool = False) -> None:
        """PUT /directory/list/room/{roomId}: members who may set the canonical alias, or admins."""
        if await self.store.is_public(room_id) is None:
            raise NotFound("Room not found")
        if not admin:
            pl, create = await self.lookup.power_levels_and_create(room_id)
            if (await self.events.membership(room_id, user_id) != "join"
                    or not can_send(user_id, "m.room.canonical_alias", "", pl, create)):
                raise Forbidden("You may not change this room's visibility in the directory")
        await self.store.set_public(room_id, visibility == "public")

    async def public_rooms(self, *, limit: int | None = None, since: str | None = None,
                           search_term: str | None = None, room_types: list[str | None] | None = None,
                           server: str | None = None) -> PublicRoomsPage:
        """GET/POST /publicRooms: largest rooms first; tokens are offsets into the filtered list."""
        if server is not None and server != self.server_name:
            raise NotFound(f"Cannot list the rooms of {server}: this server does not federate yet")
        if limit is not None and limit < 0:
            raise InvalidParam("limit must not be negative")
        offset = 0
        if since is not None:
            m = _TOKEN.fullmatch(since)
            if m is None:
                raise InvalidParam("Unknown pagination token")
            offset = int(m.group(1))
        chunks = []
        term = search_term.casefold() if search_term else None
        for room_id, joined in await self.store.public_room_ids():
            chunk = await self.public_chunk(room_id, joined)
            if room_types is not None and chunk.get("room_type") not in room_types:
                continue
            if term is not None and not any(
                    term in str(chunk.get(k, "")).casefold() for k in ("name", "topic", "canonical_alias", "room_id")):
                continue
            chunks.append(chunk)
        total = len(chunks)
        end = total if limit is None else min(total, offset + limit)
        page = chunks[offset:end]
        next_batch = f"o{end}" if end < total else None
        prev_batch = None
        if offset > 0:
            prev_batch = f"o{max(0, offset - (limit if limit is not None else offset))}"
        return PublicRoomsPage(page, next_batch, prev_batch, total)

    async def public_chunk(self, room_id: str, joined: int) -> dict[str, Any]:
        """A room as /publicRooms and the space hierarchy list it."""
        async def content(type_: str) -> dict[str, Any]:
            eid = await self.events.current_state_event_id(room_id, type_, "")
            ev = await self.events.get_event(eid) if eid else None
            if ev is None:
                return {}
            data = redact_event_dict(ev.pdu.data, ev.pdu.room_version) if ev.redacted_by else ev.pdu.data
            c = data.get("content")
            return c if isinstance(c, dict) else {}

        chunk: dict[str, Any] = {"room_id": room_id, "num_joined_members": joined}
        name = (await content("m.room.name")).get("name")
        if isinstance(name, str) and name:
            chunk["name"] = name
        topic = plain_topic(await content("m.room.topic"))
        if topic:
            chunk["topic"] = topic
        alias = (await content("m.room.canonical_alias")).get("alias")
        if isinstance(alias, str) and alias:
            chunk["canonical_alias"] = alias
        avatar = (await content("m.room.avatar")).get("url")
        if isinstance(avatar, str) and avatar:
            chunk["avatar_url"] = avatar
        chunk["world_readable"] = (await content("m.room.history_visibility")).get("history_visibility") \
            == "world_readable"
        chunk["guest_can_join"] = (await content("m.room.guest_access")).get("guest_access") == "can_join"
        join_rule = (await content("m.room.join_rules")).get("join_rule")
        if isinstance(join_rule, str):
            chunk["join_rule"] = join_rule
        room_type = (await content("m.room.create")).get("type")
        if isinstance(room_type, str):
            chunk["room_type"] = room_type
        return chunk
