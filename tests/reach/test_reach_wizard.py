"""The setup wizard's "Reach Hearth from outside the home" step: at home only by default, a domain
or a free name checked in words, the provider's token kept apart (never shown again), and the
choice stored at the end of setup."""
from __future__ import annotations

from tests.webui.test_setup_wizard import STEPS, claim, fresh_settings, page, post, run_steps, running


def _before_reach():
    return STEPS[:STEPS.index(("reach", {"reach_mode": "lan"}))]


async def test_the_default_is_at_home_only(tmp_path):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        csrf = await claim(app, client)
        await run_steps(client, csrf, _before_reach())
        status, html = await page(client, "/setup/reach")
        assert status == 200 and "Reach Hearth from outside the home" in html
        assert 'id="reach_mode-lan" name="reach_mode" value="lan" checked' in html
        assert 'name="reach_domain" value="family.example"' in html  # the server name, should they choose more
        await run_steps(client, csrf, STEPS[len(_before_reach()):])
        status, html = await page(client, "/setup/summary")
        assert "At home only" in html
        r = await post(client, "/setup/summary", {}, csrf)
        assert r.status_code == 200
        assert app.config["HEARTH"].settings.reach_mode == "lan"


# After setup the background task would call the provider and the CA: here both are a closed
# loopback port (the test never leaves the machine; their failure is recorded, not raised).
NOWHERE = dict(acme_directory_url="https://127.0.0.1:9/dir", reach_dns_api_url="http://127.0.0.1:9/update",
               reach_ip_echo_url="")


async def test_a_free_name_needs_its_provider_and_token_and_is_stored(tmp_path):
    async with running(fresh_settings(tmp_path / "d", **NOWHERE)) as (app, client):
        csrf = await claim(app, client)
        await run_steps(client, csrf, _before_reach())
        refusals = [
            ({"reach_mode": "domain", "reach_domain": ""}, "Give the name your family will use from outside"),
            ({"reach_mode": "domain", "reach_domain": "hearth.local"}, "A .local name works at home only"),
            ({"reach_mode": "domain", "reach_domain": "chat.example.org", "acme_challenge": "dns-01"},
             "Choose the DNS provider that holds the name"),
            ({"reach_mode": "dyndns", "reach_domain": "smiths.example.org", "reach_dns_provider": "desec"},
             "A deSEC name ends in .dedyn.io, like smiths.dedyn.io"),
            ({"reach_mode": "dyndns", "reach_domain": "smiths.duckdns.org", "reach_dns_provider": "duckdns"},
             "Give the DuckDNS token"),
        ]
        for form, words in refusals:
            r = await post(client, "/setup/reach", form, csrf)
            assert r.status_code == 400, form
            assert words in await r.get_data(as_text=True), form
        r = await post(client, "/setup/reach", {"reach_mode": "dyndns", "reach_domain": "https://Smiths.DuckDNS.org/",
                                                "reach_dns_provider": "duckdns", "dns_token": "s3cret-duck"}, csrf)
        assert r.status_code == 303 and r.headers["Location"] == "/setup/bridges"
        status, html = await page(client, "/setup/reach")  # back to it: the choice, never the token
        assert 'value="smiths.duckdns.org"' in html and "s3cret-duck" not in html
        await run_steps(client, csrf, STEPS[len(_before_reach()) + 1:])
        status, html = await page(client, "/setup/summary")
        assert "From anywhere as smiths.duckdns.org (certificate checked through DNS)" in html
        assert "s3cret-duck" not in html
        r = await post(client, "/setup/summary", {}, csrf)
        assert r.status_code == 200
        h = app.config["HEARTH"]
        s = h.settings
        assert (s.reach_mode, s.reach_domain, s.acme_challenge, s.reach_dns_provider) == (
            "dyndns", "smiths.duckdns.org", "dns-01", "duckdns")
        assert await h.reach.certificates.dns_token() == "s3cret-duck"
        assert "s3cret-duck" not in str(await h.web.server_settings.stored())
