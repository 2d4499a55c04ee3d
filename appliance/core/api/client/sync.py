"""GET /sync (sync.yaml)."""
from __future__ import annotations

from typing import Literal

from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ...services.sync import SyncParams
from ..routing import QueryModel, endpoint

bp = Blueprint("client_sync", __name__)


class SyncQuery(QueryModel):
    filter: str | None = None
    since: str | None = None
    full_state: bool = False
    set_presence: Literal["offline", "online", "unavailable"] | None = None
    timeout: int = 0
    use_state_after: bool = False


@endpoint(bp, "GET", "/sync")
async def sync(me: Requester, query: SyncQuery, hearth: Hearth) -> dict:
    """`set_presence` goes to the presence service (through SyncService)."""
    params = SyncParams(
        user_id=me.user_id,
        device_id=me.device_id,
        since=query.since,
        filter=await hearth.accounts.filters.resolve(me.user_id, query.filter),
        full_state=query.full_state,
        timeout_ms=query.timeout,
        use_state_after=query.use_state_after,
        set_presence=query.set_presence,
    )
    return await hearth.reading.sync.sync(params)
