"""`PUT /_matrix/federation/v1/send/{txnId}` (server-server transactions.yaml): PDUs and EDUs
from another server (services/federation/transactions)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ..routing import NO_AUTH, endpoint
from .guard import federation_origin

bp = Blueprint("federation_transactions", __name__)
FEDERATION_V1 = ("/_matrix/federation/v1",)


@endpoint(bp, "PUT", "/send/{txn_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=False)
async def send_transaction(txn_id: str, body: dict, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth, body)
    return await hearth.federation.transactions.receive(origin, txn_id, body)
