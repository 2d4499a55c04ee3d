"""ACME's pure parts (core/protocol/acme.py): the JWS a CA verifies, key thumbprints and
authorizations, CSRs, problem documents. Pebble accepting them end to end is tests/reach/."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from appliance.core.protocol import acme as A


def unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify(body: bytes, public_key) -> tuple[dict, object]:
    """What a CA does with the flattened JWS (RFC 7515 §5.2): the header and the payload."""
    jws = json.loads(body)
    assert set(jws) == {"protected", "payload", "signature"}
    sig = unb64(jws["signature"])
    assert len(sig) == 64  # r||s, never DER
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public_key.verify(der, f"{jws['protected']}.{jws['payload']}".encode(), ec.ECDSA(hashes.SHA256()))
    payload = json.loads(unb64(jws["payload"])) if jws["payload"] else None
    return json.loads(unb64(jws["protected"])), payload


def test_new_account_request_carries_the_jwk_and_later_ones_the_kid():
    key = A.new_key()
    header, payload = verify(A.sign(key, "https://ca/new-acct", "n1", {"termsOfServiceAgreed": True}),
                             key.public_key())
    assert header == {"alg": "ES256", "nonce": "n1", "url": "https://ca/new-acct", "jwk": A.jwk(key)}
    assert payload == {"termsOfServiceAgreed": True}
    header, payload = verify(A.sign(key, "https://ca/order/1", "n2", None, kid="https://ca/acct/7"),
                             key.public_key())
    assert header == {"alg": "ES256", "nonce": "n2", "url": "https://ca/order/1", "kid": "https://ca/acct/7"}
    assert payload is None  # POST-as-GET: the empty payload (RFC 8555 §6.3)


def test_a_signature_by_another_key_does_not_verify():
    body = A.sign(A.new_key(), "https://ca/x", "n", {})
    with pytest.raises(InvalidSignature):
        verify(body, A.new_key().public_key())


def test_jwk_thumbprint_and_key_authorizations():
    key = A.new_key()
    k = A.jwk(key)
    assert set(k) == {"crv", "kty", "x", "y"} and len(unb64(k["x"])) == len(unb64(k["y"])) == 32
    # RFC 7638 §3: the required members in lexicographic order, no whitespace, SHA-256.
    canonical = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (k["x"], k["y"])
    assert A.thumbprint(key) == A.b64url(hashlib.sha256(canonical.encode()).digest())
    token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
    assert A.key_authorization(token, key) == f"{token}.{A.thumbprint(key)}"
    assert A.dns01_txt_value(token, key) == A.b64url(hashlib.sha256(A.key_authorization(token, key).encode()).digest())
    assert A.dns01_record_name("chat.example.org.") == "_acme-challenge.chat.example.org"


def test_keys_round_trip_and_only_p256_is_taken():
    key = A.new_key()
    assert A.thumbprint(A.key_from_pem(A.key_to_pem(key))) == A.thumbprint(key)
    other = ec.generate_private_key(ec.SECP384R1())
    from cryptography.hazmat.primitives import serialization
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    with pytest.raises(ValueError):
        A.key_from_pem(pem)


def test_csr_names_the_domain_and_is_signed_by_the_new_key():
    key = A.new_key()
    csr = x509.load_der_x509_csr(A.csr_der(["chat.example.org"], key))
    assert csr.is_signature_valid
    assert csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["chat.example.org"]
    assert csr.public_key().public_numbers() == key.public_key().public_numbers()


@pytest.mark.parametrize("token,ok", [("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", True), ("short", False),
                                      ("../../etc/passwd-xxxxxxxxxxxx", False), ("a" * 300, False)])
def test_only_base64url_tokens_are_served(token, ok):
    assert A.is_valid_token(token) is ok


def test_problem_documents_in_words():
    p = A.Problem.from_document({"type": "urn:ietf:params:acme:error:rejectedIdentifier",
                                 "detail": "Error creating new order", "subproblems": [
                                     {"type": "urn:ietf:params:acme:error:malformed", "detail": "bad name x"}]}, 400)
    assert p.name == "rejectedIdentifier" and p.status == 400
    assert str(p) == "Error creating new order; bad name x"
    assert "without an error document" in str(A.Problem.from_document("<html>", 502))
