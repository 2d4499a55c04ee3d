"""Request authentication between servers (server-server-api.md "Request Authentication").

The origin signs the JSON object {method, uri, origin, destination[, content]} with its server
key and sends `Authorization: X-Matrix origin=…,destination=…,key="ed25519:…",sig="…"`. Pure:
formatting, parsing and checking the header against a known verify key; fetching that key is
the caller's job (the parsed header says which one).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .ids import is_valid_server_name
from .signing import SignatureError, SigningKey, sign_json, verify_json_signature


class AuthHeaderError(ValueError):
    """The Authorization header is missing, not X-Matrix, or malformed."""


@dataclass(frozen=True, slots=True)
class XMatrixAuth:
    origin: str
    destination: str | None  # optional in the header for servers older than v1.3
    key_id: str
    signature: str


def request_json(method: str, uri: str, origin: str, destination: str,
                 content: Any = None) -> dict[str, Any]:
    """The object that is signed; `uri` is the path with its query string, as sent."""
    obj: dict[str, Any] = {"method": method.upper(), "uri": uri, "origin": origin, "destination": destination}
    if content is not None:
        obj["content"] = content
    return obj


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sign_request(key: SigningKey, method: str, uri: str, origin: str, destination: str,
                 content: Any = None) -> str:
    """The Authorization header value for an outbound request."""
    signed = sign_json(request_json(method, uri, origin, destination, content), origin, key)
    sig = signed["signatures"][origin][key.key_id]
    return (f"X-Matrix origin={_quote(origin)},destination={_quote(destination)},"
            f"key={_quote(key.key_id)},sig={_quote(sig)}")


# One `name=value` pair, the value a token or a quoted string with backslash escapes (RFC 9110).
_PARAM = re.compile(r'\s*([A-Za-z0-9_\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s"]*)\s*(?:,|\Z)')


def parse_x_matrix(header: str | None) -> XMatrixAuth:
    """Parse an X-Matrix Authorization header; AuthHeaderError says what is wrong."""
    if not header:
        raise AuthHeaderError("missing Authorization header")
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "x-matrix":
        raise AuthHeaderError("Authorization scheme is not X-Matrix")
    params: dict[str, str] = {}
    pos, rest = 0, rest.strip()
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if m is None or m.end() == pos:
            raise AuthHeaderError("malformed X-Matrix parameters")
        name, value = m.group(1).lower(), m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if name in params:
            raise AuthHeaderError(f"X-Matrix parameter {name} given twice")
        params[name] = value
        pos = m.end()
    missing = [p for p in ("origin", "key", "sig") if not params.get(p)]
    if missing:
        raise AuthHeaderError("X-Matrix header lacks " + ", ".join(missing))
    if not is_valid_server_name(params["origin"]):
        raise AuthHeaderError("X-Matrix origin is not a server name")
    destination = params.get("destination") or None
    if destination is not None and not is_valid_server_name(destination):
        raise AuthHeaderError("X-Matrix destination is not a server name")
    return XMatrixAuth(params["origin"], destination, params["key"], params["sig"])


def verify_request(auth: XMatrixAuth, method: str, uri: str, our_name: str, verify_key: bytes,
                   content: Any = None) -> None:
    """Check a parsed header against the request as received; raises SignatureError.

    A destination that is not us is refused (the request was meant for another server); the
    signature is checked over the destination we are, as the spec says.
    """
    if auth.destination is not None and auth.destination.lower() != our_name.lower():
        raise SignatureError(f"request is addressed to {auth.destination}, not {our_name}")
    obj: Mapping[str, Any] = {
        **request_json(method, uri, auth.origin, our_name, content),
        "signatures": {auth.origin: {auth.key_id: auth.signature}},
    }
    verify_json_signature(obj, auth.origin, auth.key_id, verify_key)
