"""The DNS providers' requests, as their APIs document them (deSEC, DuckDNS, Cloudflare): each
answered here by a stand-in for the provider's service, which checks what it is sent. The test
provider (Pebble's DNS server) is used for real in test_acme_pebble.py and below."""
from __future__ import annotations

import json

import httpx
import pytest

from appliance.core.services.reach.dns_providers import (Cloudflare, Desec, DnsProviderError, DuckDns,
                                                         make_provider)


class Recorder:
    def __init__(self, answer):
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


async def test_desec_txt_and_address():
    def answer(r: httpx.Request) -> httpx.Response:
        if r.url.path == "/api/v1/domains/":
            return httpx.Response(200, json=[{"name": "smiths.dedyn.io"}])
        if r.url.host == "update.dedyn.io":
            return httpx.Response(200, text="good")
        return httpx.Response(200, json=[])

    rec = Recorder(answer)
    async with rec.client() as http:
        p = Desec(http, "tok")
        await p.set_txt("_acme-challenge.smiths.dedyn.io", "abc")
        await p.clear_txt("_acme-challenge.smiths.dedyn.io", "abc")
        await p.update_address("smiths.dedyn.io", "203.0.113.7")
    lookup, put, lookup2, clear, update = rec.requests
    assert lookup.url.params["owns_qname"] == "_acme-challenge.smiths.dedyn.io"
    assert all(r.headers["Authorization"] == "Token tok" for r in rec.requests)
    assert put.method == "PATCH" and put.url.path == "/api/v1/domains/smiths.dedyn.io/rrsets/"
    assert json.loads(put.content) == [{"subname": "_acme-challenge", "type": "TXT", "ttl": 3600,
                                        "records": ['"abc"']}]
    assert json.loads(clear.content)[0]["records"] == []
    assert update.url.params["hostname"] == "smiths.dedyn.io" and update.url.params["myipv4"] == "203.0.113.7"


async def test_duckdns_txt_and_address_and_a_refusal():
    rec = Recorder(lambda r: httpx.Response(200, text="OK"))
    async with rec.client() as http:
        p = DuckDns(http, "tok")
        await p.set_txt("_acme-challenge.smiths.duckdns.org", "abc")
        await p.clear_txt("_acme-challenge.smiths.duckdns.org", "abc")
        await p.update_address("smiths.duckdns.org", None)
        with pytest.raises(DnsProviderError, match="is not a duckdns.org name"):
            await p.set_txt("_acme-challenge.example.org", "abc")
    set_, clear, update = (r.url.params for r in rec.requests)
    assert (set_["domains"], set_["token"], set_["txt"]) == ("smiths", "tok", "abc")
    assert clear["clear"] == "true"
    assert update["ip"] == ""  # DuckDNS takes the address the request comes from
    rec = Recorder(lambda r: httpx.Response(200, text="KO"))
    async with rec.client() as http:
        with pytest.raises(DnsProviderError, match="DuckDNS refused the update"):
            await DuckDns(http, "wrong").update_address("smiths.duckdns.org", None)


async def test_cloudflare_finds_the_zone_and_sets_records():
    def answer(r: httpx.Request) -> httpx.Response:
        if r.url.path.endswith("/zones"):
            found = r.url.params["name"] == "smith-family.org"
            return httpx.Response(200, json={"result": [{"id": "z1"}] if found else []})
        if r.method == "GET":
            return httpx.Response(200, json={"result": [{"id": "r1", "content": '"abc"'}]})
        return httpx.Response(200, json={"result": {}})

    rec = Recorder(answer)
    async with rec.client() as http:
        p = Cloudflare(http, "tok")
        await p.set_txt("_acme-challenge.chat.smith-family.org", "abc")
        await p.clear_txt("_acme-challenge.chat.smith-family.org", "abc")
    assert all(r.headers["Authorization"] == "Bearer tok" for r in rec.requests)
    posts = [r for r in rec.requests if r.method == "POST"]
    assert posts[0].url.path == "/client/v4/zones/z1/dns_records"
    assert json.loads(posts[0].content) == {"type": "TXT", "name": "_acme-challenge.chat.smith-family.org",
                                            "content": "abc", "ttl": 120}
    deletes = [r for r in rec.requests if r.method == "DELETE"]
    assert [d.url.path for d in deletes] == ["/client/v4/zones/z1/dns_records/r1"]


async def test_a_refused_token_is_said_in_words():
    rec = Recorder(lambda r: httpx.Response(403, json={}))
    async with rec.client() as http:
        with pytest.raises(DnsProviderError, match="refused the token"):
            await make_provider("desec", http, "tok", None).set_txt("_acme-challenge.x.dedyn.io", "v")
        with pytest.raises(DnsProviderError, match="Give the Cloudflare token first"):
            make_provider("cloudflare", http, None, None)

