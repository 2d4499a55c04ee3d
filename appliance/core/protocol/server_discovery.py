"""Resolving server names (server-server-api.md "Resolving server names").

The spec's steps as one function over two lookups the caller supplies (fetching
`/.well-known/matrix/server`, and SRV records), so the decision itself is pure and tested
without a network. The result says where to connect (a host to resolve with A/AAAA, or an IP
literal, and a port), which `Host` header to send and which name the certificate must be for.
Whether the addresses it resolves to may be contacted (private peers) is checked afterwards.
"""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .ids import is_valid_server_name

DEFAULT_PORT = 8448


@dataclass(frozen=True, slots=True)
class Destination:
    connect_host: str  # a hostname to resolve with AAAA/A, or an IP literal (IPv6 without brackets)
    port: int
    host_header: str
    tls_name: str  # the name (or IP) the peer's certificate must be valid for


@dataclass(frozen=True, slots=True)
class ServerName:
    host: str  # IPv6 literals without brackets
    port: int | None
    is_ip: bool

    def with_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def split_server_name(name: str) -> ServerName:
    """`host[:port]` per the server name grammar; ValueError if it is not one."""
    if not isinstance(name, str) or not is_valid_server_name(name):
        raise ValueError(f"not a server name: {name!r}")
    if name.startswith("["):
        host, _, rest = name[1:].partition("]")
        port = int(rest[1:]) if rest else None
        return ServerName(host, port, True)
    host, sep, port_text = name.partition(":")
    port = int(port_text) if sep else None
    try:
        ipaddress.IPv4Address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    return ServerName(host.lower() if not is_ip else host, port, is_ip)


def parse_well_known(status: int, body: bytes | None) -> ServerName | None:
    """The delegated server name from a `/.well-known/matrix/server` answer, or None when the
    answer is unusable (non-200, bad JSON, no valid `m.server`): then discovery goes on at step 4."""
    if status != 200 or body is None:
        return None
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    server = data.get("m.server") if isinstance(data, dict) else None
    try:
        return split_server_name(server)
    except ValueError:
        return None


SrvLookup = Callable[[str], Awaitable[Sequence[tuple[str, int]]]]  # name -> [(target, port)] in order
WellKnownLookup = Callable[[str], Awaitable[ServerName | None]]  # hostname -> delegated name or None


async def _by_srv(name: ServerName, srv: SrvLookup) -> Destination:
    for prefix in ("_matrix-fed._tcp.", "_matrix._tcp."):  # the second is deprecated, still asked
        records = await srv(prefix + name.host)
        if records:
            target, port = records[0]
            return Destination(target.rstrip("."), port, name.host, name.host)
    return Destination(name.host, DEFAULT_PORT, name.host, name.host)


def _direct(name: ServerName) -> Destination | None:
    """Steps 1 and 2 (and 3.1, 3.2 for a delegated name): no lookups needed but A/AAAA."""
    if name.is_ip:
        return Destination(name.host, name.port or DEFAULT_PORT, name.with_port(), name.host)
    if name.port is not None:
        return Destination(name.host, name.port, name.with_port(), name.host)
    return None


async def resolve_server_name(server_name: str, well_known: WellKnownLookup, srv: SrvLookup) -> Destination:
    """Where to send requests for `server_name`; ValueError if it is not a server name."""
    name = split_server_name(server_name)
    direct = _direct(name)
    if direct is not None:
        return direct
    delegated = await well_known(name.host)
    if delegated is not None:
        return _direct(delegated) or await _by_srv(delegated, srv)
    return await _by_srv(name, srv)
