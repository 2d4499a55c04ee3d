"""Push rules (client-server-api "Push Notifications"): the server-default rule set, the
user's ruleset as clients see it, rule validation and the evaluator. Pure: no I/O.

A ruleset is the `global` object of `m.push_rules`: the kinds in the order they are checked
(override, content, postcontent, room, sender, underride), each a list of rule dicts in spec
JSON. `postcontent` is not in the spec (up to v1.19): it comes from MSC4306 (thread
subscriptions), which Synapse serves, and is a kind of rules with conditions checked after the
content rules. No default rule uses it; clients that do not know it ignore the key.
`evaluate(ruleset, event, user_id, ctx)` returns the actions of the first enabled rule whose
conditions hold, or None when no rule matches.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .errors import InvalidParam, MissingParam

KINDS = ("override", "content", "postcontent", "room", "sender", "underride")
CONDITION_KINDS = frozenset({"override", "postcontent", "underride"})  # rules with `conditions`
HISTORICAL_ACTIONS = frozenset({"dont_notify", "coalesce"})
MASTER = ".m.rule.master"
MAX_SAFE_INT = 2**53 - 1


# -- the server-default rules (push.md "Predefined Rules", in the spec's order) ------------

def _match(key: str, pattern: str) -> dict[str, Any]:
    return {"kind": "event_match", "key": key, "pattern": pattern}


SOUND_DEFAULT = {"set_tweak": "sound", "value": "default"}
HIGHLIGHT = {"set_tweak": "highlight"}


def default_rules(user_id: str) -> dict[str, list[dict[str, Any]]]:
    """The server-default rules for `user_id`, by kind (fresh dicts: callers may mutate)."""
    override = [
        {"rule_id": MASTER, "enabled": False, "conditions": [], "actions": []},
        {"rule_id": ".m.rule.suppress_notices", "conditions": [_match("content.msgtype", "m.notice")],
         "actions": []},
        {"rule_id": ".m.rule.invite_for_me",
         "conditions": [_match("type", "m.room.member"), _match("content.membership", "invite"),
                        _match("state_key", user_id)],
         "actions": ["notify", SOUND_DEFAULT]},
        {"rule_id": ".m.rule.member_event", "conditions": [_match("type", "m.room.member")], "actions": []},
        {"rule_id": ".m.rule.is_user_mention",
         "conditions": [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids",
                         "value": user_id}],
         "actions": ["notify", SOUND_DEFAULT, HIGHLIGHT]},
        {"rule_id": ".m.rule.is_room_mention",
         "conditions": [{"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
                        {"kind": "sender_notification_permission", "key": "room"}],
         "actions": ["notify", HIGHLIGHT]},
        {"rule_id": ".m.rule.tombstone",
         "conditions": [_match("type", "m.room.tombstone"), _match("state_key", "")],
         "actions": ["notify", HIGHLIGHT]},
        {"rule_id": ".m.rule.reaction", "conditions": [_match("type", "m.reaction")], "actions": []},
        {"rule_id": ".m.rule.room.server_acl",
         "conditions": [_match("type", "m.room.server_acl"), _match("state_key", "")], "actions": []},
        {"rule_id": ".m.rule.suppress_edits",
         "conditions": [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type",
                         "value": "m.replace"}],
         "actions": []},
    ]
    underride = [
        {"rule_id": ".m.rule.call", "conditions": [_match("type", "m.call.invite")],
         "actions": ["notify", {"set_tweak": "sound", "value": "ring"}]},
        {"rule_id": ".m.rule.encrypted_room_one_to_one",
         "conditions": [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")],
         "actions": ["notify", SOUND_DEFAULT]},
        {"rule_id": ".m.rule.room_one_to_one",
         "conditions": [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
         "actions": ["notify", SOUND_DEFAULT]},
        {"rule_id": ".m.rule.message", "conditions": [_match("type", "m.room.message")], "actions": ["notify"]},
        {"rule_id": ".m.rule.encrypted", "conditions": [_match("type", "m.room.encrypted")], "actions": ["notify"]},
    ]
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    out["override"] = override
    out["underride"] = underride
    for rules in out.values():
        for r in rules:
            r.setdefault("enabled", True)
            r["default"] = True
    return copy.deepcopy(out)


def is_server_default(rule_id: str) -> bool:
    return rule_id.startswith(".")


# -- the user's ruleset -------------------------------------------------------------------

def build_ruleset(user_id: str, stored: Mapping[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """The complete ruleset from the stored `m.push_rules` content.

    User-defined rules are taken as stored; server-default rules always come from
    `default_rules` (so a newer server's defaults apply) with the user's `enabled` and
    `actions` for them. Order: master, user overrides, default overrides; for the other kinds
    the user's rules before the defaults.
    """
    glob = stored.get("global") if isinstance(stored, Mapping) else None
    glob = glob if isinstance(glob, Mapping) else {}
    defaults = default_rules(user_id)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        stored_rules = glob.get(kind)
        stored_rules = [r for r in stored_rules if isinstance(r, dict) and isinstance(r.get("rule_id"), str)] \
            if isinstance(stored_rules, list) else []
        by_id = {r["rule_id"]: r for r in stored_rules}
        user = [_user_rule(kind, r) for r in stored_rules if not is_server_default(r["rule_id"])]
        server = []
        for d in defaults[kind]:
            s = by_id.get(d["rule_id"])
            if s is not None:
                if isinstance(s.get("enabled"), bool):
                    d["enabled"] = s["enabled"]
                if isinstance(s.get("actions"), list):
                    d["actions"] = list(s["actions"])
            server.append(d)
        if kind == "override":
            out[kind] = server[:1] + user + server[1:]
        else:
            out[kind] = user + server
    return out


def _user_rule(kind: str, r: Mapping[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "rule_id": r["rule_id"],
        "default": False,
        "enabled": r.get("enabled") if isinstance(r.get("enabled"), bool) else True,
        "actions": list(r["actions"]) if isinstance(r.get("actions"), list) else [],
    }
    if kind in CONDITION_KINDS:
        rule["conditions"] = list(r["conditions"]) if isinstance(r.get("conditions"), list) else []
    elif kind == "content" and isinstance(r.get("pattern"), str):
        rule["pattern"] = r["pattern"]
    return rule


def find_rule(ruleset: Mapping[str, list[dict[str, Any]]], kind: str, rule_id: str) -> dict[str, Any] | None:
    for r in ruleset.get(kind, ()):
        if r["rule_id"] == rule_id:
            return r
    return None


# -- validation of client input -------------------------------------------------------------

def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidParam(f"Unknown push rule kind {kind!r}")
    return kind


def check_new_rule_id(kind: str, rule_id: str) -> None:
    """For PUT: user-defined rule IDs. Room and sender rules are named after what they match,
    but the spec's only limits on a new ID are these (pushrules.yaml `ruleId`): an ID that is not
    a room or user ID (an alias, say) is kept and simply matches nothing, as Synapse does."""
    if is_server_default(rule_id):
        raise InvalidParam("Rule IDs starting with '.' are reserved for server-default rules")
    if not rule_id or "/" in rule_id or "\\" in rule_id:
        raise InvalidParam("Rule IDs may not be empty or contain '/' or '\\'")


def check_actions(actions: Any) -> list[Any]:
    """Actions as given, to be read back as written: the historical ones (`dont_notify`,
    `coalesce`) are kept here and ignored when rules are evaluated (compile_ruleset)."""
    if not isinstance(actions, list):
        raise InvalidParam("actions must be a list")
    out: list[Any] = []
    for a in actions:
        if isinstance(a, str):
            if a != "notify" and a not in HISTORICAL_ACTIONS:
                raise InvalidParam(f"Unknown action {a!r}")
            out.append(a)
        elif isinstance(a, dict) and isinstance(a.get("set_tweak"), str):
            out.append(a)
        else:
            raise InvalidParam("An action is 'notify' or an object with a set_tweak string")
    return out


def check_rule_body(kind: str, rule_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of a user rule from a PUT body."""
    if "actions" not in body:
        raise MissingParam("actions is required")
    rule: dict[str, Any] = {"rule_id": rule_id, "enabled": True, "actions": check_actions(body["actions"])}
    if kind in CONDITION_KINDS:
        conditions = body.get("conditions", [])
        if not isinstance(conditions, list) or not all(
                isinstance(c, dict) and isinstance(c.get("kind"), str) for c in conditions):
            raise InvalidParam("conditions must be a list of objects with a kind")
        rule["conditions"] = conditions
    elif kind == "content":
        pattern = body.get("pattern")
        if pattern is None:
            raise MissingParam("pattern is required for content rules")
        if not isinstance(pattern, str):
            raise InvalidParam("pattern must be a string")
        rule["pattern"] = pattern
    return rule


# -- actions ----------------------------------------------------------------------------------

def notifies(actions: list[Any] | None) -> bool:
    return bool(actions) and "notify" in actions  # type: ignore[operator]


def tweaks(actions: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in actions:
        if isinstance(a, dict) and isinstance(a.get("set_tweak"), str):
            name = a["set_tweak"]
            out[name] = a.get("value", True) if name == "highlight" else a.get("value")
    return out


def is_highlight(actions: list[Any]) -> bool:
    return tweaks(actions).get("highlight") is True


# -- conditions ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EvalContext:
    """What the evaluator needs to know about the room at the event, for one user."""

    member_count: int = 0
    sender_power_level: float = 0
    notification_levels: Mapping[str, int] = field(default_factory=dict)  # PL `notifications`, parsed
    display_name: str | None = None  # the evaluating user's display name in the room

    def notification_level(self, key: str) -> int:
        return self.notification_levels.get(key, 50)


def split_path(key: str) -> list[str]:
    """`content.m\\.relates_to.rel_type` → ['content', 'm.relates_to', 'rel_type'] (appendices
    "Dot-separated property paths"): `\\.` is a dot and `\\\\` a backslash; other escapes stay."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(key):
        ch = key[i]
        if ch == "\\" and i + 1 < len(key) and key[i + 1] in ".\\":
            cur.append(key[i + 1])
            i += 2
            continue
        if ch == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


_MISSING = object()


def lookup(event: Mapping[str, Any], key: str) -> Any:
    value: Any = event
    for part in split_path(key):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _is_scalar(v: Any) -> bool:
    if v is None or isinstance(v, (str, bool)):
        return True
    return isinstance(v, int) and -MAX_SAFE_INT <= v <= MAX_SAFE_INT


def _same(a: Any, b: Any) -> bool:
    """Exact equality of non-compound canonical JSON values (true is not 1)."""
    return _is_scalar(a) and _is_scalar(b) and type(a) is type(b) and a == b


_WORD = "A-Za-z0-9_"


@lru_cache(maxsize=4096)
def glob_regex(pattern: str, word_boundary: bool) -> re.Pattern[str]:
    body = "".join(".*?" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    if word_boundary:
        return re.compile(f"(?<![{_WORD}])(?:{body})(?![{_WORD}])", re.IGNORECASE | re.DOTALL)
    return re.compile(f"(?:{body})\\Z", re.IGNORECASE | re.DOTALL)


def glob_matches(pattern: str, value: str, word_boundary: bool = False) -> bool:
    rx = glob_regex(pattern, word_boundary)
    return (rx.search(value) if word_boundary else rx.match(value)) is not None


_MEMBER_COUNT = re.compile(r"(==|<=|>=|<|>)?([0-9]+)")


def member_count_matches(is_: Any, count: int) -> bool:
    m = _MEMBER_COUNT.fullmatch(is_) if isinstance(is_, str) else None
    if m is None:
        return False
    op, n = m.group(1) or "==", int(m.group(2))
    return {"==": count == n, "<": count < n, ">": count > n, "<=": count <= n, ">=": count >= n}[op]


def condition_matches(cond: Mapping[str, Any], event: Mapping[str, Any], user_id: str, ctx: EvalContext) -> bool:
    kind = cond.get("kind")
    if kind == "event_match":
        key, pattern = cond.get("key"), cond.get("pattern")
        if not isinstance(key, str) or not isinstance(pattern, str):
            return False
        value = lookup(event, key)
        if not isinstance(value, str):
            return False
        return glob_matches(pattern, value, word_boundary=key == "content.body")
    if kind == "event_property_is":
        key = cond.get("key")
        if not isinstance(key, str) or "value" not in cond:
            return False
        return _same(lookup(event, key), cond["value"])
    if kind == "event_property_contains":
        key = cond.get("key")
        if not isinstance(key, str) or "value" not in cond:
            return False
        value = lookup(event, key)
        return isinstance(value, list) and any(_same(v, cond["value"]) for v in value)
    if kind == "contains_display_name":
        body = lookup(event, "content.body")
        name = ctx.display_name
        if not isinstance(body, str) or not name:
            return False
        rx = re.compile(f"(?<![{_WORD}]){re.escape(name)}(?![{_WORD}])", re.IGNORECASE)
        return rx.search(body) is not None
    if kind == "room_member_count":
        return member_count_matches(cond.get("is"), ctx.member_count)
    if kind == "sender_notification_permission":
        key = cond.get("key")
        if not isinstance(key, str):
            return False
        return ctx.sender_power_level >= ctx.notification_level(key)
    return False  # unrecognised conditions never match


def rule_matches(kind: str, rule: Mapping[str, Any], event: Mapping[str, Any], user_id: str,
                 ctx: EvalContext) -> bool:
    if kind in CONDITION_KINDS:
        conditions = rule.get("conditions") or []
        return all(isinstance(c, Mapping) and condition_matches(c, event, user_id, ctx) for c in conditions)
    if kind == "content":
        pattern = rule.get("pattern")
        body = lookup(event, "content.body")
        return isinstance(pattern, str) and isinstance(body, str) and glob_matches(pattern, body, True)
    if kind == "room":
        return event.get("room_id") == rule["rule_id"]
    if kind == "sender":
        return event.get("sender") == rule["rule_id"]
    return False


def evaluate(ruleset: Mapping[str, list[dict[str, Any]]], event: Mapping[str, Any], user_id: str,
             ctx: EvalContext) -> tuple[str, list[Any]] | None:
    """The first enabled matching rule as (rule_id, actions without historical ones), or None."""
    return evaluate_compiled(compile_ruleset(ruleset), event, ctx, ctx.display_name)


# -- the compiled evaluator -------------------------------------------------------------------
#
# The server evaluates every event against the ruleset of each member of its room. Compiling a
# ruleset once (per user, until it changes) leaves per event only the tests themselves: paths
# are split, globs compiled, disabled rules dropped and historical actions removed beforehand.
# Most conditions (every server-default one) are a function of the event and of the room at
# the event only, the same for every member: their outcome has a memo key, and one `memo`
# dict per event lets all members share it. Only `contains_display_name` depends on the member.

Test = Callable[[Mapping[str, Any], EvalContext, "str | None"], bool]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule_id: str
    actions: tuple[Any, ...]
    tests: tuple[tuple[int | None, Test], ...]  # (memo slot or None, test); all must hold
    type_globs: tuple[re.Pattern[str], ...] = ()  # its event_match conditions on `type`


class CompiledRuleset:
    """A user's enabled rules in evaluation order, and for each event type seen the rules that
    can match it: a rule with an `event_match` on `type` that fails for a type is left out for
    that type (it could not match), which halves the rules tried for a message."""

    __slots__ = ("rules", "_by_type")
    TYPES_KEPT = 64

    def __init__(self, rules: tuple[CompiledRule, ...]):
        self.rules = rules
        self._by_type: dict[str, tuple[CompiledRule, ...]] = {}

    def for_type(self, event_type: str) -> tuple[CompiledRule, ...]:
        rules = self._by_type.get(event_type)
        if rules is None:
            if len(self._by_type) >= self.TYPES_KEPT:  # event types are chosen by senders
                self._by_type.clear()
            rules = self._by_type[event_type] = tuple(
                r for r in self.rules if all(rx.match(event_type) is not None for rx in r.type_globs))
        return rules


_memo_slots: dict[Any, int] = {}


def _memo_slot(key: Any) -> int | None:
    """A small integer per distinct member-independent test (cheaper to look up than the key)."""
    if key is None:
        return None
    slot = _memo_slots.get(key)
    if slot is None:
        slot = _memo_slots[key] = len(_memo_slots)
    return slot


def _never(event: Mapping[str, Any], ctx: EvalContext, name: str | None) -> bool:
    return False


def _path_getter(key: str) -> Callable[[Mapping[str, Any]], Any]:
    parts = tuple(split_path(key))

    def get(event: Mapping[str, Any]) -> Any:
        value: Any = event
        for part in parts:
            if not isinstance(value, Mapping) or part not in value:
                return _MISSING
            value = value[part]
        return value

    return get


def _scalar_key(v: Any) -> Any:
    """A hashable stand-in for a scalar that keeps true and 1 apart."""
    return (type(v).__name__, v)


def _compile_condition(cond: Any) -> tuple[Any, Test]:
    """The same outcome as `condition_matches`, as (memo key, test)."""
    if not isinstance(cond, Mapping):
        return ("never",), _never
    kind = cond.get("kind")
    if kind == "event_match":
        key, pattern = cond.get("key"), cond.get("pattern")
        if not isinstance(key, str) or not isinstance(pattern, str):
            return ("never",), _never
        get = _path_getter(key)
        word = key == "content.body"
        rx = glob_regex(pattern, word)
        find = rx.search if word else rx.match

        def event_match(event: Mapping[str, Any], ctx: EvalContext, name: str | None) -> bool:
            value = get(event)
            return isinstance(value, str) and find(value) is not None

        return ("event_match", key, pattern), event_match
    if kind in ("event_property_is", "event_property_contains"):
        key = cond.get("key")
        if not isinstance(key, str) or "value" not in cond:
            return ("never",), _never
        expected = cond["value"]
        if not _is_scalar(expected):  # compound values are never equal to anything (`_same`)
            return ("never",), _never
        get = _path_getter(key)
        memo_key = (kind, key, _scalar_key(expected))
        if kind == "event_property_is":
            def property_is(event: Mapping[str, Any], ctx: EvalContext, name: str | None) -> bool:
                return _same(get(event), expected)

            return memo_key, property_is

        def property_contains(event: Mapping[str, Any], ctx: EvalContext, name: str | None) -> bool:
            value = get(event)
            return isinstance(value, list) and any(_same(v, expected) for v in value)

        return memo_key, property_contains
    if kind == "contains_display_name":
        return None, _contains_display_name  # depends on the member: never shared
    if kind == "room_member_count":
        is_ = cond.get("is")

        def member_count(event: Mapping[str, Any], ctx: EvalContext, name: str | None) -> bool:
            return member_count_matches(is_, ctx.member_count)

        return ("room_member_count", _scalar_key(is_) if _is_scalar(is_) else repr(is_)), member_count
    if kind == "sender_notification_permission":
        key = cond.get("key")
        if not isinstance(key, str):
            return ("never",), _never

        def permission(event: Mapping[str, Any], ctx: EvalContext, name: str | None) -> bool:
            return ctx.sender_power_level >= ctx.notification_level(key)

        return ("sender_notification_permission", key), permission
    return ("never",), _never  # unrecognised conditions never match


@lru_cache(maxsize=1024)
def _display_name_regex(name: str) -> re.Pattern[str]:
    return re.compile(f"(?<![{_WORD}]){re.escape(name)}(?![{_WORD}])", re.IGNORECASE)


def _contains_display_name(event: Mapping[str, Any], ctx: EvalContext, name: str | None) -> bool:
    body = lookup(event, "content.body")
    if not isinstance(body, str) or not name:
        return False
    return _display_name_regex(name).search(body) is not None


_get_body = _path_getter("content.body")


def _compile_rule(kind: str, rule: Mapping[str, Any]) -> CompiledRule:
    actions = tuple(a for a in rule.get("actions", []) if not (isinstance(a, str) and a in HISTORICAL_ACTIONS))
    rule_id = rule["rule_id"]
    tests: tuple[tuple[Any, Test], ...]
    type_globs: tuple[re.Pattern[str], ...] = ()
    if kind in CONDITION_KINDS:
        conditions = rule.get("conditions") or []
        tests = tuple(_compile_condition(c) for c in conditions)
        type_globs = tuple(glob_regex(c["pattern"], False) for c in conditions
                           if isinstance(c, Mapping) and c.get("kind") == "event_match" and c.get("key") == "type"
                           and isinstance(c.get("pattern"), str))
    elif kind == "content":
        pattern = rule.get("pattern")
        if isinstance(pattern, str):
            rx = glob_regex(pattern, True)

            def content(event: Mapping[str, Any], ctx: EvalContext, name: str | None) -> bool:
                body = _get_body(event)
                return isinstance(body, str) and rx.search(body) is not None

            tests = ((("content", pattern), content),)
        else:
            tests = ((("never",), _never),)
    elif kind in ("room", "sender"):
        field_ = "room_id" if kind == "room" else "sender"

        def same_id(event: Mapping[str, Any], ctx: EvalContext, name: str | None) -> bool:
            return event.get(field_) == rule_id

        tests = (((kind, rule_id), same_id),)
    else:
        tests = ((("never",), _never),)
    return CompiledRule(rule_id, actions, tuple((_memo_slot(key), test) for key, test in tests), type_globs)


def compile_ruleset(ruleset: Mapping[str, list[dict[str, Any]]]) -> CompiledRuleset:
    """The enabled rules in evaluation order, ready for `evaluate_compiled`."""
    return CompiledRuleset(tuple(_compile_rule(kind, rule) for kind in KINDS for rule in ruleset.get(kind, ())
                                 if rule.get("enabled", True)))


def evaluate_compiled(ruleset: CompiledRuleset, event: Mapping[str, Any], ctx: EvalContext,
                      display_name: str | None = None,
                      memo: dict[int, bool] | None = None) -> tuple[str, list[Any]] | None:
    """`evaluate` for a compiled ruleset. `memo` (one dict per event, shared by the members it
    is evaluated for, with the same `ctx` apart from the display name) keeps the outcome of each
    member-independent test."""
    if memo is None:
        memo = {}
    event_type = event.get("type")
    rules = ruleset.for_type(event_type) if isinstance(event_type, str) else ruleset.rules
    for rule in rules:
        for key, test in rule.tests:
            if key is None:
                ok = test(event, ctx, display_name)
            else:
                ok = memo.get(key)
                if ok is None:
                    ok = memo[key] = test(event, ctx, display_name)
            if not ok:
                break
        else:
            return rule.rule_id, list(rule.actions)
    return None
