"""appliance/bridges/naming.py: ghost IDs and portal aliases, one-to-one and inside the namespace."""
from __future__ import annotations

import pytest

from appliance.bridges import naming
from appliance.core.protocol import ids

S = "hearth.test"


@pytest.mark.parametrize("remote, localpart", [
    ("alice", "alice"),
    ("Alice", "_alice"),
    ("alice_b", "alice__b"),
    ("[m]ike", "=5bm=5dike"),
    ("libera/Nick|away", "libera/_nick=7caway"),
    ("é", "=c3=a9"),
    ("a=b", "a=3db"),
])
def test_ghost_ids_escape_as_the_spec_suggests_and_read_back(remote, localpart):
    user_id = naming.ghost_id("irc", remote, S)
    assert user_id == f"@irc_{localpart}:{S}"
    assert ids.is_valid_user_id(user_id)
    assert naming.remote_id_of("irc", user_id, S) == remote


def test_what_is_not_a_ghost_reads_back_as_none():
    for user_id in ("@alice:hearth.test", "@irc_x:elsewhere.org", "@ircbot:hearth.test", "@irc__:hearth.test",
                    "@irc_=zz:hearth.test", "@irc_=c3:hearth.test"):
        assert naming.remote_id_of("irc", user_id, S) is None, user_id


def test_portal_aliases_stay_readable_and_lowered():
    alias = naming.portal_alias("irc", "libera_#Hearth", S)
    assert alias == "#irc_libera_#hearth:hearth.test"
    assert naming.portal_key_of_alias("irc", alias, S) == "libera_#hearth"
    assert naming.portal_key_of_alias("irc", "#irc_a=3ab=3dc:hearth.test", S) == "a:b=c"
    assert naming.portal_key_of_alias("irc", "#other_x:hearth.test", S) is None
    assert naming.portal_key_of_alias("irc", "#irc_:hearth.test", S) is None


def test_the_namespace_covers_ghosts_aliases_and_the_bot_only():
    reg = naming.namespace_registration("irc", S)
    assert reg.claims("users", naming.ghost_id("irc", "Bob", S), exclusive_only=True)
    assert reg.claims("aliases", naming.portal_alias("irc", "x", S), exclusive_only=True)
    assert reg.sender(S) == naming.bot_id("irc", S) == "@ircbot:hearth.test"
    assert not reg.claims("users", "@ircfan:hearth.test")
    assert not reg.claims("users", "@irc_bob:other.org")


@pytest.mark.parametrize("bad", ["", "IRC", "1irc", "irc-bridge", "a" * 17])
def test_bridge_ids_are_short_plain_words(bad):
    with pytest.raises(ValueError):
        naming.check_bridge_id(bad)
