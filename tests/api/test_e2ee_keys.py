"""Device keys, one-time/fallback keys, cross-signing and device-list changes (keys.yaml,
cross_signing.yaml, end_to_end_encryption.md)."""
from __future__ import annotations

import nacl.signing
import pytest
from unpaddedbase64 import encode_base64

from appliance.core.protocol import room_versions
from appliance.core.protocol.ids import make_room_id
from appliance.core.protocol.signing import SigningKey, sign_json
from appliance.core.services.tokens import make_token

PASSWORD = "correct horse battery staple"


class User:
    def __init__(self, client, user_id: str, device_id: str, token: str):
        self.client, self.user_id, self.device_id, self.token = client, user_id, device_id, token
        self.device_key = SigningKey(device_id, nacl.signing.SigningKey.generate())

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    async def post(self, path: str, body: dict):
        return await self.client.post(f"/_matrix/client/v3{path}", json=body, headers=self.headers)

    async def get(self, path: str):
        return await self.client.get(f"/_matrix/client/v3{path}", headers=self.headers)

    def device_keys(self, **extra) -> dict:
        keys = {
            "user_id": self.user_id, "device_id": self.device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"curve25519:{self.device_id}": encode_base64(b"c" * 32),
                     f"ed25519:{self.device_id}": self.device_key.verify_key_base64},
            **extra,
        }
        return sign_json(keys, self.user_id, self.device_key)


def hearth_of(client):
    return client.app.config["HEARTH"]


async def make_user(client, name: str, device_id: str = "DEV1", display_name: str | None = None) -> User:
    hearth = hearth_of(client)
    user_id = f"@{name}:hearth.test"
    if not await hearth.core.account_store.user_exists(user_id):
        await hearth.core.account_store.create_user(user_id, await hearth.core.auth.hash_password(PASSWORD))
    await hearth.core.account_store.upsert_device(user_id, device_id, display_name, "127.0.0.1")
    issued = await hearth.core.auth.issue_tokens(user_id, device_id)
    return User(client, user_id, device_id, issued.access_token)


async def make_room(client, creator: User, *members: User) -> str:
    """A public room made through the event pipeline (independent of /createRoom)."""
    pipeline = hearth_of(client).core.pipeline
    version = room_versions.KNOWN["11"]
    room_id = make_room_id("hearth.test")
    await pipeline.create_event(room_id, creator.user_id, "m.room.create", {"room_version": "11"},
                                state_key="", version=version)
    await join(client, room_id, creator)
    await pipeline.create_event(room_id, creator.user_id, "m.room.join_rules", {"join_rule": "public"},
                                state_key="")
    for member in members:
        await join(client, room_id, member)
    return room_id


async def join(client, room_id: str, user: User) -> None:
    await hearth_of(client).core.pipeline.create_event(room_id, user.user_id, "m.room.member", {"membership": "join"},
                                                  state_key=user.user_id)


async def leave(client, room_id: str, user: User) -> None:
    await hearth_of(client).core.pipeline.create_event(room_id, user.user_id, "m.room.member", {"membership": "leave"},
                                                  state_key=user.user_id)


def token_now(client) -> str:
    return make_token(hearth_of(client).core.stream.position())


# -- /keys/upload and /keys/query ----------------------------------------------------------------

async def test_upload_and_query_device_keys(client):
    alice = await make_user(client, "alice", "ALICEDEV", display_name="Alice's phone")
    bob = await make_user(client, "bob")
    keys = alice.device_keys()
    resp = await alice.post("/keys/upload", {"device_keys": keys})
    assert resp.status_code == 200, await resp.get_json()
    assert (await resp.get_json())["one_time_key_counts"] == {"signed_curve25519": 0}

    resp = await bob.post("/keys/query", {"device_keys": {alice.user_id: []}})
    body = await resp.get_json()
    assert resp.status_code == 200
    assert body["failures"] == {}
    got = body["device_keys"][alice.user_id]["ALICEDEV"]
    assert got["unsigned"] == {"device_display_name": "Alice's phone"}
    assert {k: v for k, v in got.items() if k != "unsigned"} == keys

    # Asking for a device that has no keys, or a user that does not exist, gives no entry.
    resp = await bob.post("/keys/query", {"device_keys": {alice.user_id: ["NOPE"], "@ghost:hearth.test": []}})
    body = await resp.get_json()
    assert body["device_keys"] == {alice.user_id: {}, "@ghost:hearth.test": {}}
    # Remote servers are unreachable: recorded in failures.
    resp = await bob.post("/keys/query", {"device_keys": {"@carol:elsewhere.example": []}})
    assert "elsewhere.example" in (await resp.get_json())["failures"]


