"""URL previews: off by default; when on, the private-address deny-list, the HTML parser, and a
full fetch against a local server (loopback allowed only through the test-only switch)."""
from __future__ import annotations

import io
import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from appliance.core.services.media.preview import decode_html, is_denied, parse_html

PREVIEW = "/_matrix/client/v1/media/preview_url"


async def preview(hs, user, url: str):
    r = await hs.client.get(PREVIEW, query_string={"url": url}, headers=user.headers)
    return r.status_code, await r.get_json()


async def test_previews_are_off_by_default(hs):
    alice = await hs.user("alice")
    assert hs.hearth.settings.url_previews is False
    status, body = await preview(hs, alice, "https://matrix.org/")
    assert (status, body["errcode"]) == (404, "M_UNRECOGNIZED")
    assert "disabled" in body["error"]


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.10", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.251", "255.255.255.255", "240.0.0.1", "192.0.2.1",
    "::1", "::", "fd00::1", "fc12::1", "fe80::1", "ff02::fb", "::ffff:192.168.0.1", "::ffff:127.0.0.1",
    "2002:c0a8:0101::1",  # 6to4 of 192.168.1.1
])
def test_deny_list(address):
    assert is_denied(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001::200e"])
def test_public_addresses_are_allowed(address):
    assert not is_denied(ipaddress.ip_address(address))


class TestEnabled:
    @pytest.fixture
    def settings(self, settings):
        return settings.model_copy(update={"url_previews": True})

    @pytest.mark.parametrize("url", [
        "http://127.0.0.1:8008/_matrix/client/versions", "http://localhost/", "http://[::1]/",
        "http://192.168.1.1/admin", "http://10.1.2.3:8080/", "http://169.254.169.254/latest/meta-data/",
        "https://[fd00::5]/", "http://0.0.0.0/", "http://2130706433/", "http://0x7f.1/",
    ])
    async def test_private_and_loopback_urls_are_refused(self, hs, url):
        alice = await hs.user("alice")
        status, body = await preview(hs, alice, url)
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), body
        assert "non-public address" in body["error"]

    @pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/", "javascript:alert(1)",
                                     "http://user:pw@example.org/", "not a url", "http://example.org:99999/"])
    async def test_bad_urls_are_refused(self, hs, url):
        alice = await hs.user("alice")
        status, body = await preview(hs, alice, url)
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), body

    async def test_full_fetch_from_a_local_server(self, hs, local_site):
        alice = await hs.user("alice")
        previews = hs.hearth.media.previews
        previews.allowed_networks = [ipaddress.ip_network("127.0.0.0/8")]  # the test-only switch
        status, body = await preview(hs, alice, local_site + "/page")
        assert status == 200, body
        assert body["og:title"] == "A page about bread"
        assert body["og:description"] == "Sourdough & rye"
        assert body["og:image"].startswith("mxc://hearth.test/")
        assert body["og:image:type"] == "image/png"
        assert (body["og:image:width"], body["og:image:height"]) == (60, 40)
        assert body["matrix:image:size"] == len(LocalSite.image)
        media_id = body["og:image"].rsplit("/", 1)[1]
        r = await hs.client.get(f"/_matrix/client/v1/media/download/hearth.test/{media_id}", headers=alice.headers)
        assert await r.get_data() == LocalSite.image
        # Followed redirects are checked hop by hop: one to a private address is refused.
        status, body = await preview(hs, alice, local_site + "/redirect-to-lan")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        status, body = await preview(hs, alice, local_site + "/redirect-to-page")
        assert status == 200 and body["og:title"] == "A page about bread"
        # Bodies are cut at the size limit (the parser still reads the head).
        previews.max_bytes = 2000
        status, body = await preview(hs, alice, local_site + "/huge")
        assert status == 200 and body["og:title"] == "Huge"
        assert LocalSite.huge_bytes_sent < 5_000_000
        status, body = await preview(hs, alice, local_site + "/missing")
        assert status == 502

    async def test_without_the_switch_the_local_server_is_refused(self, hs, local_site):
        alice = await hs.user("alice")
        assert hs.hearth.media.previews.allowed_networks == []
        status, body = await preview(hs, alice, local_site + "/page")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        assert LocalSite.requests == []


def test_parser_reads_og_tags_title_and_description():
    html = """<html><head><title>  Fallback
        title </title><meta name="description" content="desc">
        <meta property="og:title" content="OG &amp; title"><meta property="og:site_name" content="Site">
        <meta name="og:url" content="https://example.org/x"><meta property="og:title" content="second"></head>
        <body><title>not this</title></body></html>"""
    assert parse_html(html) == {"og:title": "OG & title", "og:site_name": "Site",
                                "og:url": "https://example.org/x", "og:description": "desc"}
    assert parse_html("<title>Only a title</title>") == {"og:title": "Only a title"}
    assert parse_html("<html><body>nothing</body></html>") == {}
    assert parse_html("<meta property='og:title' content='" + "x" * 5000 + "'>")["og:title"] == "x" * 1000
    assert parse_html("<<<>>><meta property=og:title content=ok><title") == {"og:title": "ok"}


def test_charset_detection():
    assert decode_html("café".encode("latin-1"), "text/html; charset=ISO-8859-1") == "café"
    assert decode_html(b'<meta charset="latin-1"><p>caf\xe9', "text/html") == '<meta charset="latin-1"><p>café'
    assert decode_html("café".encode(), "text/html; charset=bogus") == "café"


# -- a tiny local web site ------------------------------------------------------------------------------

class LocalSite(BaseHTTPRequestHandler):
    image = b""
    requests: list[str] = []
    huge_bytes_sent = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        LocalSite.requests.append(self.path)
        if self.path == "/page":
            body = (b'<html><head><title>ignored</title><meta property="og:title" content="A page about bread">'
                    b'<meta property="og:description" content="Sourdough &amp; rye">'
                    b'<meta property="og:image" content="/img.png"></head><body>hi</body></html>')
            self._send(200, "text/html; charset=utf-8", body)
        elif self.path == "/img.png":
            self._send(200, "image/png", LocalSite.image)
        elif self.path == "/redirect-to-lan":
            self._redirect("http://192.168.1.1/")
        elif self.path == "/redirect-to-page":
            self._redirect("/page")
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                self.wfile.write(b"<title>Huge</title>")
                for _ in range(1000):
                    self.wfile.write(b"x" * 10_000)
                    LocalSite.huge_bytes_sent += 10_000
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            self._send(404, "text/plain", b"no")

    def _send(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def local_site():
    buf = io.BytesIO()
    Image.new("RGB", (60, 40), "green").save(buf, "PNG")
    LocalSite.image = buf.getvalue()
    LocalSite.requests = []
    LocalSite.huge_bytes_sent = 0
    srv = ThreadingHTTPServer(("127.0.0.1", 0), LocalSite)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
