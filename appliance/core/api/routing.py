"""`@endpoint`: one declaration holds method, path, auth and typed inputs.

The handler is a plain coroutine; its parameters are injected by name and annotation:

- `me: Requester`    the authenticated user (auth=ACCESS_TOKEN), or None (auth=OPTIONAL)
- `path: SomeModel`  path parameters, validated by a pydantic model
- `query: Model`     query-string parameters (a failure is M_INVALID_PARAM)
- `body: Model|dict` the JSON body (unparsable: M_NOT_JSON; not an object or not the model:
                     M_BAD_JSON, or the errcode the model's `body_errors` names, see BodyModel
                     in models.py: M_MISSING_PARAM for a missing field, M_INVALID_PARAM...)
- `hearth: Hearth`   the services
- `client: ClientInfo` the caller's IP and user agent (for devices and rate limits)
- `access_token: str | None` the access token as sent (login and registration by an appservice)

Nothing below this layer touches Quart's `request`.

A body is a model (its declaration is its validation); it stays `dict` only where the spec
makes it arbitrary JSON or a shape the service parses as a whole: event content (send, state),
account data, a profile field (keyed by the field's name), cross-signing signatures (maps keyed
by user and key ID), and login (one shape per login type, checked by the login service).
"""
from __future__ import annotations

import asyncio
import enum
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from quart import Blueprint, Quart, Response, current_app, g, request
from quart.routing import QuartMap
from werkzeug.exceptions import RequestTimeout

from ..protocol.errors import BadJson, InvalidParam, MatrixError, MissingToken, NotJson, TooLarge
from ..protocol.json_text import TooDeep, loads_bounded
from ..services.auth import ClientInfo
from .quart_shim import LazyRule, body_is_complete

CLIENT_PREFIXES = ("/_matrix/client/v3", "/_matrix/client/r0")

# r0 is the old name of v3: one URL rule serves both. The router matches an r0 path as its v3
# twin (request.path, the logs and the handlers still see the path as sent), so each endpoint
# is one Werkzeug rule instead of two: half the rules to build at start-up and to hold.
PREFIX_ALIASES = {"/_matrix/client/r0": "/_matrix/client/v3", "/_matrix/media/r0": "/_matrix/media/v3"}
_ALIAS_STARTS = tuple(alias + "/" for alias in PREFIX_ALIASES)


class AliasingMap(QuartMap):
    """A URL map that routes an aliased prefix (r0) to the rules of its target (v3)."""

    def bind_to_request(self, request, subdomain, server_name):  # type: ignore[no-untyped-def]
        adapter = super().bind_to_request(request, subdomain, server_name)
        path = adapter.path_info
        if path.startswith(_ALIAS_STARTS):
            for old, new in PREFIX_ALIASES.items():
                if path.startswith(old + "/"):
                    adapter.path_info = new + path[len(old):]
                    break
        return adapter


class HearthQuart(Quart):
    url_map_class = AliasingMap
    url_rule_class = LazyRule  # type: ignore[assignment]