async def test_upload_rejects_bad_device_keys(client):
    alice = await make_user(client, "alice", "ALICEDEV")
    other = await make_user(client, "mallory", "MALDEV")
    # Signed by someone else's key: accepted as uploaded (clients check self-signatures when
    # they download keys; see DeviceKeyService._check_device_keys).
    forged = alice.device_keys()
    forged = sign_json({k: v for k, v in forged.items() if k != "signatures"}, alice.user_id,
                       SigningKey("ALICEDEV", nacl.signing.SigningKey.generate()))
    resp = await alice.post("/keys/upload", {"device_keys": forged})
    assert resp.status_code == 200
    # Keys of another device or user than the access token's.
    resp = await other.post("/keys/upload", {"device_keys": alice.device_keys()})
    assert resp.status_code == 400
    assert (await resp.get_json())["errcode"] == "M_INVALID_PARAM"
    # Unsigned keys.
    unsigned = {k: v for k, v in alice.device_keys().items() if k != "signatures"}
    resp = await alice.post("/keys/upload", {"device_keys": unsigned})
    assert (await resp.get_json())["errcode"] == "M_BAD_JSON"
    resp = await alice.post("/keys/upload", {"device_keys": {**forged, "signatures": {alice.user_id: "x"}}})
    assert (await resp.get_json())["errcode"] == "M_BAD_JSON"
    resp = await alice.post("/keys/upload", {"device_keys": "nope"})
    assert (await resp.get_json())["errcode"] == "M_BAD_JSON"
    resp = await alice.post("/keys/upload", {"one_time_keys": {"no-colon": "x"}})
    assert (await resp.get_json())["errcode"] == "M_INVALID_PARAM"
    resp = await alice.post("/keys/query", {})
    assert (await resp.get_json())["errcode"] == "M_BAD_JSON"
    resp = await alice.post("/keys/query", {"device_keys": {"not-a-user": []}})
    assert (await resp.get_json())["errcode"] == "M_INVALID_PARAM"
    resp = await alice.post("/keys/upload", {"device_keys": {}})
    assert resp.status_code == 400


def otk(user: User, n: int) -> dict:
    return sign_json({"key": encode_base64(bytes([n]) * 32)}, user.user_id, user.device_key)


async def test_one_time_keys_claimed_once_in_upload_order_then_fallback(client):
    alice = await make_user(client, "alice", "ALICEDEV")
    bob = await make_user(client, "bob")
    await alice.post("/keys/upload", {"device_keys": alice.device_keys()})
    resp = await alice.post("/keys/upload", {"one_time_keys": {"signed_curve25519:AAAA": otk(alice, 1)}})
    assert (await resp.get_json())["one_time_key_counts"] == {"signed_curve25519": 1}
    resp = await alice.post("/keys/upload", {"one_time_keys": {"signed_curve25519:AAAB": otk(alice, 2),
                                                               "signed_curve25519:AAAA": otk(alice, 1)}})
    assert (await resp.get_json())["one_time_key_counts"] == {"signed_curve25519": 2}
    # The same key ID with another key is refused.
    resp = await alice.post("/keys/upload", {"one_time_keys": {"signed_curve25519:AAAA": otk(alice, 9)}})
    assert resp.status_code == 400
    fallback = sign_json({"key": encode_base64(b"f" * 32), "fallback": True}, alice.user_id, alice.device_key)
    await alice.post("/keys/upload", {"fallback_keys": {"signed_curve25519:FFFF": fallback}})
    hearth = hearth_of(client)
    assert await hearth.e2ee.device_keys.unused_fallback_key_types(alice.user_id, "ALICEDEV") == ["signed_curve25519"]

    claims = []
    for _ in range(4):
        resp = await bob.post("/keys/claim", {"one_time_keys": {alice.user_id: {"ALICEDEV": "signed_curve25519"}}})
        body = await resp.get_json()
        assert body["failures"] == {}
        claims.append(body["one_time_keys"][alice.user_id]["ALICEDEV"])
    assert claims[0] == {"signed_curve25519:AAAA": otk(alice, 1)}
    assert claims[1] == {"signed_curve25519:AAAB": otk(alice, 2)}
    assert claims[2] == claims[3] == {"signed_curve25519:FFFF": fallback}
    assert await hearth.e2ee.device_keys.unused_fallback_key_types(alice.user_id, "ALICEDEV") == []
    assert await hearth.e2ee.device_keys.one_time_key_counts(alice.user_id, "ALICEDEV") == {"signed_curve25519": 0}
    # A new fallback key is unused again.
    fallback2 = sign_json({"key": encode_base64(b"g" * 32), "fallback": True}, alice.user_id, alice.device_key)
    await alice.post("/keys/upload", {"fallback_keys": {"signed_curve25519:FFFG": fallback2}})
    sync = await hearth.e2ee.sync.sync_e2ee(alice.user_id, "ALICEDEV", None, hearth.core.stream.current)
    assert sync["device_unused_fallback_key_types"] == ["signed_curve25519"]
    # Unknown devices and algorithms are simply missing.
    resp = await bob.post("/keys/claim", {"one_time_keys": {alice.user_id: {"NOPE": "signed_curve25519"},
                                                            "@x:elsewhere.example": {"D": "signed_curve25519"}}})
    body = await resp.get_json()
    assert body["one_time_keys"] == {}
    assert "elsewhere.example" in body["failures"]
    resp = await bob.post("/keys/claim", {"one_time_keys": {alice.user_id: {"ALICEDEV": 5}}})
    assert (await resp.get_json())["errcode"] == "M_BAD_JSON"


