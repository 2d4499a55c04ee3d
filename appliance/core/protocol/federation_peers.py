"""Which servers and addresses we federate with (issue 18: allow/deny lists, no private peers).

Pure: the caller passes the operator's lists (settings) and the addresses a name resolved to.
Patterns are lower-case server names where `*` matches any run of characters and `?` one,
as in `m.room.server_acl` (server-server-api.md "Server Access Control Lists").
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile("".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob.lower()) + r"\Z", re.DOTALL)


def server_matches(server_name: str, glob: str) -> bool:
    """Whether `server_name` (port included, if it has one) matches `glob`, ignoring case."""
    return _pattern(glob).match(server_name.lower()) is not None


def server_permitted(server_name: str, allowed: Iterable[str], denied: Iterable[str]) -> bool:
    """The deny list wins; an empty allow list allows every server not denied."""
    if any(server_matches(server_name, glob) for glob in denied):
        return False
    allowed = list(allowed)
    return not allowed or any(server_matches(server_name, glob) for glob in allowed)


def address_is_public(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses
    (IPv4-mapped IPv6 judged as the IPv4 inside): the ones refused unless private peers are
    allowed. Not an IP literal at all: False (resolve it first)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def server_acl_allows(acl: object, server_name: str) -> bool:
    """Whether a room's `m.room.server_acl` content lets `server_name` take part
    (server-server-api.md "Server Access Control Lists"): an IP literal only if
    `allow_ip_literals` (default true) is, then not matching `deny`, then matching `allow`
    (missing: nobody). No ACL at all (None) allows everyone; the port is ignored."""
    if acl is None:
        return True
    if not isinstance(acl, dict):
        return False
    host = server_name[1:].split("]", 1)[0] if server_name.startswith("[") else server_name.rsplit(":", 1)[0] \
        if server_name.count(":") == 1 else server_name
    allow_ip = acl.get("allow_ip_literals", True)
    try:
        ipaddress.ip_address(host)
        if allow_ip is False:
            return False
    except ValueError:
        pass
    deny = acl.get("deny") if isinstance(acl.get("deny"), list) else []
    allow = acl.get("allow") if isinstance(acl.get("allow"), list) else []
    if any(isinstance(g, str) and server_matches(host, g) for g in deny):
        return False
    return any(isinstance(g, str) and server_matches(host, g) for g in allow)
