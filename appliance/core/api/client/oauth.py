"""The OAuth 2.0 API's machine endpoints (spec v1.15 "OAuth 2.0 API"): server metadata, client
registration (RFC 7591), the token endpoint (code, refresh and device grants), revocation
(RFC 7009) and device authorization (RFC 8628). The browser pages (authorize, link) are in
webui/oauth_pages.py.

The token, revocation and device endpoints take `application/x-www-form-urlencoded` bodies and
answer errors as the RFCs do (`{"error", "error_description"}`, 400 or 401), not as Matrix
errors: these are plain Quart views over the service, reading the form themselves.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint, Response, current_app, jsonify, request

from ....hearth import Hearth
from ...protocol.json_text import loads_bounded
from ...protocol.oauth import OAuthError
from ...services.oauth import API_PATH
from ..routing import NO_AUTH, client_info, endpoint

bp = Blueprint("client_oauth", __name__)

METADATA_PREFIXES = ("/_matrix/client/v1", "/_matrix/client/unstable/org.matrix.msc2965")
MAX_BODY = 64 * 1024


@endpoint(bp, "GET", "/auth_metadata", auth=NO_AUTH, prefixes=METADATA_PREFIXES)
async def auth_metadata(hearth: Hearth) -> dict:
    return hearth.accounts.oauth.metadata()


def _answer(body: dict | None, status: int = 200) -> Response:
    response = jsonify(body if body is not None else {})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(exc: OAuthError) -> Response:
    response = _answer(exc.body(), exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_client"'
    return response


async def _form() -> dict[str, str]:
    if (request.content_length or 0) > MAX_BODY:
        raise OAuthError("invalid_request", "Request body too large")
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded")
    form = await request.form
    return {key: form.get(key, "") for key in form}


def _oauth_view(path: str):
    """A machine endpoint: rate limited per address; `handler(hearth)` returns (body, status), an
    OAuthError becomes the RFC's error answer."""
    def decorate(handler: Callable[[Hearth], Awaitable[tuple[dict | None, int]]]):
        async def view() -> Response:
            hearth: Hearth = current_app.config["HEARTH"]
            hearth.core.ratelimiter.check(f"ip:{client_info().ip}")
            try:
                return _answer(*await handler(hearth))
            except OAuthError as exc:
                return _error(exc)

        view.__name__ = handler.__name__
        return bp.post(f"{API_PATH}/{path}")(view)
    return decorate


@_oauth_view("registration")
async def register_client(hearth: Hearth) -> tuple[dict | None, int]:
    raw = await request.get_data()
    if len(raw) > MAX_BODY:
        raise OAuthError("invalid_client_metadata", "Request body too large")
    try:
        body = loads_bounded(raw)
    except (ValueError, UnicodeDecodeError):
        raise OAuthError("invalid_client_metadata", "The body is not JSON") from None
    return await hearth.accounts.oauth.register_client(body), 201


@_oauth_view("token")
async def token(hearth: Hearth) -> tuple[dict | None, int]:
    return await hearth.accounts.oauth.token(await _form(), client_info()), 200


@_oauth_view("revoke")
async def revoke(hearth: Hearth) -> tuple[dict | None, int]:
    await hearth.accounts.oauth.revoke(await _form())
    return {}, 200


@_oauth_view("device")
async def device_authorization(hearth: Hearth) -> tuple[dict | None, int]:
    return await hearth.accounts.oauth.device_authorization(await _form()), 200
