"""The self-test's words: what it says when the name has no address, when DNS does not point home,
when a port is not forwarded, when the certificate is expired or for another name, and when all
is well. Hearth is served on a loopback port (the self-test connects to it as the world would);
names are answered by Pebble's test DNS server, the home's address by a small echo service."""
from __future__ import annotations

import asyncio
import datetime
import http.server
import threading
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypercorn.asyncio import serve
from hypercorn.config import Config

from appliance.app import create_app
from tests.conftest import free_port
from tests.conftest import test_settings as make_settings
from tests.pebble import start_pebble

DOMAIN = "home.hearth-family.test"


@pytest.fixture
def pebble(tmp_path: Path):
    p = start_pebble(tmp_path / "pebble", free_port())
    yield p
    p.stop()


@pytest.fixture
def echo():
    """What an outside service says the home's internet address is (HEARTH_REACH_IP_ECHO_URL)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = server.address.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.address = "127.0.0.1"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


class Served:
    """The app on a real loopback port, in this event loop (the self-test probes that port)."""

    def __init__(self, settings, port: int) -> None:
        self.app, self.port = create_app(settings), port
        self._stop = asyncio.Event()

    async def __aenter__(self):
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.accesslog = None
        self._task = asyncio.create_task(serve(self.app, config, shutdown_trigger=self._stop.wait))
        for _ in range(200):
            try:
                async with httpx.AsyncClient() as c:
                    if (await c.get(f"http://127.0.0.1:{self.port}/_matrix/client/versions")).status_code == 200:
                        break
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
        return self.app.config["HEARTH"]

    async def __aexit__(self, *exc):
        self._stop.set()
        await self._task


def _settings(tmp_path, pebble, echo, port, **more):
    values = {k.removeprefix("HEARTH_").lower(): v for k, v in pebble.env().items()}
    values.update(dict(reach_mode="domain", reach_domain=DOMAIN, acme_challenge="http-01", reach_http_port=port,
                       reach_https_port=free_port(), reach_ip_echo_url=f"http://127.0.0.1:{echo.server_port}/",
                       acme_check_interval_s=3600, bind=f"127.0.0.1:{port}"), **more)
    return make_settings(tmp_path / "data", **values)


def _by_id(checks):
    return {c.id: c for c in checks}


def _write_certificate(tls_dir: Path, name: str, days_from: int, days_to: int) -> None:
    """A certificate in Hearth's place (issuer irrelevant here: the self-test reads dates and names)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now + datetime.timedelta(days=days_from))
            .not_valid_after(now + datetime.timedelta(days=days_to))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    tls_dir.mkdir(parents=True, exist_ok=True)
    (tls_dir / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tls_dir / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


async def test_lan_only_says_so(tmp_path, pebble, echo):
    port = free_port()
    async with Served(_settings(tmp_path, pebble, echo, port, reach_mode="lan"), port) as h:
        checks = await h.reach.self_test.run()
    assert len(checks) == 1 and checks[0].ok is None and "at home only" in checks[0].message


async def test_name_without_an_address(tmp_path, pebble, echo):
    httpx.post(f"{pebble.dns_api}/set-default-ipv4", json={"ip": ""}, timeout=5)
    port = free_port()
    async with Served(_settings(tmp_path, pebble, echo, port), port) as h:
        checks = _by_id(await h.reach.self_test.run())
    assert checks["dns"].ok is False
    assert f"The name {DOMAIN} does not exist in DNS yet" in checks["dns"].message
    assert checks["certificate"].ok is False and "no certificate yet" in checks["certificate"].message


async def test_dns_not_pointing_home(tmp_path, pebble, echo):
    pebble.set_address(DOMAIN, "127.0.0.2")  # the home is 127.0.0.1 (the echo says so)
    port = free_port()
    async with Served(_settings(tmp_path, pebble, echo, port), port) as h:
        checks = _by_id(await h.reach.self_test.run())
    assert checks["dns"].ok is False
    assert checks["dns"].message.startswith(f"DNS is not pointing home: {DOMAIN} points to 127.0.0.2, but your "
                                            "home's internet address is 127.0.0.1")
    assert checks["http"].ok is None and "first make the name point home" in checks["http"].message


async def test_dns_pointing_into_the_home_network(tmp_path, pebble, echo):
    pebble.set_address(DOMAIN, "192.168.1.20")  # looked up only, never contacted
    port = free_port()
    async with Served(_settings(tmp_path, pebble, echo, port), port) as h:
        checks = _by_id(await h.reach.self_test.run())
    assert checks["dns"].ok is False and "an address inside a home network" in checks["dns"].message
    assert checks["https"].ok is None


async def test_ports_not_forwarded(tmp_path, pebble, echo):
    port, closed = free_port(), free_port()  # nothing listens on `closed`: the router forwards nothing
    async with Served(_settings(tmp_path, pebble, echo, port, reach_http_port=closed), port) as h:
        checks = _by_id(await h.reach.self_test.run())
    assert checks["dns"].ok is True and f"{DOMAIN} points to 127.0.0.1, your home's internet address" in \
        checks["dns"].message
    assert checks["http"].ok is False
    assert checks["http"].message.startswith(f"Port {closed} is not forwarded to Hearth: nothing answered at "
                                             f"127.0.0.1:{closed}.")
    assert checks["https"].ok is False and "is not forwarded to Hearth" in checks["https"].message


async def test_port_80_reaches_hearth(tmp_path, pebble, echo):
    port = free_port()
    async with Served(_settings(tmp_path, pebble, echo, port), port) as h:
        checks = _by_id(await h.reach.self_test.run())
        assert h.reach.http01.answer("hearth-self-test-xxxxxxxx") is None  # the probe is gone afterwards
    assert checks["http"].ok is True and checks["http"].message == f"Port {port} reaches Hearth."


async def test_something_else_on_port_80(tmp_path, pebble, echo):
    port = free_port()
    async with Served(_settings(tmp_path, pebble, echo, port, reach_http_port=echo.server_port), port) as h:
        checks = _by_id(await h.reach.self_test.run())
    assert checks["http"].ok is False and checks["http"].message.startswith(
        f"Something else answers on port {echo.server_port} at 127.0.0.1")


async def test_certificate_expired_and_for_another_name(tmp_path, pebble, echo):
    port = free_port()
    settings = _settings(tmp_path, pebble, echo, port)
    _write_certificate(settings.tls_dir, DOMAIN, -100, -10)
    async with Served(settings, port) as h:
        checks = _by_id(await h.reach.self_test.run())
        assert checks["certificate"].ok is False
        assert checks["certificate"].message.startswith("The certificate expired on ")
        assert "phones refuse to connect" in checks["certificate"].message
        _write_certificate(settings.tls_dir, "old.example.org", -1, 60)
        checks = _by_id(await h.reach.self_test.run())
        assert checks["certificate"].message.startswith(f"The certificate is for old.example.org, not {DOMAIN}")
        _write_certificate(settings.tls_dir, DOMAIN, -1, 60)
        checks = _by_id(await h.reach.self_test.run())
        assert checks["certificate"].ok is True and "Hearth renews it by itself" in checks["certificate"].message


def test_a_certificate_that_does_not_match_its_key_opens_no_tls_listener(tmp_path):
    """A power cut between writing the key and the chain: plain HTTP until the next certificate."""
    from appliance.__main__ import configure_listeners, tls_files
    from appliance.settings import Settings

    settings = Settings(data_dir=tmp_path, bind="127.0.0.1:0", tls_bind="127.0.0.1:0", reach_mode="domain",
                        reach_domain=DOMAIN)
    _write_certificate(settings.tls_dir, DOMAIN, -1, 60)
    assert tls_files(settings) == (settings.tls_dir / "fullchain.pem", settings.tls_dir / "privkey.pem")
    config = Config()
    configure_listeners(config, settings)
    assert config.bind == ["127.0.0.1:0"] and config.insecure_bind == ["127.0.0.1:0"] and config.ssl_enabled
    key = (settings.tls_dir / "privkey.pem").read_bytes()
    _write_certificate(settings.tls_dir, DOMAIN, -1, 60)
    (settings.tls_dir / "privkey.pem").write_bytes(key)  # the old key beside the new chain
    assert tls_files(settings) is None
    config = Config()
    configure_listeners(config, settings)
    assert not config.ssl_enabled and config.bind == ["127.0.0.1:0"]
