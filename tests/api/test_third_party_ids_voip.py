"""Third-party identifiers are refused (no email/SMS here) and the TURN lookup answers empty."""
from __future__ import annotations

import pytest


async def test_threepid_list_is_empty_and_changes_are_denied(hs):
    alice = await hs.user("alice")
    assert await hs.ok("GET", "/account/3pid", alice) == {"threepids": []}
    for path in ("/account/3pid", "/account/3pid/add", "/account/3pid/bind", "/account/3pid/delete",
                 "/account/3pid/unbind"):
        await hs.error("POST", path, alice, {"threepid_creds": {"sid": "x", "client_secret": "y"}},
                       "M_THREEPID_DENIED", 403)
    await hs.error("GET", "/account/3pid", None, None, "M_MISSING_TOKEN", 401)


@pytest.mark.parametrize("path", [
    "/register/email/requestToken", "/register/msisdn/requestToken",
    "/account/password/email/requestToken", "/account/password/msisdn/requestToken",
    "/account/3pid/email/requestToken", "/account/3pid/msisdn/requestToken"])
async def test_validation_tokens_are_never_sent(hs, path):
    body = await hs.error("POST", path, None, {"client_secret": "s", "email": "a@b.c", "send_attempt": 1},
                          "M_THREEPID_DENIED", 403)
    assert "email" in body["error"]


async def test_turn_server_is_empty(hs):
    alice = await hs.user("alice")
    assert await hs.ok("GET", "/voip/turnServer", alice) == {}
    await hs.error("GET", "/voip/turnServer", None, None, "M_MISSING_TOKEN", 401)
