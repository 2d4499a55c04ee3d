"""An announcement to everyone: one server notice to each active local account.

Shared by the admin pages (and any admin API that wants it). Each person gets the message in
their server-notices room (see server_notices.py); a person who cannot be reached is counted,
not fatal.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..protocol.errors import InvalidParam, MatrixError
from ..storage.stores.accounts import AccountStore
from .server_notices import ServerNoticeService

log = logging.getLogger(__name__)
MAX_LENGTH = 4000


@dataclass
class AnnouncementResult:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class AnnouncementService:
    def __init__(self, accounts: AccountStore, notices: ServerNoticeService):
        self.accounts = accounts
        self.notices = notices

    async def recipients(self) -> list[str]:
        return [u.user_id for u in await self.accounts.list_users()
                if not u.deactivated and not u.is_guest and u.password_hash is not None
                and u.user_id != self.notices.system_user_id]

    async def announce(self, body: str) -> AnnouncementResult:
        body = body.strip() if isinstance(body, str) else ""
        if not body:
            raise InvalidParam("An announcement needs some text")
        if len(body) > MAX_LENGTH:
            raise InvalidParam(f"An announcement is at most {MAX_LENGTH} characters")
        result = AnnouncementResult()
        for user_id in await self.recipients():
            try:
                await self.notices.send_notice(user_id, body)
                result.sent.append(user_id)
            except MatrixError as exc:
                log.warning("announcement to %s failed: %s", user_id, exc.error)
                result.failed.append(user_id)
        log.info("announcement sent to %d people (%d failed)", len(result.sent), len(result.failed))
        return result
