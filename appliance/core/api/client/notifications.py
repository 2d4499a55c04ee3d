"""GET /notifications (notifications.yaml): the events the user was notified about, newest first."""
from __future__ import annotations

from pydantic import Field
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import QueryModel, endpoint

bp = Blueprint("client_notifications", __name__)

MAX_LIMIT = 100


class NotificationsQuery(QueryModel):
    model_config = {"extra": "ignore", "populate_by_name": True}
    from_: str | None = Field(None, alias="from")
    limit: int = Field(20, ge=1)
    only: str | None = None


@endpoint(bp, "GET", "/notifications")
async def get_notifications(me: Requester, query: NotificationsQuery, hearth: Hearth) -> dict:
    return await hearth.push.service.notifications(me.user_id, query.from_, min(query.limit, MAX_LIMIT), query.only,
                                           hearth.reading.rooms.formatter)
