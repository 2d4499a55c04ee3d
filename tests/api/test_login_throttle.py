"""Password guessing (issue 12 items 4 and 5): failed logins are throttled per account from any
address, then the account locks for a while; the web sign-in, the UIA password stage and the
setup code likewise; registration has a bucket of its own; and the password hash runs for
unknown and deactivated accounts too (no timing difference to enumerate accounts by)."""
from __future__ import annotations

import re

import pytest

from appliance.app import create_app
from appliance.core.services import auth as auth_module
from tests.conftest import test_settings as settings_for

PW = "pw-correct-horse"


def addr(i: int) -> dict:
    return {"client": (f"192.168.1.{i}", 40000)}


def login_body(user: str, password: str) -> dict:
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password}


async def login(client, user: str, password: str, i: int = 1):
    return await client.post("/_matrix/client/v3/login", json=login_body(user, password), scope_base=addr(i))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def started(tmp_path, **overrides):
    app = create_app(settings_for(tmp_path / "data", **overrides))
    ctx = app.test_app()
    test_app = await ctx.__aenter__()
    h = app.config["HEARTH"]
    clock = Clock()
    if hasattr(h.accounts.login.passwords, "login_throttle"):
        h.accounts.login.passwords.login_throttle.clock = clock
    for name in ("kim", "sam"):
        await h.accounts.registration.create_user(name, PW)
    return app, ctx, test_app.test_client(), clock


@pytest.fixture
async def server(tmp_path):
    app, ctx, client, clock = await started(tmp_path)
    yield app, client, clock
    await ctx.__aexit__(None, None, None)


async def test_failed_logins_slow_down_per_account_from_any_address(server):
    app, client, clock = server
    for i in range(3):  # Synapse's burst: three quick tries
        r = await login(client, "kim", "wrong", i=10 + i)
        assert r.status_code == 403
    r = await login(client, "kim", PW, i=20)  # a fourth address, even with the right password
    body = await r.get_json()
    assert r.status_code == 429 and body["errcode"] == "M_LIMIT_EXCEEDED"
    assert 1000 <= body["retry_after_ms"] <= 7000
    assert (await login(client, "sam", PW, i=10)).status_code == 200  # another account is not affected
    clock.now += body["retry_after_ms"] / 1000
    assert (await login(client, "kim", PW, i=21)).status_code == 200
    # A success forgets the failures: three quick tries again.
    for i in range(3):
        assert (await login(client, "kim", "wrong", i=30 + i)).status_code == 403


async def test_many_failures_lock_the_account_for_a_while(server):
    app, client, clock = server
    for n in range(10):
        r = await login(client, "kim", f"guess-{n}", i=n + 1)
        if r.status_code == 429:  # slowed down: wait as told, from yet another address
            clock.now += (await r.get_json())["retry_after_ms"] / 1000
            r = await login(client, "kim", f"guess-{n}", i=n + 100)
        assert r.status_code == 403, n
    r = await login(client, "kim", PW, i=200)
    body = await r.get_json()
    assert r.status_code == 429 and body["errcode"] == "M_LIMIT_EXCEEDED"
    assert 14 * 60_000 < body["retry_after_ms"] <= 15 * 60_000 + 1000  # locked: 15 minutes
    clock.now += 5 * 60
    assert (await login(client, "kim", PW, i=201)).status_code == 429  # still locked
    clock.now += 10 * 60 + 1
    assert (await login(client, "kim", PW, i=202)).status_code == 200


async def test_guesses_sent_in_parallel_make_the_wait_longer(server):
    import asyncio

    app, client, clock = server
    answers = await asyncio.gather(*(login(client, "kim", f"guess-{n}", i=70 + n) for n in range(6)))
    assert [r.status_code for r in answers] == [403] * 6  # all were let in together ...
    r = await login(client, "kim", PW, i=90)
    body = await r.get_json()  # ... and each took a token: 3 - 6 = -3, four tokens short
    assert r.status_code == 429 and body["retry_after_ms"] > 3.9 / 0.17 * 1000
    clock.now += body["retry_after_ms"] / 1000
    assert (await login(client, "kim", PW, i=91)).status_code == 200
    # Right passwords together cost nothing (a household's devices after an outage).
    answers = await asyncio.gather(*(login(client, "kim", PW, i=80 + n) for n in range(6)))
    assert [r.status_code for r in answers] == [200] * 6


async def test_unknown_accounts_are_throttled_like_known_ones(server):
    app, client, clock = server
    for user in ("kim", "nobody-here"):
        answers = [(await login(client, user, "wrong", i=50 + n)).status_code for n in range(4)]
        assert answers == [403, 403, 403, 429], user


