"""Stream consumers: whatever follows the stream from a saved position, neither repeating nor
missing anything (DESIGN decision 6) — push evaluation, the search indexer, and later bridges,
appservices and the federation sender.

A consumer has a name and a saved position (`stream_consumers`): everything at or below it has
been handled. It works in batches. For the next range (position, upto], `upto` never beyond the
stream's committed position, the consumer's `prepare(after, upto)` reads what it needs (async,
on the reader connection) and returns a `Batch`: how far the batch reaches and the writes it
makes. Those writes and the move of the saved position are one job through the database writer,
so they commit together or not at all: a job that raises leaves both as they were, and a crash
between batches repeats none and skips none. A batch with nothing to write moves the position in
memory only; the next batch that writes saves it (after a restart such a range is prepared
again, and again has nothing to write).

The saved position moves only from where this consumer last left it
(`StreamConsumerStore.move_job`): if anything else has moved it, the batch is refused, the
consumer reads its position again and carries on from there, so no batch is applied twice.

`run()` is the background task: catch up, sleep in `Stream.wait_past` until a later position
commits (nothing polls), wait `delay` seconds to let a batch gather if asked to, again. A
failing batch is retried after a backoff that doubles up to `max_backoff`; each consumer has its
own task, so one that fails holds up no other. `catch_up(upto)` is for readers that must be
exact (/sync's push counts, /search): it returns once everything up to `upto` (and whatever
else had committed by then) is handled, doing the batches itself when the task has not yet.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from .storage.database import Database
from .storage.stores.stream_consumers import StreamConsumerStore
from .stream import Stream

log = logging.getLogger(__name__)
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Batch(Generic[R]):
    """What a consumer does for the range (after, upto]."""

    upto: int
    # The consumer's own writes, run in the writer job that saves `upto`; None: nothing to write.
    write: Callable[[sqlite3.Connection], R] | None = None
    long: bool = False  # the write may take long (Database.submit): off the event loop


Prepare = Callable[[int, int], Awaitable[Batch[Any]]]


class StalePosition(Exception):
    """The saved position is no longer where this consumer left it; the batch was not applied."""


def apply_job(conn: sqlite3.Connection, name: str, after: int, batch: Batch[R]) -> R | None:
    """A batch as a writer job: move consumer `name` from `after` to `batch.upto` and make the
    batch's writes, in the caller's transaction. Raises StalePosition (nothing written) if the
    consumer's saved position is not `after`."""
    if not StreamConsumerStore.move_job(conn, name, after, batch.upto):
        raise StalePosition(name)
    return batch.write(conn) if batch.write is not None else None


class StreamConsumer:
    def __init__(self, name: str, db: Database, stream: Stream, store: StreamConsumerStore, prepare: Prepare,
                 applied: Callable[[Any], None] | None = None, *, start_at_current: bool = False,
                 delay: float = 0.0, min_backoff: float = 0.5, max_backoff: float = 60.0):
        """`prepare(after, upto)` makes the next batch; `applied(result)` is called with what the
        batch's write returned once it has committed. A consumer seen for the first time starts
        at the beginning of the stream, or at its current position if `start_at_current`."""
        self.name = name
        self.db = db
        self.stream = stream
        self.store = store
        self.prepare = prepare
        self.applied = applied
        self.start_at_current = start_at_current
        self.delay = delay
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.lock = asyncio.Lock()  # one batch at a time
        self._pos: int | None = None    # handled up to here (saved, or nothing to write since)
        self._saved: int | None = None  # the saved position, as this consumer left it
        self.failures = 0  # batches of run() that failed in a row
        stream.consumers[name] = self

    @property
    def handled(self) -> int | None:
        """How far the stream is handled, as far as this process knows (None before first use)."""
        return self._pos

    async def position(self) -> int:
        """How far the consumer has handled the stream (read from the database on first use)."""
        if self._pos is None:
            saved = await self.store.position(self.name)
            if saved is None:
                start = self.stream.current if self.start_at_current else 0
                saved = await self.db.write(partial(StreamConsumerStore.register_job, name=self.name, start=start))
            if self._pos is None:
                self._pos = self._saved = saved
        return self._pos

    async def catch_up(self, upto: int | None = None) -> int:
        """Handle everything up to `upto` (default: the stream's committed position), and what
        else has committed by then; returns the position reached. Never beyond what has
        committed: a position not committed yet (a client's made-up token) is not waited for."""
        if upto is not None and self._pos is not None and self._pos >= upto:
            return self._pos
        async with self.lock:
            pos = await self.position()
            target = self.stream.current
            while pos < target:
                pos = await self._apply_next(pos, target)
            return pos

    async def run(self) -> None:
        """Background task: follow the stream until cancelled."""
        backoff = self.min_backoff
        while True:
            try:
                pos = await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                log.exception("stream consumer %s: a batch failed; trying again in %.1f s", self.name, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            self.failures = 0
            backoff = self.min_backoff
            await self.stream.wait_past(pos)
            if self.delay > 0:
                await asyncio.sleep(self.delay)

    async def _apply_next(self, after: int, target: int) -> int:
        batch = await self.prepare(after, target)
        if not after < batch.upto <= target:
            raise ValueError(f"stream consumer {self.name}: a batch to {batch.upto} is outside ({after}, {target}]")
        if batch.write is None:
            self._pos = batch.upto
            return batch.upto
        assert self._saved is not None
        fut = self.db.submit(partial(apply_job, name=self.name, after=self._saved, batch=batch), long=batch.long)
        # The bookkeeping rides on the job's outcome, not on this task: a caller cancelled while
        # the job is queued (it runs anyway) still leaves the consumer knowing where it stands.
        fut.add_done_callback(partial(self._committed, batch.upto))
        try:
            await asyncio.shield(fut)
        except StalePosition:
            saved = await self.store.position(self.name)
            log.warning("stream consumer %s: saved position moved to %s elsewhere; continuing from there",
                        self.name, saved)
            assert saved is not None
            self._pos = self._saved = saved
            return saved
        return batch.upto

    def _committed(self, upto: int, fut: asyncio.Future) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        self._saved = upto
        self._pos = max(self._pos or 0, upto)
        if self.applied is not None:
            try:
                self.applied(fut.result())
            except Exception:  # what follows a committed batch never undoes it
                log.exception("stream consumer %s: after-commit hook failed", self.name)