def _rule_prefixes(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """The prefixes that need a rule of their own: an alias is served by its target's rule."""
    for p in prefixes:
        if p in PREFIX_ALIASES and PREFIX_ALIASES[p] not in prefixes:
            raise ValueError(f"{p} is served as {PREFIX_ALIASES[p]}: list both, or neither")
    return tuple(p for p in prefixes if p not in PREFIX_ALIASES)


class Auth(enum.Enum):
    NONE = "none"
    OPTIONAL = "optional"
    ACCESS_TOKEN = "access_token"


ACCESS_TOKEN = Auth.ACCESS_TOKEN
OPTIONAL = Auth.OPTIONAL
NO_AUTH = Auth.NONE


def _to_quart_path(path: str) -> str:
    """`/rooms/{room_id}/state/{state_key:path}` → `/rooms/<room_id>/state/<path:state_key>`."""

    def repl(m: re.Match) -> str:
        name, _, conv = m.group(1).partition(":")
        return f"<{conv}:{name}>" if conv else f"<{name}>"

    return re.sub(r"\{([^}]+)\}", repl, path)


def access_token_from_request() -> str | None:
    header = request.headers.get("Authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    return request.args.get("access_token") or None


def client_info() -> ClientInfo:
    """The socket's peer, or the client a trusted proxy names (client_address.py)."""
    from .client_address import client_address, parse_networks

    hearth = current_app.config.get("HEARTH")
    trusted = parse_networks(tuple(hearth.settings.trusted_proxies)) if hearth is not None else ()
    ip = client_address(request.remote_addr, request.headers, trusted) or ""
    return ClientInfo(ip=ip, user_agent=request.headers.get("User-Agent", ""))


async def read_json_body(max_bytes: int) -> Any:
    # request.get_data(cache=True) with the same timeout, without its asyncio.wait_for: that
    # made a task and a timer for every body, though a small one is whole when the handler runs
    # (then awaiting it does not suspend, and no timer is armed; see quart_shim.py).
    body = request.body
    if body_is_complete(body):
        raw = await body
    else:
        try:
            async with asyncio.timeout(request.body_timeout):
                raw = await body
        except TimeoutError:
            raise RequestTimeout() from None
    if len(raw) > max_bytes:
        raise TooLarge("Request body too large")
    if not raw.strip():
        return {}
    try:
        return loads_bounded(raw)
    except TooDeep as exc:
        raise NotJson(str(exc)) from None
    except (ValueError, UnicodeDecodeError):
        raise NotJson("Content not JSON.") from None


class _NoModel(Exception):
    """Stands in for pydantic's ValidationError in a handler without models."""


def _validation_message(exc: Any) -> str:  # a pydantic ValidationError
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts)


def validate_query(model: Any, args: Any) -> Any:
    """The query string (a MultiDict) as `model`, or M_INVALID_PARAM. A handler that must check
    something first (access before parameters) takes `raw_args` and calls this itself."""
    from pydantic import ValidationError

    raw = {k: vs[0] if len(vs) == 1 else vs for k, vs in args.lists()}
    raw.pop("access_token", None)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidParam(_validation_message(exc)) from None


def body_error(model: Any, exc: Any) -> MatrixError:
    """The error for a body that is not its model: M_BAD_JSON, unless the model's `body_errors`
    ({field or "*"[":missing"]: MatrixError class}) names another for its first wrong field."""
    errors = exc.errors()
    table = getattr(model, "body_errors", None) or {}
    cls: Any = BadJson
    if errors and table:
        first = errors[0]
        field = str(first.get("loc", ("",))[0]) if first.get("loc") else ""
        keys = [field, "*"]
        if first.get("type") == "missing":
            keys = [f"{field}:missing", field, "*:missing", "*"]
        cls = next((table[k] for k in keys if k in table), BadJson)
    return cls(_validation_message(exc))


def _check_moderation(me: Any, allow_locked: bool, forbid_suspended: bool) -> None:
    """Spec (account locking / suspension): a locked account may only log out; a suspended one
    may not do what its endpoint declares `forbid_suspended` (join, invite, send, profile...)."""
    if me.locked and not allow_locked:
        from ..protocol.errors import UserLocked

        raise UserLocked()
    if me.suspended and forbid_suspended:
        from ..protocol.errors import UserSuspended

        raise UserSuspended("You cannot perform this action while suspended.")


def endpoint(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    auth: Auth = ACCESS_TOKEN,
    prefixes: tuple[str, ...] = CLIENT_PREFIXES,
    rate_limited: bool | None = None,
    allow_guest: bool = True,
    allow_locked: bool = False,
    forbid_suspended: bool = False,
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    # Writes are rate limited per user (or per IP before login) unless told otherwise.
    limited = rate_limited if rate_limited is not None else method != "GET"

    def decorate(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        hints = get_type_hints(handler)
        params = list(inspect.signature(handler).parameters)
        # pydantic only for a handler that takes a model (its module imported pydantic already):
        # /versions and the other model-less handlers load without it.
        if any(hints.get(p) not in (dict, Any, None) for p in ("path", "query", "body") if p in params):
            from pydantic import ValidationError
        else:
            ValidationError = _NoModel  # noqa: N806  (never raised: nothing is validated)

        async def view(**path_args: str) -> Response:
            hearth = current_app.config["HEARTH"]
            info = client_info()
            kwargs: dict[str, Any] = {}
            me = None
            if auth is not Auth.NONE:
                token = access_token_from_request()
                if token is None:
                    if auth is Auth.ACCESS_TOKEN:
                        raise MissingToken("Missing access token")
                else:
                    me = await hearth.core.auth.get_requester(  # an appservice may assert who it acts as
                        token, info, user_id=request.args.get("user_id"), device_id=request.args.get("device_id"))
                    g.user_id = me.user_id  # for the request log
                    if me.is_guest and not allow_guest:
                        from ..protocol.errors import GuestAccessForbidden

                        raise GuestAccessForbidden("Guests may not use this endpoint")
                    _check_moderation(me, allow_locked, forbid_suspended)
            if limited and (me is None or me.rate_limited):
                hearth.core.ratelimiter.check(me.user_id if me else f"ip:{info.ip}", admin=bool(me and me.admin))
            for name in params:
                hint = hints.get(name)
                if name == "me":
                    kwargs["me"] = me
                elif name == "hearth":
                    kwargs["hearth"] = hearth
                elif name == "client":
                    kwargs["client"] = info
                elif name == "path":
                    try:
                        kwargs["path"] = hint.model_validate(path_args)
                    except ValidationError as exc:
                        raise InvalidParam(_validation_message(exc)) from None
                elif name == "query":
                    kwargs["query"] = validate_query(hint, request.args)
                elif name == "body":
                    data = await read_json_body(hearth.settings.max_request_bytes)
                    if hint is dict or hint is Any or hint is None:
                        if not isinstance(data, dict):
                            raise BadJson("Body must be a JSON object")
                        kwargs["body"] = data
                    else:
                        if not isinstance(data, dict):
                            raise BadJson("Body must be a JSON object")
                        try:
                            kwargs["body"] = hint.model_validate(data)
                        except ValidationError as exc:
                            raise body_error(hint, exc) from None
                elif name == "access_token":  # as sent, for endpoints without auth that may take one
                    kwargs["access_token"] = access_token_from_request()
                elif name == "raw_args":
                    kwargs["raw_args"] = request.args
                else:
                    kwargs[name] = path_args.get(name)
            result = await handler(**kwargs)
            status = 200
            if isinstance(result, tuple):
                result, status = result
            if isinstance(result, Response):
                return result
            return json_response(result, status)

        view.__name__ = handler.__name__
        view.__module__ = handler.__module__  # the module the route table imports for this rule
        quart_path = _to_quart_path(path)
        for i, prefix in enumerate(_rule_prefixes(prefixes)):
            bp.add_url_rule(
                prefix + quart_path,
                endpoint=f"{handler.__name__}_{i}",
                view_func=view,
                methods=[method],
                strict_slashes=False,
            )
        handler.matrix_route = (method, path)  # type: ignore[attr-defined]
        return handler

    return decorate


def json_response(body: Any, status: int = 200) -> Response:
    import orjson  # ~5x faster than json.dumps for large answers (a /sync is often 100+ KB)

    try:
        text: bytes | str = orjson.dumps(body)
    except TypeError:  # what orjson refuses (ints past 64 bits, non-string keys, lone surrogates)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, content_type="application/json")


def error_response(exc: MatrixError) -> Response:
    return json_response(exc.to_json(), exc.status)


def __getattr__(name: str) -> Any:
    """PathModel, QueryModel and BodyModel (pydantic models) load with the first handler module that uses
    them, so that a start builds no request model (appliance/core/api/models.py)."""
    if name in ("PathModel", "QueryModel", "BodyModel"):
        from . import models

        return getattr(models, name)
    raise AttributeError(name)


def discover_blueprints(package: str, path: list[str]) -> list[Blueprint]:
    """Every module-level `bp` in a package's modules, in module-name order (one module per
    spec page; adding a module is all it takes to mount its endpoints)."""
    import importlib
    import pkgutil

    found = []
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        module = importlib.import_module(f"{package}.{info.name}")
        bp = getattr(module, "bp", None)
        if isinstance(bp, Blueprint):
            found.append(bp)
    return found
