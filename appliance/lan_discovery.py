"""LAN discovery: advertise the web UI over mDNS / DNS-SD as an `_http._tcp` service.

The service instance is "Hearth (<server_name>)" on the HTTP port, with TXT records
`version`, `setup` (pending|done) and `path`. Browsers and phone apps that browse
`_http._tcp` (Safari's Bonjour list, Android's network-service discovery, `avahi-browse`)
find the household's server without anybody typing an address.

The host name (`hearth.local`) belongs to the operating system's mDNS daemon (avahi on the
image). python-zeroconf answers for the SRV target it is given with the addresses it is
given, as unique (cache-flush) records; if those were the OS host name with a slightly
different address set, avahi would see a conflict and rename the machine. So the SRV target
is a name of our own, derived from the server name.
"""
from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version as package_version
from typing import TYPE_CHECKING

from .core.storage.stores.accounts import AccountStore

# zeroconf and ifaddr load when discovery starts, not at import: with LAN discovery off
# (or until the server is up) they would only cost start-up time and about 3 MiB.
if TYPE_CHECKING:
    from zeroconf import IPVersion, ServiceInfo
    from zeroconf.asyncio import AsyncZeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_http._tcp.local."
MAX_INSTANCE_BYTES = 63  # RFC 6763 §4.1.1


def hearth_version() -> str:
    try:
        return package_version("hearth")
    except PackageNotFoundError:
        return "0"


def instance_name(server_name: str) -> str:
    """"Hearth (<server_name>)", cut to the 63 bytes DNS-SD allows for an instance label."""
    name = f"Hearth ({server_name})"
    if len(name.encode()) <= MAX_INSTANCE_BYTES:
        return name
    inner = server_name.encode()[: MAX_INSTANCE_BYTES - len("Hearth (…)".encode())]
    return f"Hearth ({inner.decode(errors='ignore')}…)"


def srv_host(server_name: str) -> str:
    """The SRV target: ours alone, stable across restarts (see the module docstring)."""
    return f"hearth-{hashlib.sha256(server_name.encode()).hexdigest()[:8]}.local."


