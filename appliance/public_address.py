"""The address the family's apps use to reach this server, when nobody has said what it is.

Hearth listens on every interface by default (`0.0.0.0:8008`), and "0.0.0.0" is no address a
phone can use, nor is "localhost" (each phone would reach itself). Until the admin confirms an
address in the setup wizard (stored as `public_baseurl`) or the operator sets
`HEARTH_PUBLIC_BASEURL`, it is derived from how the box can be reached:

- with LAN discovery on and the system's mDNS responder running (avahi, as on the image), the
  machine's own `.local` name: `http://hearth.local:8008` on the image, whose host name is hearth;
- otherwise the address of the interface that carries the default route (the LAN address);
- `localhost` only when there is no network at all, or when Hearth listens on loopback only
  (then no other machine reaches it but through a proxy on this one).

The pages that hand the address to people (`webui.join.public_base_url`) prefer, when nothing is
configured, the address the browser used, unless that is loopback (`suggestion()`).
"""
from __future__ import annotations

import ipaddress
import os
import re
import socket
from urllib.parse import urlsplit

WILDCARDS = ("0.0.0.0", "::", "")
# avahi-daemon's control socket: present while the system answers for <hostname>.local.
MDNS_RESPONDER_SOCKETS = ("/run/avahi-daemon/socket", "/var/run/avahi-daemon/socket")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_is_loopback(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


def _url(host: str, port: int) -> str:
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def mdns_host_name() -> str | None:
    """`<host name>.local` when the system's mDNS responder answers for it, else None."""
    if not any(os.path.exists(p) for p in MDNS_RESPONDER_SOCKETS):
        return None
    name = socket.gethostname().split(".")[0].lower()
    if not _LABEL.fullmatch(name) or name == "localhost":
        return None
    return f"{name}.local"


def primary_lan_address() -> str | None:
    """The address of the interface with the default route (no packet is sent), if any."""
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                addr = s.getsockname()[0]
        except OSError:
            continue
        ip = ipaddress.ip_address(addr)
        if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local):
            return addr
    return None


def derived_base_url(bind_host: str, port: int, lan_discovery: bool) -> str:
    """The address clients should use, from the bind address and the machine (see the module)."""
    if bind_host not in WILDCARDS:
        return _url(bind_host, port)
    name = mdns_host_name() if lan_discovery else None
    if name:
        return _url(name, port)
    lan = primary_lan_address()
    return _url(lan, port) if lan else _url("localhost", port)


def address_problem(address: str | None, bind_host: str) -> str | None:
    """Why `address` cannot be the server's address, or None: a loopback address is refused unless
    Hearth listens on loopback only (behind a reverse proxy, or in a test)."""
    if not address or not url_is_loopback(address) or is_loopback_host(bind_host):
        return None
    host = urlsplit(address).hostname
    return (f"{host} works only on this machine: every phone would reach itself. Use the name or "
            "address other devices use, like http://hearth.local:8008.")


def suggestion(base_url: str, request_host_url: str, explicit: bool) -> str:
    """What the setup wizard proposes: the operator's address if set; else the address this
    browser used, when it is not this machine's loopback (it is known to work from the LAN);
    else the derived one."""
    if explicit or url_is_loopback(request_host_url):
        return base_url.rstrip("/")
    return request_host_url.rstrip("/")
