"""`OnFirstUse[T]`: a part of the server built the first time it is asked for.

Some services have no listeners and no background work (the admin API and pages, media, the
web pages' own): building them, and importing their modules, is left to their first use, which
keeps the start-up short (README "Benchmark"). The holder is built with the function that makes
the value; `get()` runs it once.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class OnFirstUse(Generic[T]):
    __slots__ = ("_build", "_value")

    def __init__(self, build: Callable[[], T]) -> None:
        self._build: Callable[[], T] | None = build
        self._value: T | None = None

    def get(self) -> T:
        if self._build is not None:  # a build that fails is tried again on the next use
            self._value = self._build()
            self._build = None
        return self._value  # type: ignore[return-value]  # set by the build above

    @property
    def built(self) -> bool:
        return self._build is None
