"""Password guesses counted per account (or per secret, like the setup code), from any address.

The per-address limiter (ratelimit.py) does not stop a guesser with many addresses (a botnet,
or one host on a LAN with IPv6 privacy addresses). Here each failed try for one key takes a
token from a small bucket that refills slowly, as Synapse's `rc_login.failed_attempts` (0.17/s,
burst 3) does: a few quick failures, then one try every few seconds. A success forgets the
account's failures. `lock_after` failures without a success within `lock_seconds` lock the key
for `lock_seconds`: then even the right password is refused until it ends.

A try is let through while a token is left; its failure takes the token. Tries that arrive
together (a phone, a tablet and a laptop signing in after an outage) all pass and, when right,
cost nothing; guesses sent in parallel to slip past the bucket all fail, each taking a token
(the bucket goes below zero: the wait grows with them) and counting towards the lock. Unknown
accounts are throttled exactly like known ones (nothing to tell them apart by). Held in memory:
a restart forgives everyone.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..protocol.errors import LimitExceeded


@dataclass(slots=True)
class _Entry:
    tokens: float
    last: float                 # when tokens were last brought up to date
    failures: int = 0           # in a row, without a success
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    MAX_KEYS = 10_000

    def __init__(self, per_second: float, burst: int, lock_after: int, lock_seconds: float,
                 clock: Callable[[], float] = time.monotonic):
        self.per_second = per_second
        self.burst = burst
        self.lock_after = lock_after
        self.lock_seconds = lock_seconds
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def attempt(self, key: str) -> None:
        """Before checking a password for `key`: raises LimitExceeded while it is slowed or locked."""
        now = self.clock()
        entry = self._entry(key, now)
        if entry.locked_until > now:
            raise LimitExceeded(_ms(entry.locked_until - now), "Too many failed attempts; locked for a while")
        if self.per_second <= 0:
            return
        if entry.tokens < 1:
            raise LimitExceeded(_ms((1 - entry.tokens) / self.per_second), "Too many failed attempts")

    def failed(self, key: str) -> None:
        now = self.clock()
        entry = self._entry(key, now)
        if now - entry.last_failure > self.lock_seconds:
            entry.failures = 0  # the last failure was long ago: start counting again
        entry.tokens = max(entry.tokens - 1, -float(self.lock_after or self.burst))
        entry.failures += 1
        entry.last_failure = now
        if self.lock_after > 0 and entry.failures >= self.lock_after:
            entry.locked_until = now + self.lock_seconds
            entry.failures = 0
            entry.tokens = float(self.burst)  # after the lock: a few tries again, then slow

    def succeeded(self, key: str) -> None:
        self._entries.pop(key, None)

    def _entry(self, key: str, now: float) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self.MAX_KEYS:
                self._evict(now)
            entry = self._entries[key] = _Entry(float(self.burst), now)
        else:
            self._entries.move_to_end(key)
            if self.per_second > 0:
                entry.tokens = min(float(self.burst), entry.tokens + (now - entry.last) * self.per_second)
            entry.last = now
        return entry

    def _evict(self, now: float) -> None:
        """Forget keys at rest (bucket full, no lock, failures forgotten), oldest first; never a
        locked key, so that spraying names cannot lift a lock."""
        for key in list(self._entries):
            if len(self._entries) <= self.MAX_KEYS // 2:
                return
            e = self._entries[key]
            refilled = self.per_second <= 0 or e.tokens + (now - e.last) * self.per_second >= self.burst
            if e.locked_until <= now and refilled and now - e.last_failure > self.lock_seconds:
                del self._entries[key]
        while len(self._entries) >= self.MAX_KEYS:  # all busy: drop the oldest unlocked ones
            key = next((k for k, e in self._entries.items() if e.locked_until <= now), None)
            if key is None:
                return
            del self._entries[key]


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def wait_in_words(retry_after_ms: int) -> str:
    """How long to wait, for a person: "10 seconds", "1 minute", "15 minutes"."""
    seconds = max(1, -(-retry_after_ms // 1000))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
