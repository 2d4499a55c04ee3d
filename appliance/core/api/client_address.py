"""Who is on the other end of a request, and whether the name they used is one of ours.

The client's address is the TCP peer of the socket, never a header: anyone can send
`X-Forwarded-For`. Only when the peer is one of the operator's trusted proxies
(`HEARTH_TRUSTED_PROXIES`, addresses or CIDRs, none by default) are the proxy headers read:
the standard `Forwarded` (RFC 7239) first, else `X-Forwarded-For`. The chain is walked from the
right (the hop nearest to us) past every trusted proxy; the first address that is not one is the
client.

`host_is_ours()` guards the web pages against DNS rebinding: a page fetched under a name that
is not ours (a hostile domain that resolves to the box) is refused. An IP literal cannot be
rebound (the browser's origin is then the address itself), so any address is accepted; names
must be the server name, `hearth.local`, the box's mDNS or host name, the public base URL's
host, `localhost`, or one the operator adds in `HEARTH_ALLOWED_HOSTS`.
"""
from __future__ import annotations

import functools
import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# One forwarded-pair of RFC 7239: token=token or token="quoted string".
_PAIR = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,"\s]*)\s*')


def parse_ip(text: str) -> IpAddress | None:
    """An address as a header or the ASGI scope gives it (`[v6]:port`, `v4:port`, `v6%zone`)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4 with a port
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def is_local_address(addr: IpAddress | None) -> bool:
    """On this host or the LAN: loopback, private or link-local."""
    return addr is not None and (addr.is_loopback or addr.is_private or addr.is_link_local)


@functools.lru_cache(maxsize=16)
def parse_networks(entries: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    """`HEARTH_TRUSTED_PROXIES` entries (validated by the settings model) as networks."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def forwarded_for(headers: Mapping[str, str]) -> list[str] | None:
    """The `for=` nodes of `Forwarded`, else the hops of `X-Forwarded-For`, leftmost first;
    None when the request carries neither."""
    forwarded = headers.get("Forwarded")
    if forwarded:
        hops = []
        for element in _split_elements(forwarded):
            for key, value in _PAIR.findall(element):
                if key.lower() == "for":
                    hops.append(_unquote(value))
        return hops
    xff = headers.get("X-Forwarded-For")
    if xff:
        return [hop.strip() for hop in xff.split(",")]
    return None


def _split_elements(value: str) -> list[str]:
    """Split at commas outside quoted strings."""
    out, current, quoted, escaped = [], [], False, False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(current))
            current = []
            continue
        current.append(ch)
    out.append("".join(current))
    return out


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def client_address(peer: str | None, headers: Mapping[str, str], trusted: Iterable[IpNetwork]) -> str | None:
    """The client's address (text, as given); None without a peer (a Unix socket, a test client)."""
    trusted = tuple(trusted)
    if peer is None or not trusted or not _in(parse_ip(peer), trusted):
        return peer
    hops = forwarded_for(headers)
    if not hops:
        return peer
    for hop in reversed(hops):
        if not _in(parse_ip(hop), trusted):
            return hop
    return hops[0]


def _in(addr: IpAddress | None, networks: tuple[IpNetwork, ...]) -> bool:
    return addr is not None and any(addr.version == n.version and addr in n for n in networks)


def is_local_client(peer: str | None, headers: Mapping[str, str], trusted: Iterable[IpNetwork]) -> bool:
    """The client is on this host or the LAN. Without a peer (Unix socket, in-process) it is.

    A peer that is not a trusted proxy but sends proxy headers naming an address off the LAN is
    a proxy we were not told about, forwarding someone else: not local either.
    """
    trusted = tuple(trusted)
    client = client_address(peer, headers, trusted)
    if client is None:
        return True
    if not is_local_address(parse_ip(client)):
        return False
    if client == peer:
        hops = forwarded_for(headers)
        if hops and not all(is_local_address(parse_ip(hop)) for hop in hops):
            return False
    return True


def host_name(host_header: str) -> str:
    """The name of a `Host` header without its port, lowercased, without a trailing dot."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


@functools.lru_cache(maxsize=1)
def machine_names() -> frozenset[str]:
    """This machine's own host name, bare and as its mDNS `.local` name (avahi answers to it)."""
    short = socket.gethostname().split(".")[0].lower()
    return frozenset({short, f"{short}.local", socket.getfqdn().lower()}) if short else frozenset()


def our_names(server_name: str, public_baseurl: str | None, extra: Iterable[str], mdns_host: str) -> frozenset[str]:
    names = {"localhost", "hearth.local", host_name(server_name), mdns_host.rstrip(".").lower(), *machine_names()}
    if public_baseurl:
        netloc = urlsplit(public_baseurl).netloc
        if netloc:
            names.add(host_name(netloc.rsplit("@", 1)[-1]))
    names.update(host_name(e) for e in extra if e.strip())
    return frozenset(names)


def host_is_ours(host_header: str | None, names: frozenset[str]) -> bool:
    if not host_header:
        return True  # HTTP/1.0 without Host: no name to rebind
    host = host_name(host_header)
    if parse_ip(host) is not None:
        return True
    return host in names or host.endswith(".localhost")
