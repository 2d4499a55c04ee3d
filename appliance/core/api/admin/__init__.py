"""Synapse's admin API (`/_synapse/admin/v1|v2/...`): the part existing tools use, same paths
and shapes, so a tool written for Synapse (synadm, synapse-admin) works against Hearth.

Every endpoint needs the access token of a server admin; anyone else gets 403 M_FORBIDDEN.
Handlers call the admin services the admin web pages share (hearth.admin.users, admin_rooms,
registration_tokens, reports, server_notices).
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint

from ...protocol.errors import Forbidden, InvalidParam, MissingParam
from ..models import BodyModel
from ..routing import ACCESS_TOKEN, discover_blueprints, endpoint

ADMIN_PREFIXES = ("/_synapse/admin",)


def blueprints() -> list[Blueprint]:
    return discover_blueprints(__name__, __path__)


def admin_endpoint(bp: Blueprint, method: str, path: str, *,
                   prefixes: tuple[str, ...] = ADMIN_PREFIXES) -> Callable:
    """`@endpoint` under /_synapse/admin for server admins only; the handler takes `me`."""

    def decorate(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        assert "me" in inspect.signature(handler).parameters, handler

        @functools.wraps(handler)
        async def admin_only(**kwargs: Any) -> Any:
            if not kwargs["me"].admin:
                raise Forbidden("You are not a server admin")
            return await handler(**kwargs)

        endpoint(bp, method, path, auth=ACCESS_TOKEN, prefixes=prefixes, rate_limited=False)(admin_only)
        return handler

    return decorate


def query_bool(value: str | None, name: str, default: bool | None) -> bool | None:
    """Synapse's query booleans: "true" or "false" (anything else is M_INVALID_PARAM)."""
    if value is None:
        return default
    if value in ("true", "false"):
        return value == "true"
    raise InvalidParam(f"Boolean query parameter {name!r} must be one of ['true', 'false']")


def query_int(value: str | None, name: str, default: int) -> int:
    """A non-negative integer query parameter."""
    if value is None or value == "":
        return default
    if not value.isdigit() or len(value) > 15:
        raise InvalidParam(f"Query parameter {name!r} must be a non-negative integer")
    return int(value)


def query_dir(value: str | None, default: str = "f") -> bool:
    """`dir`: f or b; True when backwards."""
    value = value or default
    if value not in ("f", "b"):
        raise InvalidParam("Unknown direction: dir must be 'f' or 'b'")
    return value == "b"


class AdminBody(BodyModel):
    """A body of the admin API: as Synapse, a missing field is M_MISSING_PARAM, a wrong one
    M_INVALID_PARAM."""

    body_errors = {"*:missing": MissingParam, "*": InvalidParam}
