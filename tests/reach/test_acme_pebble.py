"""Getting a certificate from a real ACME server (Pebble, tests/pebble.py) on loopback: the
account, HTTP-01 served by Hearth itself, DNS-01 through the test DNS provider, renewal by the
background task, and the TLS listeners serving what was obtained."""
from __future__ import annotations

import asyncio
import socket
import ssl
import time
from pathlib import Path

import pytest

from appliance.app import create_app
from appliance.core.protocol import acme as A
from appliance.core.services.reach.acme_client import AcmeClient, AcmeError
from tests.conftest import free_port, start_server
from tests.conftest import test_settings as make_settings
from tests.pebble import start_pebble

DOMAIN = "home.hearth-family.test"


@pytest.fixture
def pebble(tmp_path: Path):
    port = free_port()
    p = start_pebble(tmp_path / "pebble", port)
    p.http_port = port
    yield p
    p.stop()


def _settings(tmp_path: Path, pebble, **more):
    values = {k.removeprefix("HEARTH_").lower(): v for k, v in pebble.env().items()}
    values["reach_ip_echo_url"] = None
    values.update(dict(reach_mode="domain", reach_domain=DOMAIN, acme_challenge="dns-01",
                       reach_dns_provider="challtestsrv", acme_check_interval_s=3600), **more)
    return make_settings(tmp_path / "data", **values)


def _verify_chain(pebble, chain: bytes) -> None:
    """The chain leads to the root Pebble signs with, for DOMAIN, as a phone checks it."""
    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store

    root = x509.load_pem_x509_certificate(pebble.root_pem().encode())
    leaf, *intermediates = x509.load_pem_x509_certificates(chain)
    verifier = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(DOMAIN))
    verifier.verify(leaf, intermediates)  # raises VerificationError otherwise
    wrong = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName("other." + DOMAIN))
    with pytest.raises(Exception):
        wrong.verify(leaf, intermediates)


async def test_account_is_created_once_with_a_generated_key(tmp_path, pebble):
    app = create_app(_settings(tmp_path, pebble, reach_mode="lan"))
    async with app.test_app():
        h = app.config["HEARTH"]
        certs = h.reach.certificates
        client = await certs.account()
        assert client.kid and client.kid.startswith(pebble.directory_url.rsplit("/", 1)[0])
        doc = await client.account()
        assert doc["status"] == "valid"
        again = await certs.account()
        assert again.kid == client.kid and A.thumbprint(again.key) == A.thumbprint(client.key)
        # The same key at the CA answers the same account (RFC 8555 §7.3.1).
        twin = AcmeClient(pebble.directory_url, client.key, certs.acme_http())
        assert await twin.register() == client.kid
        # Another Hearth gets its own key: nothing is a default.
    app2 = create_app(_settings(tmp_path / "other", pebble, reach_mode="lan"))
    async with app2.test_app():
        other = await app2.config["HEARTH"].reach.certificates.account()
        assert other.kid != client.kid and A.thumbprint(other.key) != A.thumbprint(client.key)


async def test_dns01_through_the_test_provider_and_renewal_by_the_background_task(tmp_path, pebble):
    # Renew when 90 days or fewer are left: Pebble's 90-day certificates are due at once, so
    # the task (checking every 2 s) renews again and again.
    app = create_app(_settings(tmp_path, pebble, acme_renew_days=90, acme_check_interval_s=2))
    async with app.test_app():
        h = app.config["HEARTH"]
        certs = h.reach.certificates
        deadline = time.monotonic() + 90
        serials = set()
        while time.monotonic() < deadline:
            attempts = await certs.store.recent_attempts(20)
            done = [a for a in attempts if a.ok]
            serials.add(certs.certificate().serial if certs.certificate() else None)
            if any(a.reason == "renewal" for a in done) and len(serials - {None}) >= 2:
                break
            await asyncio.sleep(0.5)
        attempts = await certs.store.recent_attempts(20)
        assert [a for a in attempts if a.ok and a.reason == "first" and a.challenge == "dns-01"], attempts
        assert [a for a in attempts if a.ok and a.reason == "renewal"], attempts
        info = certs.certificate()
        assert info.names == (DOMAIN,) and info.days_left() > 89
        chain = certs.chain_path.read_bytes()
        assert A.chain_matches_key(chain, certs.key_path.read_bytes())
        assert oct(certs.key_path.stat().st_mode & 0o777) == "0o600"
        _verify_chain(pebble, chain)
        status = (await certs.status()).public()
        assert status["certificate"]["names"] == [DOMAIN] and status["last"]["ok"] is True


def _tls_serial(port: int, ctx: ssl.SSLContext) -> int:
    """The serial of the certificate served on `port` (verified for DOMAIN), after a request."""
    from cryptography import x509

    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
        with ctx.wrap_socket(raw, server_hostname=DOMAIN) as tls:
            assert tls.getpeercert()["subjectAltName"] == (("DNS", DOMAIN),)
            tls.sendall(f"GET /_matrix/client/versions HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n"
                        .encode())
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200") and b"versions" in answer
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


