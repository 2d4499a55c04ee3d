"""SRV lookups for server discovery (`_matrix-fed._tcp.<name>`, then `_matrix._tcp.<name>`):
the one piece of discovery that needs a DNS client, since the system resolver
(getaddrinfo) answers A/AAAA only.

dnspython does it: a pure-Python DNS client with an asyncio resolver, the usual choice (it is
what Synapse's Twisted stack replaces and what most Python Matrix tools use), no C parts to
build on a Pi. It is imported on the first lookup, so a server that never federates never loads it.

Every lookup has a timeout (`timeout_s`, over all the resolver's retries). "No such name", "no
SRV records", a timeout or an unreachable resolver all mean "no records": discovery then goes on
to the next step (port 8448), as the spec says for a name without SRV records. Records are
ordered by RFC 2782 (lowest priority first, weighted random within a priority); a single "."
target means the service is deliberately not offered here.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Sequence

log = logging.getLogger(__name__)


def order_srv(records: Sequence[tuple[int, int, str, int]], rand: random.Random | None = None) -> list[tuple[str, int]]:
    """(priority, weight, target, port) records in the order to try them, as (target, port):
    lowest priority first; within one priority a weighted random order (RFC 2782). A lone
    record with target "." says the service is not available: no targets."""
    if len(records) == 1 and records[0][2] in (".", ""):
        return []
    rand = rand or random.Random()
    out: list[tuple[str, int]] = []
    for priority in sorted({r[0] for r in records}):
        group = [r for r in records if r[0] == priority and r[2] not in (".", "")]
        while group:
            total = sum(r[1] for r in group)
            if total == 0:
                pick = group[0]
            else:
                point = rand.uniform(0, total)
                running = 0
                pick = group[-1]
                for r in group:
                    running += r[1]
                    if running >= point:
                        pick = r
                        break
            group.remove(pick)
            out.append((pick[2].rstrip("."), pick[3]))
    return out


class SrvResolver:
    """`await resolver(name)` -> [(target, port)] in the order to try; [] when there are none."""

    def __init__(self, timeout_s: float = 5.0, nameservers: Sequence[str] | None = None, port: int = 53) -> None:
        self._timeout = timeout_s
        self._nameservers = list(nameservers) if nameservers else None
        self._port = port
        self._resolver = None

    def _get_resolver(self):  # type: ignore[no-untyped-def]
        if self._resolver is None:
            import dns.asyncresolver

            if self._nameservers is None:
                resolver = dns.asyncresolver.Resolver()  # /etc/resolv.conf
            else:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = self._nameservers
                resolver.port = self._port
            resolver.lifetime = self._timeout  # the whole lookup, retries included
            resolver.timeout = min(2.0, self._timeout)
            self._resolver = resolver
        return self._resolver

    async def __call__(self, name: str) -> list[tuple[str, int]]:
        import dns.exception
        import dns.resolver

        try:
            answer = await self._get_resolver().resolve(name, "SRV", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return []
        except dns.exception.Timeout:
            log.warning("SRV lookup of %s timed out after %.1f s; going on without it", name, self._timeout)
            return []
        except dns.exception.DNSException as e:
            log.warning("SRV lookup of %s failed (%s); going on without it", name, e)
            return []
        return order_srv([(r.priority, r.weight, r.target.to_text(), r.port) for r in answer])
