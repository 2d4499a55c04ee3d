"""The server's log lines go to stderr in batches, not one write per line.

Every request logs one line (DESIGN decision 12). Written and flushed one by one, that was a
system call per request on the event loop: under the send load, ~4% of the loop's time went to
the request log's `write` (py-spy). `hearth run` now buffers lines and writes them out every
FLUSH_INTERVAL_S, and at once for a warning or worse (a failure is on disk before anything
else happens) and at exit. A kill -9 loses at most the last FLUSH_INTERVAL_S of info lines.
"""
from __future__ import annotations

import asyncio
import io
import logging
import os
import sys

FLUSH_INTERVAL_S = 0.2
BUFFER_BYTES = 1 << 16


class BatchedStreamHandler(logging.StreamHandler):
    """A StreamHandler that flushes only for warnings and worse; flush() writes the rest."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def install() -> BatchedStreamHandler | None:
    """Swap the root logger's stderr handler (logging.basicConfig's) for a batched one writing
    to the same file descriptor; returns it (None when there is no such handler)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if type(handler) is logging.StreamHandler and handler.stream is sys.stderr:
            break
    else:
        return None
    stream = io.TextIOWrapper(io.BufferedWriter(io.FileIO(os.dup(sys.stderr.fileno()), "w"), BUFFER_BYTES),
                              encoding=sys.stderr.encoding, errors="backslashreplace", write_through=False)
    batched = BatchedStreamHandler(stream)
    batched.setLevel(handler.level)
    batched.setFormatter(handler.formatter)
    for f in handler.filters:
        batched.addFilter(f)
    root.removeHandler(handler)
    root.addHandler(batched)  # logging.shutdown() (at exit) flushes and closes it
    return batched


def flush_periodically(handler: BatchedStreamHandler, loop: asyncio.AbstractEventLoop) -> None:
    """Flush now and every FLUSH_INTERVAL_S on the loop (a timer, not a task)."""

    def tick() -> None:
        handler.flush()
        loop.call_later(FLUSH_INTERVAL_S, tick)

    loop.call_later(FLUSH_INTERVAL_S, tick)
