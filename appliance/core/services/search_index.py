"""Feeds the full-text index (`event_search`) in batches, behind the events: the stream consumer
"search" (core/stream_consumer.py).

Indexing each message in its own transaction made FTS5 write a new segment and its structure
record every time (about 40 % of the pages a message wrote). The indexer instead indexes every
event above its saved position in one write job: shortly after events arrive (a batch per
`delay`), and always before a search runs, so a search sees every event that was acknowledged
before it. The index rows and the position commit together, so nothing is skipped or indexed
twice after a crash: the next batch starts where the last committed one ended. Which events and
fields are indexed is the store's (stores/search.py).
"""
from __future__ import annotations

import sqlite3
from functools import partial

from ..storage.database import Database
from ..storage.stores.search import SearchStore
from ..storage.stores.stream_consumers import StreamConsumerStore
from ..stream import Stream
from ..stream_consumer import Batch, StreamConsumer, apply_job

CONSUMER = "search"
BATCH_EVENTS = 5000  # stream positions per write job, so one job never holds the writer long


def index_pending_job(conn: sqlite3.Connection) -> int:
    """The indexer's next batch as a bare writer job, without the service (a maintenance step, a
    test playing a restart): from the saved position up to the newest event, at most
    BATCH_EVENTS positions. Returns how many positions are still pending after it."""
    done = StreamConsumerStore.position_job(conn, CONSUMER)
    top = SearchStore.newest_event_job(conn)
    if top <= done:
        return 0
    hi = min(top, done + BATCH_EVENTS)
    apply_job(conn, CONSUMER, done, Batch(hi, partial(SearchStore.index_job, lo=done, hi=hi)))
    return top - hi


class SearchIndexer:
    def __init__(self, db: Database, stream: Stream, consumers: StreamConsumerStore, store: SearchStore,
                 delay: float = 0.5):
        self.store = store
        self.consumer = StreamConsumer(CONSUMER, db, stream, consumers, self._batch, delay=delay)

    @property
    def delay(self) -> float:
        """Seconds the background task lets events gather before it indexes them."""
        return self.consumer.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self.consumer.delay = seconds

    async def catch_up(self) -> None:
        """Index everything persisted so far (before a search runs)."""
        await self.consumer.catch_up()

    async def run(self) -> None:
        """Background task (Hearth.background): a batch at start, then one per `delay` while
        events keep arriving."""
        await self.consumer.run()

    async def _batch(self, after: int, upto: int) -> Batch[None]:
        hi = min(upto, after + BATCH_EVENTS)
        if not await self.store.any_event_between(after, hi):  # receipts, account data…: nothing to index
            return Batch(hi)
        return Batch(hi, partial(SearchStore.index_job, lo=after, hi=hi), long=True)  # up to BATCH_EVENTS
