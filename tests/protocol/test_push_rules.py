"""Push rules, pure: the default rule set (push.md "Predefined Rules"), every condition kind,
dotted-key escaping (appendices "Dot-separated property paths"), globbing and the evaluator."""
from __future__ import annotations

import pytest

from appliance.core.protocol import push_rules as pr
from appliance.core.protocol.errors import InvalidParam, MissingParam

ME = "@bob:hearth.test"
OTHER = "@alice:hearth.test"
ROOM = "!room:hearth.test"


def msg(body: str = "hello", **content) -> dict:
    return {"type": "m.room.message", "sender": OTHER, "room_id": ROOM,
            "content": {"msgtype": "m.text", "body": body, **content}}


def run(event: dict, ctx: pr.EvalContext | None = None, stored: dict | None = None):
    ctx = ctx or pr.EvalContext(member_count=3)
    return pr.evaluate(pr.build_ruleset(ME, stored), event, ME, ctx)


GROUP = pr.EvalContext(member_count=3)
ONE_TO_ONE = pr.EvalContext(member_count=2)


# -- the default rule set -----------------------------------------------------------------------

def test_default_rules_in_spec_order():
    rules = pr.default_rules(ME)
    assert [r["rule_id"] for r in rules["override"]] == [
        ".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.member_event",
        ".m.rule.is_user_mention", ".m.rule.is_room_mention", ".m.rule.tombstone", ".m.rule.reaction",
        ".m.rule.room.server_acl", ".m.rule.suppress_edits"]
    assert [r["rule_id"] for r in rules["underride"]] == [
        ".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message",
        ".m.rule.encrypted"]
    assert rules["content"] == rules["room"] == rules["sender"] == []
    assert all(r["default"] for k in pr.KINDS for r in rules[k])
    master = rules["override"][0]
    assert master == {"rule_id": ".m.rule.master", "default": True, "enabled": False, "conditions": [],
                      "actions": []}
    mention = rules["override"][4]
    assert mention["conditions"] == [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids",
                                      "value": ME}]
    assert mention["actions"] == ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}]


def test_plain_message_in_a_group_notifies_without_highlight():
    rule_id, actions = run(msg())
    assert rule_id == ".m.rule.message" and actions == ["notify"]
    assert not pr.is_highlight(actions)


def test_user_mention_by_m_mentions_is_a_highlight():
    rule_id, actions = run(msg("hey", **{"m.mentions": {"user_ids": [ME]}}))
    assert rule_id == ".m.rule.is_user_mention"
    assert pr.notifies(actions) and pr.is_highlight(actions)
    assert pr.tweaks(actions) == {"sound": "default", "highlight": True}


def test_mention_of_someone_else_or_in_body_only_is_no_highlight():
    assert run(msg("hey", **{"m.mentions": {"user_ids": [OTHER]}}))[0] == ".m.rule.message"
    assert run(msg(f"hey {ME}"))[0] == ".m.rule.message"  # legacy body mentions were removed in v1.17


def test_room_mention_needs_the_notification_power_level():
    event = msg("@room", **{"m.mentions": {"room": True}})
    low = pr.EvalContext(member_count=3, sender_power_level=0)
    high = pr.EvalContext(member_count=3, sender_power_level=50)
    assert run(event, low)[0] == ".m.rule.message"
    rule_id, actions = run(event, high)
    assert rule_id == ".m.rule.is_room_mention" and pr.is_highlight(actions)
    custom = pr.EvalContext(member_count=3, sender_power_level=10, notification_levels={"room": 10})
    assert run(event, custom)[0] == ".m.rule.is_room_mention"
    assert run(msg("x", **{"m.mentions": {"room": "true"}}), high)[0] == ".m.rule.message"  # not a boolean


