"""`kill -9` while transactions to an appservice are queued: after the restart every queued event
is delivered once, and a transaction that was refused before the kill comes again with the same
id and body (so the appservice can drop a repeat)."""
from __future__ import annotations

import asyncio

import httpx
import yaml

from tests.conftest import start_server

from tests.appservice_recorder import RecordingAppService, registration

API = "/_matrix/client/v3"
MESSAGES = 30


async def test_queued_transactions_survive_kill_9(tmp_path):
    recorder = RecordingAppService()
    await recorder.start()
    recorder.refuse_transactions = 10**6  # the bridge is down
    srv = start_server(tmp_path / "data")
    try:
        reg_file = tmp_path / "irc.yaml"
        reg_file.write_text(yaml.safe_dump(registration(recorder.url)))
        await asyncio.to_thread(srv.hearth_cli, "appservice", "install", str(reg_file))
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as http:
            bot = {"Authorization": "Bearer as-token-for-tests"}
            room_id = (await http.post(API + "/createRoom", json={}, headers=bot)).json()["room_id"]
            for i in range(MESSAGES):
                r = await http.put(f"{API}/rooms/{room_id}/send/m.room.message/m{i}",
                                   json={"msgtype": "m.text", "body": f"m{i}"}, headers=bot)
                assert r.status_code == 200
        await recorder.wait_for(lambda: len(recorder.transactions()) >= 1)
        srv.stop(sig_kill=True)
        refused_first = recorder.transactions()[0]
        recorder.refuse_transactions = 0
        srv = start_server(tmp_path / "data")

        def bodies() -> list[str]:
            return [e["content"]["body"] for e in recorder.accepted_events() if e["type"] == "m.room.message"]

        await recorder.wait_for(lambda: len(bodies()) >= MESSAGES, timeout=30)
        assert bodies() == [f"m{i}" for i in range(MESSAGES)]  # each once, in order
        accepted = [r for r in recorder.transactions() if r.accepted]
        assert accepted[0].path == refused_first.path and accepted[0].body == refused_first.body
    finally:
        srv.stop()
        await recorder.stop()
