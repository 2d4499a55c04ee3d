"""URL previews (GET /_matrix/client/v1/media/preview_url): OpenGraph data of a web page.

Off unless `url_previews` is set. When on, the server fetches pages from the internet on a
user's behalf, so it must never be turned against the home network: every host is resolved
first, and if any of its addresses is loopback, private (RFC 1918, IPv6 ULA), link-local,
multicast, reserved, CGNAT or otherwise not globally routable, nothing is requested. The request
then goes to the checked address itself (not a second DNS lookup, so DNS rebinding cannot swap
it), and every redirect hop is checked again. Bodies are cut at `max_bytes`; every request has
connect/read timeouts and the whole preview a total deadline.

`allowed_networks` exists for tests only (a local test server on loopback); it is not a
setting and is empty unless code sets it.
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from ...protocol.errors import Forbidden, InvalidParam, MatrixError, Unrecognized
from . import thumbnails
from .repository import MediaService

if TYPE_CHECKING:  # httpx loads on the first preview, not at start-up
    import httpx

MAX_REDIRECTS = 5
MAX_VALUE_CHARS = 1000
MAX_OG_KEYS = 50
CACHE_ENTRIES = 256
CACHE_SECONDS = 3600

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PreviewBlocked(Forbidden):
    pass


def is_denied(ip: IPAddress) -> bool:
    """True for every address that is not a public unicast address on the internet."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_denied(ip.ipv4_mapped)
        if ip.sixtofour is not None and is_denied(ip.sixtofour):
            return True
        if ip.teredo is not None and any(is_denied(a) for a in ip.teredo):
            return True
        if ip.is_site_local:
            return True
    return (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified)