# -- cross-signing ---------------------------------------------------------------------------------

class CrossSigning:
    def __init__(self, user: User):
        self.user = user
        self.master = nacl.signing.SigningKey.generate()
        self.self_signing = nacl.signing.SigningKey.generate()
        self.user_signing = nacl.signing.SigningKey.generate()

    @staticmethod
    def pub(key: nacl.signing.SigningKey) -> str:
        return encode_base64(bytes(key.verify_key))

    def signer(self, key: nacl.signing.SigningKey) -> SigningKey:
        return SigningKey(self.pub(key), key)

    def key(self, usage: str, key: nacl.signing.SigningKey, signed_by=None) -> dict:
        obj = {"user_id": self.user.user_id, "usage": [usage], "keys": {f"ed25519:{self.pub(key)}": self.pub(key)}}
        return sign_json(obj, self.user.user_id, self.signer(signed_by)) if signed_by else obj

    def upload_body(self) -> dict:
        return {"master_key": self.key("master", self.master),
                "self_signing_key": self.key("self_signing", self.self_signing, self.master),
                "user_signing_key": self.key("user_signing", self.user_signing, self.master)}


async def test_cross_signing_upload_and_uia(client):
    alice = await make_user(client, "alice", "ALICEDEV")
    bob = await make_user(client, "bob")
    cs = CrossSigning(alice)
    # No master key yet: no UIA needed.
    resp = await alice.post("/keys/device_signing/upload", cs.upload_body())
    assert resp.status_code == 200, await resp.get_json()
    # The same keys again: idempotent, still no UIA.
    resp = await alice.post("/keys/device_signing/upload", cs.upload_body())
    assert resp.status_code == 200
    # New keys now need the password.
    cs2 = CrossSigning(alice)
    resp = await alice.post("/keys/device_signing/upload", cs2.upload_body())
    assert resp.status_code == 401
    challenge = await resp.get_json()
    assert challenge["flows"] == [{"stages": ["m.login.password"]}]
    wrong = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": alice.user_id},
             "password": "wrong", "session": challenge["session"]}
    resp = await alice.post("/keys/device_signing/upload", {**cs2.upload_body(), "auth": wrong})
    assert resp.status_code == 401
    assert (await resp.get_json())["errcode"] == "M_FORBIDDEN"
    right = {**wrong, "password": PASSWORD}
    resp = await alice.post("/keys/device_signing/upload", {**cs2.upload_body(), "auth": right})
    assert resp.status_code == 200, await resp.get_json()

    body = await (await alice.post("/keys/query", {"device_keys": {alice.user_id: []}})).get_json()
    assert body["master_keys"][alice.user_id] == cs2.upload_body()["master_key"]
    assert body["self_signing_keys"][alice.user_id] == cs2.upload_body()["self_signing_key"]
    assert body["user_signing_keys"][alice.user_id] == cs2.upload_body()["user_signing_key"]
    # Others do not see the user-signing key.
    body = await (await bob.post("/keys/query", {"device_keys": {alice.user_id: []}})).get_json()
    assert alice.user_id in body["master_keys"] and alice.user_id in body["self_signing_keys"]
    assert body["user_signing_keys"] == {}


