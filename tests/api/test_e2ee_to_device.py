"""Send-to-device messaging (send_to_device.md, to_device.yaml): stored per device, delivered by
/sync until the next sync token acknowledges it, at most 100 per response, exactly once."""
from __future__ import annotations

from appliance.app import create_app

PASSWORD = "correct horse battery staple"


async def make_device(hearth, name: str, device_id: str) -> tuple[str, str]:
    user_id = f"@{name}:hearth.test"
    if not await hearth.core.account_store.user_exists(user_id):
        await hearth.core.account_store.create_user(user_id, await hearth.core.auth.hash_password(PASSWORD))
    await hearth.core.account_store.upsert_device(user_id, device_id, None, "127.0.0.1")
    return user_id, (await hearth.core.auth.issue_tokens(user_id, device_id)).access_token


async def send(client, token: str, txn: str, messages: dict, event_type: str = "m.test"):
    return await client.put(f"/_matrix/client/v3/sendToDevice/{event_type}/{txn}", json={"messages": messages},
                            headers={"Authorization": f"Bearer {token}"})


async def sync(hearth, user_id: str, device_id: str, since: int | None) -> tuple[list[dict], int]:
    to = hearth.core.stream.current
    result = await hearth.e2ee.sync.sync_e2ee(user_id, device_id, since, to)
    return result["to_device"]["events"], to


async def test_send_to_one_device_and_to_all(client):
    hearth = client.app.config["HEARTH"]
    alice, a_tok = await make_device(hearth, "alice", "A1")
    bob, _ = await make_device(hearth, "bob", "B1")
    await make_device(hearth, "bob", "B2")
    since = hearth.core.stream.position()
    resp = await send(client, a_tok, "t1", {bob: {"B1": {"n": 1}}})
    assert resp.status_code == 200 and await resp.get_json() == {}
    assert hearth.core.stream.changed_since(hearth.e2ee.sync.wait_keys(bob), since)
    resp = await send(client, a_tok, "t2", {bob: {"*": {"n": 2}}, "@nobody:hearth.test": {"*": {"n": 3}}})
    assert resp.status_code == 200

    events, _ = await sync(hearth, bob, "B1", None)
    assert events == [{"sender": alice, "type": "m.test", "content": {"n": 1}},
                      {"sender": alice, "type": "m.test", "content": {"n": 2}}]
    events, _ = await sync(hearth, bob, "B2", None)
    assert events == [{"sender": alice, "type": "m.test", "content": {"n": 2}}]
    # Unknown devices get nothing.
    assert (await sync(hearth, bob, "B3", None))[0] == []


async def test_transaction_id_makes_a_retry_harmless(client):
    hearth = client.app.config["HEARTH"]
    _, a_tok = await make_device(hearth, "alice", "A1")
    bob, _ = await make_device(hearth, "bob", "B1")
    for _ in range(3):
        assert (await send(client, a_tok, "same", {bob: {"B1": {"x": 1}}})).status_code == 200
    events, _ = await sync(hearth, bob, "B1", None)
    assert len(events) == 1
    # The same transaction ID from another device of the sender is a new request.
    _, a2_tok = await make_device(hearth, "alice", "A2")
    await send(client, a2_tok, "same", {bob: {"B1": {"x": 2}}})
    events, _ = await sync(hearth, bob, "B1", None)
    assert [e["content"] for e in events] == [{"x": 1}, {"x": 2}]


async def test_delivered_until_acknowledged(client):
    hearth = client.app.config["HEARTH"]
    _, a_tok = await make_device(hearth, "alice", "A1")
    bob, _ = await make_device(hearth, "bob", "B1")
    await send(client, a_tok, "t1", {bob: {"B1": {"n": 1}}})
    first, token1 = await sync(hearth, bob, "B1", None)
    # The response was lost: syncing again from the old point delivers the message again.
    again, token1 = await sync(hearth, bob, "B1", None)
    assert first == again and len(first) == 1
    await send(client, a_tok, "t2", {bob: {"B1": {"n": 2}}})
    # Syncing from token1 acknowledges message 1; message 2 comes now.
    events, token2 = await sync(hearth, bob, "B1", token1)
    assert [e["content"] for e in events] == [{"n": 2}]
    events, token3 = await sync(hearth, bob, "B1", token2)
    assert events == []
    # An old token cannot bring back what a newer one acknowledged.
    assert (await sync(hearth, bob, "B1", token1))[0] == []


async def test_at_most_100_per_sync_and_none_lost(client):
    hearth = client.app.config["HEARTH"]
    _, a_tok = await make_device(hearth, "alice", "A1")
    bob, _ = await make_device(hearth, "bob", "B1")
    for i in range(150):
        await send(client, a_tok, f"t{i}", {bob: {"B1": {"i": i}}})
    events, token = await sync(hearth, bob, "B1", None)
    assert [e["content"]["i"] for e in events] == list(range(100))
    assert await hearth.e2ee.sync.has_pending_to_device(bob, "B1")
    # Nothing new happened: the next sync uses the same position and must still get the rest.
    events, token = await sync(hearth, bob, "B1", token)
    assert [e["content"]["i"] for e in events] == list(range(100, 150))
    events, token = await sync(hearth, bob, "B1", token)
    assert events == []
    assert not await hearth.e2ee.sync.has_pending_to_device(bob, "B1")


async def test_bad_requests(client):
    hearth = client.app.config["HEARTH"]
    _, a_tok = await make_device(hearth, "alice", "A1")
    resp = await send(client, a_tok, "t1", {"not-a-user": {"*": {}}})
    assert (await resp.get_json())["errcode"] == "M_INVALID_PARAM"
    resp = await send(client, a_tok, "t2", {"@bob:hearth.test": {"B1": "not an object"}})
    assert (await resp.get_json())["errcode"] == "M_BAD_JSON"
    resp = await client.put("/_matrix/client/v3/sendToDevice/m.test/t3", json={},
                            headers={"Authorization": f"Bearer {a_tok}"})
    assert (await resp.get_json())["errcode"] == "M_BAD_JSON"
    resp = await client.put("/_matrix/client/v3/sendToDevice/m.test/t4", json={"messages": {}})
    assert (await resp.get_json())["errcode"] == "M_MISSING_TOKEN"


async def test_exactly_once_across_a_restart(settings):
    """Two app instances on the same data directory, one after the other."""
    app = create_app(settings)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        hearth = app.config["HEARTH"]
        _, a_tok = await make_device(hearth, "alice", "A1")
        bob, _ = await make_device(hearth, "bob", "B1")
        await send(client, a_tok, "t1", {bob: {"B1": {"n": 1}}})
        events, token = await sync(hearth, bob, "B1", None)
        assert [e["content"] for e in events] == [{"n": 1}]
        await send(client, a_tok, "t2", {bob: {"B1": {"n": 2}}})

    app = create_app(settings)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        hearth = app.config["HEARTH"]
        assert hearth.core.stream.current >= token
        # The retried request after the restart is still recognised.
        _, a_tok = await make_device(hearth, "alice", "A1")
        await send(client, a_tok, "t2", {bob: {"B1": {"n": 2}}})
        events, token = await sync(hearth, bob, "B1", token)
        assert [e["content"] for e in events] == [{"n": 2}]
        events, token = await sync(hearth, bob, "B1", token)
        assert events == []
