"""The certificate for the family's name: got from the ACME CA, renewed before it expires, put
where the TLS listeners read it.

`run()` is the background task: every `acme_check_interval_s` (or at once, when the admin pages
`kick()` it) it points a dynamic-DNS name at the home (such a name every 10 minutes), and gets a
certificate when there is none, it is for another name, or it expires within `acme_renew_days`.
A failure is retried with a backoff (5 min, doubling, at most the check interval). Each attempt is recorded
(`acme_attempts`) and its steps are shown while it runs (`status()`).

The files: `<data>/tls/fullchain.pem` and `privkey.pem` (0600), replaced atomically; a new
certificate is loaded into the running listeners (tls_contexts.py), and the first one, when this
process has no TLS listener yet, restarts it (`hearth run`) so that the listeners open.
"""
from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from dataclasses import dataclass, field
from pathlib import Path

from ...storage.stores.reach import AcmeAttempt, ReachStore
from ...storage.stores.server_settings import ServerSettingsStore
from . import lookups, tls_contexts
from .http01 import Http01Challenges

if TYPE_CHECKING:  # httpx: imported by the first client made (~10 ms of every start otherwise)
    import httpx

    from .acme_client import AcmeClient
    from .dns_providers import DnsProvider


class _OnUse:
    """A module imported at its first attribute read. ACME, its client and the DNS providers
    bring `cryptography` (~25 ms and ~4 MiB of every start): a box reached at home only, the
    default, never loads them; an `except` naming their errors reads them only when it runs."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name, __package__)
        return getattr(self._module, attr)


A = _OnUse("...protocol.acme")
_client = _OnUse(".acme_client")
_dns = _OnUse(".dns_providers")

log = logging.getLogger(__name__)

TOKEN_KEY = "reach.dns_token"  # the DNS provider's token, as stored from the admin page
FIRST_RETRY_S = 300.0
TXT_WAIT_S = 120.0
DYNDNS_INTERVAL_S = 600.0  # a dynamic-DNS name is pointed at the home this often (providers allow ~1/min)


class CertificateProblem(Exception):
    """Why no certificate could be had, in words for the admin page."""


@dataclass
class Progress:
    """What the running attempt is doing (shown live on the admin page)."""

    running: bool = False
    reason: str = ""
    steps: list[str] = field(default_factory=list)
    started: float = 0.0

    def step(self, text: str) -> None:
        log.info("certificate: %s", text)
        self.steps.append(text)


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    mode: str
    domain: str | None
    challenge: str
    certificate: A.CertificateInfo | None
    progress: Progress
    attempts: list[AcmeAttempt]
    next_check: float | None      # epoch seconds
    serving: bool                 # this process's TLS listeners are open
    address_problem: str | None = None

    @property
    def expired(self) -> bool:
        return self.certificate is not None and self.certificate.days_left() <= 0

    def public(self) -> dict:
        c = self.certificate
        last = self.attempts[0] if self.attempts else None
        return {
            "mode": self.mode, "domain": self.domain, "challenge": self.challenge,
            "running": self.progress.running, "steps": list(self.progress.steps),
            "certificate": None if c is None else {
                "names": list(c.names), "not_after": c.not_after.isoformat(), "days_left": round(c.days_left(), 1),
                "issuer": c.issuer},
            "last": None if last is None else {"ok": last.ok, "message": last.message,
                                               "finished_ts": last.finished_ts},
            "serving": self.serving, "address_problem": self.address_problem,
        }


class CertificateService:
    def __init__(self, settings, store: ReachStore, settings_store: ServerSettingsStore, http01: Http01Challenges,
                 restart_process: Callable[[], Awaitable[None]] | None) -> None:
        self.settings = settings
        self.store = store
        self.settings_store = settings_store
        self.http01 = http01
        self._restart_process = restart_process
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._progress = Progress()
        self._force = False
        self.address_problem: str | None = None  # the last dynamic-DNS update failed: why
        self._next_check: float | None = None
        self._acme_http: httpx.AsyncClient | None = None
        self._http: httpx.AsyncClient | None = None

    # -- files -------------------------------------------------------------------------------

    @property
    def chain_path(self) -> Path:
        return self.settings.tls_dir / "fullchain.pem"

    @property
    def key_path(self) -> Path:
        return self.settings.tls_dir / "privkey.pem"

    def certificate(self) -> A.CertificateInfo | None:
        try:
            return A.certificate_info(self.chain_path.read_bytes())
        except (OSError, ValueError):
            return None

    def _write(self, chain: bytes, key_pem: bytes) -> None:
        d = self.settings.tls_dir
        d.mkdir(mode=0o700, exist_ok=True)
        for path, data in ((self.key_path, key_pem), (self.chain_path, chain)):
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)

    # -- clients -------------------------------------------------------------------------------

    def acme_http(self) -> httpx.AsyncClient:
        if self._acme_http is None:
            import httpx

            bundle = self.settings.acme_ca_bundle
            verify = ssl.create_default_context(cafile=str(bundle)) if bundle else True
            self._acme_http = httpx.AsyncClient(verify=verify, timeout=20.0,
                                                headers={"User-Agent": "Hearth ACME client"})
        return self._acme_http

    def http(self) -> httpx.AsyncClient:
        """For DNS providers and the address echo (the system's trust store)."""
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=20.0, headers={"User-Agent": "Hearth"})
        return self._http

    async def aclose(self) -> None:
        for client in (self._acme_http, self._http):
            if client is not None:
                await client.aclose()

    async def dns_token(self) -> str | None:
        if self.settings.reach_dns_token is not None:
            return self.settings.reach_dns_token.get_secret_value()
        raw = await self.settings_store.get(TOKEN_KEY)
        return json.loads(raw) if raw else None

    async def store_dns_token(self, token: str | None) -> None:
        if token:
            await self.settings_store.set_many({TOKEN_KEY: json.dumps(token)})
        else:
            await self.settings_store.delete(TOKEN_KEY)

    async def provider(self) -> DnsProvider:
        pid = self.settings.reach_dns_provider
        if pid is None:
            raise _dns.DnsProviderError("Choose a DNS provider first")
        return _dns.make_provider(pid, self.http(), await self.dns_token(), self.settings.reach_dns_api_url)

    # -- status ----------------------------------------------------------------------------

    async def status(self) -> CertificateStatus:
        s = self.settings
        return CertificateStatus(s.reach_mode, s.reach_domain, s.acme_challenge, self.certificate(), self._progress,
                                 await self.store.recent_attempts(10), self._next_check, tls_contexts.serving(),
                                 self.address_problem)

    def due(self) -> str | None:
        """Why a certificate is needed now (the attempt's reason), or None."""
        s = self.settings
        if s.reach_mode == "lan" or not s.reach_domain:
            return None
        cert = self.certificate()
        if cert is None:
            return "first"
        if s.reach_domain not in cert.names:
            return "new name"
        if cert.days_left() <= s.acme_renew_days:
            return "renewal"
        return None

    def kick(self, force: bool = False) -> None:
        """Check now (the admin saved the settings); `force`: get a certificate whatever the dates say."""
        self._force = self._force or force
        self._wake.set()

    # -- the background task ---------------------------------------------------------------

    async def run(self) -> None:
        delay = 0.0
        while True:
            self._next_check = time.time() + delay
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
            self._wake.clear()
            delay = self.settings.acme_check_interval_s
            if self.settings.reach_mode == "dyndns":  # the home's address may change any time
                delay = min(delay, DYNDNS_INTERVAL_S)
            try:
                try:
                    await self.update_dynamic_address()
                    self.address_problem = None
                except _dns.DnsProviderError as exc:
                    self.address_problem = str(exc)
                    log.warning("dynamic DNS: %s", exc)
                forced, self._force = self._force, False
                reason = "by hand" if forced and _reachable(self.settings) else self.due()
                if reason is not None:
                    await self.obtain(reason)
            except asyncio.CancelledError:
                raise
            except (CertificateProblem, _client.AcmeError, _dns.DnsProviderError) as exc:
                failures = await self.store.failures_in_a_row()
                delay = min(FIRST_RETRY_S * 2 ** max(failures - 1, 0), self.settings.acme_check_interval_s)
                log.warning("certificate: %s (next try in %d s)", exc, delay)
            except Exception:
                log.exception("certificate: the renewal task failed")

    async def update_dynamic_address(self) -> None:
        """A dynamic-DNS name follows the home's internet address."""
        s = self.settings
        if s.reach_mode != "dyndns" or not s.reach_domain or s.reach_dns_provider is None:
            return
        provider = await self.provider()
        ip = await lookups.home_address(self.http(), s.reach_ip_echo_url)
        await provider.update_address(s.reach_domain, ip)

    # -- getting a certificate ---------------------------------------------------------------

    async def obtain(self, reason: str = "by hand") -> A.CertificateInfo:
        async with self._lock:
            s = self.settings
            domain, challenge = s.reach_domain, s.acme_challenge
            if not domain:
                raise CertificateProblem("No name is set: choose the domain first")
            self._progress = progress = Progress(True, reason, [], time.time())
            attempt = await self.store.start_attempt(domain, challenge, reason)
            try:
                info = await self._obtain(domain, challenge, progress)
            except (_client.AcmeError, _dns.DnsProviderError, CertificateProblem) as exc:
                progress.step(f"Failed: {exc}")
                await self.store.finish_attempt(attempt, False, str(exc))
                raise
            except Exception as exc:
                progress.step("Failed: an unexpected error (see the log)")
                await self.store.finish_attempt(attempt, False, f"unexpected error: {type(exc).__name__}")
                raise
            finally:
                progress.running = False
            message = f"Certificate for {domain} until {info.not_after:%Y-%m-%d}"
            await self.store.finish_attempt(attempt, True, message)
            progress.step("Done: " + message)
            if tls_contexts.reload(self.chain_path, self.key_path) == 0 and self._restart_process is not None:
                progress.step("Restarting Hearth to open the secure ports")
                await self._restart_process()
            return info

    async def account(self) -> AcmeClient:
        url = self.settings.acme_directory_url
        stored = await self.store.account(url)
        if stored is None:  # generated here, once per CA; never a default
            stored = await self.store.add_account_key(url, A.key_to_pem(A.new_key()).decode())
        client = _client.AcmeClient(url, A.key_from_pem(stored.key_pem.encode()), self.acme_http(), kid=stored.kid)
        if client.kid is None:
            kid = await client.register(self.settings.acme_email)
            await self.store.set_kid(url, kid)
        return client

    async def _obtain(self, domain: str, challenge: str, progress: Progress) -> A.CertificateInfo:
        progress.step("Contacting the certificate authority")
        client = await self.account()
        progress.step(f"Asking for a certificate for {domain}")
        try:
            order = await client.new_order([domain])
        except _client.AcmeError as exc:  # the CA lost the account (a test CA restarted): the same key signs up again
            if exc.problem is None or exc.problem.name != "accountDoesNotExist":
                raise
            await self.store.set_kid(self.settings.acme_directory_url, await client.register(self.settings.acme_email))
            order = await client.new_order([domain])
        for url in order.authorizations:
            authz = await client.authorization(url)
            if authz.status == "valid":
                continue
            ch = authz.challenge(challenge)
            if ch is None:
                raise CertificateProblem(f"The certificate authority does not offer the {challenge} check")
            if challenge == "http-01":
                await self._http01(client, authz.url, ch, progress)
            else:
                await self._dns01(client, authz.domain or domain, authz.url, ch, progress)
        progress.step("Making a new key and asking for the certificate")
        key = A.new_key()
        order = await client.finalize(order, A.csr_der([domain], key))
        order = await client.wait_order(order)
        chain = await client.download(order)
        key_pem = A.key_to_pem(key)
        if not A.chain_matches_key(chain, key_pem):
            raise CertificateProblem("The certificate authority sent a certificate for another key")
        await asyncio.to_thread(self._write, chain, key_pem)
        return A.certificate_info(chain)

    async def _http01(self, client: AcmeClient, authz_url: str, ch, progress: Progress) -> None:
        self.http01.add(ch.token, A.key_authorization(ch.token, client.key))
        try:
            progress.step(f"The certificate authority checks http://{self.settings.reach_domain}"
                          f"{_port(self.settings.reach_http_port, 80)}/.well-known/acme-challenge/…")
            await client.respond(ch)
            await client.wait_authorization(authz_url)
            progress.step("The name is confirmed")
        finally:
            self.http01.remove(ch.token)

    async def _dns01(self, client: AcmeClient, domain: str, authz_url: str, ch, progress: Progress) -> None:
        provider = await self.provider()
        record, value = A.dns01_record_name(domain), A.dns01_txt_value(ch.token, client.key)
        progress.step(f"Setting the DNS record {record} at {_dns.PROVIDERS[provider.id].name}")
        await provider.set_txt(record, value)
        try:
            await self._wait_for_txt(record, value, progress)
            await client.respond(ch)
            await client.wait_authorization(authz_url)
            progress.step("The name is confirmed")
        finally:
            try:
                await provider.clear_txt(record, value)
            except _dns.DnsProviderError as exc:
                log.warning("certificate: could not remove %s: %s", record, exc)

    async def _wait_for_txt(self, record: str, value: str, progress: Progress) -> None:
        """Until DNS answers the new value (a provider takes a moment), for at most TXT_WAIT_S."""
        progress.step("Waiting for the DNS record to be visible")
        deadline = time.monotonic() + TXT_WAIT_S
        while time.monotonic() < deadline:
            try:
                if value in await lookups.txt_values(record, self.settings.reach_dns_resolver):
                    return
            except lookups.LookupFailed:
                pass
            await asyncio.sleep(2.0)
        progress.step("The record is not visible yet; asking the certificate authority to check anyway")


def _reachable(settings) -> bool:
    return settings.reach_mode != "lan" and bool(settings.reach_domain)


def _port(port: int, default: int) -> str:
    return "" if port == default else f":{port}"
