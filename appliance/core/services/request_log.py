"""What the admin pages show of recent traffic: the last requests, and the last errors logged.

`RequestLog` keeps the last N requests (tag, method, path, user, status, size, time) in a
bounded ring, filled by the app's after-request hook beside its one log line per request.
`ErrorLog` is a `logging.Handler` that keeps the last N records at WARNING or above, each with
the tag of the request it happened in, so an error on the dashboard leads to its request.
Both live in memory only: a restart starts them empty, and they never grow.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_REQUESTS = 500  # ~0.25 MiB when full (2000 held ~1 MiB: record, path, tag, user)
DEFAULT_ERRORS = 200


@dataclass(frozen=True, slots=True)
class RequestRecord:
    ts: float            # when it finished (Unix seconds)
    tag: str
    method: str
    path: str
    user_id: str | None
    status: int
    size: int
    elapsed_ms: float


class RequestLog:
    def __init__(self, capacity: int = DEFAULT_REQUESTS):
        self._ring: deque[RequestRecord] = deque(maxlen=capacity)

    def record(self, tag: str, method: str, path: str, user_id: str | None, status: int, size: int,
               elapsed_ms: float) -> None:
        self._ring.append(RequestRecord(time.time(), tag, method, path[:500], user_id, status, size, elapsed_ms))

    def __len__(self) -> int:
        return len(self._ring)

    def query(self, *, tag: str | None = None, user: str | None = None, status: str | None = None,
              path: str | None = None, limit: int = 200) -> list[RequestRecord]:
        """Newest first. `status` is a code ("404") or a class ("5xx", "4xx"); `user` and `path`
        match a part; `tag` matches the start of a tag."""
        def wanted(r: RequestRecord) -> bool:
            if tag and not r.tag.startswith(tag.strip().lower()):
                return False
            if user and (r.user_id is None or user.strip().casefold() not in r.user_id.casefold()):
                return False
            if path and path.strip() not in r.path:
                return False
            return status_matches(r.status, status)

        out = []
        for r in reversed(self._ring):
            if wanted(r):
                out.append(r)
                if len(out) >= limit:
                    break
        return out


def status_matches(code: int, wanted: str | None) -> bool:
    wanted = (wanted or "").strip().lower()
    if not wanted:
        return True
    if len(wanted) == 3 and wanted.endswith("xx") and wanted[0].isdigit():
        return code // 100 == int(wanted[0])
    return wanted.isdigit() and code == int(wanted)


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    ts: float
    level: str
    logger: str
    message: str
    request_tag: str | None
    detail: str          # the traceback, if any (last lines)


class ErrorLog(logging.Handler):
    """Keeps the last `capacity` records at WARNING and above."""

    def __init__(self, capacity: int = DEFAULT_ERRORS, level: int = logging.WARNING):
        super().__init__(level)
        self._ring: deque[ErrorRecord] = deque(maxlen=capacity)
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        detail = ""
        if record.exc_info and record.exc_info[0] is not None:
            detail = "".join(traceback.format_exception(*record.exc_info)[-6:])
        with self._guard:
            self._ring.append(ErrorRecord(record.created, record.levelname, record.name, message[:2000],
                                          _current_request_tag(), detail[-4000:]))

    def recent(self, limit: int = 20, *, min_level: int = logging.WARNING) -> list[ErrorRecord]:
        with self._guard:
            records: Iterable[ErrorRecord] = list(self._ring)
        out = [r for r in reversed(list(records)) if logging.getLevelName(r.level) >= min_level]
        return out[:limit]

    def clear(self) -> None:
        with self._guard:
            self._ring.clear()


def _current_request_tag() -> str | None:
    try:
        from quart import g, has_request_context
        if has_request_context():
            return g.get("request_tag")
    except Exception:
        pass
    return None


_ERROR_LOG: ErrorLog | None = None


def error_log() -> ErrorLog:
    """The process's error ring, attached to the root logger once."""
    global _ERROR_LOG
    if _ERROR_LOG is None:
        _ERROR_LOG = ErrorLog()
        logging.getLogger().addHandler(_ERROR_LOG)
    return _ERROR_LOG
