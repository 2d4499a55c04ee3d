"""Every Client-Server operation of the spec is routed, except the ones we decided not to serve.

Reads the bundled OpenAPI of `../shared/spec` (absent on a fresh clone: then it skips). A new
spec operation, or a route that goes missing, fails here until it is served or listed below
with the reason it is not.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from appliance.app import create_app

OPENAPI = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "openapi" / "openapi-client-server.json"

# operationId -> why Hearth does not serve it (the request then gets 404/405 M_UNRECOGNIZED).
NOT_SERVED = {
    "getWellknownPolicy": "no policy server",
    "getWellknownSupport": "no published support contacts yet",
    "updateAppserviceRoomDirectoryVisibility": "per-network directories of appservices not yet: their rooms use the main directory",
    "generateLoginToken": "not needed (issue 4)",
    "redirectToSSO": "no single sign-on",
    "redirectToIdP": "no single sign-on",
    "getEvents": "deprecated in favour of /sync",
    "peekEvents": "deprecated in favour of /sync",
    "getOneEvent": "deprecated in favour of /rooms/{roomId}/event/{eventId}",
    "initialSync": "deprecated in favour of /sync",
    "roomInitialSync": "peeking (room previews) is optional and not offered; /sync covers joined rooms",
}

BASES = ("/_matrix/client/v3", "/_matrix/client/v1", "")


def unrouted_operations() -> dict[str, str]:
    spec = json.loads(OPENAPI.read_text())
    adapter = create_app().url_map.bind("localhost")
    missing = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "put", "post", "delete"):
                continue
            concrete = re.sub(r"\{[^}]+\}", "x", path.strip())
            if concrete.startswith("/_matrix") or concrete.startswith("/.well-known"):
                candidates = [concrete]
            else:
                candidates = [base + concrete for base in BASES]
            for candidate in candidates:
                try:
                    adapter.match(candidate, method=method.upper())
                    break
                except (NotFound, MethodNotAllowed):
                    continue
            else:
                missing[operation["operationId"]] = f"{method.upper()} {path}"
    return missing


@pytest.mark.skipif(not OPENAPI.exists(), reason="../shared/spec is not beside this checkout")
def test_every_spec_operation_is_served_or_listed():
    missing = unrouted_operations()
    assert set(missing) - set(NOT_SERVED) == set(), "served by nobody and not listed"
    assert set(NOT_SERVED) - set(missing) == set(), "listed as not served, but served: update NOT_SERVED"
