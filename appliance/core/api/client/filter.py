"""POST /user/{userId}/filter, GET /user/{userId}/filter/{filterId} (filter.yaml)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import Forbidden, NotFound
from ...services.auth import Requester
from ..routing import BodyModel, PathModel, endpoint

bp = Blueprint("client_filter", __name__)


class UserPath(PathModel):
    user_id: str


class FilterPath(PathModel):
    user_id: str
    filter_id: str


class FilterBody(BodyModel):
    """The event and room filters inside are parsed by filtering.Filter."""
    event_fields: list[StrictStr] | None = None
    event_format: Literal["client", "federation"] | None = None
    presence: dict[str, Any] | None = None
    account_data: dict[str, Any] | None = None
    room: dict[str, Any] | None = None


@endpoint(bp, "POST", "/user/{user_id}/filter")
async def define_filter(me: Requester, path: UserPath, body: FilterBody, hearth: Hearth) -> dict:
    if path.user_id != me.user_id:
        raise Forbidden("Cannot create filters for other users")
    return {"filter_id": await hearth.accounts.filters.create(me.user_id, body.model_dump(exclude_unset=True))}


@endpoint(bp, "GET", "/user/{user_id}/filter/{filter_id}")
async def get_filter(me: Requester, path: FilterPath, hearth: Hearth) -> dict:
    if path.user_id != me.user_id:
        raise Forbidden("Cannot read filters of other users")
    try:
        return await hearth.accounts.filters.get_json(me.user_id, path.filter_id)
    except NotFound:
        raise NotFound("No such filter") from None
