"""Which events a user may see (client-server-api "History visibility", modules/ignore_users).

Each event is judged against the state after it (its state group): the room's
`m.room.history_visibility` and the user's membership there. As in the spec:

- the user's own membership events are always visible;
- `world_readable`: visible to anyone;
- `shared`: visible to current members, and to anyone who joined at any point after the
  event (rule 3: someone who joined, read back and left keeps what they could see; not
  someone peeking or only invited);
- `invited`: visible if the user was invited or joined at the event;
- `joined`: visible only if the user was joined at the event.

Non-state events from users on the viewer's `m.ignored_user_list` are dropped as well.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..storage.stores.events import EventStore, StoredEvent
from ..storage.stores.state import StateStore
from .account_data import AccountDataService

WORLD_READABLE = "world_readable"
SHARED = "shared"
INVITED = "invited"
JOINED = "joined"


class Visibility:
    def __init__(self, events: EventStore, state: StateStore, account_data: AccountDataService):
        self.events = events
        self.state = state
        self.account_data = account_data

    async def _at_group(self, group: int, user_id: str) -> tuple[str, str | None]:
        """(history_visibility, user's membership) in a state group."""
        state = await self.state.get_state(group)
        hv = SHARED
        hv_id = state.get(("m.room.history_visibility", ""))
        member_id = state.get(("m.room.member", user_id))
        loaded = await self.events.get_events([x for x in (hv_id, member_id) if x])
        if hv_id in loaded:
            value = loaded[hv_id].pdu.content.get("history_visibility")
            if value in (WORLD_READABLE, SHARED, INVITED, JOINED):
                hv = value
        membership = loaded[member_id].pdu.membership if member_id in loaded else None
        return hv, membership

    async def history_visibility(self, room_id: str) -> str:
        ev = await self.events.current_state_event(room_id, "m.room.history_visibility", "")
        value = ev.content.get("history_visibility") if ev else None
        return value if value in (WORLD_READABLE, SHARED, INVITED, JOINED) else SHARED

    async def filter_events(self, user_id: str | None, evs: Sequence[StoredEvent], *,
                            ignore: bool = True) -> list[StoredEvent]:
        """The events of `evs` that `user_id` (None: an anonymous peeker) may see, in order."""
        if not evs:
            return []
        ignored = await self.account_data.ignored_users(user_id) if ignore and user_id else frozenset()
        current: dict[str, str | None] = {}
        last_join: dict[str, int | None] = {}  # stream position of the user's latest join
        per_group: dict[int, tuple[str, str | None]] = {}
        out = []
        for ev in evs:
            pdu = ev.pdu
            if ev.rejected:
                continue
            if not pdu.is_state and pdu.sender in ignored:
                continue
            if user_id is not None and pdu.type == "m.room.member" and pdu.state_key == user_id:
                out.append(ev)
                continue
            if ev.state_group is None:
                continue
            if ev.state_group not in per_group:
                per_group[ev.state_group] = await self._at_group(ev.state_group, user_id or "")
            hv, membership = per_group[ev.state_group]
            if hv == WORLD_READABLE or (user_id is not None and membership == "join"):
                out.append(ev)
                continue
            if user_id is None:
                continue
            if hv == INVITED and membership == "invite":
                out.append(ev)
            elif hv == SHARED:
                room = pdu.room_id
                if room not in current:
                    current[room] = await self.events.membership(room, user_id)
                if current[room] == "join":
                    out.append(ev)
                    continue
                if room not in last_join:
                    history = (await self.events.membership_history(user_id, [room])).get(room, [])
                    last_join[room] = max((pos for pos, m in history if m == "join"), default=None)
                joined_after = last_join[room]
                if joined_after is not None and joined_after > ev.stream_pos:
                    out.append(ev)
        return out

    async def can_see_event(self, user_id: str | None, ev: StoredEvent) -> bool:
        return bool(await self.filter_events(user_id, [ev], ignore=False))
