"""Client-Server API blueprints, one module per spec page."""
from __future__ import annotations

from quart import Blueprint

from ..routing import discover_blueprints


def blueprints() -> list[Blueprint]:
    return discover_blueprints(__name__, __path__)
