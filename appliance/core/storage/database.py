"""The SQLite database: one writer with group commit, readers in parallel.

Writes are plain synchronous functions `job(conn) -> result` queued to a single writer.
Everything waiting is one batch: one transaction (each job in its own SAVEPOINT, so one failing
job does not undo the others), committed once with `synchronous=FULL`; only then are the
callers' futures resolved: a caller that got a result knows its data is on disk. This is what
makes a `200` durable without paying one fsync per request. Jobs queued meanwhile wait for the
next batch, which starts as soon as this one is committed.

A batch's jobs run on the event loop, and only its COMMIT (the fsync, where all the waiting is)
in the writer thread. They ran in that thread at first, but every SQLite statement lets go of
the GIL, and under load the writer then waited up to a switch interval (1 ms) to get it back
from the busy loop, for each of the ~10 statements of a message: a group commit took 3–13 ms
for 0.2 ms of SQLite work per event, and the loop's own reads paid the same toll the other way
(an indexed lookup 30 µs alone, ~240 µs beside a busy writer thread). Now the thread takes the
GIL twice per commit. A job that may take long (`long=True`: thousands of rows) still runs
whole in the writer thread, as does a batch that finds the database locked by another process
(a `hearth` command), so that the loop never waits for a lock.

Checkpoints (copying the write-ahead log back into the database file) run in a thread of their
own, never inside a commit. SQLite's default has the committing connection do it every 1000
pages: one commit in ~50 then took 4–5 ms instead of 0.6 (it writes and fsyncs the database
file too), and that was the 99th percentile of a message's delivery. The checkpointer runs once
the writer has been quiet for CHECKPOINT_QUIET_SECONDS, and at least every CHECKPOINT_BUSY_SECONDS
while writes go on; it is passive (it never waits for a reader or for the writer). The writer
still checkpoints for itself past WAL_SAFETY_PAGES, should the checkpointer fall behind.

Reads (`fetchall`/`fetchone`/`fetchval`) run on a read-only connection in the event loop's
own thread: WAL lets them run beside the writer, and Hearth's queries are indexed lookups
that take microseconds — less than handing them to a thread and back, which is what a pool
of aiosqlite connections cost per query (and the GIL contention of its threads). `reader()`
still hands out an aiosqlite connection, opened on first use, for callers that want one.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..metrics import Histogram
from .disk import StorageHealth, is_disk_full
from .private_files import create_private_file

log = logging.getLogger(__name__)
T = TypeVar("T")

if TYPE_CHECKING:
    import aiosqlite

WriteJob = Callable[[sqlite3.Connection], T]

# Page caches, in KiB (SQLite's negative cache_size). Pages not cached are read back from the
# OS's file cache, which costs microseconds; what the caches hold is the hot part of the
# indexes the writer appends to and the reader looks up. Each cache grows to its size under
# load and is dropped once the database has been idle for IDLE_TRIM_SECONDS after writes.
WRITER_CACHE_KIB = 2048
READER_CACHE_KIB = 2048
BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another process's (never on the event loop)
CHECKPOINT_QUIET_SECONDS = 0.5
CHECKPOINT_BUSY_SECONDS = 2.0
WAL_SAFETY_PAGES = 10_000  # ~40 MB: the writer's own auto-checkpoint, a safety net only

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    f"PRAGMA cache_size=-{WRITER_CACHE_KIB}",
    f"PRAGMA wal_autocheckpoint={WAL_SAFETY_PAGES}",  # checkpoints are the checkpointer's (below)
    # Savepoint journals (every write job runs in one) stay in memory: spilled to a temporary
    # file they were ~60 KB of disk writes per message, as much as the write-ahead log itself.
    "PRAGMA temp_store=MEMORY",
)


def _configure(conn: sqlite3.Connection) -> None:
    for pragma in _PRAGMAS:
        conn.execute(pragma)


@dataclass
class _Queued:
    job: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future
    long: bool = False  # run in the writer thread, off the event loop


@dataclass
class _Commit:
    """For the writer thread: the open transaction of a batch the event loop ran, to commit."""

    batch: list[_Queued]
    outcomes: list[tuple[bool, Any]]


class _Locked(Exception):
    """Another process holds the write lock; the event loop does not wait for it."""


class Database:
    """Owns the write connection (in its own thread) and the reader pool."""

    MAX_BATCH = 256
    # Quiet time after the last write before the page caches are dropped and free memory is
    # handed back to the system (appliance/core/memory.py); None: never.
    IDLE_TRIM_SECONDS: float | None = 2.0

    def __init__(self, path: Path, readers: int = 3):
        self.path = path
        self._reader_count = readers
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._pool_lock = asyncio.Lock()
        self._read_conn: sqlite3.Connection | None = None
        # To the writer thread: a batch to commit, a batch to run whole, or None (stop).
        self._queue: queue.SimpleQueue[_Commit | list[_Queued] | None] = queue.SimpleQueue()
        self._pending: deque[_Queued] = deque()  # queued for the next batch
        self._busy = False  # a batch is running or committing
        self._kicked = False  # _start_batch is scheduled
        self._drained: asyncio.Future | None = None  # close() waits for the last batch
        self._busy_timeout = BUSY_TIMEOUT_MS  # the write connection's, as last set
        self._write_conn: sqlite3.Connection | None = None
        self._writer_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_lock = threading.Lock()
        self._checkpointer: threading.Thread | None = None
        self._committed = threading.Event()  # set by the writer thread after a commit; the checkpointer clears it
        self._last_commit = 0.0  # time.monotonic() of the last commit (writer thread)
        self._stop = threading.Event()  # close(): the checkpointer stops at once
        self.checkpoints = 0
        self.commits = 0
        self.jobs = 0
        self.idle_trims = 0
        # Written by the writer thread only (core/metrics.py): a batch's jobs, and its COMMIT (the fsync).
        self.batch_seconds = Histogram()
        self.commit_seconds = Histogram()
        self.health = StorageHealth()  # disk_full flag for the dashboard (disk.py)

    # -- life cycle -------------------------------------------------------------------------

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        create_private_file(self.path)  # 0600, and SQLite gives its WAL the same mode
        self._write_conn = await asyncio.to_thread(self._open_writer)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA query_only=ON")
        conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
        conn.row_factory = sqlite3.Row
        self._read_conn = conn
        # The writer is a thread of its own (not a task handing each batch to a thread pool):
        # batches go in through a thread-safe queue, outcomes come back with call_soon_threadsafe.
        self._loop = asyncio.get_running_loop()
        self._queue = queue.SimpleQueue()
        self._writer_thread = threading.Thread(target=self._run_writer, name="db-writer", daemon=True)
        self._writer_thread.start()
        self._stop.clear()  # a database closed before may be opened again
        self._committed.clear()
        self._checkpointer = threading.Thread(target=self._run_checkpointer, name="db-checkpoint", daemon=True)
        self._checkpointer.start()

    def _open_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        _configure(conn)
        return conn

    async def close(self) -> None:
        if self._writer_thread is not None:
            while self._pending or self._busy:  # what was queued before close is written
                self._drained = asyncio.get_running_loop().create_future()
                await self._drained
            self._queue.put(None)
            # The thread's last outcomes were scheduled before it ended: they run before this returns.
            await asyncio.to_thread(self._writer_thread.join)
            self._writer_thread = None
        if self._checkpointer is not None:
            self._stop.set()
            self._committed.set()
            await asyncio.to_thread(self._checkpointer.join)
            self._checkpointer = None
        for conn in self._all_readers:
            await conn.close()
        self._all_readers.clear()
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None
        if self._write_conn is not None:
            await asyncio.to_thread(self._write_conn.close)
            self._write_conn = None

    # -- writes -----------------------------------------------------------------------------

    async def write(self, job: WriteJob[T], *, long: bool = False) -> T:
        """Run `job(conn)` in the writer's transaction; returns once it is committed to disk.
        `long`: the job may take long (thousands of rows): it runs in the writer thread."""
        return await self.submit(job, long=long)

    def submit(self, job: WriteJob[T], *, long: bool = False) -> asyncio.Future:
        """Queue `job` now (jobs run in the order they were queued); await the future for its
        result, which is set once the job's transaction is committed to disk."""
        if self._writer_thread is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._pending.append(_Queued(job, fut, long))
        if not self._busy and not self._kicked:
            self._kicked = True
            loop.call_soon(self._start_batch)
        return fut

    def run_unqueued(self, job: WriteJob[T]) -> T:
        """Run a job directly on the write connection (start-up only: migrations, recovery)."""
        assert self._write_conn is not None
        with self._thread_lock:
            return job(self._write_conn)

    def _start_batch(self) -> None:
        """On the event loop, once the previous batch is committed: the next batch is everything
        waiting. Its jobs run here, up to the COMMIT, which the writer thread does (the fsync is
        the only part that waits); a batch with a long job, or one that finds the database
        locked by another process, runs whole in the writer thread."""
        self._kicked = False
        if self._busy or not self._pending:
            return
        pending = self._pending
        batch = [pending.popleft() for _ in range(min(len(pending), self.MAX_BATCH))]
        self._busy = True
        if any(item.long for item in batch):
            self._queue.put(batch)
            return
        try:
            outcomes = self._run_jobs(batch, wait_for_lock=False)
        except _Locked:
            self._queue.put(batch)
            return
        except Exception as exc:  # noqa: BLE001 - the batch failed; its callers learn why
            self._finished(batch, None, exc)
            return
        self._queue.put(_Commit(batch, outcomes))

    def _finished(self, batch: list[_Queued], outcomes: list[tuple[bool, Any]] | None,
                  failure: Exception | None) -> None:
        """On the event loop: a batch is committed (or failed); settle it and start the next."""
        self._busy = False
        self._resolve(batch, outcomes, failure)
        if self._pending:
            self._start_batch()
        elif self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _run_writer(self) -> None:
        """The writer thread: commit the batches the event loop ran, run whole the ones it
        handed over, and hand the outcomes back."""
        q = self._queue
        loop = self._loop
        assert loop is not None
        wrote = False  # since the last idle trim
        while True:
            if wrote and self.IDLE_TRIM_SECONDS is not None:
                try:
                    item = q.get(timeout=self.IDLE_TRIM_SECONDS)
                except queue.Empty:
                    wrote = False
                    self._idle_trim(loop)
                    continue
            else:
                item = q.get()
            if item is None:
                return
            wrote = True
            failure: Exception | None = None
            if isinstance(item, _Commit):
                batch, outcomes = item.batch, item.outcomes
                try:
                    self._commit()
                except Exception as exc:  # the commit failed: nobody's write landed
                    outcomes, failure = None, exc
            else:
                batch = item
                try:
                    outcomes = self._run_jobs(batch, wait_for_lock=True)
                    self._commit()
                except Exception as exc:
                    outcomes, failure = None, exc
            try:
                loop.call_soon_threadsafe(self._finished, batch, outcomes, failure)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return

    def _run_checkpointer(self) -> None:
        """The checkpoint thread: after commits, wait until the writer is quiet (or has been busy
        for CHECKPOINT_BUSY_SECONDS), then copy the write-ahead log into the database file."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA cache_size=-256")  # it copies pages; it caches none worth keeping
            while True:
                self._committed.wait()
                first = time.monotonic()
                while not self._stop.wait(CHECKPOINT_QUIET_SECONDS):
                    now = time.monotonic()
                    if now - self._last_commit >= CHECKPOINT_QUIET_SECONDS or now - first >= CHECKPOINT_BUSY_SECONDS:
                        break
                if self._stop.is_set():
                    return
                self._committed.clear()  # a commit from here on asks for the next checkpoint
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error:  # the disk, say: the next commit asks again
                    log.warning("checkpointing the write-ahead log failed", exc_info=True)
        finally:
            conn.close()

    def _idle_trim(self, loop: asyncio.AbstractEventLoop) -> None:
        """Writer thread, once quiet after writes: drop the writer's page cache, then (on the
        event loop, which owns the read connection) the reader's, and give the freed memory back."""
        try:
            with self._thread_lock:
                if self._write_conn is not None:
                    self._write_conn.execute("PRAGMA shrink_memory")
            loop.call_soon_threadsafe(self._idle_trim_on_loop)
        except (sqlite3.Error, RuntimeError):  # closing, or the loop is closed: nothing to give back
            pass

    def _idle_trim_on_loop(self) -> None:
        from ..memory import release_free_memory

        if self._read_conn is not None:
            self._read_conn.execute("PRAGMA shrink_memory")
        release_free_memory()
        self.idle_trims += 1

    def _resolve(self, batch: list[_Queued], outcomes: list[tuple[bool, Any]] | None,
                 failure: Exception | None) -> None:
        """On the event loop: settle the callers' futures of one committed (or failed) batch."""
        if failure is not None:
            exc: Exception = failure
            if is_disk_full(exc):  # rolled back; the writer keeps going and resumes once space is freed
                log.error("database write refused: the disk is full (%s)", exc)
                self.health.mark_full()
                err = self.health.error()
                err.__cause__ = exc
                exc = err
            else:
                log.error("database commit failed", exc_info=exc)
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        assert outcomes is not None
        self.health.mark_ok()
        for item, (ok, value) in zip(batch, outcomes):
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)

    def _begin(self, conn: sqlite3.Connection, wait_for_lock: bool) -> None:
        """BEGIN IMMEDIATE. On the event loop it must not wait for another process's write
        (a `hearth` command) to end: it raises _Locked instead, and the batch goes to the
        writer thread, which waits up to the busy timeout."""
        timeout = BUSY_TIMEOUT_MS if wait_for_lock else 0
        if self._busy_timeout != timeout:
            conn.execute(f"PRAGMA busy_timeout={timeout}")
            self._busy_timeout = timeout
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not wait_for_lock and exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise _Locked from None
            raise

    def _run_jobs(self, batch: list[_Queued], wait_for_lock: bool) -> list[tuple[bool, Any]]:
        """BEGIN and the batch's jobs, each in its own savepoint; the transaction is left open
        for _commit. On a failure that is not one job's own, everything is rolled back."""
        conn = self._write_conn
        assert conn is not None
        outcomes: list[tuple[bool, Any]] = []
        with self._thread_lock:
            if conn.in_transaction:  # left open by a failed rollback: start clean
                conn.execute("ROLLBACK")
            started = time.perf_counter()
            self._begin(conn, wait_for_lock)
            try:
                for item in batch:
                    conn.execute("SAVEPOINT job")
                    try:
                        value = item.job(conn)
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller
                        if is_disk_full(exc):  # SQLite may have rolled back everything: fail the batch
                            raise
                        conn.execute("ROLLBACK TO job")
                        conn.execute("RELEASE job")
                        outcomes.append((False, exc))
                    else:
                        conn.execute("RELEASE job")
                        outcomes.append((True, value))
            except BaseException:
                self._rollback(conn)
                raise
        self.jobs += len(batch)
        self.batch_seconds.observe(time.perf_counter() - started)
        return outcomes

    def _commit(self) -> None:
        """Writer thread: COMMIT the open transaction (the fsync)."""
        conn = self._write_conn
        assert conn is not None
        with self._thread_lock:
            committing = time.perf_counter()
            try:
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise
            self.commit_seconds.observe(time.perf_counter() - committing)
        self.commits += 1
        self._last_commit = time.monotonic()
        if not self._committed.is_set():
            self._committed.set()

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:  # already rolled back by SQLite (a full disk does that)
                log.warning("rollback after a failed batch failed", exc_info=True)

    # -- reads ------------------------------------------------------------------------------

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        """An aiosqlite connection of the pool (opened on first use), for long reads."""
        import aiosqlite  # only for this rarely used path: not imported at start-up

        async with self._pool_lock:
            if not self._all_readers:
                for _ in range(self._reader_count):
                    conn = await aiosqlite.connect(self.path, isolation_level=None)
                    await conn.execute("PRAGMA busy_timeout=10000")
                    await conn.execute("PRAGMA query_only=ON")
                    conn.row_factory = sqlite3.Row
                    self._all_readers.append(conn)
                    self._readers.put_nowait(conn)
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    def _reading(self) -> sqlite3.Connection:
        if self._read_conn is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._read_conn

    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self._reading().execute(sql, params).fetchall()

    async def fetchone(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        cur = self._reading().execute(sql, params)
        try:
            return cur.fetchone()
        finally:
            cur.close()

    async def fetchval(self, sql: str, params: tuple | dict = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]