def test_edits_are_suppressed():
    edit = msg("* fixed", **{"m.new_content": {"msgtype": "m.text", "body": "fixed"},
                             "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}})
    rule_id, actions = run(edit)
    assert rule_id == ".m.rule.suppress_edits" and not pr.notifies(actions)


def test_encrypted_one_to_one_and_group():
    enc = {"type": "m.room.encrypted", "sender": OTHER, "room_id": ROOM, "content": {"algorithm": "m.megolm.v1"}}
    rule_id, actions = run(enc, ONE_TO_ONE)
    assert rule_id == ".m.rule.encrypted_room_one_to_one"
    assert pr.tweaks(actions) == {"sound": "default"}
    assert run(enc, GROUP) == (".m.rule.encrypted", ["notify"])


def test_one_to_one_message_sound_and_call_ring():
    assert run(msg(), ONE_TO_ONE)[0] == ".m.rule.room_one_to_one"
    call = {"type": "m.call.invite", "sender": OTHER, "room_id": ROOM, "content": {}}
    assert pr.tweaks(run(call)[1]) == {"sound": "ring"}


def test_notices_members_reactions_acl_and_tombstone():
    assert not pr.notifies(run(msg("bot", msgtype="m.notice"))[1])
    member = {"type": "m.room.member", "state_key": OTHER, "sender": OTHER, "content": {"membership": "join"}}
    assert run(member)[0] == ".m.rule.member_event" and not pr.notifies(run(member)[1])
    invite = {"type": "m.room.member", "state_key": ME, "sender": OTHER, "content": {"membership": "invite"}}
    assert run(invite)[0] == ".m.rule.invite_for_me" and pr.notifies(run(invite)[1])
    reaction = {"type": "m.reaction", "sender": OTHER, "content": {}}
    assert run(reaction)[0] == ".m.rule.reaction"
    acl = {"type": "m.room.server_acl", "state_key": "", "sender": OTHER, "content": {}}
    assert run(acl)[0] == ".m.rule.room.server_acl"
    tomb = {"type": "m.room.tombstone", "state_key": "", "sender": OTHER, "content": {}}
    assert run(tomb)[0] == ".m.rule.tombstone" and pr.is_highlight(run(tomb)[1])
    assert run({"type": "m.room.tombstone", "sender": OTHER, "content": {}}) is None  # not a state event
    assert run({"type": "m.room.topic", "state_key": "", "sender": OTHER, "content": {"topic": "x"}}) is None


def test_master_rule_enabled_silences_everything():
    stored = {"global": {"override": [{"rule_id": ".m.rule.master", "enabled": True, "actions": []}]}}
    rule_id, actions = run(msg("hey", **{"m.mentions": {"user_ids": [ME]}}), stored=stored)
    assert rule_id == ".m.rule.master" and actions == []


# -- conditions ---------------------------------------------------------------------------------

def cond(c: dict, event: dict, ctx: pr.EvalContext = GROUP) -> bool:
    return pr.condition_matches(c, event, ME, ctx)


def test_event_match_glob_case_insensitive_whole_value():
    topic = {"type": "m.room.topic", "content": {"topic": "Lunch plans"}}
    c = {"kind": "event_match", "key": "content.topic", "pattern": "lunc?*"}
    assert cond(c, topic)
    assert cond(c, {"content": {"topic": "LUNCH"}})
    assert not cond(c, {"content": {"topic": " lunch"}})
    assert not cond(c, {"content": {"topic": "lunc"}})
    assert not cond(c, {"content": {"topic": None}})
    assert not cond({"kind": "event_match", "key": "content.topic", "pattern": "*"}, {"content": {}})
    assert not cond({"kind": "event_match", "key": "content.n", "pattern": "*"}, {"content": {"n": 1}})
    assert cond({"kind": "event_match", "key": "type", "pattern": "m.room.*"}, topic)
    assert not cond({"kind": "event_match", "key": "type", "pattern": "m.room"}, topic)
    assert cond({"kind": "event_match", "key": "content.x", "pattern": "a.b"}, {"content": {"x": "A.B"}})
    assert not cond({"kind": "event_match", "key": "content.x", "pattern": "a.b"}, {"content": {"x": "axb"}})


def test_event_match_content_body_at_word_boundaries():
    c = {"kind": "event_match", "key": "content.body", "pattern": "ex*ple"}
    assert cond(c, msg("An example event."))
    assert cond(c, msg("exple"))
    assert cond(c, msg("An exciting triple-whammy"))
    assert not cond(c, msg("Anexample"))
    cake = {"kind": "event_match", "key": "content.body", "pattern": "cake"}
    assert cond(cake, msg("I like CAKE!")) and not cond(cake, msg("cakes")) and not cond(cake, msg("cup_cake"))


def test_event_property_is_exact_scalars():
    create = {"content": {"m.federate": True, "n": 1, "s": "true", "z": None, "f": 1.5}}
    assert cond({"kind": "event_property_is", "key": "content.m\\.federate", "value": True}, create)
    assert not cond({"kind": "event_property_is", "key": "content.m\\.federate", "value": "true"}, create)
    assert not cond({"kind": "event_property_is", "key": "content.m\\.federate", "value": 1}, create)
    assert not cond({"kind": "event_property_is", "key": "content.n", "value": True}, create)
    assert cond({"kind": "event_property_is", "key": "content.n", "value": 1}, create)
    assert cond({"kind": "event_property_is", "key": "content.z", "value": None}, create)
    assert not cond({"kind": "event_property_is", "key": "content.missing", "value": None}, create)
    assert not cond({"kind": "event_property_is", "key": "content.f", "value": 1.5}, create)
    assert not cond({"kind": "event_property_is", "key": "content.n"}, create)


def test_event_property_contains():
    ev = {"content": {"alt_aliases": ["#somewhere:example.org", "#myroom:example.com", 3, [1]]}}
    assert cond({"kind": "event_property_contains", "key": "content.alt_aliases", "value": "#myroom:example.com"}, ev)
    assert not cond({"kind": "event_property_contains", "key": "content.alt_aliases", "value": ":example.com"}, ev)
    assert cond({"kind": "event_property_contains", "key": "content.alt_aliases", "value": 3}, ev)
    assert not cond({"kind": "event_property_contains", "key": "content.alt_aliases", "value": True}, ev)
    assert not cond({"kind": "event_property_contains", "key": "content.alias", "value": "x"},
                    {"content": {"alias": "x"}})  # not an array


def test_dotted_key_escaping():
    assert pr.split_path("content.m\\.relates_to.rel_type") == ["content", "m.relates_to", "rel_type"]
    assert pr.split_path("content.m\\\\foo") == ["content", "m\\foo"]
    assert pr.split_path("content.a\\xb") == ["content", "a\\xb"]
    ev = {"content": {"m\\foo": "yes", "m.relates_to": {"rel_type": "m.thread"}, "m": {"relates_to": "no"}}}
    assert cond({"kind": "event_property_is", "key": "content.m\\\\foo", "value": "yes"}, ev)
    assert cond({"kind": "event_match", "key": "content.m\\.relates_to.rel_type", "pattern": "m.thread"}, ev)
    assert cond({"kind": "event_match", "key": "content.m.relates_to", "pattern": "no"}, ev)  # nested "m"
    assert not cond({"kind": "event_match", "key": "content.m.relates_to.rel_type", "pattern": "*"}, ev)


def test_contains_display_name():
    c = {"kind": "contains_display_name"}
    named = pr.EvalContext(member_count=3, display_name="Bob Smith")
    assert cond(c, msg("hi bob smith, lunch?"), named)
    assert not cond(c, msg("hi bob smithers"), named)
    assert not cond(c, msg("hi bob"), pr.EvalContext(member_count=3, display_name=None))
    assert not cond(c, {"content": {}}, named)
    assert cond(c, msg("ping a*b now"), pr.EvalContext(display_name="a*b"))
    assert not cond(c, msg("ping axxb now"), pr.EvalContext(display_name="a*b"))  # literal, not a glob


@pytest.mark.parametrize("is_, count, expected", [
    ("2", 2, True), ("2", 3, False), ("==2", 2, True), ("<2", 1, True), ("<2", 2, False), (">2", 3, True),
    (">2", 2, False), ("<=2", 2, True), ("<=2", 3, False), (">=10", 10, True), (">=10", 9, False),
    ("", 2, False), ("two", 2, False), ("=2", 2, False), (2, 2, False),
])
def test_room_member_count(is_, count, expected):
    assert cond({"kind": "room_member_count", "is": is_}, msg(), pr.EvalContext(member_count=count)) is expected


def test_sender_notification_permission():
    c = {"kind": "sender_notification_permission", "key": "room"}
    assert not cond(c, msg(), pr.EvalContext(sender_power_level=49))
    assert cond(c, msg(), pr.EvalContext(sender_power_level=50))
    assert cond(c, msg(), pr.EvalContext(sender_power_level=float("inf")))
    assert cond(c, msg(), pr.EvalContext(sender_power_level=0, notification_levels={"room": 0}))
    assert not cond({"kind": "sender_notification_permission"}, msg(), pr.EvalContext(sender_power_level=100))


def test_unknown_condition_never_matches():
    assert not cond({"kind": "org.example.whatever"}, msg())
    stored = {"global": {"override": [{"rule_id": "weird", "conditions": [{"kind": "nope"}], "actions": ["notify"]}]}}
    assert run(msg(), stored=stored)[0] == ".m.rule.message"


# -- user rules -------------------------------------------------------------------------------

def test_user_rules_come_before_defaults_and_after_master():
    stored = {"global": {
        "override": [{"rule_id": "beer", "conditions": [{"kind": "event_match", "key": "content.body",
                                                          "pattern": "beer"}], "actions": ["notify"]}],
        "content": [{"rule_id": "cake", "pattern": "cake*lie", "actions": ["notify", {"set_tweak": "highlight"}]}],
        "room": [{"rule_id": ROOM, "actions": []}],
        "sender": [{"rule_id": "@spam:hearth.test", "actions": []}],
    }}
    rules = pr.build_ruleset(ME, stored)
    assert [r["rule_id"] for r in rules["override"]][:3] == [".m.rule.master", "beer", ".m.rule.suppress_notices"]
    assert rules["content"][0] == {"rule_id": "cake", "default": False, "enabled": True, "pattern": "cake*lie",
                                   "actions": ["notify", {"set_tweak": "highlight"}]}
    assert run(msg("cold beer"), stored=stored)[0] == "beer"
    assert run(msg("the cake is a lie"), stored=stored)[0] == "cake"
    assert run(msg("hello"), stored=stored)[0] == ROOM  # the room rule silences it
    other_room = dict(msg("hello"), room_id="!other:hearth.test")
    assert run(other_room, stored=stored)[0] == ".m.rule.message"
    spam = dict(msg("hello"), room_id="!other:hearth.test", sender="@spam:hearth.test")
    assert run(spam, stored=stored) == ("@spam:hearth.test", [])


def test_stored_defaults_keep_only_enabled_and_actions():
    stored = {"global": {"underride": [{"rule_id": ".m.rule.message", "enabled": False, "default": True,
                                        "conditions": [{"kind": "event_match", "key": "type", "pattern": "*"}],
                                        "actions": ["notify", "dont_notify"]}]}}
    rules = pr.build_ruleset(ME, stored)
    message = pr.find_rule(rules, "underride", ".m.rule.message")
    assert message["enabled"] is False
    assert message["conditions"] == [{"kind": "event_match", "key": "type", "pattern": "m.room.message"}]
    assert run(msg(), stored=stored) is None  # disabled: nothing else matches a plain message
    stored["global"]["underride"][0]["enabled"] = True
    assert run(msg(), stored=stored) == (".m.rule.message", ["notify"])  # dont_notify is ignored


def test_validation():
    with pytest.raises(InvalidParam):
        pr.check_kind("global")
    for bad in (".mine", "a/b", "a\\b", ""):
        with pytest.raises(InvalidParam):
            pr.check_new_rule_id("override", bad)
    pr.check_new_rule_id("room", "#alias:x")  # the spec limits only '.', '/' and '\\'
    pr.check_new_rule_id("sender", "!room:x")
    with pytest.raises(MissingParam):
        pr.check_rule_body("override", "x", {})
    with pytest.raises(MissingParam):
        pr.check_rule_body("content", "x", {"actions": []})
    with pytest.raises(InvalidParam):
        pr.check_rule_body("override", "x", {"actions": ["explode"]})
    with pytest.raises(InvalidParam):
        pr.check_rule_body("override", "x", {"actions": [], "conditions": [{"key": "no kind"}]})
    assert pr.check_actions(["notify", "coalesce", {"set_tweak": "sound", "value": "x"}]) == [
        "notify", "coalesce", {"set_tweak": "sound", "value": "x"}]  # read back as written


# -- the compiled evaluator with one memo per event -------------------------------------------

def test_one_memo_shared_by_members_gives_each_their_own_outcome():
    """Member-independent outcomes are shared; mentions, invites, display names and each
    member's own rules are not."""
    carol = "@carol:hearth.test"
    carol_rules = pr.compile_ruleset(pr.build_ruleset(carol, {"global": {
        "content": [{"rule_id": "lunch", "pattern": "lunch", "actions": ["notify", {"set_tweak": "highlight"}]}],
        "override": [{"rule_id": "named", "conditions": [{"kind": "contains_display_name"}],
                      "actions": ["notify", {"set_tweak": "sound", "value": "x"}]}]}}))
    bob_rules = pr.compile_ruleset(pr.build_ruleset(ME, None))
    events = [
        msg("lunch?", **{"m.mentions": {"user_ids": [ME]}}),
        msg("lunch for Carol C?"),
        msg("Bob and Carol C"),
        {"type": "m.room.member", "state_key": carol, "sender": OTHER, "content": {"membership": "invite"}},
        {"type": "m.room.member", "state_key": ME, "sender": OTHER, "content": {"membership": "invite"}},
    ]
    for event in events:
        for ctx in (GROUP, ONE_TO_ONE):
            memo: dict = {}
            shared = [pr.evaluate_compiled(bob_rules, event, ctx, "Bob", memo),
                      pr.evaluate_compiled(carol_rules, event, ctx, "Carol C", memo)]
            alone = [pr.evaluate(pr.build_ruleset(ME, None), event, ME,
                                 pr.EvalContext(ctx.member_count, display_name="Bob")),
                     pr.evaluate(pr.build_ruleset(carol, {"global": {
                         "content": [{"rule_id": "lunch", "pattern": "lunch",
                                      "actions": ["notify", {"set_tweak": "highlight"}]}],
                         "override": [{"rule_id": "named", "conditions": [{"kind": "contains_display_name"}],
                                       "actions": ["notify", {"set_tweak": "sound", "value": "x"}]}]}}),
                                 event, carol, pr.EvalContext(ctx.member_count, display_name="Carol C"))]
            assert shared == alone, event
    memo = {}
    assert pr.evaluate_compiled(bob_rules, events[0], GROUP, None, memo)[0] == ".m.rule.is_user_mention"
    assert pr.evaluate_compiled(carol_rules, events[0], GROUP, None, memo)[0] == "lunch"
    assert pr.evaluate_compiled(carol_rules, events[3], GROUP, None, {})[0] == ".m.rule.invite_for_me"
    assert pr.evaluate_compiled(bob_rules, events[3], GROUP, None, {})[0] == ".m.rule.member_event"


def test_compiled_true_is_not_one():
    rules = pr.compile_ruleset({"override": [
        {"rule_id": "one", "conditions": [{"kind": "event_property_is", "key": "content.x", "value": 1}],
         "actions": ["notify"]},
        {"rule_id": "true", "conditions": [{"kind": "event_property_is", "key": "content.x", "value": True}],
         "actions": ["notify"]}]})
    memo: dict = {}
    assert pr.evaluate_compiled(rules, {"content": {"x": True}}, GROUP, None, memo)[0] == "true"
    assert pr.evaluate_compiled(rules, {"content": {"x": 1}}, GROUP, None, {})[0] == "one"


def test_rules_left_out_by_event_type_are_only_those_that_could_not_match():
    """The compiled ruleset tries, per event type, only rules whose `type` globs match it:
    globs are case-insensitive and may be wildcards, as in the full evaluation."""
    stored = {"global": {"override": [
        {"rule_id": "any_call", "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.call.*"}],
         "actions": ["notify"]}]}}
    rules = pr.compile_ruleset(pr.build_ruleset(ME, stored))
    shouting = {"type": "M.ROOM.MESSAGE", "sender": OTHER, "room_id": ROOM, "content": {"body": "x"}}
    assert pr.evaluate_compiled(rules, shouting, GROUP)[0] == ".m.rule.message"
    assert pr.evaluate_compiled(rules, {**shouting, "type": "m.call.hangup"}, GROUP)[0] == "any_call"
    ids = [r.rule_id for r in rules.for_type("m.room.message")]
    assert ".m.rule.message" in ids and ".m.rule.is_user_mention" in ids
    assert not {"any_call", ".m.rule.call", ".m.rule.member_event", ".m.rule.encrypted"} & set(ids)
    for i in range(pr.CompiledRuleset.TYPES_KEPT * 2):  # types chosen by senders: the memo stays bounded
        assert pr.evaluate_compiled(rules, {**shouting, "type": f"x.{i}"}, GROUP) is None
    assert len(rules._by_type) <= pr.CompiledRuleset.TYPES_KEPT


def test_postcontent_rules_come_after_content_and_before_room_rules():
    """MSC4306's kind (not in the spec up to v1.19; Synapse serves it): rules with conditions."""
    quiet = {"kind": "event_match", "key": "content.body", "pattern": "*quiet*"}
    stored = {"global": {
        "content": [{"rule_id": "cake", "pattern": "cake", "actions": ["notify", {"set_tweak": "highlight"}]}],
        "postcontent": [{"rule_id": "hush", "conditions": [quiet], "actions": []}],
        "room": [{"rule_id": ROOM, "actions": ["notify", {"set_tweak": "sound", "value": "x"}]}],
    }}
    rules = pr.build_ruleset(ME, stored)
    assert rules["postcontent"] == [{"rule_id": "hush", "default": False, "enabled": True, "conditions": [quiet],
                                     "actions": []}]
    assert pr.default_rules(ME)["postcontent"] == []
    assert run(msg("a quiet cake"), stored=stored)[0] == "cake"
    assert run(msg("be quiet"), stored=stored) == ("hush", [])
    assert run(msg("hello"), stored=stored)[0] == ROOM
    assert pr.check_rule_body("postcontent", "r", {"actions": [], "conditions": [quiet]})["conditions"] == [quiet]
