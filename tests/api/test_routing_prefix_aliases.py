"""r0 is served by the v3 rules (routing.PREFIX_ALIASES): every v3 path answers under r0 too,
the way it did when each endpoint had a rule per prefix, and nothing else gains an r0 path."""
from __future__ import annotations

import pytest
from quart import Blueprint

from appliance.core.api.routing import NO_AUTH, _rule_prefixes, endpoint


async def test_r0_serves_what_v3_serves(hs):
    alice = await hs.user("alice")
    for prefix in ("/_matrix/client/v3", "/_matrix/client/r0"):
        r = await hs.client.get(prefix + "/account/whoami", headers=alice.headers)
        assert r.status_code == 200 and (await r.get_json())["user_id"] == alice.user_id
        r = await hs.client.put(prefix + f"/profile/{alice.user_id}/displayname", headers=alice.headers,
                                json={"displayname": f"Alice {prefix[-2:]}"})
        assert r.status_code == 200
    r = await hs.client.get(f"/_matrix/client/r0/profile/{alice.user_id}/displayname")
    assert (await r.get_json()) == {"displayname": "Alice r0"}
    # Errors keep their shape under r0: missing token, wrong method, unknown path.
    r = await hs.client.get("/_matrix/client/r0/account/whoami")
    assert r.status_code == 401 and (await r.get_json())["errcode"] == "M_MISSING_TOKEN"
    r = await hs.client.delete("/_matrix/client/r0/account/whoami", headers=alice.headers)
    assert r.status_code == 405 and (await r.get_json())["errcode"] == "M_UNRECOGNIZED"
    r = await hs.client.get("/_matrix/client/r0/no/such/endpoint", headers=alice.headers)
    assert r.status_code == 404 and (await r.get_json())["errcode"] == "M_UNRECOGNIZED"


async def test_only_v3_endpoints_gain_an_r0_path(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    # /rooms/{id}/hierarchy exists under v1 only: neither v3 nor r0 answers it.
    assert (await hs.client.get(f"/_matrix/client/v1/rooms/{room_id}/hierarchy", headers=alice.headers)
            ).status_code == 200
    for prefix in ("/_matrix/client/v3", "/_matrix/client/r0"):
        r = await hs.client.get(f"{prefix}/rooms/{room_id}/hierarchy", headers=alice.headers)
        assert r.status_code == 404, prefix
    # A path that merely starts like r0 is not rewritten.
    r = await hs.client.get("/_matrix/client/r0x/account/whoami", headers=alice.headers)
    assert r.status_code == 404


async def test_one_rule_per_endpoint(hs):
    rules = [r.rule for r in hs.client.app.url_map.iter_rules()]
    assert not [r for r in rules if r.startswith(("/_matrix/client/r0/", "/_matrix/media/r0/"))]
    assert "/_matrix/client/v3/account/whoami" in rules
    assert len(rules) == len(set((r.rule, tuple(sorted(r.methods))) for r in hs.client.app.url_map.iter_rules()))


async def test_request_log_shows_the_path_as_sent(hs):
    alice = await hs.user("alice")
    await hs.client.get("/_matrix/client/r0/account/whoami", headers=alice.headers)
    entries = hs.hearth.web.process.request_log.query()
    assert any(e.path == "/_matrix/client/r0/account/whoami" for e in entries)


def test_an_alias_without_its_target_is_refused():
    assert _rule_prefixes(("/_matrix/client/v3", "/_matrix/client/r0")) == ("/_matrix/client/v3",)
    assert _rule_prefixes(("/_matrix/client/v1", "/_matrix/client/v3", "/_matrix/client/r0")) == (
        "/_matrix/client/v1", "/_matrix/client/v3")
    with pytest.raises(ValueError):
        endpoint(Blueprint("x_alias_only", __name__), "GET", "/x", auth=NO_AUTH,
                 prefixes=("/_matrix/client/r0",))(lambda: {})
