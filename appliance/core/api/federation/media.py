"""Our media for other servers (server-server content_repository.yaml):
`GET /_matrix/federation/v1/media/download/{mediaId}` and `.../thumbnail/{mediaId}`, answered
multipart/mixed (metadata, then the bytes)."""
from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, Response

from ....hearth import Hearth
from ...protocol.errors import InvalidParam
from ...services.federation.media import multipart
from ..routing import NO_AUTH, endpoint
from .guard import federation_origin

bp = Blueprint("federation_media", __name__)
FEDERATION_V1 = ("/_matrix/federation/v1",)


async def _answer(path: Any, content_type: str) -> Response:
    data = await asyncio.to_thread(path.read_bytes)
    body, mixed = multipart(content_type, data)
    return Response(body, status=200, content_type=mixed)


@endpoint(bp, "GET", "/media/download/{media_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def get_content(media_id: str, hearth: Hearth) -> Response:
    await federation_origin(hearth)
    content = await hearth.media.repository.content(hearth.server_name, media_id, authenticated=True, timeout_ms=0)
    return await _answer(content.path, content.content_type)


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParam(f"{name} must be an integer") from None


@endpoint(bp, "GET", "/media/thumbnail/{media_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def get_content_thumbnail(media_id: str, raw_args: Any, hearth: Hearth) -> Response:
    await federation_origin(hearth)
    thumb = await hearth.media.repository.thumbnail(
        hearth.server_name, media_id, _int(raw_args.get("width"), "width"), _int(raw_args.get("height"), "height"),
        raw_args.get("method") or "scale", raw_args.get("animated") == "true", authenticated=True, timeout_ms=0)
    return await _answer(thumb.path, thumb.content_type)
