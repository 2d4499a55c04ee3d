"""End-to-end encryption keys (keys.yaml, cross_signing.yaml)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import Blueprint

from ...protocol.errors import BadJson, MissingParam
from ...services.auth import Requester
from ...services.tokens import parse_token
from ..routing import ACCESS_TOKEN, endpoint
from ....hearth import Hearth

bp = Blueprint("client_keys", __name__)

PASSWORD = "m.login.password"


@endpoint(bp, "POST", "/keys/upload", auth=ACCESS_TOKEN)
async def upload_keys(me: Requester, body: dict, hearth: Hearth) -> dict:
    counts = await hearth.e2ee.device_keys.upload_keys(me.user_id, me.device_id, body)
    return {"one_time_key_counts": counts}


class QueryKeysBody(BaseModel, extra="allow"):
    device_keys: dict[str, Any]
    timeout: int | None = None


@endpoint(bp, "POST", "/keys/query", auth=ACCESS_TOKEN, rate_limited=False)
async def query_keys(me: Requester, body: QueryKeysBody, hearth: Hearth) -> dict:
    return await hearth.e2ee.device_keys.query_keys(me.user_id, body.device_keys)


class ClaimKeysBody(BaseModel, extra="allow"):
    one_time_keys: dict[str, Any]
    timeout: int | None = None


@endpoint(bp, "POST", "/keys/claim", auth=ACCESS_TOKEN, rate_limited=False)
async def claim_keys(me: Requester, body: ClaimKeysBody, hearth: Hearth) -> dict:
    return await hearth.e2ee.device_keys.claim_keys(body.one_time_keys)


@endpoint(bp, "GET", "/keys/changes", auth=ACCESS_TOKEN)
async def get_keys_changes(me: Requester, raw_args: Any, hearth: Hearth) -> dict:
    since, to = raw_args.get("from"), raw_args.get("to")
    if since is None or to is None:
        raise MissingParam("from and to are required")
    changed, left = await hearth.e2ee.device_keys.device_list_changes(
        me.user_id, parse_token(since, "from").stream, parse_token(to, "to").stream)
    return {"changed": changed, "left": left}


@endpoint(bp, "POST", "/keys/device_signing/upload", auth=ACCESS_TOKEN)
async def upload_cross_signing_keys(me: Requester, body: dict, hearth: Hearth) -> dict:
    """UIA (m.login.password) unless the user has no master key yet or nothing new is uploaded."""
    auth = body.get("auth")
    if auth is not None and not isinstance(auth, dict):
        raise BadJson("auth must be an object")
    session = None
    if await hearth.e2ee.device_keys.cross_signing_upload_needs_auth(me.user_id, body):
        session = await hearth.accounts.service.user_interactive_auth(
            auth, [[PASSWORD]], f"POST /keys/device_signing/upload {me.user_id}", user_id=me.user_id)
    await hearth.e2ee.device_keys.upload_cross_signing_keys(me.user_id, body)
    if session is not None:
        await hearth.accounts.service.uia.finish_session(session.session_id)
    return {}


@endpoint(bp, "POST", "/keys/signatures/upload", auth=ACCESS_TOKEN)
async def upload_cross_signing_signatures(me: Requester, body: dict, hearth: Hearth) -> dict:
    return await hearth.e2ee.device_keys.upload_signatures(me.user_id, body)
