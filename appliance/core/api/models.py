"""Base classes of the request models (pydantic): imported with the handler modules, which load
on their first request (appliance/routes.py), not at start-up. Also importable from routing."""
from __future__ import annotations

from pydantic import BaseModel


# defer_build: a model's validator is built on its first use, not when its module is imported
# (about a hundred of them would otherwise be built at every start, most never used).
class PathModel(BaseModel):
    """Base for path models: IDs arrive URL-decoded by the router."""

    model_config = {"extra": "ignore", "defer_build": True}


class QueryModel(BaseModel):
    model_config = {"extra": "ignore", "defer_build": True}
