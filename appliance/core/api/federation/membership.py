"""Joins, leaves and invites from other servers (server-server joins-v1.yaml/joins-v2.yaml,
leaving-v2.yaml, invites-v2.yaml): services/federation/joins."""
from __future__ import annotations

from typing import Any

from quart import Blueprint

from ....hearth import Hearth
from ..routing import NO_AUTH, endpoint
from .guard import federation_origin

bp = Blueprint("federation_membership", __name__)
FEDERATION_V1 = ("/_matrix/federation/v1",)
FEDERATION_V2 = ("/_matrix/federation/v2",)


@endpoint(bp, "GET", "/make_join/{room_id}/{user_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def make_join(room_id: str, user_id: str, raw_args: Any, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth)
    versions = raw_args.getlist("ver") or ["1"]  # no `ver`: the server only knows version 1
    return await hearth.federation.joins.make_membership(origin, room_id, user_id, "join", versions)


@endpoint(bp, "PUT", "/send_join/{room_id}/{event_id}", auth=NO_AUTH, prefixes=FEDERATION_V2, rate_limited=False)
async def send_join(room_id: str, event_id: str, body: dict, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth, body)
    return await hearth.federation.joins.send_membership(origin, room_id, event_id, body, "join")


@endpoint(bp, "GET", "/make_leave/{room_id}/{user_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def make_leave(room_id: str, user_id: str, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth)
    return await hearth.federation.joins.make_membership(origin, room_id, user_id, "leave", None)


@endpoint(bp, "PUT", "/send_leave/{room_id}/{event_id}", auth=NO_AUTH, prefixes=FEDERATION_V2, rate_limited=False)
async def send_leave(room_id: str, event_id: str, body: dict, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth, body)
    return await hearth.federation.joins.send_membership(origin, room_id, event_id, body, "leave")


@endpoint(bp, "PUT", "/invite/{room_id}/{event_id}", auth=NO_AUTH, prefixes=FEDERATION_V2, rate_limited=False)
async def invite(room_id: str, event_id: str, body: dict, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth, body)
    return await hearth.federation.joins.receive_invite(origin, room_id, event_id, body)


@endpoint(bp, "GET", "/make_knock/{room_id}/{user_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def make_knock(room_id: str, user_id: str, raw_args: Any, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth)
    versions = raw_args.getlist("ver") or ["1"]
    return await hearth.federation.joins.make_membership(origin, room_id, user_id, "knock", versions)


@endpoint(bp, "PUT", "/send_knock/{room_id}/{event_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def send_knock(room_id: str, event_id: str, body: dict, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth, body)
    return await hearth.federation.joins.send_membership(origin, room_id, event_id, body, "knock")
