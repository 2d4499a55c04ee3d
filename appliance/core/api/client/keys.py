"""End-to-end encryption keys (keys.yaml, cross_signing.yaml)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import Blueprint

from ...protocol.errors import MissingParam
from ...services.accounts.uia import OAUTH, PASSWORD, cross_signing_request_key
from ...services.auth import Requester, require_device
from ...services.tokens import parse_token
from ..routing import ACCESS_TOKEN, endpoint
from ....hearth import Hearth

bp = Blueprint("client_keys", __name__)


class UploadKeysBody(BaseModel, extra="allow"):
    """The keys themselves are checked (owner, algorithms, signatures) by the service."""
    device_keys: dict[str, Any] | None = None
    one_time_keys: dict[str, Any] | None = None
    fallback_keys: dict[str, Any] | None = None


@endpoint(bp, "POST", "/keys/upload", auth=ACCESS_TOKEN)
async def upload_keys(me: Requester, body: UploadKeysBody, hearth: Hearth) -> dict:
    counts = await hearth.e2ee.device_keys.upload_keys(me.user_id, require_device(me),
                                                       body.model_dump(exclude_unset=True))
    return {"one_time_key_counts": counts}


class QueryKeysBody(BaseModel, extra="allow"):
    device_keys: dict[str, Any]
    timeout: int | None = None


@endpoint(bp, "POST", "/keys/query", auth=ACCESS_TOKEN, rate_limited=False)
async def query_keys(me: Requester, body: QueryKeysBody, hearth: Hearth) -> dict:
    if hearth.settings.federation_enabled:  # other servers' users asked of their servers
        return await hearth.federation.keys.query_keys(me.user_id, body.device_keys, body.timeout)
    return await hearth.e2ee.device_keys.query_keys(me.user_id, body.device_keys)


class ClaimKeysBody(BaseModel, extra="allow"):
    one_time_keys: dict[str, Any]
    timeout: int | None = None


@endpoint(bp, "POST", "/keys/claim", auth=ACCESS_TOKEN, rate_limited=False)
async def claim_keys(me: Requester, body: ClaimKeysBody, hearth: Hearth) -> dict:
    if hearth.settings.federation_enabled:
        return await hearth.federation.keys.claim_keys(body.one_time_keys, body.timeout)
    return await hearth.e2ee.device_keys.claim_keys(body.one_time_keys)


@endpoint(bp, "GET", "/keys/changes", auth=ACCESS_TOKEN)
async def get_keys_changes(me: Requester, raw_args: Any, hearth: Hearth) -> dict:
    since, to = raw_args.get("from"), raw_args.get("to")
    if since is None or to is None:
        raise MissingParam("from and to are required")
    changed, left = await hearth.e2ee.device_keys.device_list_changes(
        me.user_id, parse_token(since, "from").stream, parse_token(to, "to").stream)
    return {"changed": changed, "left": left}


class CrossSigningKeysBody(BaseModel, extra="allow"):
    """The keys are checked (user, usage, signatures) by the service."""
    master_key: dict[str, Any] | None = None
    self_signing_key: dict[str, Any] | None = None
    user_signing_key: dict[str, Any] | None = None
    auth: dict[str, Any] | None = None


@endpoint(bp, "POST", "/keys/device_signing/upload", auth=ACCESS_TOKEN)
async def upload_cross_signing_keys(me: Requester, body: CrossSigningKeysBody, hearth: Hearth) -> dict:
    """UIA unless the user has no master key yet or nothing new is uploaded: m.login.password,
    or m.oauth (approval on the account management page) for a device signed in through OAuth."""
    keys = body.model_dump(exclude_unset=True)
    session = None
    if me.appservice_id is None and await hearth.e2ee.device_keys.cross_signing_upload_needs_auth(me.user_id, keys):
        oauth = await hearth.accounts.oauth.is_oauth_session(me.user_id, me.device_id)
        session = await hearth.accounts.login.uia.run(
            body.auth, [[OAUTH]] if oauth else [[PASSWORD]], cross_signing_request_key(me.user_id), user_id=me.user_id)
    await hearth.e2ee.device_keys.upload_cross_signing_keys(me.user_id, keys)
    if session is not None:
        await hearth.accounts.login.uia.finish(session.session_id)
    return {}


@endpoint(bp, "POST", "/keys/signatures/upload", auth=ACCESS_TOKEN)
async def upload_cross_signing_signatures(me: Requester, body: dict, hearth: Hearth) -> dict:
    return await hearth.e2ee.device_keys.upload_signatures(me.user_id, body)
