"""An ACME client (RFC 8555) over httpx: account, order, authorizations, finalize, download.

Written here rather than taken from a library: the protocol part Hearth needs is small (one
name, HTTP-01 or DNS-01, ES256), the JWS and CSR pieces are `cryptography` calls
(core/protocol/acme.py), and the async libraries on PyPI either wrap their own HTTP stack
without per-request timeouts or are unmaintained; `acme` (certbot's) is synchronous, pulls in
josepy and pyOpenSSL, and would need a thread per request.

Every request has a timeout. A `badNonce` answer is retried with the fresh nonce the CA sent
(§6.5: the server may reject any nonce; Pebble rejects 5% on purpose).
"""
from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from ...protocol import acme as A

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(20.0, connect=10.0)
BAD_NONCE_RETRIES = 5
POLL_LIMIT_S = 180.0


class AcmeError(Exception):
    """Something failed talking to the CA: what, in words, with the CA's own problem if any."""

    def __init__(self, message: str, problem: A.Problem | None = None) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Challenge:
    type: str
    url: str
    token: str
    status: str


@dataclass(frozen=True, slots=True)
class Authorization:
    url: str
    domain: str
    status: str
    challenges: tuple[Challenge, ...]

    def challenge(self, kind: str) -> Challenge | None:
        return next((c for c in self.challenges if c.type == kind), None)


@dataclass(frozen=True, slots=True)
class Order:
    url: str
    status: str
    authorizations: tuple[str, ...]
    finalize: str
    certificate: str | None
    error: A.Problem | None


