"""Third-party networks (third_party_lookup.yaml), answered by the appservices that name the
protocol in their registration (application-service-api.md "Third-party networks"). An
appservice that fails to answer is left out of the answer rather than failing it."""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from ...protocol.appservice import Registration
from ...protocol.errors import NotFound
from .client import AppServiceClient, AppServiceUnreachable
from .registry import AppServiceRegistry

log = logging.getLogger(__name__)


class ThirdPartyLookup:
    def __init__(self, registry: AppServiceRegistry, client: AppServiceClient):
        self.registry = registry
        self.client = client

    def _providers(self, protocol: str | None = None) -> list[Registration]:
        return [reg for reg in self.registry.all()
                if reg.url is not None and reg.protocols and (protocol is None or protocol in reg.protocols)]

    async def _ask(self, reg: Registration, path: str, params: dict[str, str]) -> Any:
        try:
            return await self.client.third_party(reg, path, params)
        except (AppServiceUnreachable, ValueError) as exc:  # ValueError: not JSON
            log.warning("appservice %s: third-party lookup %s failed: %s", reg.id, path, exc)
            return None

    async def protocols(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for reg in self._providers():
            for protocol in reg.protocols:
                if protocol in out:
                    continue
                meta = await self._ask(reg, f"/_matrix/app/v1/thirdparty/protocol/{quote(protocol, safe='')}", {})
                if isinstance(meta, dict):
                    out[protocol] = meta
        return out

    async def protocol(self, protocol: str) -> dict[str, Any]:
        meta = (await self.protocols()).get(protocol)
        if meta is None:
            raise NotFound(f"Unknown protocol {protocol!r}")
        return meta

    async def lookup(self, kind: str, protocol: str | None, params: dict[str, str]) -> list[Any]:
        """`kind` is "location" or "user"; with a protocol, its fields are the query; without,
        `alias` or `userid` is asked of every appservice with a protocol."""
        path = f"/_matrix/app/v1/thirdparty/{kind}" + (f"/{quote(protocol, safe='')}" if protocol else "")
        out: list[Any] = []
        for reg in self._providers(protocol):
            found = await self._ask(reg, path, params)
            if isinstance(found, list):
                out += [item for item in found if isinstance(item, dict)]
        return out
