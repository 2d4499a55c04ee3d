"""POST /search (search.yaml)."""
from __future__ import annotations

from typing import Any

from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import BodyModel, QueryModel, endpoint

bp = Blueprint("client_search", __name__)


class SearchQuery(QueryModel):
    next_batch: str | None = None


class SearchBody(BodyModel):
    """The categories (room_events: term, keys, order, filter, context, groupings) are parsed
    by the search service."""
    search_categories: dict[str, Any]


@endpoint(bp, "POST", "/search")
async def search(me: Requester, query: SearchQuery, body: SearchBody, hearth: Hearth) -> dict:
    return await hearth.reading.search.search(me.user_id, me.device_id, body.model_dump(exclude_unset=True),
                                      query.next_batch)
