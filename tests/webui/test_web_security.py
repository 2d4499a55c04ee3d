"""Security of the pages and the wizard (issue 12): where a sign-in may lead."""
from __future__ import annotations

import pytest

from tests.webui.test_webui_pages import ADMIN_PW, Browser
from tests.webui.test_webui_pages import running as running_pages


# -- where a sign-in leads ------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "/\t/evil.example", "/\n/evil.example", "/\r//evil.example", "/\\evil.example", "/\\/evil.example",
    "//evil.example", "/ /evil.example", "http://evil.example/", "javascript:alert(1)", "/\x00/evil.example",
])
async def test_sign_in_never_leads_to_another_site(tmp_path, target):
    async with running_pages(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.get("/login")
        r = await b.post("/login", {"username": "admin", "password": ADMIN_PW, "next": target})
        assert r.status_code == 303 and r.headers["Location"] == "/admin"
        # Signed in already: /login?next= redirects at once; the same rule applies.
        r = await b.client.get("/login", query_string={"next": target})
        assert r.status_code == 303 and r.headers["Location"] == "/"


async def test_percent_encoded_tab_in_next_is_refused(tmp_path):
    async with running_pages(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        r = await b.client.get("/login?next=/%09/evil.example")
        assert r.status_code == 303 and r.headers["Location"] == "/"
        r = await b.client.get("/login?next=/admin/people%3Fx%3D1")  # a real path still works
        assert r.headers["Location"] == "/admin/people?x=1"
