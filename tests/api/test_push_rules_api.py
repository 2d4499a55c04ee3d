"""Push rules API (pushrules.yaml): read, create with before/after, enable, actions, delete,
the spec's errors, and `m.push_rules` in /sync's account data."""
from __future__ import annotations


def ids(rules: list[dict]) -> list[str]:
    return [r["rule_id"] for r in rules]


async def test_get_all_rules_has_the_defaults(hs):
    bob = await hs.user("bob")
    body = await hs.ok("GET", "/pushrules/", bob)
    glob = body["global"]
    assert set(glob) == {"override", "content", "postcontent", "room", "sender", "underride"}
    assert ids(glob["override"])[:2] == [".m.rule.master", ".m.rule.suppress_notices"]
    mention = next(r for r in glob["override"] if r["rule_id"] == ".m.rule.is_user_mention")
    assert mention["conditions"][0]["value"] == bob.user_id and mention["default"] is True
    assert ids(glob["underride"])[-1] == ".m.rule.encrypted"
    assert await hs.ok("GET", "/pushrules/global/", bob) == glob
    rule = await hs.ok("GET", "/pushrules/global/override/.m.rule.master", bob)
    assert rule == {"rule_id": ".m.rule.master", "default": True, "enabled": False, "conditions": [], "actions": []}


async def test_create_order_update_and_delete(hs):
    bob = await hs.user("bob")
    await hs.ok("PUT", "/pushrules/global/content/cake", bob, {"pattern": "cake", "actions": ["notify"]})
    await hs.ok("PUT", "/pushrules/global/content/lie?before=cake", bob, {"pattern": "cake*lie", "actions": []})
    await hs.ok("PUT", "/pushrules/global/content/pie?after=cake", bob, {"pattern": "pie", "actions": ["notify"]})
    await hs.ok("PUT", "/pushrules/global/content/tea", bob, {"pattern": "tea", "actions": ["notify"]})
    content = (await hs.ok("GET", "/pushrules/global/", bob))["content"]
    assert ids(content) == ["tea", "lie", "cake", "pie"]
    assert content[1] == {"rule_id": "lie", "default": False, "enabled": True, "pattern": "cake*lie", "actions": []}
    # Updating keeps the position (and the enabled flag).
    await hs.ok("PUT", "/pushrules/global/content/cake/enabled", bob, {"enabled": False})
    await hs.ok("PUT", "/pushrules/global/content/cake", bob, {"pattern": "cakes", "actions": ["notify"]})
    content = (await hs.ok("GET", "/pushrules/global/", bob))["content"]
    assert ids(content) == ["tea", "lie", "cake", "pie"]
    assert content[2]["pattern"] == "cakes" and content[2]["enabled"] is False
    await hs.ok("DELETE", "/pushrules/global/content/lie", bob)
    await hs.error("GET", "/pushrules/global/content/lie", bob, None, "M_NOT_FOUND", 404)
    await hs.error("DELETE", "/pushrules/global/content/lie", bob, None, "M_NOT_FOUND", 404)
    # Override rules go after the master rule and before the server's other overrides.
    await hs.ok("PUT", "/pushrules/global/override/beer", bob, {
        "conditions": [{"kind": "event_match", "key": "content.body", "pattern": "beer"},
                       {"kind": "room_member_count", "is": "<=10"}],
        "actions": ["notify", {"set_tweak": "sound", "value": "beeroclock.wav"}]})
    override = (await hs.ok("GET", "/pushrules/global/", bob))["override"]
    assert ids(override)[:3] == [".m.rule.master", "beer", ".m.rule.suppress_notices"]
    room = "!dj234r78wl45Gh4D:matrix.org"
    await hs.ok("PUT", f"/pushrules/global/room/{room}", bob, {"actions": []})
    assert (await hs.ok("GET", f"/pushrules/global/room/{room}", bob))["actions"] == []


