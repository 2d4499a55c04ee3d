from __future__ import annotations

import pytest

from appliance.core.protocol.federation_peers import address_is_public, server_matches, server_permitted


@pytest.mark.parametrize(("name", "glob", "expected"), [
    ("matrix.org", "matrix.org", True),
    ("Matrix.Org", "matrix.org", True),
    ("evil.matrix.org", "*.matrix.org", True),
    ("matrix.org", "*.matrix.org", False),
    ("matrix.org:8448", "matrix.org", False),
    ("matrix.org:8448", "matrix.org*", True),
    ("a.b", "?.b", True),
    ("ab.b", "?.b", False),
    ("matrixXorg", "matrix.org", False),  # the dot is literal, not a regex wildcard
])
def test_server_matches(name: str, glob: str, expected: bool) -> None:
    assert server_matches(name, glob) is expected


def test_permitted_lists() -> None:
    assert server_permitted("matrix.org", [], [])
    assert not server_permitted("spam.example", [], ["spam.example"])
    assert server_permitted("cousin.example", ["cousin.example", "*.family.net"], [])
    assert server_permitted("gran.family.net", ["cousin.example", "*.family.net"], [])
    assert not server_permitted("matrix.org", ["cousin.example"], [])
    # The deny list wins over the allow list.
    assert not server_permitted("bad.family.net", ["*.family.net"], ["bad.*"])


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True),
    ("2606:4700:4700::1111", True),
    ("[2606:4700:4700::1111]", True),
    ("127.0.0.1", False),
    ("10.1.2.3", False),
    ("192.168.1.20", False),
    ("172.16.0.1", False),
    ("169.254.1.1", False),
    ("100.64.0.1", False),  # carrier-grade NAT
    ("0.0.0.0", False),
    ("::1", False),
    ("fe80::1%eth0", False),
    ("fd00::1", False),
    ("::ffff:127.0.0.1", False),
    ("::ffff:8.8.8.8", True),
    ("224.0.0.1", False),
    ("matrix.org", False),  # not an address: resolve first
])
def test_address_is_public(address: str, public: bool) -> None:
    assert address_is_public(address) is public


def test_server_acl():
    from appliance.core.protocol.federation_peers import server_acl_allows

    acl = {"allow": ["*"], "deny": ["evil.example", "*.bad.org"], "allow_ip_literals": False}
    assert server_acl_allows(None, "anyone.example")
    assert server_acl_allows(acl, "good.example:8448")
    assert not server_acl_allows(acl, "evil.example")
    assert not server_acl_allows(acl, "evil.example:443")  # the port does not matter
    assert not server_acl_allows(acl, "x.bad.org")
    assert not server_acl_allows(acl, "1.2.3.4:8448")
    assert not server_acl_allows(acl, "[::1]:8448")
    assert server_acl_allows({"allow": ["*"]}, "1.2.3.4")  # IP literals allowed unless said
    assert not server_acl_allows({"deny": []}, "good.example")  # no allow: nobody
    assert not server_acl_allows({"allow": ["*"], "deny": ["*"]}, "good.example")  # deny wins
    assert not server_acl_allows("junk", "good.example")
