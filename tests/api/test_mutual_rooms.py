"""GET /_matrix/client/v1/mutual_rooms (spec v1.19, MSC2666): joined rooms both users share,
batched with next_batch; the errors mutual_rooms.yaml gives."""
from __future__ import annotations

from urllib.parse import quote

from appliance.core.services import room_read


async def mutual(hs, user, query: str, status: int = 200, prefix: str = "/_matrix/client/v1/mutual_rooms") -> dict:
    r = await hs.client.get(f"{prefix}?{query}", headers=user.headers)
    body = await r.get_json()
    assert r.status_code == status, body
    return body


async def test_shared_joined_rooms_in_batches(hs, monkeypatch):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    shared = []
    for i in range(5):
        room_id = await hs.create_room(alice, preset="public_chat")
        await hs.ok("POST", f"/join/{room_id}", bob, {})
        shared.append(room_id)
    alone = await hs.create_room(alice, preset="public_chat")  # bob is not in it
    invited = await hs.create_room(alice, invite=[bob.user_id])  # invited is not joined
    left = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{left}", bob, {})
    await hs.ok("POST", f"/rooms/{left}/leave", bob, {})

    body = await mutual(hs, alice, "user_id=" + quote(bob.user_id))
    assert body == {"joined": sorted(shared), "count": 5}
    assert alone not in body["joined"] and invited not in body["joined"] and left not in body["joined"]
    assert (await mutual(hs, bob, "user_id=" + quote(alice.user_id)))["joined"] == sorted(shared)
    assert await mutual(hs, alice, "user_id=" + quote(carol.user_id)) == {"joined": [], "count": 0}
    # Nobody by that name: an empty list, not an error.
    assert await mutual(hs, alice, "user_id=" + quote("@ghost:hearth.test")) == {"joined": [], "count": 0}
    # The unstable path answers the same.
    assert (await mutual(hs, alice, "user_id=" + quote(bob.user_id),
                         prefix="/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms"))["count"] == 5

    monkeypatch.setattr(room_read, "MUTUAL_ROOMS_BATCH", 2)
    seen, token, pages = [], None, 0
    while True:
        query = "user_id=" + quote(bob.user_id) + (f"&from={quote(token)}" if token else "")
        body = await mutual(hs, alice, query)
        assert body["count"] == 5 and len(body["joined"]) <= 2
        seen += body["joined"]
        pages += 1
        token = body.get("next_batch")
        if token is None:
            break
    assert (seen, pages) == (sorted(shared), 3)


async def test_errors(hs):
    alice = await hs.user("alice")
    for query in ("", "user_id=bob", "user_id=" + quote(alice.user_id),
                  "user_id=" + quote("@bob:hearth.test") + "&from=!!nonsense"):
        body = await mutual(hs, alice, query, 400)
        assert body["errcode"] == "M_INVALID_PARAM"
    r = await hs.client.get("/_matrix/client/v1/mutual_rooms?user_id=%40bob%3Ahearth.test")
    assert r.status_code == 401
