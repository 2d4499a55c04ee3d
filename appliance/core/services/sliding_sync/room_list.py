"""A person's rooms as sliding-sync lists see them: one entry per room, sorted by `bump_stamp`.

`RoomEntry` is what the list filters and the sort need to know of a room. `ListView` keeps the
entries that pass one list's filters in sort order, updated room by room as rooms change
(`bisect`), so that a request after a change costs what changed, not the number of rooms.

Which rooms are in the lists at all (MSC4186 and Synapse agree): joined, invited, knocked,
banned and kicked rooms; a room the person left themselves only while the connection has not
yet told them about the leave (it goes after that response, see `RoomIndex` in service.py).

Pure: no I/O.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

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
