"""POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync (MSC4186, simplified sliding
sync), as matrix-rust-sdk (Element X) sends it: ruma's `sync_events::v5` request."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictStr, field_validator
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ...protocol.sliding_sync import ListFilters
from ...services.sliding_sync import ExtensionScope, ListRequest, RoomConfig, SlidingSyncRequest
from ..routing import BodyModel, QueryModel, endpoint

bp = Blueprint("client_sliding_sync", __name__)

PREFIX = "/_matrix/client/unstable/org.matrix.simplified_msc3575"
Index = Annotated[int, Field(ge=0, le=2**31)]


class _Part(BaseModel):
    model_config = {"extra": "ignore"}


class RoomParams(_Part):
    timeline_limit: Annotated[int, Field(ge=0, le=2**31)] = 0
    required_state: list[tuple[StrictStr, StrictStr]] = Field(default_factory=list, max_length=200)

    def config(self) -> RoomConfig:
        return RoomConfig(self.timeline_limit, tuple(self.required_state))


class Filters(_Part):
    is_dm: StrictBool | None = None
    is_encrypted: StrictBool | None = None
    is_invite: StrictBool | None = None
    room_types: list[StrictStr | None] | None = Field(None, max_length=50)
    not_room_types: list[StrictStr | None] = Field(default_factory=list, max_length=50)
    spaces: list[StrictStr] | None = Field(None, max_length=50)
    tags: list[StrictStr] | None = Field(None, max_length=50)
    not_tags: list[StrictStr] = Field(default_factory=list, max_length=50)

    def filters(self) -> ListFilters:
        return ListFilters(self.is_dm, self.is_encrypted, self.is_invite,
                           None if self.room_types is None else tuple(self.room_types), tuple(self.not_room_types),
                           None if self.spaces is None else tuple(self.spaces),
                           None if self.tags is None else tuple(self.tags), tuple(self.not_tags))


class ListParams(RoomParams):
    ranges: list[tuple[Index, Index]] = Field(default_factory=list, max_length=50)
    range: tuple[Index, Index] | None = None  # the single-range spelling of later MSC4186 drafts
    filters: Filters | None = None

    @field_validator("ranges")
    @classmethod
    def _ordered(cls, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
        if any(lo > hi for lo, hi in ranges):
            raise ValueError("a range's start is after its end")
        return ranges

    def request(self) -> ListRequest:
        ranges = list(self.ranges)
        if self.range is not None and self.range[0] <= self.range[1]:
            ranges.append(self.range)
        return ListRequest(tuple(ranges), self.config(), self.filters.filters() if self.filters else ListFilters())


class Toggle(_Part):
    enabled: StrictBool | None = None


class ToDeviceParams(Toggle):
    since: StrictStr | None = None
    limit: Annotated[int, Field(ge=0)] | None = None


class ScopedParams(Toggle):
    lists: list[StrictStr] | None = Field(None, max_length=100)
    rooms: list[StrictStr] | None = Field(None, max_length=1000)

    def scope(self) -> ExtensionScope | None:
        if not self.enabled:
            return None
        return ExtensionScope(None if self.lists is None else tuple(self.lists),
                              None if self.rooms is None else tuple(self.rooms))


class Extensions(_Part):
    to_device: ToDeviceParams = ToDeviceParams()
    e2ee: Toggle = Toggle()
    account_data: ScopedParams = ScopedParams()
    receipts: ScopedParams = ScopedParams()
    typing: ScopedParams = ScopedParams()


class SlidingSyncBody(BodyModel):
    conn_id: StrictStr | None = Field(None, max_length=255)
    txn_id: StrictStr | None = Field(None, max_length=255)
    lists: dict[Annotated[str, Field(max_length=255)], ListParams] = Field(default_factory=dict, max_length=100)
    room_subscriptions: dict[Annotated[str, Field(max_length=255)], RoomParams] = Field(
        default_factory=dict, max_length=1000)
    extensions: Extensions = Extensions()


class SlidingSyncQuery(QueryModel):
    pos: str | None = None
    timeout: int = 0
    set_presence: Literal["offline", "online", "unavailable"] | None = None


@endpoint(bp, "POST", "/sync", prefixes=(PREFIX,), rate_limited=False)
async def sync_v5(me: Requester, query: SlidingSyncQuery, body: SlidingSyncBody, hearth: Hearth) -> dict:
    """A connection is the device plus `conn_id`; a `pos` it did not hand out is M_UNKNOWN_POS."""
    ext = body.extensions
    req = SlidingSyncRequest(
        user_id=me.user_id,
        device_id=me.device_id,
        conn_id=body.conn_id or "",
        pos=query.pos,
        timeout_ms=query.timeout,
        set_presence=query.set_presence,
        lists={name: params.request() for name, params in body.lists.items()},
        room_subscriptions={room_id: params.config() for room_id, params in body.room_subscriptions.items()},
        to_device=bool(ext.to_device.enabled),
        to_device_since=ext.to_device.since,
        e2ee=bool(ext.e2ee.enabled),
        account_data=ext.account_data.scope(),
        receipts=ext.receipts.scope(),
        typing=ext.typing.scope(),
    )
    out = await hearth.reading.sliding_sync.sync(req)
    if body.txn_id is not None:
        out["txn_id"] = body.txn_id
    return out
