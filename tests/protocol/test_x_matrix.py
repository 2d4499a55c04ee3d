from __future__ import annotations

import pytest

from appliance.core.protocol.signing import SignatureError, SigningKey
from appliance.core.protocol.x_matrix import (
    AuthHeaderError,
    parse_x_matrix,
    sign_request,
    verify_request,
)

KEY = SigningKey.from_seed_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1", "1")
URI = "/_matrix/federation/v1/send/txn1?x=1"
BODY = {"pdus": [], "edus": [{"edu_type": "m.typing", "content": {}}]}


def test_sign_parse_verify_round_trip() -> None:
    header = sign_request(KEY, "put", URI, "origin.example", "hearth.example", BODY)
    auth = parse_x_matrix(header)
    assert (auth.origin, auth.destination, auth.key_id) == ("origin.example", "hearth.example", "ed25519:1")
    verify_request(auth, "PUT", URI, "hearth.example", KEY.verify_key_bytes, BODY)


@pytest.mark.parametrize("change", ["method", "uri", "body", "no_body", "destination", "key"])
def test_any_change_fails(change: str) -> None:
    header = sign_request(KEY, "PUT", URI, "origin.example", "hearth.example", BODY)
    auth = parse_x_matrix(header)
    method, uri, body, ours, key = "PUT", URI, BODY, "hearth.example", KEY.verify_key_bytes
    if change == "method":
        method = "POST"
    elif change == "uri":
        uri = "/_matrix/federation/v1/send/txn2?x=1"
    elif change == "body":
        body = {**BODY, "pdus": [{}]}
    elif change == "no_body":
        body = None
    elif change == "destination":
        ours = "other.example"
    else:
        key = SigningKey.generate().verify_key_bytes
    with pytest.raises(SignatureError):
        verify_request(auth, method, uri, ours, key, body)


def test_header_without_destination_is_checked_against_us() -> None:
    """Servers before v1.3 leave destination out; the signature still covers our name."""
    header = sign_request(KEY, "GET", "/_matrix/federation/v1/version", "origin.example", "hearth.example")
    stripped = header.replace('destination="hearth.example",', "")
    auth = parse_x_matrix(stripped)
    assert auth.destination is None
    verify_request(auth, "GET", "/_matrix/federation/v1/version", "hearth.example", KEY.verify_key_bytes)
    with pytest.raises(SignatureError):
        verify_request(auth, "GET", "/_matrix/federation/v1/version", "else.example", KEY.verify_key_bytes)


def test_spec_example_header_parses() -> None:
    auth = parse_x_matrix('X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",'
                          'key="ed25519:key1",sig="ABCDEF..."')
    assert auth.origin == "origin.hs.example.com"
    assert auth.destination == "destination.hs.example.com"
    assert auth.key_id == "ed25519:key1" and auth.signature == "ABCDEF..."
    # Unquoted values, spaces after commas and the scheme's case are tolerated (RFC 9110).
    auth = parse_x_matrix("x-matrix origin=a.example, key=ed25519:k, sig=xyz")
    assert (auth.origin, auth.destination, auth.key_id, auth.signature) == ("a.example", None, "ed25519:k", "xyz")


@pytest.mark.parametrize("header", [
    None, "", "Bearer abc", "X-Matrix", 'X-Matrix origin="a.example",key="ed25519:k"',
    'X-Matrix origin="a.example",key="ed25519:k",sig="x",sig="y"',
    'X-Matrix origin="not a name!",key="ed25519:k",sig="x"',
    'X-Matrix origin="a.example",destination="bad name",key="ed25519:k",sig="x"',
    'X-Matrix origin="a.example" key="ed25519:k" sig="x"',
    'X-Matrix origin="a.example,key=ed25519:k,sig=x',
])
def test_junk_headers(header: str | None) -> None:
    with pytest.raises(AuthHeaderError):
        parse_x_matrix(header)
