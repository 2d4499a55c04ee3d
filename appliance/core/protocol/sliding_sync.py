"""Simplified sliding sync (MSC4186), the pure parts: which state a room carries
(`required_state`), and a person's rooms as the lists see them (filters, bump-stamp order, a
list's window).

`required_state` names `[event_type, state_key]` pairs. `"*"` is a wildcard in either place
(`["*", "*"]` is all state), `$ME` stands for the requesting user's ID, and
`["m.room.member", "$LAZY"]` asks for the member events of the timeline's senders only. The
lists and the room subscription a room appears in are merged: a room carries the union.

Which rooms are in the lists at all (MSC4186 and Synapse agree): joined, invited, knocked,
banned and kicked rooms; a room the person left themselves only until a response has carried
the leave. `ListView` keeps the rooms that pass one list's filters in order, updated room by
room (`bisect`), so a request after a change costs what changed, not the number of rooms.

No I/O: the sliding-sync service (services/sliding_sync.py) hands in state maps and entries.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .events import StateKey

WILDCARD = "*"
ME = "$ME"
LAZY = "$LAZY"
MEMBER = "m.room.member"


@dataclass(frozen=True, slots=True)
class RequiredState:
    everything: bool = False                                # ["*", "*"]
    all_keys_of: frozenset[str] = frozenset()               # [type, "*"]
    key_of_any_type: frozenset[str] = frozenset()           # ["*", state_key]
    pairs: frozenset[tuple[str, str]] = frozenset()         # [type, state_key]
    lazy_members: bool = False                              # ["m.room.member", "$LAZY"]

    @classmethod
    def parse(cls, entries: Iterable[tuple[str, str]], user_id: str) -> RequiredState:
        everything = lazy = False
        types: set[str] = set()
        keys: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        for event_type, state_key in entries:
            if state_key == ME:
                state_key = user_id
            if event_type == WILDCARD and state_key == WILDCARD:
                everything = True
            elif event_type == MEMBER and state_key == LAZY:
                lazy = True
            elif state_key == WILDCARD:
                types.add(event_type)
            elif event_type == WILDCARD:
                keys.add(state_key)
            else:
                pairs.add((event_type, state_key))
        return cls(everything, frozenset(types), frozenset(keys), frozenset(pairs), lazy)

    def union(self, other: RequiredState) -> RequiredState:
        return RequiredState(self.everything or other.everything, self.all_keys_of | other.all_keys_of,
                             self.key_of_any_type | other.key_of_any_type, self.pairs | other.pairs,
                             self.lazy_members or other.lazy_members)

    def covers(self, other: RequiredState) -> bool:
        """Whether everything `other` asks for is asked for here too (then nothing new need be
        sent when a room's config changes from this to `other`)."""
        if self.everything:
            return True
        return (not other.everything and other.all_keys_of <= self.all_keys_of
                and other.key_of_any_type <= self.key_of_any_type
                and all(self.wants(k) for k in other.pairs)
                and (not other.lazy_members or self.lazy_members or MEMBER in self.all_keys_of))

    @property
    def is_empty(self) -> bool:
        return not (self.everything or self.all_keys_of or self.key_of_any_type or self.pairs or self.lazy_members)

    def wants(self, key: StateKey) -> bool:
        """Whether a state key is asked for outright ($LAZY members are decided by `select`)."""
        return (self.everything or key[0] in self.all_keys_of or key[1] in self.key_of_any_type
                or key in self.pairs)

    def select(self, state: Mapping[StateKey, str], lazy_users: Iterable[str] = ()) -> dict[StateKey, str]:
        """The entries of `state` to send: those asked for, and the members in `lazy_users` when
        $LAZY is asked for. Exact pairs are looked up; wildcards walk the state map."""
        if self.everything:
            return dict(state)
        out: dict[StateKey, str] = {}
        if self.all_keys_of or self.key_of_any_type:
            out = {k: v for k, v in state.items() if k[0] in self.all_keys_of or k[1] in self.key_of_any_type}
        for key in self.pairs:
            eid = state.get(key)
            if eid is not None:
                out[key] = eid
        if self.lazy_members:
            for user in lazy_users:
                eid = state.get((MEMBER, user))
                if eid is not None:
                    out[(MEMBER, user)] = eid
        return out


# Events that move a room up the list (what Synapse and the SDK's room list count as activity).
BUMP_TYPES = ("m.room.create", "m.room.message", "m.room.encrypted", "m.sticker", "m.call.invite",
              "m.poll.start", "m.beacon_info", "org.matrix.msc3381.poll.start", "org.matrix.msc3672.beacon_info")


@dataclass(slots=True)
class RoomEntry:
    room_id: str
    membership: str          # join, invite, knock, leave, ban
    membership_pos: int      # stream position of the person's membership event
    member_event_id: str
    bump_stamp: int          # position of the newest bump event the person may see
    room_type: str | None    # m.room.create content.type
    encrypted: bool
    is_dm: bool
    left_self: bool = False  # a leave the person sent themselves
    sender: str = ""         # who sent the membership event (the inviter of an invite)
    hidden: bool = False     # an invite the person does not see: invites blocked, or an ignored inviter

    @property
    def sort_key(self) -> tuple[int, str]:
        return (-self.bump_stamp, self.room_id)


@dataclass(frozen=True, slots=True)
class ListFilters:
    """MSC4186 list filters; None means "either". `room_types` and `not_room_types` hold None for
    rooms without a type. `spaces`: only children of these spaces (the service passes the set)."""

    is_dm: bool | None = None
    is_encrypted: bool | None = None
    is_invite: bool | None = None
    room_types: tuple[str | None, ...] | None = None
    not_room_types: tuple[str | None, ...] = ()
    spaces: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    not_tags: tuple[str, ...] = ()

    def allows(self, e: RoomEntry, space_children: frozenset[str] | None = None,
               room_tags: frozenset[str] = frozenset()) -> bool:
        if e.hidden:
            return False
        if self.is_dm is not None and e.is_dm != self.is_dm:
            return False
        if self.is_encrypted is not None and e.encrypted != self.is_encrypted:
            return False
        if self.is_invite is not None and (e.membership == "invite") != self.is_invite:
            return False
        if self.room_types is not None and e.room_type not in self.room_types:
            return False
        if e.room_type in self.not_room_types:
            return False
        if self.spaces is not None and (space_children is None or e.room_id not in space_children):
            return False
        if self.tags is not None and not room_tags & set(self.tags):
            return False
        if self.not_tags and room_tags & set(self.not_tags):
            return False
        return True

    @property
    def needs_tags(self) -> bool:
        return self.tags is not None or bool(self.not_tags)


class ListView:
    """The sort keys of the entries that pass one list's filters, in order."""

    def __init__(self, filters: ListFilters):
        self.filters = filters
        self._keys: list[tuple[int, str]] = []
        self._key_of: dict[str, tuple[int, str]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def rebuild(self, entries: Iterable[RoomEntry], space_children: frozenset[str] | None,
                tags: dict[str, frozenset[str]]) -> None:
        self._key_of = {e.room_id: e.sort_key for e in entries
                        if self.filters.allows(e, space_children, tags.get(e.room_id, frozenset()))}
        self._keys = sorted(self._key_of.values())

    def update(self, room_id: str, entry: RoomEntry | None, space_children: frozenset[str] | None,
               room_tags: frozenset[str]) -> None:
        """Put one room where it now belongs (or take it out: `entry` None or filtered out)."""
        old = self._key_of.pop(room_id, None)
        if old is not None:
            i = bisect.bisect_left(self._keys, old)
            if i < len(self._keys) and self._keys[i] == old:
                del self._keys[i]
        if entry is not None and self.filters.allows(entry, space_children, room_tags):
            key = entry.sort_key
            self._key_of[room_id] = key
            bisect.insort(self._keys, key)

    def window(self, ranges: Iterable[tuple[int, int]]) -> list[str]:
        """Room IDs in the ranges (inclusive at both ends, as the MSC says), in list order."""
        out: list[str] = []
        seen: set[int] = set()
        for lo, hi in ranges:
            for i in range(max(lo, 0), min(hi, len(self._keys) - 1) + 1):
                if i not in seen:
                    seen.add(i)
                    out.append(self._keys[i][1])
        return out
