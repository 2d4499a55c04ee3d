"""`POST /_matrix/client/v1/appservice/{appserviceId}/ping` (appservice_ping.yaml): an appservice
asks Hearth to ping it, to check that both sides can reach each other. A successful ping also
sends a transaction that was waiting out its backoff at once."""
from __future__ import annotations

from ...protocol.errors import Forbidden, MatrixError
from ..auth import Requester
from .client import AppServiceClient, AppServiceUnreachable
from .registry import AppServiceRegistry
from .sender import TransactionSender

_STATUS = {"M_URL_NOT_SET": 400, "M_CONNECTION_TIMEOUT": 504, "M_CONNECTION_FAILED": 502, "M_BAD_STATUS": 502}


class AppServicePing:
    def __init__(self, registry: AppServiceRegistry, client: AppServiceClient, sender: TransactionSender):
        self.registry = registry
        self.client = client
        self.sender = sender

    async def ping(self, me: Requester, appservice_id: str, transaction_id: str | None) -> dict:
        reg = self.registry.get(appservice_id)
        if me.appservice_id is None or reg is None or me.appservice_id != appservice_id:
            raise Forbidden("Only the appservice itself may ask for its ping")
        try:
            result = await self.client.ping(reg, transaction_id)
        except AppServiceUnreachable as exc:
            error = MatrixError(exc.reason, status=_STATUS.get(exc.errcode, 502), errcode=exc.errcode)
            if exc.status is not None:  # the appservice's own answer, for the one who set it up
                error.extra = {"status": exc.status, "body": exc.body or ""}
            raise error from None
        self.sender.retry_now(appservice_id)
        return {"duration_ms": result.duration_ms}
