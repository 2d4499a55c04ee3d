"""The server's figures, gathered when asked: for `/_hearth/metrics` and for the dashboard.

One place reads them, so the Prometheus scrape and the admin dashboard never disagree: the HTTP
answers and their times (recorded per request, core/metrics.py), event persist and database
commit times, the stream's position and how far each stream consumer (push, search, each
appservice, each bridge, the federation sender) is behind it, the caches' sizes and hit counts,
memory and CPU, the database and its WAL, the disk and the forecast of when it fills.

`families()` is the scrape; `summary()` is the little the dashboard shows in plain words.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import LruCache
from ..metrics import Family, Histogram, RequestMetrics, gauge
from ..storage.database import Database
from ..stream import Stream
from .pipeline import EventPipeline
from .server_status import ServerStatusService, forecast

# A consumer this far behind the stream, or failing, is worth a line on the dashboard.
BEHIND_POSITIONS = 1000

_CONSUMER_NAMES = {"push": "Notifications", "search": "Search index", "federation": "Other servers"}


def consumer_label(name: str) -> str:
    """A stream consumer's name in the dashboard's words."""
    if name in _CONSUMER_NAMES:
        return _CONSUMER_NAMES[name]
    kind, _, rest = name.partition(":")
    if kind == "appservice":
        return f"External bridge {rest}"
    if kind == "bridge":
        return f"Bridge {rest}"
    return name


@dataclass(frozen=True, slots=True)
class ConsumerLag:
    name: str
    label: str
    handled: int | None   # None: not started yet in this process
    behind: int | None
    failures: int


@dataclass
class MetricsReport:
    db: Database
    stream: Stream
    pipeline: EventPipeline
    status: ServerStatusService
    requests: RequestMetrics
    caches: Mapping[str, LruCache]
    version: str
    started_at: float

    def consumers(self) -> list[ConsumerLag]:
        current = self.stream.current
        out = []
        for name, consumer in sorted(self.stream.consumers.items()):
            handled = consumer.handled
            out.append(ConsumerLag(name, consumer_label(name), handled,
                                   None if handled is None else max(0, current - handled), consumer.failures))
        return out

    async def families(self) -> list[Family]:
        storage = await self.status.storage()
        fc = forecast(await self.status.samples(), storage["disk_free"])
        out = [gauge("hearth_build_info", "Hearth's version (the value is always 1).", 1, version=self.version),
               gauge("hearth_uptime_seconds", "Seconds since the server started.", time.time() - self.started_at),
               *self.requests.families()]
        out += self._stream_families()
        out += self._storage_families(storage, fc)
        out += self._cache_families()
        out += _process_families()
        return out

    def _stream_families(self) -> list[Family]:
        position = gauge("hearth_stream_position", "The stream's committed position (every persisted change).",
                         self.stream.current)
        waiters = gauge("hearth_stream_waiters", "Requests waiting for news (long-polling /sync and others).",
                        self.stream.waiter_count())
        handled = Family("hearth_stream_consumer_position", "gauge", "How far each stream consumer has handled the stream.")
        lag = Family("hearth_stream_consumer_lag", "gauge", "Stream positions each consumer is behind the stream.")
        failures = Family("hearth_stream_consumer_failures", "gauge", "Batches of each consumer that failed in a row.")
        for c in self.consumers():
            if c.handled is not None:
                handled.add(c.handled, consumer=c.name)
                lag.add(c.behind or 0, consumer=c.name)
            failures.add(c.failures, consumer=c.name)
        persist = Family("hearth_event_persist_seconds", "histogram",
                         "From an authorised event's persist to its commit and the stream's advance.")
        persist.add_histogram(self.pipeline.persist_seconds)
        return [position, waiters, handled, lag, failures, persist]

    def _storage_families(self, storage: dict[str, Any], fc: Any) -> list[Family]:
        db_path = Path(self.db.path)
        wal = Path(f"{db_path}-wal")
        batches = Family("hearth_db_batch_seconds", "histogram", "Running one write batch's jobs (before COMMIT).")
        batches.add_histogram(self.db.batch_seconds)
        commits = Family("hearth_db_commit_seconds", "histogram", "One write batch's COMMIT (the fsync).")
        commits.add_histogram(self.db.commit_seconds)
        return [
            Family("hearth_db_commits_total", "counter", "Write transactions committed.").add(self.db.commits),
            Family("hearth_db_jobs_total", "counter", "Write jobs run (several per transaction).").add(self.db.jobs),
            Family("hearth_db_checkpoints_total", "counter",
                   "Write-ahead log checkpoints run by the checkpoint thread.").add(self.db.checkpoints),
            batches, commits,
            gauge("hearth_db_file_bytes", "Size of the database file.", _size(db_path)),
            gauge("hearth_db_wal_bytes", "Size of the database's write-ahead log.", _size(wal)),
            gauge("hearth_media_bytes", "Bytes of stored media.", storage["media_bytes"]),
            gauge("hearth_disk_free_bytes", "Free space where the data lives.", storage["disk_free"]),
            gauge("hearth_disk_total_bytes", "Size of the file system where the data lives.", storage["disk_total"]),
            gauge("hearth_disk_full", "1 while writes are refused because the disk is full.",
                  int(self.db.health.disk_full)),
            gauge("hearth_disk_full_forecast_seconds", "Seconds until the disk is full at the recent rate "
                  "(absent when it is not filling up or there is not enough data).",
                  fc.seconds_until_full if fc.state == "growing" else None),
        ]

    def _cache_families(self) -> list[Family]:
        weight = Family("hearth_cache_weight", "gauge", "What each cache holds (bytes or entries, see max).")
        limit = Family("hearth_cache_max_weight", "gauge", "Each cache's budget, in its own unit.")
        hits = Family("hearth_cache_hits_total", "counter", "Lookups found in each cache.")
        misses = Family("hearth_cache_misses_total", "counter", "Lookups not found in each cache.")
        for name, cache in sorted(self.caches.items()):
            weight.add(cache.weight, cache=name)
            limit.add(cache.max_weight, cache=name)
            hits.add(cache.hits, cache=name)
            misses.add(cache.misses, cache=name)
        return [weight, limit, hits, misses]

    def summary(self) -> dict[str, Any]:
        """For the dashboard: answers and errors since the start, the bound under which 99% of
        them were answered (a bucket bound, core/metrics.py), and work that is behind."""
        merged = Histogram()
        for _labels, h in self.requests.durations.samples():
            merged.counts = [a + b for a, b in zip(merged.counts, h.counts)]
            merged.count += h.count
            merged.sum += h.sum
        behind = [c for c in self.consumers() if c.failures or (c.behind or 0) >= BEHIND_POSITIONS]
        return {"requests": self.requests.total(), "errors": self.requests.errors(),
                "p99_ms": _ms(merged.quantile(0.99)), "persist_p99_ms": _ms(self.pipeline.persist_seconds.quantile(0.99)),
                "behind": behind}


def _ms(seconds: float | None) -> float | None:
    """A bucket bound in milliseconds; None when unknown or beyond the last bound."""
    return None if seconds is None or math.isinf(seconds) else seconds * 1000


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _process_families() -> list[Family]:
    """Resident memory and CPU seconds of this process, from /proc (absent elsewhere)."""
    rss = cpu = None
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        cpu = (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    cpu_seconds = Family("hearth_process_cpu_seconds_total", "counter", "CPU time used by the Hearth process.")
    if cpu is not None:
        cpu_seconds.add(cpu)
    return [gauge("hearth_process_resident_memory_bytes", "Resident memory of the Hearth process.", rss), cpu_seconds]
