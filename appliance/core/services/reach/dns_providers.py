"""DNS providers: the TXT record of a DNS-01 challenge, and a dynamic-DNS name's address.

A provider is a small class over one HTTP API (every request with a timeout). Those people use
with a home router:
- **deSEC** (desec.io, free `*.dedyn.io` names and any domain hosted there): REST API with a token.
- **DuckDNS** (free `*.duckdns.org` names): one update URL with the account's token; one TXT value.
- **Cloudflare** (domains whose DNS is at Cloudflare): API token with Zone.DNS edit rights.
- **pebble-challtestsrv**: Let's Encrypt's test DNS server, for the tests (and for trying it out).

`update_address(domain, ip)` points the name at the home's address (None: the provider takes the
address the request comes from, which is the home's for DuckDNS and deSEC's update URL).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

TIMEOUT = httpx.Timeout(20.0, connect=10.0)


class DnsProviderError(Exception):
    """The provider refused or could not be reached; the message says which, in words."""


class DnsProvider(Protocol):
    id: str
    name: str
    dynamic_dns: bool  # offers free names whose address follows the home's

    async def set_txt(self, fqdn: str, value: str) -> None: ...

    async def clear_txt(self, fqdn: str, value: str) -> None: ...

    async def update_address(self, domain: str, ip: str | None) -> None: ...


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: str
    name: str
    dynamic_dns: bool
    suffix: str          # the free names it gives out ("" for none)
    token_help: str


PROVIDERS: dict[str, ProviderInfo] = {p.id: p for p in (
    ProviderInfo("desec", "deSEC", True, ".dedyn.io",
                 "A token from desec.io (Token management, \"+\"); it may manage the name's DNS."),
    ProviderInfo("duckdns", "DuckDNS", True, ".duckdns.org",
                 "The token shown at the top of your duckdns.org page."),
    ProviderInfo("cloudflare", "Cloudflare", False, "",
                 "An API token with the permission Zone → DNS → Edit for your domain."),
    ProviderInfo("challtestsrv", "Test DNS server (pebble-challtestsrv)", True, "",
                 "No token: give its management address as the API address. For tests only."),
)}


async def _call(http: httpx.AsyncClient, provider: str, method: str, url: str, **kwargs) -> httpx.Response:
    try:
        r = await http.request(method, url, timeout=TIMEOUT, **kwargs)
    except httpx.TimeoutException:
        raise DnsProviderError(f"{provider} did not answer in time") from None
    except httpx.HTTPError as exc:
        raise DnsProviderError(f"{provider} could not be reached ({type(exc).__name__})") from None
    if r.status_code in (401, 403):
        raise DnsProviderError(f"{provider} refused the token (wrong token, or it may not change this name)")
    if r.status_code >= 400:
        raise DnsProviderError(f"{provider} answered {r.status_code}: {r.text[:200]}")
    return r


class Desec:
    id, name, dynamic_dns = "desec", "deSEC", True
    API = "https://desec.io/api/v1"
    UPDATE = "https://update.dedyn.io/"

    def __init__(self, http: httpx.AsyncClient, token: str, api_url: str | None = None,
                 update_url: str | None = None) -> None:
        self.http, self.token = http, token
        self.api, self.update_url = (api_url or self.API).rstrip("/"), update_url or self.UPDATE

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    async def _zone(self, fqdn: str) -> tuple[str, str]:
        """(zone, subname) of the deSEC domain that holds fqdn."""
        r = await _call(self.http, self.name, "GET", f"{self.api}/domains/", params={"owns_qname": fqdn},
                        headers=self._auth())
        zones = [d.get("name") for d in r.json() if isinstance(d, dict)]
        if not zones:
            raise DnsProviderError(f"{fqdn} is not a name of this deSEC account")
        zone = zones[0]
        return zone, fqdn[: -len(zone)].rstrip(".")

    async def _put_txt(self, fqdn: str, records: list[str]) -> None:
        zone, subname = await self._zone(fqdn)
        # The bulk endpoint creates, changes or (records: []) deletes; deSEC's minimum TTL is 3600.
        await _call(self.http, self.name, "PATCH", f"{self.api}/domains/{zone}/rrsets/", headers=self._auth(),
                    json=[{"subname": subname, "type": "TXT", "ttl": 3600, "records": records}])

    async def set_txt(self, fqdn: str, value: str) -> None:
        await self._put_txt(fqdn, [f'"{value}"'])

    async def clear_txt(self, fqdn: str, value: str) -> None:
        await self._put_txt(fqdn, [])

    async def update_address(self, domain: str, ip: str | None) -> None:
        params = {"hostname": domain, **({"myipv4": ip} if ip else {})}
        r = await _call(self.http, self.name, "GET", self.update_url, params=params, headers=self._auth())
        if not r.text.startswith("good"):
            raise DnsProviderError(f"deSEC did not update the address: {r.text[:100]}")


class DuckDns:
    id, name, dynamic_dns = "duckdns", "DuckDNS", True
    API = "https://www.duckdns.org/update"

    def __init__(self, http: httpx.AsyncClient, token: str, api_url: str | None = None) -> None:
        self.http, self.token, self.api = http, token, api_url or self.API

    @staticmethod
    def _subdomain(fqdn: str) -> str:
        name = fqdn.rstrip(".").removeprefix("_acme-challenge.")
        if not name.endswith(".duckdns.org"):
            raise DnsProviderError(f"{name} is not a duckdns.org name")
        return name.removesuffix(".duckdns.org").rsplit(".", 1)[-1]

    async def _update(self, fqdn: str, **params: str) -> str:
        r = await _call(self.http, self.name, "GET", self.api, params={
            "domains": self._subdomain(fqdn), "token": self.token, "verbose": "true", **params})
        if not r.text.startswith("OK"):
            raise DnsProviderError("DuckDNS refused the update (is the token right, and the name yours?)")
        return r.text

    async def set_txt(self, fqdn: str, value: str) -> None:
        await self._update(fqdn, txt=value)  # DuckDNS keeps one TXT value per name

    async def clear_txt(self, fqdn: str, value: str) -> None:
        await self._update(fqdn, txt="", clear="true")

    async def update_address(self, domain: str, ip: str | None) -> None:
        await self._update(domain, ip=ip or "")  # empty: the address the request comes from


class Cloudflare:
    id, name, dynamic_dns = "cloudflare", "Cloudflare", False
    API = "https://api.cloudflare.com/client/v4"

    def __init__(self, http: httpx.AsyncClient, token: str, api_url: str | None = None) -> None:
        self.http, self.token, self.api = http, token, (api_url or self.API).rstrip("/")

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def _zone_id(self, fqdn: str) -> str:
        labels = fqdn.rstrip(".").split(".")
        for i in range(len(labels) - 1):
            r = await _call(self.http, self.name, "GET", f"{self.api}/zones",
                            params={"name": ".".join(labels[i:])}, headers=self._auth())
            result = r.json().get("result") or []
            if result:
                return result[0]["id"]
        raise DnsProviderError(f"no Cloudflare zone of this token holds {fqdn}")

    async def _records(self, zone: str, kind: str, fqdn: str) -> list[dict]:
        r = await _call(self.http, self.name, "GET", f"{self.api}/zones/{zone}/dns_records",
                        params={"type": kind, "name": fqdn}, headers=self._auth())
        return [rec for rec in r.json().get("result") or () if isinstance(rec, dict)]

    async def set_txt(self, fqdn: str, value: str) -> None:
        zone = await self._zone_id(fqdn)
        await _call(self.http, self.name, "POST", f"{self.api}/zones/{zone}/dns_records", headers=self._auth(),
                    json={"type": "TXT", "name": fqdn, "content": value, "ttl": 120})

    async def clear_txt(self, fqdn: str, value: str) -> None:
        zone = await self._zone_id(fqdn)
        for rec in await self._records(zone, "TXT", fqdn):
            if rec.get("content", "").strip('"') == value:
                await _call(self.http, self.name, "DELETE", f"{self.api}/zones/{zone}/dns_records/{rec['id']}",
                            headers=self._auth())

    async def update_address(self, domain: str, ip: str | None) -> None:
        if not ip:
            raise DnsProviderError("Hearth could not find out the home's internet address to give Cloudflare")
        zone = await self._zone_id(domain)
        body = {"type": "A", "name": domain, "content": ip, "ttl": 300, "proxied": False}
        existing = await self._records(zone, "A", domain)
        if existing:
            await _call(self.http, self.name, "PUT", f"{self.api}/zones/{zone}/dns_records/{existing[0]['id']}",
                        headers=self._auth(), json=body)
        else:
            await _call(self.http, self.name, "POST", f"{self.api}/zones/{zone}/dns_records", headers=self._auth(),
                        json=body)


class ChallTestSrv:
    """pebble-challtestsrv's management API (its DNS server answers what is set here)."""

    id, name, dynamic_dns = "challtestsrv", "Test DNS server", True

    def __init__(self, http: httpx.AsyncClient, api_url: str) -> None:
        self.http, self.api = http, api_url.rstrip("/")

    async def set_txt(self, fqdn: str, value: str) -> None:
        await _call(self.http, self.name, "POST", f"{self.api}/set-txt", json={"host": _dot(fqdn), "value": value})

    async def clear_txt(self, fqdn: str, value: str) -> None:
        await _call(self.http, self.name, "POST", f"{self.api}/clear-txt", json={"host": _dot(fqdn)})

    async def update_address(self, domain: str, ip: str | None) -> None:
        if not ip:
            raise DnsProviderError("no address to set")
        await _call(self.http, self.name, "POST", f"{self.api}/add-a", json={"host": _dot(domain), "addresses": [ip]})


def _dot(name: str) -> str:
    return name.rstrip(".") + "."


def make_provider(provider_id: str, http: httpx.AsyncClient, token: str | None, api_url: str | None) -> DnsProvider:
    """The provider the settings name; a missing token or address is a DnsProviderError in words."""
    if provider_id == "challtestsrv":
        if not api_url:
            raise DnsProviderError("The test DNS server needs its management address (HEARTH_REACH_DNS_API_URL)")
        return ChallTestSrv(http, api_url)
    if provider_id not in PROVIDERS:
        raise DnsProviderError(f"Unknown DNS provider {provider_id!r}")
    if not token:
        raise DnsProviderError(f"Give the {PROVIDERS[provider_id].name} token first")
    if provider_id == "desec":
        return Desec(http, token, api_url)
    if provider_id == "duckdns":
        return DuckDns(http, token, api_url)
    return Cloudflare(http, token, api_url)
