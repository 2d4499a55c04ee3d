"""Base classes of the request models (pydantic): imported with the handler modules, which load
on their first request (appliance/routes.py), not at start-up. Also importable from routing."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel


# defer_build: a model's validator is built on its first use, not when its module is imported
# (about a hundred of them would otherwise be built at every start, most never used).
class PathModel(BaseModel):
    """Base for path models: IDs arrive URL-decoded by the router."""

    model_config = {"extra": "ignore", "defer_build": True}


class QueryModel(BaseModel):
    model_config = {"extra": "ignore", "defer_build": True}


class BodyModel(BaseModel):
    """Base for request bodies: unknown fields are kept (the spec lets clients add their own).

    A body that is not its model is M_BAD_JSON. `body_errors` names another errcode where the
    spec or the clients want one: keyed by field name, or "*" for every field; a key with the
    suffix ":missing" (`"enabled:missing"`, `"*:missing"`) applies only when the field is absent.
    """

    model_config = {"extra": "allow", "defer_build": True}
    body_errors: ClassVar[dict[str, Any]] = {}
