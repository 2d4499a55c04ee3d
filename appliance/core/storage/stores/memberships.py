"""The membership index (`room_memberships`, kept by the event pipeline): a user's latest
membership in each room, with the event and stream position that set it. Reads for /sync and
the room read side; `current_state` answers "who is in the room now" (EventStore.members)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..database import Database


@dataclass(frozen=True, slots=True)
class MembershipRow:
    room_id: str
    membership: str
    event_id: str
    stream_pos: int
    forgotten: bool = False


class MembershipStore:
    def __init__(self, db: Database):
        self.db = db

    async def of(self, user_id: str, room_id: str) -> MembershipRow | None:
        row = await self.db.fetchone(
            "SELECT membership, event_id, stream_pos, forgotten FROM room_memberships"
            " WHERE user_id = ? AND room_id = ?", (user_id, room_id))
        return MembershipRow(room_id, row[0], row[1], row[2], bool(row[3])) if row else None

    async def not_forgotten(self, user_id: str) -> list[MembershipRow]:
        """Every room the user has a membership in and has not forgotten (what /sync reports)."""
        rows = await self.db.fetchall(
            "SELECT room_id, membership, event_id, stream_pos FROM room_memberships"
            " WHERE user_id = ? AND forgotten = 0", (user_id,))
        return [MembershipRow(r[0], r[1], r[2], r[3]) for r in rows]

    async def changed_since(self, user_id: str, after: int) -> list[MembershipRow]:
        """The user's memberships set after stream position `after`, forgotten ones included (a
        sliding-sync connection's room index follows these)."""
        rows = await self.db.fetchall(
            "SELECT room_id, membership, event_id, stream_pos, forgotten FROM room_memberships"
            " WHERE user_id = ? AND stream_pos > ?", (user_id, after))
        return [MembershipRow(r[0], "forgotten" if r[4] else r[1], r[2], r[3]) for r in rows]

    async def joined_room_ids(self, user_id: str) -> list[str]:
        """The rooms the user is joined to, in the order they joined."""
        rows = await self.db.fetchall(
            "SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join' ORDER BY stream_pos",
            (user_id,))
        return [r[0] for r in rows]

    async def member_counts(self, room_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """For each room: how many members have each membership, from the current state (500
        rooms per query)."""
        counts: dict[str, dict[str, int]] = {r: {} for r in room_ids}
        for i in range(0, len(room_ids), 500):
            chunk = room_ids[i:i + 500]
            for room_id, membership, n in await self.db.fetchall(
                    "SELECT room_id, membership, COUNT(*) FROM current_state"
                    f" WHERE room_id IN ({','.join('?' * len(chunk))}) AND type = 'm.room.member'"
                    " GROUP BY room_id, membership", tuple(chunk)):
                counts[room_id][membership] = n
        return counts

    async def first_members(self, room_id: str, other_than: str, limit: int, *,
                            joined_or_invited: bool) -> list[str]:
        """The room's first `limit` members (by when their membership was set) other than one
        user: only those joined or invited, or any membership (a room summary's heroes)."""
        active = " AND membership IN ('join', 'invite')" if joined_or_invited else ""
        rows = await self.db.fetchall(
            f"SELECT user_id FROM room_memberships WHERE room_id = ? AND user_id != ?{active}"
            " ORDER BY stream_pos LIMIT ?", (room_id, other_than, limit))
        return [r[0] for r in rows]
