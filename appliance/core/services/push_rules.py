"""Push rules API (pushrules.yaml): a user's ruleset lives in their `m.push_rules` account data.

The stored content is the complete ruleset as clients see it (so /sync's account data carries
it); `build_ruleset` re-derives the server-default rules on every read, keeping only the user's
`enabled` and `actions` for them, so a newer server's defaults apply to old accounts.
"""
from __future__ import annotations

import asyncio
import copy
from collections import OrderedDict
from typing import Any

from ..protocol import push_rules as pr
from ..protocol.errors import InvalidParam, MatrixError, NotFound
from .account_data import AccountDataService

PUSH_RULES = "m.push_rules"


class PushRuleService:
    def __init__(self, account_data: AccountDataService, cache_size: int = 1024):
        self.account_data = account_data
        self._cache: OrderedDict[str, dict[str, list[dict[str, Any]]]] = OrderedDict()
        self._cache_size = cache_size
        self._locks: dict[str, asyncio.Lock] = {}
        # user -> (the cached ruleset it was compiled from, compiled rules): valid while that
        # ruleset is still the cached one (a change replaces it).
        self._compiled: dict[str, tuple[dict[str, list[dict[str, Any]]], pr.CompiledRuleset]] = {}

    async def ruleset(self, user_id: str) -> dict[str, list[dict[str, Any]]]:
        """The user's complete ruleset (shared: callers must not mutate it)."""
        cached = self._cache.get(user_id)
        if cached is not None:
            self._cache.move_to_end(user_id)
            return cached
        stored = await self.account_data.get(user_id, PUSH_RULES)
        rules = pr.build_ruleset(user_id, stored)
        self._cache[user_id] = rules
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return rules

    async def compiled(self, user_id: str) -> pr.CompiledRuleset:
        """The user's ruleset compiled for evaluation (push.py evaluates it for every event)."""
        rules = self._cache.get(user_id)
        entry = self._compiled.get(user_id)
        if rules is not None and entry is not None and entry[0] is rules:
            self._cache.move_to_end(user_id)
        else:
            rules = await self.ruleset(user_id)
            entry = (rules, pr.compile_ruleset(rules))
            self._compiled[user_id] = entry
            if len(self._compiled) > self._cache_size:
                for stale in [u for u, (r, _) in self._compiled.items() if self._cache.get(u) is not r]:
                    del self._compiled[stale]
        return entry[1]

    async def account_data_content(self, user_id: str) -> dict[str, Any]:
        return {"global": copy.deepcopy(await self.ruleset(user_id))}

    async def rules_of_kind(self, user_id: str, kind: str) -> list[dict[str, Any]]:
        return copy.deepcopy((await self.ruleset(user_id))[pr.check_kind(kind)])

    async def get_rule(self, user_id: str, kind: str, rule_id: str) -> dict[str, Any]:
        rule = pr.find_rule(await self.ruleset(user_id), pr.check_kind(kind), rule_id)
        if rule is None:
            raise NotFound("The push rule was not found.")
        return copy.deepcopy(rule)

    # -- changes ----------------------------------------------------------------------------

    async def _save(self, user_id: str, rules: dict[str, list[dict[str, Any]]]) -> None:
        self._cache.pop(user_id, None)
        await self.account_data.set(user_id, PUSH_RULES, {"global": rules})
        self._cache.pop(user_id, None)

    def _lock(self, user_id: str) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    async def set_rule(self, user_id: str, kind: str, rule_id: str, body: dict[str, Any],
                       before: str | None = None, after: str | None = None) -> None:
        pr.check_kind(kind)
        if pr.is_server_default(rule_id) and pr.find_rule(await self.ruleset(user_id), kind, rule_id) is not None:
            raise InvalidParam("Server-default rules can only be enabled, disabled or given new actions")
        pr.check_new_rule_id(kind, rule_id)
        new = pr.check_rule_body(kind, rule_id, body)
        new["default"] = False
        async with self._lock(user_id):
            rules = copy.deepcopy(await self.ruleset(user_id))
            current = rules[kind]
            user = [r for r in current if not r.get("default")]
            defaults = [r for r in current if r.get("default")]
            index = next((i for i, r in enumerate(user) if r["rule_id"] == rule_id), None)
            if index is not None:
                new["enabled"] = user[index].get("enabled", True)
                del user[index]
            for anchor in (before, after):
                if anchor is not None and anchor == rule_id:
                    raise MatrixError(f"A rule cannot be placed relative to itself: {anchor}")
            if before is not None or after is not None:
                anchor = before if before is not None else after
                pos = next((i for i, r in enumerate(user) if r["rule_id"] == anchor), None)
                if pos is None:
                    raise MatrixError(f"before/after rule not found: {anchor}")
                index = pos if before is not None else pos + 1
            elif index is None:
                index = 0
            user.insert(index, new)
            if kind == "override":
                rules[kind] = [r for r in defaults if r["rule_id"] == pr.MASTER] + user + \
                              [r for r in defaults if r["rule_id"] != pr.MASTER]
            else:
                rules[kind] = user + defaults
            await self._save(user_id, rules)

    async def delete_rule(self, user_id: str, kind: str, rule_id: str) -> None:
        pr.check_kind(kind)
        async with self._lock(user_id):
            rules = copy.deepcopy(await self.ruleset(user_id))
            rule = pr.find_rule(rules, kind, rule_id)
            if rule is None:
                raise NotFound("The push rule was not found.")
            if rule.get("default"):
                raise InvalidParam("Server-default rules cannot be deleted")
            rules[kind] = [r for r in rules[kind] if r["rule_id"] != rule_id]
            await self._save(user_id, rules)

    async def set_enabled(self, user_id: str, kind: str, rule_id: str, enabled: Any) -> None:
        if not isinstance(enabled, bool):
            raise InvalidParam("enabled must be a boolean")
        await self._update(user_id, kind, rule_id, "enabled", enabled)

    async def set_actions(self, user_id: str, kind: str, rule_id: str, actions: Any) -> None:
        await self._update(user_id, kind, rule_id, "actions", pr.check_actions(actions))

    async def _update(self, user_id: str, kind: str, rule_id: str, field: str, value: Any) -> None:
        pr.check_kind(kind)
        async with self._lock(user_id):
            rules = copy.deepcopy(await self.ruleset(user_id))
            rule = pr.find_rule(rules, kind, rule_id)
            if rule is None:
                raise NotFound("The push rule was not found.")
            rule[field] = value
            await self._save(user_id, rules)
