"""Content repository (content-repo.yaml, authed-content-repo.yaml).

The authenticated `/_matrix/client/v1/media/*` endpoints are the primary ones. Upload and create
stay under `/_matrix/media/*` (the spec has not moved them). The deprecated unauthenticated
downloads under `/_matrix/media/v3` serve only media uploaded while legacy media was not frozen
(`freeze_legacy_media`), and answer 404 M_NOT_FOUND for the rest, as the spec describes.

Every media body carries the sandbox CSP, nosniff and CORP headers (services/media/serving.py),
and `Content-Disposition: inline` only for the spec's safe types.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import Field
from quart import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ...protocol.errors import MatrixError, TooLarge
from ...services.auth import Requester
from ...services.media.repository import Content, ThumbnailContent, format_mib
from ...services.media.serving import SECURITY_HEADERS, content_disposition
from ..quart_shim import wait_body_complete
from ..routing import ACCESS_TOKEN, NO_AUTH, PathModel, QueryModel, endpoint
from ....hearth import Hearth

bp = Blueprint("client_media", __name__)

AUTHED = ("/_matrix/client/v1/media",)
LEGACY = ("/_matrix/media/v3", "/_matrix/media/r0")
UPLOAD = ("/_matrix/media/v3", "/_matrix/media/r0")
CREATE = ("/_matrix/media/v1",)


class MediaPath(PathModel):
    server_name: str
    media_id: str


class NamedMediaPath(MediaPath):
    file_name: str


class UploadQuery(QueryModel):
    filename: str | None = None


class DownloadQuery(QueryModel):
    timeout_ms: int | None = Field(None, ge=0)
    allow_remote: bool = True
    allow_redirect: bool = False


class ThumbnailQuery(DownloadQuery):
    width: int = Field(ge=1, le=1_000_000)
    height: int = Field(ge=1, le=1_000_000)
    method: Literal["crop", "scale"] = "scale"
    animated: bool = False


class PreviewQuery(QueryModel):
    url: str
    ts: int | None = None


# -- request bodies ------------------------------------------------------------------------------

# The upload routes' body limit (max_upload_bytes, not the JSON cap) is lifted at start-up by
# appliance/core/api/upload_limit.py: a request class applies before this module is loaded.


async def _request_body() -> AsyncIterator[bytes]:
    """The raw request body, chunk by chunk as it arrives."""
    try:
        async for chunk in request.body:
            yield chunk
    except RequestEntityTooLarge:
        limit = current_app.config["HEARTH"].settings.max_upload_bytes
        raise TooLarge(f"File is larger than the upload limit of {format_mib(limit)} MiB") from None


DRAIN_SECONDS = 10.0


async def _after_the_body(upload: Any) -> Any:
    """Run an upload; when it fails before the whole body has arrived (larger than the limit,
    over the quota, a bad media ID), read and discard the rest of the body before answering.

    Answered early, a client still sending sees the connection closed under it (the server
    cannot read the next request while a body is unfinished) and reports a network error, or
    retries, instead of "too large". The rest is discarded as it arrives, so it costs no
    memory; a client that keeps sending past DRAIN_SECONDS gets its answer then anyway."""
    try:
        return await upload
    except MatrixError:
        body = request.body
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                try:
                    async for _chunk in body:
                        pass
                except RequestEntityTooLarge:  # Quart drops what arrives now; wait for the end
                    await wait_body_complete(body)
        except TimeoutError:
            pass
        raise


# -- responses -----------------------------------------------------------------------------------

def _file_response(path, content_type: str, disposition: str) -> Response:
    body = current_app.response_class.file_body_class(path)
    response = current_app.response_class(body, status=200, content_type=content_type)
    response.content_length = path.stat().st_size
    response.headers["Content-Disposition"] = disposition
    response.headers["Cache-Control"] = "private, max-age=86400"
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def _download(content: Content, file_name: str | None = None) -> Response:
    name = file_name if file_name is not None else content.upload_name
    return _file_response(content.path, content.content_type, content_disposition(content.content_type, name))


def _thumbnail(thumb: ThumbnailContent) -> Response:
    ext = thumb.content_type.split(";", 1)[0].rsplit("/", 1)[-1]
    return _file_response(thumb.path, thumb.content_type, f'inline; filename="thumbnail.{ext}"')


# -- upload --------------------------------------------------------------------------------------

@endpoint(bp, "POST", "/upload", auth=ACCESS_TOKEN, prefixes=UPLOAD, allow_guest=False)
async def upload_content(me: Requester, query: UploadQuery, hearth: Hearth) -> dict:
    uri = await _after_the_body(hearth.media.repository.upload(me.user_id, _request_body(), request.headers.get("Content-Type"),
                                                    query.filename, request.content_length))
    return {"content_uri": uri}


@endpoint(bp, "PUT", "/upload/{server_name}/{media_id}", auth=ACCESS_TOKEN, prefixes=UPLOAD, allow_guest=False)
async def upload_content_to_mxc(me: Requester, path: MediaPath, query: UploadQuery, hearth: Hearth) -> dict:
    await _after_the_body(hearth.media.repository.upload_to(me.user_id, path.server_name, path.media_id, _request_body(),
                                                 request.headers.get("Content-Type"), query.filename,
                                                 request.content_length))
    return {}


@endpoint(bp, "POST", "/create", auth=ACCESS_TOKEN, prefixes=CREATE, allow_guest=False)
async def create_content(me: Requester, hearth: Hearth) -> dict:
    return await hearth.media.repository.create(me.user_id)


# -- authenticated (Matrix 1.11+) ----------------------------------------------------------------

@endpoint(bp, "GET", "/download/{server_name}/{media_id}", auth=ACCESS_TOKEN, prefixes=AUTHED)
async def get_content_authed(path: MediaPath, query: DownloadQuery, hearth: Hearth) -> Response:
    return _download(await hearth.media.repository.content(path.server_name, path.media_id, authenticated=True,
                                                timeout_ms=query.timeout_ms))


@endpoint(bp, "GET", "/download/{server_name}/{media_id}/{file_name}", auth=ACCESS_TOKEN, prefixes=AUTHED)
async def get_content_override_name_authed(path: NamedMediaPath, query: DownloadQuery, hearth: Hearth) -> Response:
    content = await hearth.media.repository.content(path.server_name, path.media_id, authenticated=True,
                                         timeout_ms=query.timeout_ms)
    return _download(content, path.file_name)


@endpoint(bp, "GET", "/thumbnail/{server_name}/{media_id}", auth=ACCESS_TOKEN, prefixes=AUTHED)
async def get_content_thumbnail_authed(path: MediaPath, query: ThumbnailQuery, hearth: Hearth) -> Response:
    return _thumbnail(await hearth.media.repository.thumbnail(
        path.server_name, path.media_id, query.width, query.height, query.method, query.animated,
        authenticated=True, timeout_ms=query.timeout_ms))


@endpoint(bp, "GET", "/config", auth=ACCESS_TOKEN, prefixes=AUTHED)
async def get_config_authed(hearth: Hearth) -> dict:
    return hearth.media.repository.config()


@endpoint(bp, "GET", "/preview_url", auth=ACCESS_TOKEN, prefixes=AUTHED, rate_limited=True)
async def get_url_preview_authed(query: PreviewQuery, hearth: Hearth) -> dict:
    return await hearth.media.previews.preview(query.url)


# -- deprecated, unauthenticated (frozen for media uploaded while freeze_legacy_media is on) ------

@endpoint(bp, "GET", "/download/{server_name}/{media_id}", auth=NO_AUTH, prefixes=LEGACY)
async def get_content(path: MediaPath, query: DownloadQuery, hearth: Hearth) -> Response:
    return _download(await hearth.media.repository.content(path.server_name, path.media_id, authenticated=False,
                                                timeout_ms=query.timeout_ms))


@endpoint(bp, "GET", "/download/{server_name}/{media_id}/{file_name}", auth=NO_AUTH, prefixes=LEGACY)
async def get_content_override_name(path: NamedMediaPath, query: DownloadQuery, hearth: Hearth) -> Response:
    content = await hearth.media.repository.content(path.server_name, path.media_id, authenticated=False,
                                         timeout_ms=query.timeout_ms)
    return _download(content, path.file_name)


@endpoint(bp, "GET", "/thumbnail/{server_name}/{media_id}", auth=NO_AUTH, prefixes=LEGACY)
async def get_content_thumbnail(path: MediaPath, query: ThumbnailQuery, hearth: Hearth) -> Response:
    return _thumbnail(await hearth.media.repository.thumbnail(
        path.server_name, path.media_id, query.width, query.height, query.method, query.animated,
        authenticated=False, timeout_ms=query.timeout_ms))


@endpoint(bp, "GET", "/config", auth=ACCESS_TOKEN, prefixes=LEGACY)
async def get_config(hearth: Hearth) -> dict:
    return hearth.media.repository.config()


@endpoint(bp, "GET", "/preview_url", auth=ACCESS_TOKEN, prefixes=LEGACY, rate_limited=True)
async def get_url_preview(query: PreviewQuery, hearth: Hearth) -> dict:
    return await hearth.media.previews.preview(query.url)
