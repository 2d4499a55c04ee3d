"""POST /user_directory/search (users.yaml)."""
from __future__ import annotations

from pydantic import BaseModel, Field
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import endpoint

bp = Blueprint("client_user_directory", __name__)


class SearchBody(BaseModel):
    search_term: str
    limit: int = Field(10, ge=0)


@endpoint(bp, "POST", "/user_directory/search", rate_limited=True, allow_guest=False)
async def search_user_directory(me: Requester, body: SearchBody, hearth: Hearth) -> dict:
    return await hearth.accounts.directory.search(me.user_id, body.search_term, body.limit or 10)