async def test_cross_signing_upload_errors(client):
    alice = await make_user(client, "alice", "ALICEDEV")
    cs = CrossSigning(alice)
    # A self-signing key without any master key.
    resp = await alice.post("/keys/device_signing/upload",
                            {"self_signing_key": cs.key("self_signing", cs.self_signing, cs.master)})
    assert resp.status_code == 400
    assert (await resp.get_json())["errcode"] == "M_MISSING_PARAM"
    # Not signed by the master key.
    body = cs.upload_body()
    body["self_signing_key"] = cs.key("self_signing", cs.self_signing, cs.user_signing)
    resp = await alice.post("/keys/device_signing/upload", body)
    assert (await resp.get_json())["errcode"] == "M_INVALID_SIGNATURE"
    # Another user's key, or a wrong usage.
    body = cs.upload_body()
    body["master_key"]["user_id"] = "@bob:hearth.test"
    resp = await alice.post("/keys/device_signing/upload", body)
    assert (await resp.get_json())["errcode"] == "M_INVALID_PARAM"
    body = cs.upload_body()
    body["master_key"]["usage"] = ["self_signing"]
    resp = await alice.post("/keys/device_signing/upload", body)
    assert (await resp.get_json())["errcode"] == "M_INVALID_PARAM"
    # A public key equal to one of the user's device IDs.
    clash = await make_user(client, "alice", CrossSigning.pub(cs.master))
    resp = await clash.post("/keys/device_signing/upload", {"master_key": cs.key("master", cs.master)})
    assert resp.status_code == 403
    assert (await resp.get_json())["errcode"] == "M_FORBIDDEN"


async def test_signatures_upload(client):
    alice = await make_user(client, "alice", "ALICEDEV")
    bob = await make_user(client, "bob", "BOBDEV")
    carol = await make_user(client, "carol")
    await alice.post("/keys/upload", {"device_keys": alice.device_keys()})
    a_cs, b_cs = CrossSigning(alice), CrossSigning(bob)
    assert (await alice.post("/keys/device_signing/upload", a_cs.upload_body())).status_code == 200
    assert (await bob.post("/keys/device_signing/upload", b_cs.upload_body())).status_code == 200

    # Alice signs her device with her self-signing key, and Bob's master key with her user-signing key.
    device = alice.device_keys()
    ssk_sig = sign_json({k: v for k, v in device.items() if k != "signatures"}, alice.user_id,
                        a_cs.signer(a_cs.self_signing))["signatures"][alice.user_id]
    bob_master = b_cs.upload_body()["master_key"]
    usk_signed = sign_json(bob_master, alice.user_id, a_cs.signer(a_cs.user_signing))
    resp = await alice.post("/keys/signatures/upload", {
        alice.user_id: {"ALICEDEV": {**device, "signatures": {alice.user_id: ssk_sig}}},
        bob.user_id: {CrossSigning.pub(b_cs.master): usk_signed},
    })
    assert resp.status_code == 200
    assert (await resp.get_json())["failures"] == {}

    ssk_key_id = f"ed25519:{CrossSigning.pub(a_cs.self_signing)}"
    usk_key_id = f"ed25519:{CrossSigning.pub(a_cs.user_signing)}"
    resp = await carol.post("/keys/query", {"device_keys": {alice.user_id: [], bob.user_id: []}})
    seen_by_carol = await resp.get_json()
    assert ssk_key_id in seen_by_carol["device_keys"][alice.user_id]["ALICEDEV"]["signatures"][alice.user_id]
    assert alice.user_id not in seen_by_carol["master_keys"][bob.user_id].get("signatures", {})
    seen_by_alice = await (await alice.post("/keys/query", {"device_keys": {bob.user_id: []}})).get_json()
    assert usk_key_id in seen_by_alice["master_keys"][bob.user_id]["signatures"][alice.user_id]

    # A bad signature, or an object that is not the stored key, fails per key.
    bad = {**device, "signatures": {alice.user_id: {ssk_key_id: encode_base64(b"x" * 64)}}}
    changed = sign_json({**{k: v for k, v in device.items() if k != "signatures"}, "algorithms": []},
                        alice.user_id, a_cs.signer(a_cs.self_signing))
    resp = await alice.post("/keys/signatures/upload", {alice.user_id: {"ALICEDEV": bad, "NOPE": changed}})
    failures = (await resp.get_json())["failures"][alice.user_id]
    assert failures["ALICEDEV"]["errcode"] == "M_INVALID_SIGNATURE"
    assert "NOPE" in failures


# -- device-list changes -----------------------------------------------------------------------------