class AcmeClient:
    """One account at one CA. `kid` is known after `register()` (or given, from the store)."""

    def __init__(self, directory_url: str, account_key: ec.EllipticCurvePrivateKey, http: httpx.AsyncClient,
                 kid: str | None = None, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.directory_url = directory_url
        self.key = account_key
        self.http = http
        self.kid = kid
        self._sleep = sleep
        self._directory: dict[str, Any] | None = None
        self._nonce: str | None = None

    # -- transport -----------------------------------------------------------------------------

    async def directory(self) -> dict[str, Any]:
        if self._directory is None:
            r = await self._get(self.directory_url)
            if r.status_code != 200:
                raise AcmeError(f"The certificate authority's directory answered {r.status_code}")
            doc = r.json()
            if not isinstance(doc, dict) or "newNonce" not in doc or "newOrder" not in doc:
                raise AcmeError("The certificate authority's directory is not an ACME directory")
            self._directory = doc
        return self._directory

    async def _get(self, url: str, method: str = "GET") -> httpx.Response:
        try:
            return await self.http.request(method, url, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise AcmeError(f"Could not reach the certificate authority ({_describe(exc)})") from None

    async def _new_nonce(self) -> str:
        r = await self._get((await self.directory())["newNonce"], "HEAD")
        nonce = r.headers.get("Replay-Nonce")
        if not nonce:
            raise AcmeError("The certificate authority gave no nonce")
        return nonce

    async def post(self, url: str, payload: Any | None, *, use_jwk: bool = False,
                   accept: str | None = None) -> httpx.Response:
        """A signed POST (payload None: POST-as-GET). Raises AcmeError with the CA's problem on 4xx/5xx."""
        if not use_jwk and self.kid is None:
            raise AcmeError("no ACME account yet")
        for attempt in range(BAD_NONCE_RETRIES + 1):
            nonce = self._nonce or await self._new_nonce()
            self._nonce = None
            body = A.sign(self.key, url, nonce, payload, kid=None if use_jwk else self.kid)
            headers = {"Content-Type": A.JOSE_JSON}
            if accept:
                headers["Accept"] = accept
            try:
                r = await self.http.post(url, content=body, headers=headers, timeout=TIMEOUT)
            except httpx.HTTPError as exc:
                raise AcmeError(f"Could not reach the certificate authority ({_describe(exc)})") from None
            self._nonce = r.headers.get("Replay-Nonce")
            if r.status_code < 400:
                return r
            problem = A.Problem.from_document(_json_or_none(r), r.status_code)
            if problem.name == "badNonce" and attempt < BAD_NONCE_RETRIES:
                continue
            raise AcmeError(f"The certificate authority refused: {problem}", problem)
        raise AssertionError("unreachable")

    # -- the account (§7.3) --------------------------------------------------------------------

    async def terms_of_service(self) -> str | None:
        meta = (await self.directory()).get("meta") or {}
        tos = meta.get("termsOfService") if isinstance(meta, dict) else None
        return tos if isinstance(tos, str) else None

    async def register(self, contact_email: str | None = None) -> str:
        """Create the account (or find it: the same key answers 200 with its URL). Returns the kid."""
        payload: dict[str, Any] = {"termsOfServiceAgreed": True}
        if contact_email:
            payload["contact"] = [f"mailto:{contact_email}"]
        r = await self.post((await self.directory())["newAccount"], payload, use_jwk=True)
        kid = r.headers.get("Location")
        if not kid:
            raise AcmeError("The certificate authority made the account but did not say its address")
        self.kid = kid
        return kid

    async def account(self) -> dict[str, Any]:
        r = await self.post(self.kid or "", None)
        return r.json()

    # -- orders (§7.4) ---------------------------------------------------------------------------

    async def new_order(self, domains: list[str]) -> Order:
        r = await self.post((await self.directory())["newOrder"],
                            {"identifiers": [{"type": "dns", "value": d} for d in domains]})
        url = r.headers.get("Location")
        if not url:
            raise AcmeError("The certificate authority made the order but did not say its address")
        return _order(url, r.json())

    async def order(self, url: str) -> Order:
        return _order(url, (await self.post(url, None)).json())

    async def authorization(self, url: str) -> Authorization:
        r = await self.post(url, None)
        doc = r.json()
        ident = doc.get("identifier") or {}
        challenges = tuple(Challenge(str(c.get("type")), str(c.get("url")), str(c.get("token", "")),
                                     str(c.get("status"))) for c in doc.get("challenges") or ())
        return Authorization(url, str(ident.get("value", "")), str(doc.get("status")), challenges)

    async def respond(self, challenge: Challenge) -> None:
        """§7.5.1: tell the CA the challenge is ready (an empty JSON object)."""
        await self.post(challenge.url, {})

    async def wait_authorization(self, url: str) -> Authorization:
        """Poll until valid; a failed check raises with the CA's reason (e.g. what it fetched)."""
        deadline = time.monotonic() + POLL_LIMIT_S
        while True:
            r = await self.post(url, None)
            doc = r.json()
            status = doc.get("status")
            if status == "valid":
                return await self.authorization(url)
            if status not in ("pending", "processing"):
                errors = [A.Problem.from_document(c.get("error"))
                          for c in doc.get("challenges") or () if isinstance(c, dict) and c.get("error")]
                reason = "; ".join(str(p) for p in errors) or f"the authorization is {status}"
                raise AcmeError(f"The certificate authority could not confirm the name: {reason}",
                                errors[0] if errors else None)
            await self._wait(r, deadline, "confirming the name")

    async def finalize(self, order: Order, csr_der: bytes) -> Order:
        r = await self.post(order.finalize, {"csr": A.b64url(csr_der)})
        return _order(order.url, r.json())

    async def wait_order(self, order: Order) -> Order:
        """After finalize: poll while the CA is issuing (`processing`) until `valid` with a certificate URL."""
        deadline = time.monotonic() + POLL_LIMIT_S
        while order.status == "processing" or (order.status == "valid" and not order.certificate):
            r = await self.post(order.url, None)
            order = _order(order.url, r.json())
            if order.status != "valid" or not order.certificate:
                await self._wait(r, deadline, "issuing the certificate")
        if order.status != "valid" or not order.certificate:
            reason = str(order.error) if order.error else f"the order is {order.status}"
            raise AcmeError(f"The certificate was not issued: {reason}", order.error)
        return order

    async def download(self, order: Order) -> bytes:
        r = await self.post(order.certificate or "", None, accept=A.PEM_CHAIN)
        if b"BEGIN CERTIFICATE" not in r.content:
            raise AcmeError("The certificate authority sent something that is not a certificate")
        return r.content

    async def _wait(self, r: httpx.Response, deadline: float, doing: str) -> None:
        if time.monotonic() > deadline:
            raise AcmeError(f"The certificate authority took too long {doing}")
        await self._sleep(min(max(_retry_after(r.headers.get("Retry-After")), 0.2), 10.0))


def _order(url: str, doc: Any) -> Order:
    if not isinstance(doc, dict):
        raise AcmeError("The certificate authority sent an order that is not JSON")
    error = A.Problem.from_document(doc["error"]) if isinstance(doc.get("error"), dict) else None
    return Order(url, str(doc.get("status")), tuple(doc.get("authorizations") or ()), str(doc.get("finalize", "")),
                 doc.get("certificate"), error)


def _retry_after(value: str | None) -> float:
    """§8.2 / RFC 9110: seconds or an HTTP date; 1 s when absent."""
    if not value:
        return 1.0
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return when.timestamp() - time.time()


def _json_or_none(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "no connection"
    return type(exc).__name__
