"""The self-test: can the family reach Hearth from outside, and with a certificate phones accept?

Each check says in plain words what is right or what to do: the name has no address, the name
points somewhere other than the home, a port is not forwarded to Hearth (or something else
answers there), the certificate is missing, expired or for another name. Checked from the box
itself: it looks up the name, asks an outside service for the home's address, and connects to
the name's address on the public ports: port 80 must answer a random probe Hearth serves under
/.well-known/acme-challenge/, ports 443 and 8448 must present Hearth's own certificate.
"""
from __future__ import annotations

import asyncio
import hashlib
import secrets
import ssl
from dataclasses import dataclass

from . import lookups
from .certificates import CertificateService
from .http01 import Http01Challenges

CONNECT_TIMEOUT_S = 6.0
HAIRPIN = (" If you are sure it is forwarded, your router may not let devices at home reach the home's own "
           "internet address: try from a phone on mobile data.")


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    title: str
    ok: bool | None          # None: not checked, or only a note
    message: str


class SelfTest:
    def __init__(self, settings, certificates: CertificateService, http01: Http01Challenges) -> None:
        self.settings = settings
        self.certificates = certificates
        self.http01 = http01

    async def run(self) -> list[Check]:
        s = self.settings
        if s.reach_mode == "lan" or not s.reach_domain:
            return [Check("mode", "Outside access", None,
                          "Hearth is reached at home only. Choose a domain or a free name to reach it from outside.")]
        domain = s.reach_domain
        checks: list[Check] = []
        try:
            addresses = await lookups.addresses(domain, s.reach_dns_resolver)
        except lookups.LookupFailed as exc:
            return [Check("dns", "DNS", False, f"DNS could not be asked about {domain} ({exc}). Is the box online?"),
                    self._check_certificate(domain)[0]]
        if not addresses:
            hint = ("Hearth updates it by itself: check the provider's token below." if s.reach_mode == "dyndns"
                    else "Create an A record for it at your domain's DNS provider, pointing to your home's "
                         "internet address.")
            return [Check("dns", "DNS", False, f"The name {domain} does not exist in DNS yet (it has no address). "
                                               + hint), self._check_certificate(domain)[0]]
        home = await lookups.home_address(self.certificates.http(), s.reach_ip_echo_url)
        lan = [a for a in addresses if lookups.is_home_network(a)]
        if lan:
            checks.append(Check("dns", "DNS", False,
                                f"DNS is not pointing home: {domain} points to {', '.join(lan)}, an address inside "
                                "a home network that nobody outside can reach. Point it to your home's internet "
                                f"address{' (' + home + ')' if home else ''}."))
        elif home is not None and home not in addresses:
            checks.append(Check("dns", "DNS", False,
                                f"DNS is not pointing home: {domain} points to {', '.join(addresses)}, but your home's "
                                f"internet address is {home}. Change the name's A record to {home}"
                                + (" (Hearth updates it by itself; check the provider's token)."
                                   if s.reach_mode == "dyndns" else ".")))
        else:
            checks.append(Check("dns", "DNS", True, f"{domain} points to {', '.join(addresses)}"
                                + (", your home's internet address." if home else ".")))
        cert_check, fingerprint = self._check_certificate(domain)
        ports = [("http", "Port 80"), ("https", "Port 443")]
        if s.federation_enabled:
            ports.append(("federation", "Port 8448 (other Matrix servers)"))
        if checks[-1].ok is False:  # the ports of some other address say nothing about the home's
            return [*checks, *(Check(i, t, None, "Not checked: first make the name point home.") for i, t in ports),
                    cert_check]
        target = sorted(addresses, key=lambda a: ":" in a)[0]  # IPv4 first: most homes have no IPv6 forward
        checks.append(await self._check_http(domain, target))
        checks.append(cert_check)
        checks.append(await self._check_tls("https", "Port 443", s.reach_https_port, domain, target, fingerprint))
        if s.federation_enabled:
            checks.append(await self._check_tls("federation", "Port 8448 (other Matrix servers)",
                                                s.reach_federation_port, domain, target, fingerprint))
        return checks

    async def _check_http(self, domain: str, address: str) -> Check:
        port = self.settings.reach_http_port
        needed = self.settings.acme_challenge == "http-01"
        token = "hearth-self-test-" + secrets.token_urlsafe(16)
        expected = secrets.token_urlsafe(24)
        self.http01.add(token, expected)
        host = f"[{address}]" if ":" in address else address
        import httpx  # here, not at start-up: a self-test is rare

        try:
            r = await self.certificates.http().get(
                f"http://{host}:{port}/.well-known/acme-challenge/{token}",
                headers={"Host": domain}, timeout=httpx.Timeout(CONNECT_TIMEOUT_S), follow_redirects=False)
        except httpx.HTTPError:
            if not needed:
                return Check("http", "Port 80", None, f"Port {port} does not reach Hearth; with the DNS check it "
                                                      "is not needed.")
            return Check("http", "Port 80", False,
                         f"Port {port} is not forwarded to Hearth: nothing answered at {address}:{port}. In your "
                         f"router, forward port {port} (TCP) to this box." + HAIRPIN)
        finally:
            self.http01.remove(token)
        if r.status_code == 200 and r.text.strip() == expected:
            return Check("http", "Port 80", True, f"Port {port} reaches Hearth.")
        return Check("http", "Port 80", False if needed else None,
                     f"Something else answers on port {port} at {address} (it said {r.status_code}): the port is "
                     "forwarded to another device, or the name points to another server.")

    def _check_certificate(self, domain: str) -> tuple[Check, bytes | None]:
        cert = self.certificates.certificate()
        if cert is None:
            return Check("certificate", "Certificate", False,
                         "Hearth has no certificate yet. It gets one by itself once the checks above pass; "
                         "\"Get the certificate now\" tries at once."), None
        try:
            fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(
                self.certificates.chain_path.read_text().split("-----END CERTIFICATE-----")[0]
                + "-----END CERTIFICATE-----\n")).digest()
        except (OSError, ValueError):
            fingerprint = None
        if domain not in cert.names:
            return Check("certificate", "Certificate", False,
                         f"The certificate is for {', '.join(cert.names)}, not {domain}. Hearth gets a new one by "
                         "itself."), fingerprint
        days = cert.days_left()
        when = f"{cert.not_after:%-d %B %Y}"
        if days <= 0:
            return Check("certificate", "Certificate", False,
                         f"The certificate expired on {when}: phones refuse to connect. Renewing it failed; see "
                         "the attempts below."), fingerprint
        if days <= self.settings.acme_renew_days / 2:
            return Check("certificate", "Certificate", False,
                         f"The certificate expires soon ({when}) and renewing it keeps failing; see the attempts "
                         "below."), fingerprint
        return Check("certificate", "Certificate", True,
                     f"Valid until {when}, from {cert.issuer_name}. Hearth renews it by itself."), fingerprint

    async def _check_tls(self, check_id: str, title: str, port: int, domain: str, address: str,
                         fingerprint: bytes | None) -> Check:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # we compare with our own certificate below
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address, port, ssl=context, server_hostname=domain), CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ssl.SSLError):
            return Check(check_id, title, False,
                         f"Port {port} is not forwarded to Hearth: no secure connection to {address}:{port}. In your "
                         f"router, forward port {port} (TCP) to this box." + HAIRPIN)
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
        if fingerprint is not None and der is not None and hashlib.sha256(der).digest() == fingerprint:
            return Check(check_id, title, True, f"Port {port} reaches Hearth and shows its certificate.")
        return Check(check_id, title, False,
                     f"Something else answers on port {port} at {address}: it does not show Hearth's certificate. "
                     "The port is forwarded to another device, or Hearth has no certificate yet.")