def is_loopback_only(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_addresses(ip_version: IPVersion) -> list[str]:
    """The addresses of every non-loopback interface (IPv6: not link-local, they need a scope)."""
    import ifaddr
    from zeroconf import IPVersion

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if ip.is_IPv4 and ip_version != IPVersion.V6Only:
                addr = ipaddress.ip_address(ip.ip)
            elif ip.is_IPv6 and ip_version != IPVersion.V4Only:
                addr = ipaddress.ip_address(ip.ip[0])
                if addr.is_link_local:
                    continue
            else:
                continue
            if not addr.is_loopback and not addr.is_unspecified and str(addr) not in found:
                found.append(str(addr))
    return found


async def setup_pending(accounts: AccountStore) -> bool:
    """Setup is pending until an (active) admin account exists."""
    return not any(u.admin and not u.deactivated for u in await accounts.list_users())


class Advertiser:
    """Advertises the web UI while the server runs; `update()` when the setup state changes.

    The wizard calls `update()` when it finishes. Setup also ends when an admin is made from
    another process (`hearth create-user --admin`): given `still_pending`, the advertiser asks
    it every RECHECK_S seconds while setup is pending and switches to setup=done by itself.
    """

    RECHECK_S = 2.0

    def __init__(self, server_name: str, host: str, port: int, *, path: str = "/") -> None:
        self.server_name = server_name
        self.host = host
        self.port = port
        self.path = path
        self._zc: AsyncZeroconf | None = None
        self._info: ServiceInfo | None = None
        self._setup_pending = True  # the latest state asked for, even while start() still probes
        self._recheck: asyncio.Task | None = None

    @property
    def advertising(self) -> bool:
        return self._info is not None

    @property
    def name(self) -> str | None:
        """The registered instance name (zeroconf adds "-2" on a name conflict)."""
        return self._info.name if self._info else None

    def _plan(self) -> tuple[IPVersion, list[str]] | None:
        """Which IP versions and addresses to advertise, from the HTTP bind address."""
        from zeroconf import IPVersion

        if is_loopback_only(self.host):
            return None
        if self.host in ("0.0.0.0", ""):
            ip_version = IPVersion.V4Only
        elif self.host == "::":
            ip_version = IPVersion.All  # Linux binds "::" dual-stack
        else:
            addr = ipaddress.ip_address(self.host)
            return (IPVersion.V4Only if addr.version == 4 else IPVersion.V6Only), [str(addr)]
        return ip_version, lan_addresses(ip_version)

    def _properties(self, setup_pending: bool) -> dict[str, str]:
        return {"version": hearth_version(), "setup": "pending" if setup_pending else "done", "path": self.path}

    async def start(self, setup_pending: bool,
                    still_pending: Callable[[], Awaitable[bool]] | None = None) -> bool:
        """Register the service on every LAN interface; False if there is nothing to advertise on."""
        if self._zc is not None:
            return self.advertising
        self._setup_pending = setup_pending
        plan = self._plan()
        if plan is None:
            log.info("LAN discovery: %s is loopback only, not advertising", self.host)
            return False
        ip_version, addresses = plan
        if not addresses:
            log.warning("LAN discovery: no LAN address yet, not advertising")
            return False
        from zeroconf import ServiceInfo
        from zeroconf.asyncio import AsyncZeroconf

        # The LAN interfaces, by address: InterfaceChoice.All would add loopback.
        self._zc = AsyncZeroconf(interfaces=addresses, ip_version=ip_version)
        info = ServiceInfo(
            SERVICE_TYPE,
            f"{instance_name(self.server_name)}.{SERVICE_TYPE}",
            port=self.port,
            properties=self._properties(setup_pending),
            server=srv_host(self.server_name),
            addresses=[socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in addresses],
        )
        try:
            # Each call returns once the name is ours; the task it returns sends the announcements.
            await (await self._zc.async_register_service(info, allow_name_change=True))
        except BaseException:
            await self._zc.async_close()
            self._zc = None
            raise
        self._info = info
        log.info("LAN discovery: advertising %r on %s port %d", info.name, ", ".join(addresses), self.port)
        if self._setup_pending != setup_pending:  # update() came while the name was being probed
            await self.update(self._setup_pending)
        if self._setup_pending and still_pending is not None:
            self._recheck = asyncio.get_running_loop().create_task(self._watch_setup(still_pending))
        return True

    async def _watch_setup(self, still_pending: Callable[[], Awaitable[bool]]) -> None:
        """Until setup is done (by the wizard or by an admin made elsewhere): setup=done once it is."""
        while self._setup_pending and self._zc is not None:
            await asyncio.sleep(self.RECHECK_S)
            try:
                if self._setup_pending and not await still_pending():
                    log.info("LAN discovery: setup was completed; advertising setup=done")
                    await self.update(setup_pending=False)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("LAN discovery: could not check the setup state")

    async def update(self, setup_pending: bool) -> None:
        """Re-announce the TXT records (e.g. `setup=done` once the wizard has finished)."""
        self._setup_pending = setup_pending
        if self._zc is None or self._info is None:
            return
        if self._info.properties == {k.encode(): v.encode() for k, v in self._properties(setup_pending).items()}:
            return
        from zeroconf import ServiceInfo

        self._info = ServiceInfo(
            SERVICE_TYPE, self._info.name, port=self.port, properties=self._properties(setup_pending),
            server=self._info.server, addresses=self._info.addresses,
        )
        await (await self._zc.async_update_service(self._info))

    async def stop(self) -> None:
        """Withdraw: send the goodbye packets (TTL 0) and close the sockets."""
        recheck, self._recheck = self._recheck, None
        if recheck is not None:
            recheck.cancel()
            await asyncio.gather(recheck, return_exceptions=True)
        zc, self._zc, info, self._info = self._zc, None, self._info, None
        if zc is None:
            return
        try:
            if info is not None:
                await (await zc.async_unregister_service(info))  # the goodbyes (TTL 0)
        finally:
            await zc.async_close()
