"""Rooms, the writing side: creating, joining and leaving them, sending, upgrading, aliases and the
room directory; and what is read of their structure (the space hierarchy, room summaries)."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.room_summary import RoomSummaryService
from ..core.services.rooms.aliases import RoomAliases
from ..core.services.rooms.create import RoomCreation
from ..core.services.rooms.invite_permission import InvitePermission
from ..core.services.rooms.lookup import RoomLookup
from ..core.services.rooms.membership import Membership, MembershipCheck
from ..core.services.rooms.messages import RoomMessages
from ..core.services.rooms.upgrade import RoomUpgrades
from ..core.services.spaces import SpaceHierarchyService
from ..core.storage.stores.account_data import AccountDataStore
from ..core.storage.stores.rooms import RoomStore
from ..core.services.appservices.queries import AppServiceQueries
from .core import Core


@dataclass(frozen=True, slots=True, eq=False)
class Rooms:
    creation: RoomCreation
    membership: Membership  # the one builder of m.room.member events
    messages: RoomMessages  # send, state, redact
    upgrades: RoomUpgrades
    aliases: RoomAliases  # aliases, the room directory, public rooms
    spaces: SpaceHierarchyService
    summary: RoomSummaryService


def build_rooms(core: Core, appservice_queries: AppServiceQueries, membership_check: MembershipCheck) -> Rooms:
    """`membership_check(room_id, user_id, membership)` refuses a join, invite or knock by raising."""
    name, events, pipeline = core.server_name, core.event_store, core.pipeline
    store = RoomStore(core.db)
    lookup = RoomLookup(events)
    aliases = RoomAliases(name, events, pipeline, store, lookup, core.appservice_registry, appservice_queries)
    invite_permission = InvitePermission(name, AccountDataStore(core.db))
    membership = Membership(name, events, pipeline, core.account_store, store, aliases, lookup, membership_check,
                            invite_permission)
    spaces = SpaceHierarchyService(events, aliases)
    return Rooms(
        creation=RoomCreation(core.settings, pipeline, store, membership),
        membership=membership,
        messages=RoomMessages(events, pipeline, store, lookup, invite_permission),
        upgrades=RoomUpgrades(name, events, pipeline, store, membership, lookup),
        aliases=aliases,
        spaces=spaces,
        summary=RoomSummaryService(aliases, spaces, events),
    )
