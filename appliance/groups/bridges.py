"""Bridges (DESIGN decision 9): where the in-process bridge plugins will attach. Empty until the
first plugin lands; a bridge host built here will get the core (the stream, `persisted`), the
rooms and the accounts it needs, like every other group."""
from __future__ import annotations

from dataclasses import dataclass

from .core import Background


@dataclass(frozen=True, slots=True, eq=False)
class Bridges:
    background: tuple[Background, ...] = ()


def build_bridges() -> Bridges:
    return Bridges()
