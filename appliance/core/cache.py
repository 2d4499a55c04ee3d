"""A least-recently-used map bounded by the total weight of what it holds.

Hearth's in-memory caches (parsed events, state maps) use it so that what they hold is
bounded in bytes, not in entries: a count alone lets a few hundred 64 KiB events, or the
state of a room with thousands of members, take far more memory than a Raspberry Pi has to
spare. Each entry has a weight (an estimate of the bytes it keeps alive, or any unit the
owner chooses); inserting past `max_weight` drops the least recently used entries until the
total fits again. One entry heavier than the whole budget is not kept at all.

Event-loop only (no locking): the stores that own these caches read and fill them there.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    __slots__ = ("_data", "max_weight", "weight", "hits", "misses")

    def __init__(self, max_weight: int):
        if max_weight < 0:
            raise ValueError("max_weight must not be negative")
        self._data: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self.max_weight = max_weight
        self.weight = 0  # the sum of the weights of the entries held
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        """The value for key (now the most recently used), or None."""
        entry = self._data.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._data.move_to_end(key)
        return entry[0]

    def peek(self, key: K) -> V | None:
        """The value for key without touching its recency or the counters."""
        entry = self._data.get(key)
        return None if entry is None else entry[0]

    def put(self, key: K, value: V, weight: int = 1) -> None:
        """Hold value under key (replacing what was there), then drop the least recently used
        entries until the total weight fits the budget."""
        if weight < 0:
            raise ValueError("weight must not be negative")
        old = self._data.pop(key, None)
        if old is not None:
            self.weight -= old[1]
        if weight > self.max_weight:
            return  # would evict everything else and still not fit
        self._data[key] = (value, weight)
        self.weight += weight
        data = self._data
        while self.weight > self.max_weight:
            _, (_, w) = data.popitem(last=False)
            self.weight -= w

    def pop(self, key: K) -> V | None:
        entry = self._data.pop(key, None)
        if entry is None:
            return None
        self.weight -= entry[1]
        return entry[0]

    def clear(self) -> None:
        self._data.clear()
        self.weight = 0

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        """Keys from the least to the most recently used."""
        return iter(self._data)
