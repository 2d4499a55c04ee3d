"""POST /search (search.yaml)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import QueryModel, endpoint

bp = Blueprint("client_search", __name__)


class SearchQuery(QueryModel):
    next_batch: str | None = None


@endpoint(bp, "POST", "/search")
async def search(me: Requester, query: SearchQuery, body: dict, hearth: Hearth) -> dict:
    return await hearth.rooms.search.search(me.user_id, me.device_id, body, query.next_batch)
