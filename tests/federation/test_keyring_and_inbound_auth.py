"""Remote keys fetched, checked, cached and kept; inbound requests authenticated with them."""
from __future__ import annotations

import pytest

from appliance.core.protocol.server_key_responses import OldKey, build_server_keys
from appliance.core.protocol.signing import SigningKey
from appliance.core.protocol.x_matrix import sign_request
from appliance.core.services.federation.inbound_auth import authenticate_request
from appliance.core.services.federation.keyring import KeyRing, KeyUnavailable
from appliance.core.storage.database import Database
from appliance.core.storage.migrate import apply_migrations
from appliance.core.storage.stores.remote_server_keys import RemoteServerKeyStore
from appliance.core.protocol.errors import MatrixError

OURS = SigningKey.generate("ours")
PEER = SigningKey.generate("p1")
NOW_MS = 1_800_000_000_000


class Peer:
    """Answers /_matrix/key/v2/server for remote.example; counts fetches."""

    def __init__(self) -> None:
        self.key, self.old, self.valid_until, self.fetches, self.body_override = PEER, [], NOW_MS + 3600_000, 0, None

    async def fetch(self, server_name: str):
        self.fetches += 1
        if self.body_override is not None:
            return self.body_override
        if server_name != "remote.example":
            raise OSError("no such server")
        return build_server_keys("remote.example", self.key, self.valid_until, self.old)


@pytest.fixture
async def store(tmp_path):
    db = Database(tmp_path / "t.db")
    await db.open()
    db.run_unqueued(lambda c: apply_migrations(c, "core", "appliance.core.storage.migrations"))
    yield RemoteServerKeyStore(db)
    await db.close()


@pytest.fixture
def peer():
    return Peer()


@pytest.fixture
def ring(store, peer):
    return KeyRing(store, peer.fetch, "hearth.test", OURS, clock=lambda: NOW_MS / 1000)


async def test_fetched_once_then_cached(ring, peer):
    assert await ring.verify_key("remote.example", PEER.key_id) == PEER.verify_key_bytes
    assert await ring.verify_key("remote.example", PEER.key_id) == PEER.verify_key_bytes
    assert peer.fetches == 1


async def test_refetched_when_cache_expired_and_old_keys_kept(ring, peer, store):
    await ring.verify_key("remote.example", PEER.key_id)
    # Later the peer rotates: the old key is listed as expired at NOW+2h.
    new = SigningKey.generate("p2")
    peer.key, peer.old, peer.valid_until = new, [OldKey(PEER.key_id, PEER.verify_key_base64, NOW_MS + 2 * 3600_000)], \
        NOW_MS + 5 * 3600_000
    assert await ring.verify_key("remote.example", new.key_id) == new.verify_key_bytes
    assert peer.fetches == 2
    # The old key still verifies what it signed while valid, without another fetch ...
    assert await ring.verify_key("remote.example", PEER.key_id, NOW_MS + 3600_000) == PEER.verify_key_bytes
    assert peer.fetches == 2
    # ... but not after it expired.
    with pytest.raises(KeyUnavailable):
        await ring.verify_key("remote.example", PEER.key_id, NOW_MS + 3 * 3600_000)


async def test_forged_and_unreachable(ring, peer):
    forged = build_server_keys("remote.example", PEER, NOW_MS + 3600_000)
    forged["verify_keys"][PEER.key_id]["key"] = SigningKey.generate("x").verify_key_base64
    peer.body_override = forged
    with pytest.raises(KeyUnavailable, match="bad signature"):
        await ring.verify_key("remote.example", PEER.key_id)
    peer.body_override = None
    with pytest.raises(KeyUnavailable, match="no such server"):
        await ring.verify_key("gone.example", "ed25519:a")


async def test_a_changed_public_key_does_not_replace_the_stored_one(store):
    from appliance.core.protocol.server_key_responses import VerifyKey
    await store.put([VerifyKey("r.example", "ed25519:k", b"a" * 32, 10)], 1)
    await store.put([VerifyKey("r.example", "ed25519:k", b"b" * 32, 20)], 2)
    assert (await store.get("r.example", "ed25519:k")).key == b"a" * 32


async def test_our_own_key(ring):
    assert await ring.verify_key("hearth.test", OURS.key_id) == OURS.verify_key_bytes
    with pytest.raises(KeyUnavailable):
        await ring.verify_key("hearth.test", "ed25519:other")


async def _auth(ring, header, *, uri="/_matrix/federation/v1/send/1", content=None, denied=()):
    return await authenticate_request(ring, "hearth.test", [], denied, "PUT", uri, content or {"pdus": []}, header)


async def test_inbound_request_authenticated(ring):
    header = sign_request(PEER, "PUT", "/_matrix/federation/v1/send/1", "remote.example", "hearth.test", {"pdus": []})
    assert await _auth(ring, header) == "remote.example"


@pytest.mark.parametrize(("case", "status", "errcode"), [
    ("missing", 401, "M_UNAUTHORIZED"), ("junk", 401, "M_UNAUTHORIZED"), ("wrong_key", 401, "M_UNAUTHORIZED"),
    ("other_destination", 401, "M_UNAUTHORIZED"), ("tampered_body", 401, "M_UNAUTHORIZED"),
    ("unknown_server", 401, "M_UNAUTHORIZED"), ("denied", 403, "M_FORBIDDEN"),
])
async def test_inbound_request_refused(ring, case, status, errcode):
    good = {"pdus": []}
    header = sign_request(PEER, "PUT", "/_matrix/federation/v1/send/1", "remote.example", "hearth.test", good)
    content, denied = good, ()
    if case == "missing":
        header = None
    elif case == "junk":
        header = "X-Matrix nonsense"
    elif case == "wrong_key":  # signed by a key that is not remote.example's
        header = sign_request(SigningKey.generate("p1"), "PUT", "/_matrix/federation/v1/send/1", "remote.example",
                              "hearth.test", good)
    elif case == "other_destination":
        header = sign_request(PEER, "PUT", "/_matrix/federation/v1/send/1", "remote.example", "else.example", good)
    elif case == "tampered_body":
        content = {"pdus": [{}]}
    elif case == "unknown_server":
        header = sign_request(PEER, "PUT", "/_matrix/federation/v1/send/1", "gone.example", "hearth.test", good)
    elif case == "denied":
        denied = ("remote.*",)
    with pytest.raises(MatrixError) as info:
        await _auth(ring, header, content=content, denied=denied)
    assert (info.value.status, info.value.errcode) == (status, errcode)
