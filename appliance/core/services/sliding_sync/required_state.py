"""`required_state` (MSC4186): which of a room's state events a sliding-sync room carries.

A request names `[event_type, state_key]` pairs. `"*"` is a wildcard in either place (`["*",
"*"]` is all state), `$ME` stands for the requesting user's ID, and
`["m.room.member", "$LAZY"]` asks for the member events of the timeline's senders only (the
rest of the members are fetched by the client when it needs them). The lists and the room
subscription a room appears in are merged: a room carries the union of what they ask.

Pure: no I/O. The sliding-sync service hands in the state map and the timeline's senders.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ...protocol.events import StateKey

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
