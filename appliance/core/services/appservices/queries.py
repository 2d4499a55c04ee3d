"""Asking the appservices about users and aliases nobody has yet (application-service-api.md
"Querying"): a bridge creates its ghost or its portal room when asked, then answers 200. An
in-process bridge (appliance/bridges/) is asked directly, through the registry."""
from __future__ import annotations

from .client import AppServiceClient
from .registry import AppServiceRegistry


class AppServiceQueries:
    def __init__(self, registry: AppServiceRegistry, client: AppServiceClient):
        self.registry = registry
        self.client = client

    async def user_exists(self, user_id: str) -> bool:
        """Whether an appservice whose user namespace covers `user_id` says it exists now."""
        for reg in self.registry.all():
            if reg.url is not None and reg.claims("users", user_id) and await self.client.query_user(reg, user_id):
                return True
        for reg, queries in self.registry.in_process():
            if reg.claims("users", user_id) and await queries.user_exists(user_id):
                return True
        return False

    async def alias_exists(self, alias: str) -> bool:
        """Whether an appservice whose alias namespace covers `alias` says it exists now."""
        for reg in self.registry.all():
            if reg.url is not None and reg.claims("aliases", alias) and await self.client.query_alias(reg, alias):
                return True
        for reg, queries in self.registry.in_process():
            if reg.claims("aliases", alias) and await queries.alias_exists(alias):
                return True
        return False
