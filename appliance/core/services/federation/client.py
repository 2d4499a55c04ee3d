"""The outbound federation HTTP client: resolves a server name (protocol/server_discovery),
refuses what the operator does not allow, signs the request (X-Matrix) and sends it over TLS
with a timeout.

httpx is the library: already a dependency (pushers, appservices, URL previews), async, and it
lets us connect to the address we checked while sending the server's `Host` header and checking
its certificate against the right name (`sni_hostname`), which discovery needs.

Refused unless allowed: servers not permitted by the allow/deny lists, and peers whose addresses
are loopback/private (HEARTH_FEDERATION_ALLOW_PRIVATE_PEERS). The address checked is the address
connected to, so a name cannot resolve to a public address for the check and a private one after.
"""
from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx

from ...protocol.federation_peers import address_is_public, server_permitted
from ...protocol.server_discovery import Destination, ServerName, parse_well_known, resolve_server_name
from ...protocol.signing import SigningKey
from ...protocol.x_matrix import sign_request
from .srv import SrvResolver

if TYPE_CHECKING:  # the settings object is handed in by the wiring (groups), never imported here
    from ....settings import Settings

WELL_KNOWN_TTL_S = 24 * 3600  # spec: a sensible default is 24 hours
WELL_KNOWN_ERROR_TTL_S = 3600  # spec: errors cached for up to an hour


class FederationRefused(Exception):
    """We may not contact this server (federation off, allow/deny list, private address)."""


class FederationUnavailable(Exception):
    """The server could not be reached or did not answer in time (network, TLS, timeout)."""


class FederationClient:
    def __init__(self, settings: Settings, signing_key: SigningKey, *, timeout_s: float = 30.0,
                 srv_lookup: Any = None) -> None:
        self._settings = settings
        self._key = signing_key
        self._timeout = httpx.Timeout(timeout_s)
        # SRV records: dnspython with a timeout (srv.py); tests inject their own lookup.
        self._srv = srv_lookup or SrvResolver(timeout_s=min(5.0, timeout_s))
        self._well_known_cache: dict[str, tuple[float, ServerName | None]] = {}
        self._http = httpx.AsyncClient(verify=_tls_verify(settings), timeout=self._timeout,
                                       follow_redirects=False, trust_env=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, destination: str, path: str, *,
                      query: Mapping[str, str | Sequence[str]] | None = None,
                      content: Any = None) -> tuple[int, Any]:
        """Send a signed request; returns (status, decoded JSON body or None)."""
        response = await self.request_raw(method, destination, path, query=query, content=content)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    async def request_raw(self, method: str, destination: str, path: str, *,
                          query: Mapping[str, str | Sequence[str]] | None = None,
                          content: Any = None) -> httpx.Response:
        """Send a signed request; the response as it came (media is not JSON)."""
        settings = self._settings
        if not settings.federation_enabled:
            raise FederationRefused("federation is turned off")
        if not server_permitted(destination, settings.federation_allowed_servers, settings.federation_denied_servers):
            raise FederationRefused(f"{destination} is not allowed by this server's federation lists")
        try:
            target = await resolve_server_name(destination, self._well_known, self._srv)
        except ValueError as e:
            raise FederationRefused(str(e)) from None
        uri = quote(path, safe="/:@!$&'()*+,;=-._~") + ("?" + urlencode(query, doseq=True) if query else "")
        auth = sign_request(self._key, method, uri, settings.server_name, destination, content)
        headers = {"Authorization": auth}
        body = None
        if content is not None:
            body = json.dumps(content, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        return await self._send(method, target, uri, headers, body)

    async def _send(self, method: str, target: Destination, uri: str, headers: dict[str, str],
                    body: bytes | None) -> httpx.Response:
        address = await self._checked_address(target.connect_host, target.port)
        host = f"[{address}]" if ":" in address else address
        try:
            return await self._http.request(
                method, f"https://{host}:{target.port}{uri}", content=body,
                headers={**headers, "Host": target.host_header},
                extensions={"sni_hostname": target.tls_name})
        except httpx.TimeoutException as e:
            raise FederationUnavailable(f"{target.host_header} did not answer in time") from e
        except httpx.HTTPError as e:  # connection refused, TLS failure, protocol errors
            raise FederationUnavailable(f"{target.host_header}: {e!r}") from e

    async def _checked_address(self, host: str, port: int) -> str:
        """The first address of `host` we may connect to; FederationRefused if none."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as e:
            raise FederationUnavailable(f"cannot resolve {host}: {e}") from e
        addresses = [info[4][0] for info in infos]
        for address in addresses:
            if self._settings.federation_allow_private_peers or address_is_public(address):
                return address
        raise FederationRefused(f"{host} resolves only to private or loopback addresses ({', '.join(addresses)})")

    async def _well_known(self, hostname: str) -> ServerName | None:
        cached = self._well_known_cache.get(hostname)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            response = await self._send("GET", Destination(hostname, 443, hostname, hostname),
                                        "/.well-known/matrix/server", {}, None)
            delegated = parse_well_known(response.status_code, response.content)
        except (FederationUnavailable, FederationRefused):
            delegated = None
        ttl = WELL_KNOWN_TTL_S if delegated is not None else WELL_KNOWN_ERROR_TTL_S
        self._well_known_cache[hostname] = (time.monotonic() + ttl, delegated)
        return delegated


def _tls_verify(settings: Settings) -> ssl.SSLContext | bool:
    if not settings.federation_verify_tls:
        return False  # tests only: announced at start (Settings.federation_warnings)
    if settings.federation_ca_bundle is not None:
        return ssl.create_default_context(cafile=str(settings.federation_ca_bundle))
    return ssl.create_default_context()
