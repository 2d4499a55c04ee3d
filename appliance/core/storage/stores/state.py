"""State groups: snapshots of room state shared between events, stored as delta chains.

A group is either a full snapshot or a delta on a previous group. Reading walks the chain
back to a full snapshot; chains are cut at MAX_CHAIN so that a read touches few rows. Full
states are cached (bounded), since auth checks and /sync read the same few over and over.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from ...cache import LruCache
from ...protocol.events import StateKey
from ..database import Database

StateMap = dict[StateKey, str]

# Full states kept in memory, counted in entries (one per state key, plus one per group): an
# entry costs ~40-50 bytes, as the keys and event IDs are shared with the states they were
# copied from, so this is a few MiB at most.
STATE_CACHE_ENTRIES = 100_000


class StateStore:
    MAX_CHAIN = 32

    def __init__(self, db: Database, cache_entries: int = STATE_CACHE_ENTRIES):
        self.db = db
        self._cache: LruCache[int, StateMap] = LruCache(cache_entries)
        self._next_id: int | None = None

    def load(self, conn: sqlite3.Connection) -> None:
        top = conn.execute("SELECT MAX(id) FROM state_groups").fetchone()[0]
        self._next_id = (top or 0) + 1

    @property
    def cache(self) -> LruCache:
        """The cache, for the metrics (its weight, hits and misses)."""
        return self._cache

    def memory_entries(self) -> int:
        return self._cache.weight

    def _remember(self, group: int, state: StateMap) -> None:
        if group not in self._cache:
            self._cache.put(group, state, len(state) + 1)

    def cached(self, group: int) -> StateMap | None:
        return self._cache.get(group)

    async def get_state(self, group: int) -> StateMap:
        """The full state of a group (do not mutate the returned dict)."""
        state = self.cached(group)
        if state is not None:
            return state
        chain: list[int] = []
        current: int | None = group
        base: StateMap = {}
        while current is not None:
            cached = self.cached(current)
            if cached is not None:
                base = dict(cached)
                break
            chain.append(current)
            current = await self.db.fetchval("SELECT prev_group FROM state_groups WHERE id = ?", (current,))
        for g in reversed(chain):
            rows = await self.db.fetchall(
                "SELECT type, state_key, event_id FROM state_group_entries WHERE state_group = ?", (g,))
            for t, sk, eid in rows:
                if eid is None:
                    base.pop((t, sk), None)
                else:
                    base[(t, sk)] = eid
        self._remember(group, base)
        return base

    def allocate_id(self) -> int:
        assert self._next_id is not None, "StateStore.load() was not called"
        gid = self._next_id
        self._next_id += 1
        return gid

    def chain_length_of(self, group: int, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT chain_length FROM state_groups WHERE id = ?", (group,)).fetchone()
        return row[0] if row else 0

    def store_group_job(self, conn: sqlite3.Connection, room_id: str, state: Mapping[StateKey, str],
                        prev_group: int | None, delta: Mapping[StateKey, str | None] | None) -> int:
        """Write a new group for `state`, as a delta on prev_group when the chain is short enough."""
        gid = self.allocate_id()
        chain = self.chain_length_of(prev_group, conn) + 1 if prev_group is not None and delta is not None else 0
        if chain > self.MAX_CHAIN or prev_group is None or delta is None:
            conn.execute("INSERT INTO state_groups (id, room_id, prev_group, chain_length) VALUES (?, ?, NULL, 0)",
                         (gid, room_id))
            rows = [(gid, t, sk, eid) for (t, sk), eid in state.items()]
        else:
            conn.execute("INSERT INTO state_groups (id, room_id, prev_group, chain_length) VALUES (?, ?, ?, ?)",
                         (gid, room_id, prev_group, chain))
            rows = [(gid, t, sk, eid) for (t, sk), eid in delta.items()]
        conn.executemany(
            "INSERT INTO state_group_entries (state_group, type, state_key, event_id) VALUES (?, ?, ?, ?)", rows)
        return gid

    def remember(self, group: int, state: StateMap) -> None:
        """Cache a group's full state once its transaction has committed (event loop only)."""
        self._remember(group, state)
