"""Client-Server API blueprints, one module per spec page."""
from __future__ import annotations

import importlib
import pkgutil

from quart import Blueprint


def blueprints() -> list[Blueprint]:
    """Every `bp` found in this package's modules, in module-name order."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        bp = getattr(module, "bp", None)
        if isinstance(bp, Blueprint):
            found.append(bp)
    return found