class _PageParser(HTMLParser):
    """Collects og:* meta tags, <title> and the description meta tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.og: dict[str, str] = {}
        self.title_parts: list[str] = []
        self.description: str | None = None
        self._in_title = False
        self._title_done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            a = {k.lower(): v for k, v in attrs if v is not None}
            key = (a.get("property") or a.get("name") or "").strip()
            content = a.get("content")
            if not key or content is None:
                return
            lower = key.lower()
            if lower.startswith("og:") and lower not in self.og and len(self.og) < MAX_OG_KEYS:
                self.og[lower] = content.strip()[:MAX_VALUE_CHARS]
            elif lower == "description" and self.description is None:
                self.description = content.strip()[:MAX_VALUE_CHARS]
        elif tag == "title" and not self._title_done:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self._title_done = True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)


def parse_html(html: str) -> dict[str, Any]:
    """OpenGraph data of a page: its og: tags, with <title> and the description meta tag as
    fallbacks for og:title and og:description."""
    parser = _PageParser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # HTMLParser gives up on some broken markup; keep what it saw
        pass
    og: dict[str, Any] = dict(parser.og)
    title = " ".join("".join(parser.title_parts).split())[:MAX_VALUE_CHARS]
    if "og:title" not in og and title:
        og["og:title"] = title
    if "og:description" not in og and parser.description:
        og["og:description"] = parser.description
    return og


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)


def decode_html(body: bytes, content_type: str) -> str:
    charset = None
    m = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", content_type, re.I)
    if m:
        charset = m.group(1)
    else:
        m2 = _META_CHARSET.search(body[:4096])
        if m2:
            charset = m2.group(1).decode("ascii")
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


class UrlPreviewService:
    def __init__(self, media: MediaService, enabled: bool | Callable[[], bool], *, max_bytes: int = 1024 * 1024,
                 request_timeout_s: float = 5.0, total_timeout_s: float = 15.0):
        self.media = media
        self._enabled = enabled  # a function: the setting as it is now
        self.max_bytes = max_bytes
        self.request_timeout_s = request_timeout_s
        self.total_timeout_s = total_timeout_s
        self.allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []  # tests only
        self._cache: OrderedDict[str, tuple[float, dict]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return bool(self._enabled()) if callable(self._enabled) else self._enabled

    @enabled.setter
    def enabled(self, value: bool | Callable[[], bool]) -> None:
        self._enabled = value

    async def preview(self, url: str) -> dict[str, Any]:
        if not self.enabled:
            raise Unrecognized("URL previews are disabled on this server")
        _check_url(url)
        hit = self._cache.get(url)
        if hit is not None and hit[0] > time.monotonic():
            return dict(hit[1])
        try:
            async with asyncio.timeout(self.total_timeout_s):
                result = await self._preview(url)
        except TimeoutError:
            raise MatrixError("Timed out fetching the URL", status=504, errcode="M_UNKNOWN") from None
        self._cache[url] = (time.monotonic() + CACHE_SECONDS, result)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return dict(result)

    async def _preview(self, url: str) -> dict[str, Any]:
        import httpx

        timeout = httpx.Timeout(self.request_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False) as http:
            final_url, content_type, body = await self.fetch(http, url)
            base = content_type.split(";", 1)[0].strip().lower()
            if base.startswith("image/"):
                return await self._image_fields(body, base)
            if base not in ("text/html", "application/xhtml+xml"):
                return {}
            og = parse_html(decode_html(body, content_type))
            image_url = og.pop("og:image", None)
            for key in ("og:image:width", "og:image:height", "og:image:type", "og:image:secure_url"):
                og.pop(key, None)
            if image_url:
                try:
                    _, image_type, image = await self.fetch(http, urljoin(final_url, image_url))
                except MatrixError:
                    image = None
                if image is not None and image_type.split(";", 1)[0].strip().lower().startswith("image/"):
                    og.update(await self._image_fields(image, image_type.split(";", 1)[0].strip().lower()))
            return og

    async def _image_fields(self, data: bytes, content_type: str) -> dict[str, Any]:
        if len(data) > self.max_bytes or content_type == "image/svg+xml":
            return {}
        mxc, path = await self.media.store_fetched(data, content_type)
        fields: dict[str, Any] = {"og:image": mxc, "og:image:type": content_type, "matrix:image:size": len(data)}
        size = await asyncio.to_thread(thumbnails.image_size, path, content_type)
        if size is not None:
            fields["og:image:width"], fields["og:image:height"] = size
        return fields

    async def fetch(self, http: httpx.AsyncClient, url: str) -> tuple[str, str, bytes]:
        """GET a URL: each hop's host checked against the deny-list, connected by checked address.
        Returns (final URL, Content-Type, body cut at max_bytes)."""
        import httpx

        for _ in range(MAX_REDIRECTS + 1):
            parts = _check_url(url)
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme == "https" else 80)
            ip = await self.resolve_allowed(host, port)
            ip_host = f"[{ip}]" if ip.version == 6 else str(ip)
            target = urlunsplit((parts.scheme, f"{ip_host}:{port}", parts.path or "/", parts.query, ""))
            host_header = host if parts.port is None else f"{host}:{parts.port}"
            if ":" in host and parts.port is None:
                host_header = f"[{host}]"
            elif ":" in host:
                host_header = f"[{host}]:{parts.port}"
            extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
            headers = {"Host": host_header, "User-Agent": "Hearth (Matrix URL preview)",
                       "Accept": "text/html, image/*;q=0.8, */*;q=0.1"}
            try:
                async with http.stream("GET", target, headers=headers, extensions=extensions) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("Location")
                        if not location:
                            break
                        url = urljoin(url, location)
                        continue
                    if resp.status_code != 200:
                        raise MatrixError(f"The URL answered HTTP {resp.status_code}", status=502,
                                          errcode="M_UNKNOWN")
                    body = bytearray()
                    async for chunk in resp.aiter_bytes():
                        body.extend(chunk)
                        if len(body) >= self.max_bytes:
                            break
                    return url, resp.headers.get("Content-Type", ""), bytes(body[: self.max_bytes])
            except httpx.HTTPError as exc:
                raise MatrixError(f"Could not fetch the URL: {type(exc).__name__}", status=502,
                                  errcode="M_UNKNOWN") from None
        raise MatrixError("Too many redirects", status=502, errcode="M_UNKNOWN")

    async def resolve_allowed(self, host: str, port: int) -> IPAddress:
        """The address to connect to; PreviewBlocked if any address of the host is on the deny-list."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError):
            raise MatrixError(f"Could not resolve {host}", status=502, errcode="M_UNKNOWN") from None
        addresses = []
        for info in infos:
            try:
                addresses.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
            except ValueError:
                continue
        if not addresses:
            raise MatrixError(f"Could not resolve {host}", status=502, errcode="M_UNKNOWN")
        for ip in addresses:
            if is_denied(ip) and not any(ip in net for net in self.allowed_networks):
                raise PreviewBlocked(f"{host} resolves to a non-public address ({ip}); it is not previewed")
        return addresses[0]


def _check_url(url: str):
    if len(url) > 2048:
        raise InvalidParam("url is too long")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise InvalidParam("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParam("url must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidParam("url must not carry credentials")
    return parts