async def test_device_list_changes_follow_shared_rooms(client):
    alice = await make_user(client, "alice", "ALICEDEV")
    bob = await make_user(client, "bob", "BOBDEV")
    carol = await make_user(client, "carol", "CAROLDEV")
    dave = await make_user(client, "dave", "DAVEDEV")
    room = await make_room(client, alice, bob)
    await make_room(client, dave)  # dave shares nothing with alice

    start = token_now(client)
    await bob.post("/keys/upload", {"device_keys": bob.device_keys()})
    await dave.post("/keys/upload", {"device_keys": dave.device_keys()})
    mid = token_now(client)
    body = await (await alice.get(f"/keys/changes?from={start}&to={mid}")).get_json()
    assert body == {"changed": [bob.user_id], "left": []}
    # Nothing changed after mid.
    body = await (await alice.get(f"/keys/changes?from={mid}&to={mid}")).get_json()
    assert body == {"changed": [], "left": []}

    # Carol joins a shared room: Alice must fetch her devices. Bob leaves: Alice may forget his.
    await join(client, room, carol)
    await leave(client, room, bob)
    end = token_now(client)
    body = await (await alice.get(f"/keys/changes?from={mid}&to={end}")).get_json()
    assert body == {"changed": [carol.user_id], "left": [bob.user_id]}

    # The sync view is the same, and cross-signing changes count too.
    await carol.post("/keys/device_signing/upload", CrossSigning(carol).upload_body())
    hearth = hearth_of(client)
    sync = await hearth.e2ee.sync.sync_e2ee(alice.user_id, "ALICEDEV", hearth_pos(start), hearth.core.stream.current)
    assert sync["device_lists"] == {"changed": [carol.user_id], "left": [bob.user_id]}
    assert sync["to_device"] == {"events": []}
    assert sync["device_one_time_keys_count"] == {"signed_curve25519": 0}
    # Initial sync has no device-list changes.
    sync = await hearth.e2ee.sync.sync_e2ee(alice.user_id, "ALICEDEV", None, hearth.core.stream.current)
    assert sync["device_lists"] == {"changed": [], "left": []}

    resp = await alice.get(f"/keys/changes?from={start}")
    assert (await resp.get_json())["errcode"] == "M_MISSING_PARAM"
    resp = await alice.get(f"/keys/changes?from=garbage&to={end}")
    assert (await resp.get_json())["errcode"] == "M_INVALID_PARAM"
    resp = await alice.get(f"/keys/changes?from=s{10**30}_0&to=s{10**30}_0")
    assert await resp.get_json() == {"changed": [], "left": []}


def hearth_pos(token: str) -> int:
    return int(token[1:].split("_")[0])


async def test_key_upload_wakes_sharing_users(client):
    alice = await make_user(client, "alice", "ALICEDEV")
    bob = await make_user(client, "bob", "BOBDEV")
    room = await make_room(client, alice, bob)
    hearth = hearth_of(client)
    since = hearth.core.stream.position()
    await bob.post("/keys/upload", {"device_keys": bob.device_keys()})
    assert hearth.core.stream.changed_since([room], since)
    assert hearth.core.stream.changed_since([bob.user_id], since)


async def test_deleted_device_loses_its_keys(client):
    alice = await make_user(client, "alice", "ALICEDEV")
    bob = await make_user(client, "bob", "BOBDEV")
    await make_room(client, alice, bob)
    await bob.post("/keys/upload", {"device_keys": bob.device_keys(),
                                    "one_time_keys": {"signed_curve25519:A": otk(bob, 1)}})
    before = token_now(client)
    resp = await bob.post("/logout", {})
    assert resp.status_code == 200
    after = token_now(client)
    body = await (await alice.post("/keys/query", {"device_keys": {bob.user_id: []}})).get_json()
    assert body["device_keys"][bob.user_id] == {}
    body = await (await alice.get(f"/keys/changes?from={before}&to={after}")).get_json()
    assert body["changed"] == [bob.user_id]
    hearth = hearth_of(client)
    assert await hearth.e2ee.device_keys.one_time_key_counts(bob.user_id, "BOBDEV") == {"signed_curve25519": 0}


@pytest.mark.parametrize("path", ["/keys/upload", "/keys/query", "/keys/claim", "/keys/device_signing/upload",
                                  "/keys/signatures/upload"])
async def test_keys_need_a_token(client, path):
    resp = await client.post(f"/_matrix/client/v3{path}", json={})
    assert resp.status_code == 401
    assert (await resp.get_json())["errcode"] == "M_MISSING_TOKEN"
