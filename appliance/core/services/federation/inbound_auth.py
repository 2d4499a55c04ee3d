"""Authenticating every inbound federation request (server-server-api.md "Request
Authentication"): the X-Matrix header must parse, name us as destination, come from a server
we federate with, and carry a valid signature by a key of the origin. Anything else is a spec
error (401 M_UNAUTHORIZED, 403 M_FORBIDDEN), never a 500."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...protocol.errors import Forbidden, MatrixError
from ...protocol.federation_peers import server_permitted
from ...protocol.signing import SignatureError
from ...protocol.x_matrix import AuthHeaderError, parse_x_matrix, verify_request
from .keyring import KeyRing


class Unauthorized(MatrixError):
    status = 401
    errcode = "M_UNAUTHORIZED"


async def authenticate_request(keyring: KeyRing, our_name: str, allowed: Iterable[str], denied: Iterable[str],
                               method: str, uri: str, content: Any, authorization: str | None) -> str:
    """The origin server of a request, once its signature checks out; raises a MatrixError."""
    try:
        auth = parse_x_matrix(authorization)
    except AuthHeaderError as e:
        raise Unauthorized(str(e)) from None
    if not server_permitted(auth.origin, allowed, denied):
        raise Forbidden(f"{auth.origin} may not federate with this server")
    try:
        key = await keyring.verify_key(auth.origin, auth.key_id)
        verify_request(auth, method, uri, our_name, key, content)
    except SignatureError as e:
        raise Unauthorized(str(e)) from None
    return auth.origin