async def test_enabled_and_actions_of_server_defaults(hs):
    bob = await hs.user("bob")
    assert await hs.ok("GET", "/pushrules/global/override/.m.rule.master/enabled", bob) == {"enabled": False}
    await hs.ok("PUT", "/pushrules/global/override/.m.rule.master/enabled", bob, {"enabled": True})
    assert await hs.ok("GET", "/pushrules/global/override/.m.rule.master/enabled", bob) == {"enabled": True}
    await hs.ok("PUT", "/pushrules/global/underride/.m.rule.message/actions", bob,
                {"actions": ["notify", {"set_tweak": "sound", "value": "bing"}]})
    assert await hs.ok("GET", "/pushrules/global/underride/.m.rule.message/actions", bob) == {
        "actions": ["notify", {"set_tweak": "sound", "value": "bing"}]}
    rule = await hs.ok("GET", "/pushrules/global/underride/.m.rule.message", bob)
    assert rule["default"] is True and rule["conditions"][0]["pattern"] == "m.room.message"


async def test_errors(hs):
    bob = await hs.user("bob")
    base = "/pushrules/global"
    await hs.error("GET", f"{base}/override/nope", bob, None, "M_NOT_FOUND", 404)
    await hs.error("GET", f"{base}/override/nope/enabled", bob, None, "M_NOT_FOUND", 404)
    await hs.error("PUT", f"{base}/override/nope/enabled", bob, {"enabled": True}, "M_NOT_FOUND", 404)
    await hs.error("PUT", f"{base}/override/nope/actions", bob, {"actions": []}, "M_NOT_FOUND", 404)
    await hs.error("GET", f"{base}/override/nope/actions", bob, None, "M_NOT_FOUND", 404)
    await hs.error("GET", f"{base}/bogus/x", bob, None, "M_INVALID_PARAM", 400)
    await hs.error("PUT", f"{base}/bogus/x", bob, {"actions": []}, "M_INVALID_PARAM", 400)
    await hs.error("PUT", f"{base}/override/.mine", bob, {"actions": []}, "M_INVALID_PARAM", 400)
    await hs.error("PUT", f"{base}/override/.m.rule.master", bob, {"actions": []}, "M_INVALID_PARAM", 400)
    await hs.error("PUT", f"{base}/override/a%5Cb", bob, {"actions": []}, "M_INVALID_PARAM", 400)
    await hs.error("DELETE", f"{base}/override/.m.rule.master", bob, None, "M_INVALID_PARAM", 400)
    await hs.error("PUT", f"{base}/override/x", bob, {}, "M_MISSING_PARAM", 400)
    await hs.error("PUT", f"{base}/override/x", bob, {"actions": "notify"}, "M_INVALID_PARAM", 400)
    await hs.error("PUT", f"{base}/override/x", bob, {"actions": ["bogus_action"]}, "M_INVALID_PARAM", 400)
    await hs.error("PUT", f"{base}/content/x", bob, {"actions": []}, "M_MISSING_PARAM", 400)
    await hs.error("PUT", f"{base}/room/.not-a-room", bob, {"actions": []}, "M_INVALID_PARAM", 400)
    await hs.error("PUT", f"{base}/sender/a%5Cb", bob, {"actions": []}, "M_INVALID_PARAM", 400)
    body = await hs.error("PUT", f"{base}/override/x?before=missing", bob, {"actions": []}, "M_UNKNOWN", 400)
    assert "missing" in body["error"]
    await hs.error("PUT", f"{base}/override/x?after=.m.rule.master", bob, {"actions": []}, "M_UNKNOWN", 400)
    await hs.error("PUT", f"{base}/override/.m.rule.master/enabled", bob, {"enabled": "yes"}, "M_INVALID_PARAM", 400)
    await hs.error("PUT", f"{base}/override/.m.rule.master/enabled", bob, {}, "M_MISSING_PARAM", 400)
    await hs.error("PUT", f"{base}/override/.m.rule.master/actions", bob, {}, "M_MISSING_PARAM", 400)
    await hs.error("GET", "/pushrules/", None, None, "M_MISSING_TOKEN", 401)
    # The push rules are managed here, not through the account data API.
    await hs.error("PUT", f"/user/{bob.user_id}/account_data/m.push_rules", bob, {"global": {}}, "M_BAD_JSON", 400)


