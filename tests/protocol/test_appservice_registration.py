"""Appservice registrations (application-service-api.md "Registration"): parsing, namespaces, clashes."""
from __future__ import annotations

import pytest

from appliance.core.protocol.appservice import RegistrationError, overlaps, parse_registration

SERVER = "example.org"


def reg(**changes):
    data = {
        "id": "IRC Bridge", "url": "http://127.0.0.1:1234",
        "as_token": "30c05ae90a248a4188e620216fa72e349803310ec83e2a77b34fe90be6081f46",
        "hs_token": "312df522183efd404ec1cd22d2ffa4bbc76a8c1ccf541dd692eef281356bb74e",
        "sender_localpart": "_irc_bot",
        "namespaces": {"users": [{"exclusive": True, "regex": "@_irc_bridge_.*"}],
                       "aliases": [{"exclusive": False, "regex": "#_irc_bridge_.*"}], "rooms": []},
    }
    data.update(changes)
    return data


def test_the_specs_example_registration():
    r = parse_registration(reg(), SERVER)
    assert r.id == "IRC Bridge" and r.sender(SERVER) == "@_irc_bot:example.org"
    assert r.claims("users", "@_irc_bridge_alice:example.org")
    assert r.claims("users", "@_irc_bridge_alice:example.org", exclusive_only=True)
    assert not r.claims("users", "@alice:example.org")
    assert r.claims("aliases", "#_irc_bridge_chat:example.org")
    assert not r.claims("aliases", "#_irc_bridge_chat:example.org", exclusive_only=True)
    assert r.is_user("@_irc_bot:example.org", SERVER) and r.is_user("@_irc_bridge_x:example.org", SERVER)
    assert not r.is_user("@_irc_bridge_x:elsewhere.org", SERVER)  # local users only
    assert r.rate_limited is True and r.receive_ephemeral is False and r.url == "http://127.0.0.1:1234"


def test_regexes_match_at_the_start_as_bridges_expect():
    r = parse_registration(reg(namespaces={"users": [{"regex": "^@whatsapp_.*:example\\.org$", "exclusive": True}]}),
                           SERVER)
    assert r.claims("users", "@whatsapp_123:example.org")
    assert not r.claims("users", "@x_whatsapp_123:example.org")


def test_unstable_flags_and_null_url():
    r = parse_registration(reg(url=None, **{"de.sorunome.msc2409.push_ephemeral": True,
                                            "org.matrix.msc3202": True, "io.element.msc4190": True}), SERVER)
    assert r.url is None and r.receive_ephemeral and r.device_lists and r.device_management


@pytest.mark.parametrize("changes, words", [
    ({"id": ""}, "`id`"),
    ({"as_token": None}, "`as_token`"),
    ({"hs_token": "30c05ae90a248a4188e620216fa72e349803310ec83e2a77b34fe90be6081f46"}, "must differ"),
    ({"url": "ftp://x"}, "`url`"),
    ({"sender_localpart": "has space"}, "sender_localpart"),
    ({"namespaces": "all"}, "`namespaces`"),
    ({"namespaces": {"users": [{"regex": "(unclosed"}]}}, "not valid"),
    ({"namespaces": {"users": [{"regex": "@a.*", "exclusive": "yes"}]}}, "`exclusive`"),
    ({"rate_limited": "no"}, "`rate_limited`"),
])
def test_bad_registrations_are_refused_with_the_reason(changes, words):
    with pytest.raises(RegistrationError, match=words):
        parse_registration(reg(**changes), SERVER)
    with pytest.raises(RegistrationError):
        parse_registration(["not", "a", "map"], SERVER)
    data = reg()
    del data["url"]
    with pytest.raises(RegistrationError, match="`url`"):
        parse_registration(data, SERVER)


def test_clashes_between_registrations():
    a = parse_registration(reg(), SERVER)
    assert "id" in overlaps(parse_registration(reg(as_token="a2", hs_token="h2", sender_localpart="b"), SERVER), a)
    assert "tokens" in overlaps(parse_registration(reg(id="other", hs_token="h2", sender_localpart="b"), SERVER), a)
    assert "bot" in overlaps(parse_registration(reg(id="other", as_token="a2", hs_token="h2"), SERVER), a)
    same_ns = parse_registration(reg(id="other", as_token="a2", hs_token="h2", sender_localpart="b"), SERVER)
    assert "namespace" in overlaps(same_ns, a)
    apart = parse_registration(reg(id="other", as_token="a2", hs_token="h2", sender_localpart="b",
                                   namespaces={"users": [{"regex": "@_slack_.*", "exclusive": True}]}), SERVER)
    assert overlaps(apart, a) is None
