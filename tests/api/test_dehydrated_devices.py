"""Dehydrated devices (MSC3814): store, fetch, receive to-device messages, rehydrate, replace."""
from __future__ import annotations

import nacl.signing
from unpaddedbase64 import encode_base64

from appliance.core.protocol.signing import SigningKey, sign_json

BASE = "/_matrix/client/unstable/org.matrix.msc3814.v1"


def signed_device_keys(user_id: str, device_id: str) -> dict:
    key = SigningKey(device_id, nacl.signing.SigningKey.generate())
    keys = {
        "user_id": user_id, "device_id": device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {f"curve25519:{device_id}": encode_base64(b"d" * 32), f"ed25519:{device_id}": key.verify_key_base64},
    }
    return sign_json(keys, user_id, key)


async def put_dehydrated(hs, user, device_id: str, pickle: str = "pickle-1"):
    return await hs.client.put(f"{BASE}/dehydrated_device", headers=user.headers, json={
        "device_id": device_id,
        "device_data": {"algorithm": "m.dehydration.v1.olm", "device_pickle": pickle},
        "initial_device_display_name": "Dehydrated",
        "device_keys": signed_device_keys(user.user_id, device_id),
        "one_time_keys": {f"signed_curve25519:AAA{device_id}": {"key": "k"}},
    })


async def test_dehydrated_device_lifecycle(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    r = await hs.client.get(f"{BASE}/dehydrated_device", headers=alice.headers)
    assert r.status_code == 404 and (await r.get_json())["errcode"] == "M_NOT_FOUND"

    r = await put_dehydrated(hs, alice, "DEHYD1")
    assert r.status_code == 200 and await r.get_json() == {"device_id": "DEHYD1"}
    got = await (await hs.client.get(f"{BASE}/dehydrated_device", headers=alice.headers)).get_json()
    assert got == {"device_id": "DEHYD1",
                   "device_data": {"algorithm": "m.dehydration.v1.olm", "device_pickle": "pickle-1"}}
    # Other users see it as one of Alice's devices, with its keys.
    q = await hs.ok("POST", "/keys/query", bob, {"device_keys": {alice.user_id: []}})
    assert "DEHYD1" in q["device_keys"][alice.user_id]

    # Bob sends it two to-device messages; Alice's new device pages them out, then they are gone.
    await hs.ok("PUT", "/sendToDevice/m.room.encrypted/t1", bob,
                {"messages": {alice.user_id: {"DEHYD1": {"n": 1}}}})
    await hs.ok("PUT", "/sendToDevice/m.room.encrypted/t2", bob,
                {"messages": {alice.user_id: {"*": {"n": 2}}}})
    page = await (await hs.client.post(f"{BASE}/dehydrated_device/DEHYD1/events", headers=alice.headers,
                                       json={})).get_json()
    assert [e["content"]["n"] for e in page["events"]] == [1, 2]
    assert all(e["sender"] == bob.user_id for e in page["events"])
    after = await (await hs.client.post(f"{BASE}/dehydrated_device/DEHYD1/events", headers=alice.headers,
                                        json={"next_batch": page["next_batch"]})).get_json()
    assert after["events"] == []
    again = await (await hs.client.post(f"{BASE}/dehydrated_device/DEHYD1/events", headers=alice.headers,
                                        json={})).get_json()
    assert again["events"] == []  # acknowledged messages are deleted

    # Only the owner's dehydrated device can be read.
    r = await hs.client.post(f"{BASE}/dehydrated_device/{alice.device_id}/events", headers=alice.headers, json={})
    assert r.status_code == 403
    r = await hs.client.post(f"{BASE}/dehydrated_device/DEHYD1/events", headers=bob.headers, json={})
    assert r.status_code == 403

    # A new dehydrated device replaces the old one, which disappears with its keys.
    r = await put_dehydrated(hs, alice, "DEHYD2", "pickle-2")
    assert r.status_code == 200
    devices = {d["device_id"] for d in (await hs.ok("GET", "/devices", alice))["devices"]}
    assert "DEHYD2" in devices and "DEHYD1" not in devices
    q = await hs.ok("POST", "/keys/query", bob, {"device_keys": {alice.user_id: []}})
    assert "DEHYD1" not in q["device_keys"][alice.user_id]

    r = await hs.client.delete(f"{BASE}/dehydrated_device", headers=alice.headers)
    assert await r.get_json() == {"device_id": "DEHYD2"}
    r = await hs.client.get(f"{BASE}/dehydrated_device", headers=alice.headers)
    assert r.status_code == 404


async def test_dehydrated_device_bad_input(hs):
    alice = await hs.user("alice")
    r = await hs.client.put(f"{BASE}/dehydrated_device", headers=alice.headers, json={"device_id": "X"})
    assert r.status_code == 400 and (await r.get_json())["errcode"] == "M_BAD_JSON"
    r = await hs.client.put(f"{BASE}/dehydrated_device", headers=alice.headers,
                            json={"device_id": alice.device_id, "device_data": {}})
    assert r.status_code == 400 and (await r.get_json())["errcode"] == "M_INVALID_PARAM"
    r = await hs.client.post(f"{BASE}/dehydrated_device/NOPE/events", headers=alice.headers,
                             json={"next_batch": "x"})
    assert r.status_code == 403
    r = await hs.client.get(f"{BASE}/dehydrated_device")
    assert r.status_code == 401 and (await r.get_json())["errcode"] == "M_MISSING_TOKEN"
