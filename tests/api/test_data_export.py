"""The user data export (services/data_export.py): what the archive holds for rooms left and for
uploads, read through the stores' own methods."""
from __future__ import annotations

import json
import zipfile


async def _archive(hs, user_id: str) -> zipfile.ZipFile:
    out = await hs.hearth.web.data_export.get().export(user_id)
    return zipfile.ZipFile(out)


def _bodies(zf: zipfile.ZipFile, room_id: str) -> list[str]:
    name = "rooms/" + room_id.replace(":", "_") + "/events"
    events = [json.loads(line) for line in zf.read(name).decode().splitlines()]
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


async def test_a_room_left_is_exported_up_to_leaving(hs):
    alice, bob = await hs.user("alice"), await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/rooms/{room_id}/join", bob)
    await hs.send(bob, room_id, {"msgtype": "m.text", "body": "bob was here"})
    await hs.ok("POST", f"/rooms/{room_id}/leave", bob)
    await hs.send(alice, room_id, {"msgtype": "m.text", "body": "after bob left"})

    bodies = _bodies(await _archive(hs, bob.user_id), room_id)
    assert "bob was here" in bodies
    assert "after bob left" not in bodies
    assert "after bob left" in _bodies(await _archive(hs, alice.user_id), room_id)


async def test_uploads_are_listed_by_id_with_their_metadata(hs):
    alice = await hs.user("alice")
    headers = {**alice.headers, "Content-Type": "text/plain"}
    r = await hs.client.post("/_matrix/media/v3/upload?filename=note.txt", data=b"hello", headers=headers)
    assert r.status_code == 200
    media_id = (await r.get_json())["content_uri"].rsplit("/", 1)[1]

    zf = await _archive(hs, alice.user_id)
    meta = json.loads(zf.read(f"user_data/media_ids/{media_id}"))
    assert meta["media_id"] == media_id
    assert meta["media_length"] == 5
    assert meta["media_type"] == "text/plain"
    assert meta["upload_name"] == "note.txt"
    assert "1 uploads" in zf.read("README.txt").decode()
