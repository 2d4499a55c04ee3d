"""Per-user and per-IP token buckets, held in memory (a restart forgives everyone)."""
from __future__ import annotations

import time

from ..protocol.errors import LimitExceeded


class RateLimiter:
    MAX_KEYS = 10_000

    def __init__(self, per_second: float, burst: int):
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)

    def check(self, key: str, *, admin: bool = False, cost: float = 1.0) -> None:
        if admin or self.per_second <= 0:
            return
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        if tokens < cost:
            retry_ms = int((cost - tokens) / self.per_second * 1000) + 1
            self._buckets[key] = (tokens, now)
            raise LimitExceeded(retry_ms)
        self._buckets[key] = (tokens - cost, now)
        if len(self._buckets) > self.MAX_KEYS:
            self._evict(now)

    def _evict(self, now: float) -> None:
        full_after = self.burst / self.per_second
        for key in [k for k, (_, t) in self._buckets.items() if now - t > full_after]:
            del self._buckets[key]
