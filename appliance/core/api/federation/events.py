"""Reading our rooms' events over federation (server-server event.yaml, room_state.yaml,
room_state_ids.yaml, event_auth.yaml, backfill.yaml, backfill.yaml#get_missing_events):
services/federation/room_reads."""
from __future__ import annotations

import time
from typing import Any

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import BadJson, InvalidParam, MissingParam
from ..routing import NO_AUTH, endpoint
from .guard import federation_origin

bp = Blueprint("federation_events", __name__)
FEDERATION_V1 = ("/_matrix/federation/v1",)


def _now() -> int:
    return int(time.time() * 1000)


@endpoint(bp, "GET", "/event/{event_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def get_event(event_id: str, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth)
    return await hearth.federation.reads.get_event(origin, event_id, _now())


@endpoint(bp, "GET", "/state/{room_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def get_room_state(room_id: str, raw_args: Any, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth)
    return await hearth.federation.reads.room_state(origin, room_id, raw_args.get("event_id"))


@endpoint(bp, "GET", "/state_ids/{room_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def get_room_state_ids(room_id: str, raw_args: Any, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth)
    return await hearth.federation.reads.state_ids(origin, room_id, raw_args.get("event_id"))


@endpoint(bp, "GET", "/event_auth/{room_id}/{event_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def get_event_auth(room_id: str, event_id: str, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth)
    return await hearth.federation.reads.event_auth(origin, room_id, event_id)


def _int(value: Any, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParam(f"{name} must be an integer") from None


@endpoint(bp, "GET", "/backfill/{room_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def backfill_room(room_id: str, raw_args: Any, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth)
    start = raw_args.getlist("v")
    if not start:
        raise MissingParam("v (the events to start from) is required")
    limit = _int(raw_args.get("limit"), "limit", 10)
    return await hearth.federation.reads.backfill(origin, room_id, start, limit, _now())


@endpoint(bp, "POST", "/get_missing_events/{room_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def get_missing_events(room_id: str, body: dict, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth, body)
    earliest, latest = body.get("earliest_events", []), body.get("latest_events")
    if not isinstance(latest, list) or not all(isinstance(e, str) for e in latest) or \
            not isinstance(earliest, list) or not all(isinstance(e, str) for e in earliest):
        raise BadJson("earliest_events and latest_events must be lists of event IDs")
    limit, min_depth = body.get("limit", 10), body.get("min_depth", 0)
    if not isinstance(limit, int) or not isinstance(min_depth, int) or isinstance(limit, bool):
        raise BadJson("limit and min_depth must be integers")
    return await hearth.federation.reads.get_missing_events(origin, room_id, earliest, latest, limit, min_depth)


@endpoint(bp, "GET", "/timestamp_to_event/{room_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def get_timestamp_to_event(room_id: str, raw_args: Any, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth)
    if raw_args.get("ts") is None:
        raise MissingParam("ts is required")
    ts = _int(raw_args.get("ts"), "ts", 0)
    return await hearth.federation.reads.timestamp_to_event(origin, room_id, ts, raw_args.get("dir") or "f")
