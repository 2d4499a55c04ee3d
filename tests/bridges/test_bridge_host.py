"""The bridge host with a plugin written outside the package (tests/fixtures/plugins/
hearth_echo_bridge, found through its entry point), on a real server: portals on alias lookup,
ghosts sending with the remote time, the namespace kept exclusive, management rooms and
commands, the plugin's own tables and nothing else, containment of a plugin that raises, hangs or
whose task crashes, backfill, and a kill -9 in the middle without a repeat or a loss."""
from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.bridges.matrix_client import V3, Client, bodies
from tests.conftest import start_server

PLUGINS = Path(__file__).resolve().parent.parent / "fixtures" / "plugins"


def server(tmp_path: Path, port: int | None = None, **env):
    pythonpath = os.pathsep.join(p for p in (str(PLUGINS), os.environ.get("PYTHONPATH", "")) if p)
    values = {"HEARTH_BRIDGES_ENABLED": "echo", "HEARTH_METRICS_ENABLED": "true", "HEARTH_BRIDGE_CALL_TIMEOUT_S": "1",
              **env}
    return start_server(tmp_path / "data", port, PYTHONPATH=pythonpath, **values)


def health(base: str) -> dict[str, str]:
    text = httpx.get(base + "/_hearth/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("hearth_bridge_health{") and line.endswith(" 1"):
            labels = dict(part.split("=", 1) for part in line[line.index("{") + 1:line.index("}")].split(","))
            out[labels["bridge"].strip('"')] = labels["state"].strip('"')
    return out


def wait_health(base: str, state: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while health(base).get("echo") != state:
        assert time.monotonic() < deadline, health(base)
        time.sleep(0.1)


def test_portal_ghost_namespace_commands_tables_and_kill9(tmp_path):
    srv = server(tmp_path)
    try:
        wait_health(srv.base_url, "connected")
        alice = Client(srv.base_url, "alice")
        # joining the portal alias makes the portal (the plugin answers the alias query)
        r = alice.http.post(f"{V3}/join/{quote('#echo_kitchen:hearth.test')}", json={})
        assert r.status_code == 200, r.text
        room = r.json()["room_id"]
        sent_at = int(time.time() * 1000)
        alice.send(room, "hello")
        msgs = alice.wait_for(room, lambda m: "echo: hello" in bodies(m))
        echo = [m for m in msgs if m["content"]["body"] == "echo: hello"][0]
        assert echo["sender"] == "@echo_echo:hearth.test"
        assert abs(echo["origin_server_ts"] - sent_at) < 5000  # the remote network's time (the event's + 1 ms)

        # the namespace is the bridge's: nobody registers a ghost's ID or makes its aliases
        r = httpx.post(srv.base_url + V3 + "/register", json={"username": "echo_mallory", "password": "a long pw 12",
                                                                "auth": {"type": "m.login.dummy"}})
        assert (r.status_code, r.json()["errcode"]) == (400, "M_EXCLUSIVE")
        r = alice.http.put(f"{V3}/directory/room/{quote('#echo_mine:hearth.test')}", json={"room_id": room})
        assert (r.status_code, r.json()["errcode"]) == (400, "M_EXCLUSIVE")

        # a management room: invite the bot, it joins and answers commands
        r = alice.http.post(V3 + "/createRoom", json={"invite": ["@echobot:hearth.test"], "is_direct": True})
        manage = r.json()["room_id"]
        alice.wait_for(manage, lambda m: any("!help" in b for b in bodies(m)))
        alice.send(manage, "!help")
        alice.wait_for(manage, lambda m: any("!ping" in b and "!backfill" in b for b in bodies(m)))
        alice.send(manage, "!ping one two")
        alice.wait_for(manage, lambda m: "pong one two" in bodies(m))
        alice.send(manage, "!tables users")
        alice.wait_for(manage, lambda m: any(b.startswith("refused:") for b in bodies(m)))
        alice.send(manage, "!tables echo_seen")
        alice.wait_for(manage, lambda m: "echo_seen: 1 rows" in bodies(m))
        # typing and read receipts of the portal reach the plugin too
        alice.http.put(f"{V3}/rooms/{quote(room)}/typing/{quote(alice.user_id)}", json={"typing": True, "timeout": 5000})
        alice.http.post(f"{V3}/rooms/{quote(room)}/receipt/m.read/{quote(echo['event_id'])}", json={})
        deadline = time.monotonic() + 10
        while True:
            alice.send(manage, "!seen")
            msgs = alice.wait_for(manage, lambda m: bodies(m)[-1].startswith("seen:"))
            if "typing @alice:hearth.test" in bodies(msgs)[-1] and "receipt @alice:hearth.test" in bodies(msgs)[-1]:
                break
            assert time.monotonic() < deadline, bodies(msgs)[-1]
            time.sleep(0.3)
        alice.send(manage, "!frobnicate")
        alice.wait_for(manage, lambda m: any("don't know !frobnicate" in b for b in bodies(m)))

        # kill -9 with messages on the way: after the restart each is echoed exactly once
        for i in range(5):
            alice.send(room, f"before {i}")
        srv.stop(sig_kill=True)
        srv = server(tmp_path, port=int(srv.base_url.rsplit(":", 1)[1]))
        wait_health(srv.base_url, "connected")
        for i in range(3):
            alice.send(room, f"after {i}")
        want = [f"echo: before {i}" for i in range(5)] + [f"echo: after {i}" for i in range(3)]
        msgs = alice.wait_for(room, lambda m: all(w in bodies(m) for w in want))
        time.sleep(1.0)  # anything repeated would be there by now
        msgs = alice.messages(room)
        for w in ["echo: hello", *want]:
            assert bodies(msgs).count(w) == 1, (w, bodies(msgs))
    finally:
        srv.stop()


def test_a_failing_plugin_is_contained_and_restarted(tmp_path):
    srv = server(tmp_path)
    try:
        wait_health(srv.base_url, "connected")
        alice = Client(srv.base_url, "alice")
        # the admin (first user) sets the test switches as stored settings, as the admin page does
        r = alice.http.post(f"{V3}/join/{quote('#echo_lab:hearth.test')}", json={})
        room = r.json()["room_id"]
        srv.hearth_cli("bridges", "set", "echo", "fail_on=boom", "hang_on=sleep")
        wait_health(srv.base_url, "connected")
        time.sleep(2.5)  # the host sees the new settings and restarts the bridge with them
        wait_health(srv.base_url, "connected")
        alice.send(room, "boom")       # raises in the plugin, three times, then it is skipped
        alice.send(room, "sleep")      # hangs: the call times out (1 s here), twice more, skipped
        alice.send(room, "fine")
        alice.wait_for(room, lambda m: "echo: fine" in bodies(m), timeout=60)
        assert httpx.get(srv.base_url + "/_matrix/client/versions").status_code == 200  # Hearth kept serving
        text = httpx.get(srv.base_url + "/_hearth/metrics").text
        restarts = [line for line in text.splitlines() if line.startswith('hearth_bridge_restarts_total{bridge="echo"}')]
        assert restarts and float(restarts[0].split()[-1]) >= 2, restarts
        assert "echo: boom" not in bodies(alice.messages(room))
        # a crashing task fails the bridge too, and it comes back
        srv.hearth_cli("bridges", "set", "echo", "crash_task=true")
        deadline = time.monotonic() + 30
        while 'hearth_bridge_restarts_total{bridge="echo"} ' not in httpx.get(srv.base_url + "/_hearth/metrics").text:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        srv.stop()


def test_backfill_into_a_portal(tmp_path):
    srv = server(tmp_path)
    try:
        wait_health(srv.base_url, "connected")
        alice = Client(srv.base_url, "alice")
        r = alice.http.post(V3 + "/createRoom", json={"invite": ["@echobot:hearth.test"], "is_direct": True})
        manage = r.json()["room_id"]
        alice.wait_for(manage, lambda m: any("!help" in b for b in bodies(m)))
        alice.send(manage, "!backfill 50")
        msgs = alice.wait_for(manage, lambda m: any(b.startswith("backfilled 50") for b in bodies(m)))
        history = [b for b in bodies(msgs) if b.startswith("backfilled")][0].split()[-1]
        invited = alice.invited_rooms()
        assert history in invited
        assert alice.http.post(f"{V3}/join/{quote(history)}", json={}).status_code == 200
        old = [m for m in alice.messages(history) if m["content"]["body"].startswith("old ")]
        assert [m["content"]["body"] for m in old] == [f"old {i}" for i in range(50)]
        assert [m["origin_server_ts"] for m in old] == [1_600_000_000_000 + i * 1000 for i in range(50)]
        assert {m["sender"] for m in old} == {"@echo_echo:hearth.test", "@echo_ohce:hearth.test"}
    finally:
        srv.stop()


def test_switched_on_and_off_from_the_command_line(tmp_path):
    srv = server(tmp_path, HEARTH_BRIDGES_ENABLED=None)  # the stored choice decides
    try:
        assert "echo" not in health(srv.base_url)  # off: no runner, nothing reserved
        assert "echo\tEcho\toff" in srv.hearth_cli("bridges", "list")
        r = httpx.post(srv.base_url + V3 + "/register", json={"username": "someone", "password": "a long pw 12",
                                                                "auth": {"type": "m.login.dummy"}})
        assert r.status_code == 200
        assert srv.hearth_cli("bridges", "enable", "echo").startswith("echo: on")
        wait_health(srv.base_url, "connected")
        r = httpx.post(srv.base_url + V3 + "/register", json={"username": "echo_x", "password": "a long pw 12",
                                                                "auth": {"type": "m.login.dummy"}})
        assert r.json()["errcode"] == "M_EXCLUSIVE"
        with pytest.raises(RuntimeError, match="greeting"):
            srv.hearth_cli("bridges", "set", "echo", "greeting=" + "x" * 50)  # checked against its settings model
        assert "echo\tEcho\ton" in srv.hearth_cli("bridges", "list")
        srv.hearth_cli("bridges", "disable", "echo")
        deadline = time.monotonic() + 15
        while "echo" in health(srv.base_url):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        srv.stop()
