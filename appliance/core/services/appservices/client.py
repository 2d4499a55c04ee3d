"""Requests from Hearth to an application service (application-service-api.md "Homeserver ->
Application Service API"): transactions, ping, user and alias queries, third-party lookups.
Every request carries the registration's `hs_token` as a Bearer token and has a timeout."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...protocol.appservice import Registration

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

TRANSACTION_TIMEOUT_S = 30.0
QUERY_TIMEOUT_S = 10.0
PING_TIMEOUT_S = 15.0


class AppServiceUnreachable(Exception):
    """The appservice did not answer as it should; `reason` says what happened, in plain words."""

    def __init__(self, reason: str, *, errcode: str = "M_CONNECTION_FAILED", status: int | None = None,
                 body: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.errcode = errcode
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class PingResult:
    duration_ms: int


class AppServiceClient:
    def __init__(self) -> None:
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx  # imported on the first request to an appservice

            self._http = httpx.AsyncClient(follow_redirects=False, timeout=TRANSACTION_TIMEOUT_S)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _request(self, reg: Registration, method: str, path: str, *, json: Any = None,
                       timeout: float, ok: tuple[int, ...] = (200,)) -> Any:
        import httpx

        if reg.url is None:
            raise AppServiceUnreachable("The appservice has no URL: Hearth sends it nothing.", errcode="M_URL_NOT_SET")
        try:
            resp = await self._client().request(method, reg.url + path, json=json, timeout=timeout,
                                                headers={"Authorization": f"Bearer {reg.hs_token}"})
        except httpx.TimeoutException:
            raise AppServiceUnreachable(f"The appservice at {reg.url} did not answer within {timeout:.0f} s.",
                                        errcode="M_CONNECTION_TIMEOUT") from None
        except httpx.HTTPError as exc:
            raise AppServiceUnreachable(f"Hearth cannot reach the appservice at {reg.url}: {exc or type(exc).__name__}."
                                        ) from None
        if resp.status_code not in ok:
            text = resp.text[:1000]
            hint = " (it does not accept Hearth's hs_token)" if resp.status_code in (401, 403) else ""
            raise AppServiceUnreachable(f"The appservice answered {resp.status_code}{hint}.", errcode="M_BAD_STATUS",
                                        status=resp.status_code, body=text)
        return resp

    async def send_transaction(self, reg: Registration, txn_id: int, body: dict[str, Any]) -> None:
        await self._request(reg, "PUT", f"/_matrix/app/v1/transactions/{txn_id}", json=body,
                            timeout=TRANSACTION_TIMEOUT_S)

    async def ping(self, reg: Registration, transaction_id: str | None) -> PingResult:
        started = time.monotonic()
        body = {"transaction_id": transaction_id} if transaction_id is not None else {}
        await self._request(reg, "POST", "/_matrix/app/v1/ping", json=body, timeout=PING_TIMEOUT_S)
        return PingResult(int((time.monotonic() - started) * 1000))

    async def query_user(self, reg: Registration, user_id: str) -> bool:
        """Whether the appservice says the user exists (it creates it before answering 200)."""
        return await self._query(reg, f"/_matrix/app/v1/users/{quote(user_id, safe='')}")

    async def query_alias(self, reg: Registration, alias: str) -> bool:
        """Whether the appservice says the alias exists (it creates the room before answering 200)."""
        return await self._query(reg, f"/_matrix/app/v1/rooms/{quote(alias, safe='')}")

    async def _query(self, reg: Registration, path: str) -> bool:
        try:
            await self._request(reg, "GET", path, timeout=QUERY_TIMEOUT_S)
            return True
        except AppServiceUnreachable as exc:
            if exc.status != 404:
                log.warning("appservice %s: query %s failed: %s", reg.id, path, exc.reason)
            return False

    async def third_party(self, reg: Registration, path: str, params: dict[str, str]) -> Any:
        """A third-party lookup (`/_matrix/app/v1/thirdparty/...`), forwarded as asked."""
        import httpx

        if reg.url is None:
            raise AppServiceUnreachable("The appservice has no URL.", errcode="M_URL_NOT_SET")
        try:
            resp = await self._client().get(reg.url + path, params=params, timeout=QUERY_TIMEOUT_S,
                                            headers={"Authorization": f"Bearer {reg.hs_token}"})
        except httpx.HTTPError as exc:
            raise AppServiceUnreachable(f"Hearth cannot reach the appservice: {exc or type(exc).__name__}.") from None
        if resp.status_code != 200:
            raise AppServiceUnreachable(f"The appservice answered {resp.status_code}.", errcode="M_BAD_STATUS",
                                        status=resp.status_code)
        return resp.json()