def _wait_for(what: str, probe, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
            if result is not None:
                return result
        except (OSError, ssl.SSLError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s")
        time.sleep(0.3)


def test_http01_served_by_hearth_then_tls_on_443_and_8448_and_renewals_served_live(tmp_path, pebble):
    """Hearth answers the CA's HTTP-01 request itself; with the first certificate it restarts and
    serves TLS on HEARTH_TLS_BIND and the federation port, with a chain that verifies to the CA's
    root for the name; a renewal is then served by the running listeners, without a restart."""
    tls_port, fed_port = free_port(), free_port()
    srv = start_server(tmp_path / "data", port=pebble.http_port, **pebble.env(),
                       HEARTH_REACH_MODE="domain", HEARTH_REACH_DOMAIN=DOMAIN, HEARTH_ACME_CHALLENGE="http-01",
                       HEARTH_TLS_BIND=f"127.0.0.1:{tls_port}", HEARTH_FEDERATION_ENABLED="true",
                       HEARTH_FEDERATION_BIND=f"127.0.0.1:{fed_port}", HEARTH_ACME_CHECK_INTERVAL_S="3",
                       HEARTH_ACME_RENEW_DAYS="90")  # every certificate is due again: renewed every 3 s
    try:
        root = tmp_path / "root.pem"
        root.write_text(pebble.root_pem())
        ctx = ssl.create_default_context(cafile=str(root))
        first = _wait_for("TLS on the HTTPS port", lambda: _tls_serial(tls_port, ctx))
        assert _tls_serial(fed_port, ctx) == first
        log = lambda: next(tmp_path.glob("server-*.log")).read_text()  # noqa: E731
        assert "GET /.well-known/acme-challenge/" in log()  # Pebble fetched it from Hearth
        renewed = _wait_for("a renewal served", lambda: (s := _tls_serial(tls_port, ctx)) != first and s or None)
        assert _wait_for("the renewal on 8448", lambda: _tls_serial(fed_port, ctx) != first or None)
        assert renewed != first
        assert log().count("WARNING hearth: restarting") == 1  # only the first certificate restarted
    finally:
        srv.stop()


async def test_failures_are_recorded_in_words(tmp_path, pebble):
    # Nobody answers on Pebble's HTTP-01 port here (this app is not served): the CA's check fails.
    app = create_app(_settings(tmp_path, pebble, acme_challenge="http-01", reach_mode="lan"))
    async with app.test_app():
        h = app.config["HEARTH"]
        h.settings.reach_mode = "domain"  # as the admin page stores it
        certs = h.reach.certificates
        with pytest.raises(AcmeError) as failed:
            await certs.obtain()
        assert str(failed.value).startswith("The certificate authority could not confirm the name:")
        assert "connection refused" in str(failed.value).lower()
        attempt = next(a for a in await certs.store.recent_attempts(5) if a.reason == "by hand")
        assert attempt.ok is False and attempt.message == str(failed.value)
        status = (await certs.status()).public()
        assert status["steps"][-1].startswith("Failed: The certificate authority could not confirm the name")
        assert status["running"] is False and status["certificate"] is None
        h.settings.acme_directory_url = f"https://127.0.0.1:{free_port()}/dir"  # a CA that is not there
        with pytest.raises(AcmeError, match=r"^Could not reach the certificate authority \(no connection\)$"):
            await certs.obtain()
        assert await certs.store.failures_in_a_row() >= 2  # (the task's own first try may fail too)


async def test_renewal_is_due_30_days_before_the_end(tmp_path, pebble):
    from tests.reach.test_self_test import _write_certificate

    app = create_app(_settings(tmp_path, pebble, reach_mode="lan"))
    async with app.test_app():
        h = app.config["HEARTH"]
        certs, s = h.reach.certificates, h.settings
        assert certs.due() is None  # at home only: nothing to get
        s.reach_mode = "domain"
        assert certs.due() == "first"
        _write_certificate(s.tls_dir, DOMAIN, -60, 31)
        assert certs.due() is None
        _write_certificate(s.tls_dir, DOMAIN, -60, 29)
        assert certs.due() == "renewal"
        _write_certificate(s.tls_dir, "old." + DOMAIN, -1, 80)
        assert certs.due() == "new name"


async def test_a_dynamic_dns_name_follows_the_home_address(tmp_path, pebble):
    """The free-name choice: the background task points the name at the home's address (as the
    echo service sees it) through the provider, then gets the certificate through DNS-01."""
    from appliance.core.services.reach import lookups
    import http.server
    import threading

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"127.0.0.9")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert await lookups.addresses(DOMAIN, pebble.dns_server) == ["127.0.0.1"]  # the test DNS's default
        app = create_app(_settings(tmp_path, pebble, reach_mode="dyndns",
                                   reach_ip_echo_url=f"http://127.0.0.1:{server.server_port}/"))
        async with app.test_app():
            certs = app.config["HEARTH"].reach.certificates
            for _ in range(100):
                if certs.certificate() is not None:
                    break
                await asyncio.sleep(0.2)
            assert await lookups.addresses(DOMAIN, pebble.dns_server) == ["127.0.0.9"]
            assert certs.certificate().names == (DOMAIN,)
            assert (await certs.status()).public()["address_problem"] is None
    finally:
        server.shutdown()