async def test_push_rules_in_sync_account_data(hs):
    bob = await hs.user("bob")
    first = await hs.ok("GET", "/sync", bob)
    events = {e["type"]: e["content"] for e in first["account_data"]["events"]}
    assert ids(events["m.push_rules"]["global"]["override"])[0] == ".m.rule.master"
    await hs.ok("PUT", "/pushrules/global/sender/@spam:hearth.test", bob, {"actions": []})
    later = await hs.ok("GET", f"/sync?since={first['next_batch']}", bob)
    events = {e["type"]: e["content"] for e in later["account_data"]["events"]}
    assert ids(events["m.push_rules"]["global"]["sender"]) == ["@spam:hearth.test"]
    again = await hs.ok("GET", f"/sync?since={later['next_batch']}", bob)
    assert not [e for e in again["account_data"]["events"] if e["type"] == "m.push_rules"]


async def test_rules_of_one_kind_any_rule_id_and_actions_as_written(hs):
    """GET /pushrules/global/{kind}/ (as Synapse serves it), room rules named by any string the
    spec's ruleId allows, and actions read back as written (the historical `dont_notify` kept)."""
    bob = await hs.user("bob")
    await hs.ok("PUT", "/pushrules/global/room/%23alias:hearth.test", bob, {"actions": ["dont_notify"]})
    assert (await hs.ok("GET", "/pushrules/global/room/%23alias:hearth.test", bob))["actions"] == ["dont_notify"]
    await hs.ok("PUT", "/pushrules/global/sender/anything", bob, {"actions": ["notify", "coalesce"]})
    assert await hs.ok("GET", "/pushrules/global/sender/anything/actions", bob) == {"actions": ["notify", "coalesce"]}
    await hs.ok("PUT", "/pushrules/global/underride/.m.rule.message/actions", bob, {"actions": ["dont_notify"]})
    assert await hs.ok("GET", "/pushrules/global/underride/.m.rule.message/actions", bob) == {
        "actions": ["dont_notify"]}
    r = await hs.client.get(hs.PREFIX + "/pushrules/global/room/", headers=bob.headers)
    assert r.status_code == 200
    assert [rule["rule_id"] for rule in await r.get_json()] == ["#alias:hearth.test"]
    await hs.error("GET", "/pushrules/global/bogus/", bob, None, "M_INVALID_PARAM", 400)


async def test_postcontent_rules(hs):
    """The `postcontent` kind of MSC4306 (Synapse serves it; the spec up to v1.19 has no such kind)."""
    bob = await hs.user("bob")
    assert (await hs.ok("GET", "/pushrules/", bob))["global"]["postcontent"] == []
    cond = [{"kind": "event_match", "key": "content.body", "pattern": "hush"}]
    await hs.ok("PUT", "/pushrules/global/postcontent/quiet", bob, {"actions": [], "conditions": cond})
    await hs.ok("PUT", "/pushrules/global/postcontent/first?before=quiet", bob, {"actions": ["notify"]})
    r = await hs.client.get(hs.PREFIX + "/pushrules/global/postcontent/", headers=bob.headers)
    assert [rule["rule_id"] for rule in await r.get_json()] == ["first", "quiet"]
    assert (await hs.ok("GET", "/pushrules/global/postcontent/quiet", bob)) == {
        "rule_id": "quiet", "default": False, "enabled": True, "conditions": cond, "actions": []}
    await hs.ok("PUT", "/pushrules/global/postcontent/quiet/enabled", bob, {"enabled": False})
    assert (await hs.ok("GET", "/pushrules/global/postcontent/quiet/enabled", bob)) == {"enabled": False}
    await hs.ok("DELETE", "/pushrules/global/postcontent/first", bob)
    assert [r["rule_id"] for r in (await hs.ok("GET", "/pushrules/", bob))["global"]["postcontent"]] == ["quiet"]


async def test_dont_notify_still_silences(hs):
    """A rule whose actions are only `dont_notify` is read back so, and still means no notification."""
    alice, bob = await hs.user("alice"), await hs.user("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    await hs.ok("PUT", f"/pushrules/global/room/{room}", bob, {"actions": ["dont_notify"]})
    await hs.send(alice, room)
    body = await hs.ok("GET", "/notifications", bob)
    assert body["notifications"] == []
