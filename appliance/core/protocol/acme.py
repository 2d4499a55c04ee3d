"""ACME (RFC 8555) without I/O: keys, JWS request bodies, key authorizations, CSRs, problems.

The client (core/services/reach/acme_client.py) sends what these functions build. Every request
to the CA is a JWS in the flattened JSON serialization (RFC 8555 §6.2) signed with the account
key: the protected header carries `alg`, a fresh `nonce`, the request `url`, and either the
account's `jwk` (newAccount, and revoking with a certificate key) or its `kid` (the account URL,
every other request). A POST-as-GET (§6.3) has the empty payload "".

Keys are ECDSA P-256 (`ES256`): small, fast on a Pi, accepted by every ACME CA and every phone.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ALG = "ES256"
JOSE_JSON = "application/jose+json"
PEM_CHAIN = "application/pem-certificate-chain"


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 8555 §6.1, RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_to_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def key_from_pem(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 private key")
    return key


def jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public key as a JWK (RFC 7518 §6.2.1), coordinates as 32-byte big-endian integers."""
    numbers = key.public_key().public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big"))}


def thumbprint(key: ec.EllipticCurvePrivateKey) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace."""
    k = jwk(key)
    canonical = json.dumps({m: k[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def key_authorization(token: str, key: ec.EllipticCurvePrivateKey) -> str:
    """§8.1: what HTTP-01 serves at /.well-known/acme-challenge/<token>."""
    return f"{token}.{thumbprint(key)}"


def dns01_txt_value(token: str, key: ec.EllipticCurvePrivateKey) -> str:
    """§8.4: the TXT record of _acme-challenge.<domain>."""
    return b64url(hashlib.sha256(key_authorization(token, key).encode()).digest())


def dns01_record_name(domain: str) -> str:
    return f"_acme-challenge.{domain.rstrip('.')}"


def is_valid_token(token: str) -> bool:
    """§8.3: tokens are base64url characters; anything else is never served."""
    return 16 <= len(token) <= 256 and all(c.isalnum() or c in "-_" for c in token)


def sign(key: ec.EllipticCurvePrivateKey, url: str, nonce: str, payload: Any | None, *,
         kid: str | None = None) -> bytes:
    """A flattened JWS (§6.2). `payload` None is a POST-as-GET; with no `kid`, the `jwk` is sent."""
    protected: dict[str, Any] = {"alg": ALG, "nonce": nonce, "url": url}
    if kid is None:
        protected["jwk"] = jwk(key)
    else:
        protected["kid"] = kid
    protected_b64 = b64url(json.dumps(protected, separators=(",", ":")).encode())
    payload_b64 = "" if payload is None else b64url(json.dumps(payload, separators=(",", ":")).encode())
    der = key.sign(f"{protected_b64}.{payload_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)  # JWS wants the raw r||s, 32 bytes each (RFC 7518 §3.4)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return json.dumps({"protected": protected_b64, "payload": payload_b64,
                       "signature": b64url(signature)}).encode()


def csr_der(domains: list[str], key: ec.EllipticCurvePrivateKey) -> bytes:
    """The finalize request's CSR (§7.4): the names as subjectAltNames, the first also as CN."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])])).add_extension(
        x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True, slots=True)
class Problem(Exception):
    """An ACME error document (§6.7, RFC 7807): `type` is urn:ietf:params:acme:error:<name>."""

    type: str
    detail: str
    status: int = 0
    subproblems: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    def __str__(self) -> str:
        parts = [self.detail or self.name, *self.subproblems]
        return "; ".join(p for p in parts if p)

    @staticmethod
    def from_document(doc: Any, status: int = 0) -> Problem:
        if not isinstance(doc, dict):
            return Problem("about:blank", f"the CA answered {status} without an error document", status)
        subs = tuple(str(s.get("detail", "")) for s in doc.get("subproblems") or () if isinstance(s, dict))
        return Problem(str(doc.get("type", "about:blank")), str(doc.get("detail", "")), status, subs)


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    issuer: str
    serial: int

    @property
    def issuer_name(self) -> str:
        """The issuer's organisation (or common name), as a person would say it."""
        parts = dict(p.split("=", 1) for p in self.issuer.split(",") if "=" in p)
        return parts.get("O") or parts.get("CN") or self.issuer

    def days_left(self, now: datetime | None = None) -> float:
        now = now or datetime.now(timezone.utc)
        return (self.not_after - now).total_seconds() / 86400


def certificate_info(chain_pem: bytes) -> CertificateInfo:
    """The leaf (first) certificate of a PEM chain."""
    leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertificateInfo(names, leaf.not_valid_before_utc, leaf.not_valid_after_utc,
                           leaf.issuer.rfc4514_string(), leaf.serial_number)


def chain_matches_key(chain_pem: bytes, key_pem: bytes) -> bool:
    leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    key = serialization.load_pem_private_key(key_pem, password=None)
    return leaf.public_key().public_numbers() == key.public_key().public_numbers()
