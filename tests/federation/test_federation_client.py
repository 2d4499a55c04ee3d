"""The outbound federation client against a real TLS server on loopback (a test CA)."""
from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from appliance.core.protocol.signing import SigningKey
from appliance.core.protocol.x_matrix import parse_x_matrix, verify_request
from appliance.core.services.federation.client import FederationClient, FederationRefused, FederationUnavailable
from appliance.settings import Settings
from tests.tls_ca import TestCA

KEY = SigningKey.generate("t")


class Peer:
    """A TLS server that records requests; `/slow` answers after 2 s."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.requests: list[dict] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                peer.requests.append({"method": self.command, "path": self.path, "body": body,
                                      "host": self.headers["Host"], "auth": self.headers.get("Authorization")})
                if self.path.startswith("/slow"):
                    time.sleep(2)
                out = json.dumps({"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_PUT = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "ca")


@pytest.fixture
def peer(ca: TestCA):
    p = Peer(*ca.issue("localhost", "127.0.0.1"))
    yield p
    p.close()


def settings(ca: TestCA, **overrides) -> Settings:
    values = dict(server_name="hearth.test", federation_enabled=True, federation_ca_bundle=ca.ca_path,
                  federation_allow_private_peers=True)
    values.update(overrides)
    return Settings(**values)


async def test_signed_request_reaches_the_peer(ca, peer):
    client = FederationClient(settings(ca), KEY, timeout_s=5)
    try:
        dest = f"localhost:{peer.port}"
        status, body = await client.request("PUT", dest, "/_matrix/federation/v1/send/t1",
                                            query={"a": "1"}, content={"pdus": [], "edus": []})
    finally:
        await client.aclose()
    assert (status, body) == (200, {"ok": True})
    [got] = peer.requests
    assert got["path"] == "/_matrix/federation/v1/send/t1?a=1" and got["host"] == dest
    auth = parse_x_matrix(got["auth"])
    assert (auth.origin, auth.destination) == ("hearth.test", dest)
    verify_request(auth, "PUT", got["path"], dest, KEY.verify_key_bytes, got["body"])


async def test_ip_literal_destination(ca, peer):
    client = FederationClient(settings(ca), KEY, timeout_s=5)
    try:
        assert (await client.request("GET", f"127.0.0.1:{peer.port}", "/_matrix/federation/v1/version"))[0] == 200
    finally:
        await client.aclose()
    assert peer.requests[0]["host"] == f"127.0.0.1:{peer.port}"


@pytest.mark.parametrize("overrides", [
    {"federation_allow_private_peers": False},  # loopback refused by default
    {"federation_enabled": False},
    {"federation_denied_servers": ["localhost*"]},
    {"federation_allowed_servers": ["elsewhere.example"]},
])
async def test_refused_without_connecting(ca, peer, overrides):
    client = FederationClient(settings(ca, **overrides), KEY, timeout_s=5)
    try:
        with pytest.raises(FederationRefused):
            await client.request("GET", f"localhost:{peer.port}", "/_matrix/federation/v1/version")
    finally:
        await client.aclose()
    assert peer.requests == []


async def test_untrusted_certificate_is_refused(tmp_path, ca, peer):
    other = TestCA(tmp_path / "other")  # peers signed by a CA we do not trust
    client = FederationClient(settings(ca, federation_ca_bundle=other.ca_path), KEY, timeout_s=5)
    try:
        with pytest.raises(FederationUnavailable):
            await client.request("GET", f"localhost:{peer.port}", "/_matrix/federation/v1/version")
    finally:
        await client.aclose()
    # ... unless verification is off (tests only).
    client = FederationClient(settings(ca, federation_ca_bundle=other.ca_path, federation_verify_tls=False), KEY)
    try:
        assert (await client.request("GET", f"localhost:{peer.port}", "/_matrix/federation/v1/version"))[0] == 200
    finally:
        await client.aclose()


async def test_every_request_has_a_timeout(ca, peer):
    client = FederationClient(settings(ca), KEY, timeout_s=0.5)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(FederationUnavailable, match="in time"):
            await client.request("GET", f"localhost:{peer.port}", "/slow")
        assert asyncio.get_running_loop().time() - started < 1.5
    finally:
        await client.aclose()


async def test_nothing_listening(ca):
    client = FederationClient(settings(ca), KEY, timeout_s=2)
    try:
        with pytest.raises(FederationUnavailable):
            await client.request("GET", "127.0.0.1:1", "/_matrix/federation/v1/version")
    finally:
        await client.aclose()
