"""Push rules (pushrules.yaml): the user's global ruleset, one rule, its `enabled` and `actions`."""
from __future__ import annotations

from typing import Any

from pydantic import StrictBool, StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import InvalidParam, MissingParam
from ...services.auth import Requester
from ..routing import BodyModel, PathModel, QueryModel, endpoint

bp = Blueprint("client_push_rules", __name__)


class RulePath(PathModel):
    kind: str
    rule_id: str


class PositionQuery(QueryModel):
    before: str | None = None
    after: str | None = None


class PushRuleBody(BodyModel):
    """conditions are for override and underride rules, pattern for content rules (the service
    checks which the kind needs)."""
    actions: list[Any]
    conditions: list[dict[str, Any]] | None = None
    pattern: StrictStr | None = None
    body_errors = {"actions:missing": MissingParam, "*": InvalidParam}


class EnabledBody(BodyModel):
    enabled: StrictBool
    body_errors = {"enabled:missing": MissingParam, "enabled": InvalidParam}


class ActionsBody(BodyModel):
    actions: list[Any]
    body_errors = {"actions:missing": MissingParam, "actions": InvalidParam}


@endpoint(bp, "GET", "/pushrules/")
async def get_push_rules(me: Requester, hearth: Hearth) -> dict:
    return await hearth.push.rules.account_data_content(me.user_id)


@endpoint(bp, "GET", "/pushrules/global/")
async def get_push_rules_global(me: Requester, hearth: Hearth) -> dict:
    return (await hearth.push.rules.account_data_content(me.user_id))["global"]


class KindPath(PathModel):
    kind: str


@endpoint(bp, "GET", "/pushrules/global/{kind}/")
async def get_push_rules_of_kind(me: Requester, path: KindPath, hearth: Hearth) -> list:
    """Not in pushrules.yaml, but served by Synapse and used by clients: the rules of one kind."""
    return await hearth.push.rules.rules_of_kind(me.user_id, path.kind)


@endpoint(bp, "GET", "/pushrules/global/{kind}/{rule_id}")
async def get_push_rule(me: Requester, path: RulePath, hearth: Hearth) -> dict:
    return await hearth.push.rules.get_rule(me.user_id, path.kind, path.rule_id)


@endpoint(bp, "PUT", "/pushrules/global/{kind}/{rule_id}")
async def set_push_rule(me: Requester, path: RulePath, query: PositionQuery, body: PushRuleBody,
                        hearth: Hearth) -> dict:
    await hearth.push.rules.set_rule(me.user_id, path.kind, path.rule_id, body.model_dump(exclude_unset=True),
                                     query.before, query.after)
    return {}


@endpoint(bp, "DELETE", "/pushrules/global/{kind}/{rule_id}")
async def delete_push_rule(me: Requester, path: RulePath, hearth: Hearth) -> dict:
    await hearth.push.rules.delete_rule(me.user_id, path.kind, path.rule_id)
    return {}


@endpoint(bp, "GET", "/pushrules/global/{kind}/{rule_id}/enabled")
async def is_push_rule_enabled(me: Requester, path: RulePath, hearth: Hearth) -> dict:
    rule = await hearth.push.rules.get_rule(me.user_id, path.kind, path.rule_id)
    return {"enabled": rule["enabled"]}


@endpoint(bp, "PUT", "/pushrules/global/{kind}/{rule_id}/enabled")
async def set_push_rule_enabled(me: Requester, path: RulePath, body: EnabledBody, hearth: Hearth) -> dict:
    await hearth.push.rules.set_enabled(me.user_id, path.kind, path.rule_id, body.enabled)
    return {}


@endpoint(bp, "GET", "/pushrules/global/{kind}/{rule_id}/actions")
async def get_push_rule_actions(me: Requester, path: RulePath, hearth: Hearth) -> dict:
    rule = await hearth.push.rules.get_rule(me.user_id, path.kind, path.rule_id)
    return {"actions": rule["actions"]}


@endpoint(bp, "PUT", "/pushrules/global/{kind}/{rule_id}/actions")
async def set_push_rule_actions(me: Requester, path: RulePath, body: ActionsBody, hearth: Hearth) -> dict:
    await hearth.push.rules.set_actions(me.user_id, path.kind, path.rule_id, body.actions)
    return {}
