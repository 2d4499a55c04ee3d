"""What the world sees of the home: DNS lookups (through the system's resolver or a given DNS
server, HEARTH_REACH_DNS_RESOLVER) and the home's internet address (HEARTH_REACH_IP_ECHO_URL).
Every lookup has a timeout."""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a request is made: not at every start
    import httpx

LOOKUP_TIMEOUT_S = 8.0


class LookupFailed(Exception):
    """DNS did not answer (as opposed to answering that the name has no such record)."""


def _resolver(server: str | None):
    import dns.asyncresolver  # only when a lookup is made

    if server is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        host, _, port = server.rpartition(":")
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [host.strip("[]")]
        resolver.port = int(port)
    resolver.lifetime = LOOKUP_TIMEOUT_S
    resolver.cache = None
    return resolver


async def addresses(name: str, server: str | None) -> list[str]:
    """The name's A and AAAA addresses; [] when it has none."""
    if server is None:  # the system's resolver, /etc/hosts included
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(name, None, type=socket.SOCK_STREAM), LOOKUP_TIMEOUT_S)
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                return []
            raise LookupFailed(str(exc)) from None
        except TimeoutError:
            raise LookupFailed("DNS did not answer in time") from None
        return list(dict.fromkeys(info[4][0] for info in infos))
    out: list[str] = []
    for rdtype in ("A", "AAAA"):
        out += [r.to_text() for r in await _query(name, rdtype, server)]
    return out


async def txt_values(name: str, server: str | None) -> list[str]:
    return [b"".join(r.strings).decode(errors="replace") for r in await _query(name, "TXT", server)]


async def _query(name: str, rdtype: str, server: str | None) -> list:
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    try:
        answer = await _resolver(server).resolve(name, rdtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.Timeout:
        raise LookupFailed("DNS did not answer in time") from None
    except dns.exception.DNSException as exc:
        raise LookupFailed(str(exc) or type(exc).__name__) from None
    return list(answer)


async def home_address(http: httpx.AsyncClient, echo_url: str | None) -> str | None:
    """The home's internet address as an outside service sees it, or None if unknown."""
    if not echo_url:
        return None
    import httpx

    try:
        r = await http.get(echo_url, timeout=httpx.Timeout(10.0, connect=5.0))
        text = r.text.strip()
        return str(ipaddress.ip_address(text)) if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def is_home_network(address: str) -> bool:
    """A LAN or link-local address: reachable at home only (loopback is the tests' own machine)."""
    ip = ipaddress.ip_address(address)
    return (ip.is_private or ip.is_link_local) and not ip.is_loopback
