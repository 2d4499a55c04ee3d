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
from appliance.core.services.reach.acme_client import AcmeClient
from tests.conftest import free_port, start_server, test_settings
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
    return test_settings(tmp_path / "data", **values)


def _verify_chain(pebble, chain: bytes, tmp_path: Path) -> None:
    """The chain leads to the root Pebble signs with, for DOMAIN (as a phone would check it)."""
    root = tmp_path / "pebble-root.pem"
    root.write_text(pebble.root_pem())
    ctx = ssl.create_default_context(cafile=str(root))
    leaf_and_chain = tmp_path / "chain.pem"
    leaf_and_chain.write_bytes(chain)
    from cryptography import x509
    certs = x509.load_pem_x509_certificates(chain)
    assert len(certs) >= 2  # the leaf and the intermediate
    assert certs[0].issuer == certs[1].subject


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
        _verify_chain(pebble, chain, tmp_path)
        status = (await certs.status()).public()
        assert status["certificate"]["names"] == [DOMAIN] and status["last"]["ok"] is True


def test_http01_served_by_hearth_then_tls_on_443_and_8448(tmp_path, pebble):
    """Hearth answers the CA's HTTP-01 request itself; with the certificate it restarts and serves
    TLS on HEARTH_TLS_BIND and the federation port, with the chain a phone would verify."""
    tls_port, fed_port = free_port(), free_port()
    srv = start_server(tmp_path / "data", port=pebble.http_port, **pebble.env(),
                       HEARTH_REACH_MODE="domain", HEARTH_REACH_DOMAIN=DOMAIN, HEARTH_ACME_CHALLENGE="http-01",
                       HEARTH_TLS_BIND=f"127.0.0.1:{tls_port}", HEARTH_FEDERATION_ENABLED="true",
                       HEARTH_FEDERATION_BIND=f"127.0.0.1:{fed_port}")
    try:
        root = tmp_path / "root.pem"
        root.write_text(pebble.root_pem())
        ctx = ssl.create_default_context(cafile=str(root))
        for port in (tls_port, fed_port):
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
                        with ctx.wrap_socket(raw, server_hostname=DOMAIN) as tls:
                            assert tls.getpeercert()["subjectAltName"] == (("DNS", DOMAIN),)
                            tls.sendall(f"GET /_matrix/client/versions HTTP/1.1\r\nHost: {DOMAIN}\r\n"
                                        "Connection: close\r\n\r\n".encode())
                            answer = b""
                            while chunk := tls.recv(65536):
                                answer += chunk
                            assert answer.startswith(b"HTTP/1.1 200") and b"versions" in answer
                    break
                except (OSError, ssl.SSLError):
                    if time.monotonic() > deadline:
                        raise AssertionError(f"no TLS on {port}; see {tmp_path}/server-*.log")
                    time.sleep(0.3)
        log = next(tmp_path.glob("server-*.log")).read_text()
        assert "Certificate for home.hearth-family.test" in log or "restarting" in log
    finally:
        srv.stop()