async def test_the_password_stage_of_uia_is_throttled_per_account(server):
    """POST /account/password without a token names the user in the password stage: a guessing
    door of its own, throttled with the same per-account bucket."""
    app, client, clock = server

    async def change(password: str, i: int):
        return await client.post("/_matrix/client/v3/account/password", scope_base=addr(i), json={
            "new_password": "new-one-here", "auth": {
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "kim"},
                "password": password}})
    for i in range(3):
        r = await change("wrong", i)
        assert r.status_code == 401 and (await r.get_json())["errcode"] == "M_FORBIDDEN"
    r = await change(PW, 9)
    assert r.status_code == 429 and (await r.get_json())["errcode"] == "M_LIMIT_EXCEEDED"
    assert (await login(client, "kim", PW)).status_code == 429  # one bucket for the account


async def test_web_sign_in_is_throttled_per_account_and_says_how_long_to_wait(tmp_path):
    app, ctx, client, clock = await started(tmp_path, login_lockout_failures=3)
    try:
        await app.config["HEARTH"].accounts.registration.create_user("boss", PW, admin=True)  # setup done

        async def sign_in(password: str, i: int):
            r = await client.get("/login", scope_base=addr(i))
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', await r.get_data(as_text=True)).group(1)
            return await client.post("/login", form={"username": "kim", "password": password, "csrf_token": csrf},
                                     scope_base=addr(i))
        for i in range(3):
            assert (await sign_in("wrong", i)).status_code == 401
        r = await sign_in(PW, 7)
        html = await r.get_data(as_text=True)
        assert r.status_code == 429
        assert "Too many tries. Wait 15 minutes, then try again." in html
        assert (await login(client, "kim", PW, i=8)).status_code == 429  # the same lock on the API
        clock.now += 15 * 60 + 1
        assert (await sign_in(PW, 9)).status_code == 303
    finally:
        await ctx.__aexit__(None, None, None)


async def test_registration_has_its_own_bucket(tmp_path):
    app, ctx, client, clock = await started(tmp_path, login_rate_per_second=0.001, login_rate_burst=2,
                                            registration_rate_per_second=0.001, registration_rate_burst=2)
    try:
        for user in ("x1", "x2"):  # the address's login bucket is used up
            assert (await login(client, user, "wrong")).status_code == 403
        assert (await login(client, "kim", PW)).status_code == 429
        r = await client.post("/_matrix/client/v3/register", scope_base=addr(1), json={
            "username": "newbie", "password": PW, "auth": {"type": "m.login.dummy"}})
        assert r.status_code == 200  # registration is not held up by failed logins
        r = await client.post("/_matrix/client/v3/register", scope_base=addr(1), json={
            "username": "newbie2", "password": PW, "auth": {"type": "m.login.dummy"}})
        assert r.status_code == 200
        r = await client.post("/_matrix/client/v3/register", scope_base=addr(1), json={
            "username": "newbie3", "password": PW, "auth": {"type": "m.login.dummy"}})
        assert r.status_code == 429 and (await r.get_json())["errcode"] == "M_LIMIT_EXCEEDED"
        assert (await login(client, "sam", PW, i=2)).status_code == 200  # nor logins by registration
    finally:
        await ctx.__aexit__(None, None, None)


# -- the dummy hash ------------------------------------------------------------------------------------

@pytest.fixture
def hash_checks(monkeypatch):
    """Counts the argon2id verifications, real or dummy (behaviour, not timings)."""
    calls = []
    real, dummy = auth_module._check_password_sync, auth_module._check_dummy_sync
    inside_dummy = []

    def counted_real(password, stored):
        if not inside_dummy:
            calls.append("real")
        return real(password, stored)

    def counted_dummy(password):
        calls.append("dummy")
        inside_dummy.append(1)
        try:
            return dummy(password)
        finally:
            inside_dummy.pop()
    monkeypatch.setattr(auth_module, "_check_password_sync", counted_real)
    monkeypatch.setattr(auth_module, "_check_dummy_sync", counted_dummy)
    return calls


async def test_a_password_hash_is_checked_for_unknown_and_deactivated_accounts(server, hash_checks):
    app, client, clock = server
    h = app.config["HEARTH"]
    await h.accounts.deactivation.deactivate_user("@sam:hearth.test", erase=False)
    cases = [("kim", "wrong", 403), ("nobody-at-all", "wrong", 403), ("@nobody:other.server", "wrong", 403),
             ("sam", "wrong", 403), ("sam", PW, 403), ("kim", PW, 200)]
    for i, (user, password, status) in enumerate(cases):
        hash_checks.clear()
        r = await login(client, user, password, i=60 + i)
        assert r.status_code == status, (user, await r.get_json())
        assert len(hash_checks) == 1, (user, hash_checks)
    # And on the web sign-in.
    await h.accounts.registration.create_user("boss", PW, admin=True)
    for user in ("kim", "nobody-at-all", "sam"):
        r = await client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', await r.get_data(as_text=True)).group(1)
        hash_checks.clear()
        r = await client.post("/login", form={"username": user, "password": "wrong", "csrf_token": csrf})
        assert r.status_code == 401
        assert len(hash_checks) == 1, (user, hash_checks)
