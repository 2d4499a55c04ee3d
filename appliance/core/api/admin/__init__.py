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

from ...protocol.errors import Forbidden, InvalidParam
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


def body_bool(body: dict, name: str, default: bool | None = None) -> bool | None:
    value = body.get(name, default)
    if value is not None and not isinstance(value, bool):
        raise InvalidParam(f"'{name}' parameter is not of type boolean")
    return value


def body_str(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidParam(f"'{name}' parameter is not a string")
    return value


def body_int(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidParam(f"'{name}' parameter is not an integer")
    return value
