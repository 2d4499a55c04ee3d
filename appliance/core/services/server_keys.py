"""The server's signing key: generated on first start, kept in the data directory; and the key
responses built from it (server-server-api.md "Retrieving server keys")."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..protocol.errors import BadJson
from ..protocol.server_key_responses import build_server_keys
from ..protocol.signing import SigningKey


def load_or_create_signing_key(path: Path) -> SigningKey:
    if path.exists():
        return SigningKey.from_line(path.read_text().strip())
    key = SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.to_line() + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return key


# How long peers may cache our key response before asking again (Synapse's default is a day).
KEY_RESPONSE_VALIDITY_MS = 24 * 60 * 60 * 1000


def our_key_response(server_name: str, key: SigningKey, now_ms: int) -> dict[str, Any]:
    """The body of `GET /_matrix/key/v2/server`: our current key, signed, valid for a day.

    Old keys: there is one key per data directory so far (a key rotation would list the
    retired ones here with their `expired_ts`).
    """
    return build_server_keys(server_name, key, now_ms + KEY_RESPONSE_VALIDITY_MS)


def notary_query(criteria: Any, server_name: str, key: SigningKey, now_ms: int) -> dict[str, Any]:
    """`POST /_matrix/key/v2/query` as a notary for our own keys only: `server_keys` holds our
    response when we are asked for, whatever key IDs were asked (the spec lets a notary answer
    with all it has); other servers' keys are not fetched on their behalf (yet).

    `minimum_valid_until_ts` we cannot meet (more than a day ahead) leaves us out, as the spec says.
    """
    if not isinstance(criteria, Mapping):
        raise BadJson("server_keys must be an object of server names")
    wanted = criteria.get(server_name)
    if wanted is None:
        return {"server_keys": []}
    if not isinstance(wanted, Mapping) or not all(isinstance(v, Mapping) for v in wanted.values()):
        raise BadJson("each server's entry must map key IDs to query criteria")
    ours = our_key_response(server_name, key, now_ms)
    for query in wanted.values():
        minimum = query.get("minimum_valid_until_ts")
        if minimum is not None and (not isinstance(minimum, int) or isinstance(minimum, bool)):
            raise BadJson("minimum_valid_until_ts must be an integer")
        if minimum is not None and minimum > ours["valid_until_ts"]:
            return {"server_keys": []}
    return {"server_keys": [ours]}
