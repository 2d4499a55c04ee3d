"""Giving memory back to the system once a burst of work is over.

After a burst (a few thousand messages, a big initial /sync) the C allocator keeps the pages
it was handed: SQLite's page caches and everything freed since stay in the process, so a
Raspberry Pi has that much less for its own file cache and other programs. The database calls
`release_free_memory()` once it has been idle for a moment after writes (see
`Database._idle_trim`): its connections first drop their page caches (`PRAGMA
shrink_memory`), then glibc's `malloc_trim(0)` returns the free pages of every malloc arena.

Nothing here changes what is cached in Python objects (the bounded caches in
appliance/core/cache.py hold what they hold). On a C library without `malloc_trim` (musl,
macOS) this does nothing.
"""
from __future__ import annotations

from collections.abc import Callable

_trim: Callable[[int], int] | None | bool = False  # False: not looked up yet; None: unavailable


def _load_trim() -> Callable[[int], int] | None:
    import ctypes  # on first use: not part of every start

    try:
        # The symbols already loaded into the process (the C library's among them); not
        # ctypes.util.find_library, which runs ldconfig. CDLL lets go of the GIL during calls.
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


def release_free_memory() -> bool:
    """Hand the allocator's free pages back to the system; True if anything was released."""
    global _trim
    if _trim is False:
        _trim = _load_trim()
    if _trim is None:
        return False
    return bool(_trim(0))
