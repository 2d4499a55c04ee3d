"""A real external bridge: heisenbridge (PyPI, an IRC bridge speaking the Application Service API)
against Hearth and a real IRC server (ngIRCd), all on loopback.

Hearth writes the registration (`hearth appservice add`, what Admin → Bridges does). Mum DMs
the bridge's bot, adds a network and its server, opens it, connects and joins a channel; Grandpa,
on plain IRC, is in the channel. Messages go both ways; his nick change and his part are
mirrored in the portal room. heisenbridge runs in a virtualenv of its own (its libraries are not
Hearth's), made on first use; without network access or ngircd the test skips."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ROOT, free_port, start_server
from tests.needs import unavailable

from tests.irc_server import IrcClient, start_irc_server

HEISENBRIDGE = "heisenbridge==1.15.4"
VENV = ROOT / "tests" / ".venv-heisenbridge"
API = "/_matrix/client/v3"
pytestmark = pytest.mark.timeout(240)


def heisenbridge_python() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / f".installed-{HEISENBRIDGE}"
    if not stamp.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=120)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", HEISENBRIDGE], check=True,
                           capture_output=True, timeout=300)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            unavailable(f"heisenbridge could not be installed from PyPI: {exc}")
        stamp.touch()
    return python


class Person:
    """A Matrix user driven over HTTP: sends, and waits for what /sync brings."""

    def __init__(self, http: httpx.AsyncClient, token: str):
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}
        self.since: str | None = None
        self.events: list[tuple[str, dict]] = []  # (room ID, event), in arrival order
        self.invites: list[str] = []
        self._txn = 0

    async def sync_once(self, timeout_ms: int = 1000) -> None:
        params = {"timeout": timeout_ms, **({"since": self.since} if self.since else {})}
        body = (await self.http.get(API + "/sync", params=params, headers=self.headers)).json()
        self.since = body["next_batch"]
        for room_id, room in body.get("rooms", {}).get("join", {}).items():
            self.events += [(room_id, e) for e in room["timeline"]["events"]]
        for room_id in body.get("rooms", {}).get("invite", {}):
            if room_id not in self.invites:
                self.invites.append(room_id)
                r = await self.http.post(f"{API}/join/{room_id}", json={}, headers=self.headers)
                assert r.status_code == 200, r.text

    async def wait_for(self, match, what: str, timeout: float = 30.0) -> tuple[str, dict]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for room_id, event in self.events[seen:]:
                if match(room_id, event):
                    return room_id, event
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {what}; last: {[e for _, e in self.events[-8:]]}")
            await self.sync_once()

    async def say(self, room_id: str, text: str) -> None:
        self._txn += 1
        r = await self.http.put(f"{API}/rooms/{room_id}/send/m.room.message/t{self._txn}",
                                json={"msgtype": "m.text", "body": text}, headers=self.headers)
        assert r.status_code == 200, r.text

    async def bot_says(self, room_id: str, words: str, what: str) -> None:
        await self.wait_for(lambda rid, e: rid == room_id and e["type"] == "m.room.message"
                            and e["sender"] == "@heisenbridge:hearth.test" and words in e["content"].get("body", ""),
                            what)


def _message(body: str, sender: str | None = None):
    return lambda rid, e: (e["type"] == "m.room.message" and body in e["content"].get("body", "")
                           and (sender is None or e["sender"] == sender))


async def test_heisenbridge_bridges_a_channel_both_ways(tmp_path):
    python = heisenbridge_python()
    irc = start_irc_server(tmp_path / "irc")
    srv = start_server(tmp_path / "data")
    bridge = None
    grandpa = None
    try:
        port = free_port()
        reg_file = tmp_path / "heisenbridge.yaml"
        # The registration Hearth writes (Admin → Bridges, here headless): fresh tokens, its namespace.
        out = await asyncio.to_thread(srv.hearth_cli, "appservice", "add", "heisenbridge",
                                      f"http://127.0.0.1:{port}", "--registration", str(reg_file))
        assert "installed 'heisenbridge'" in out
        registration = yaml.safe_load(reg_file.read_text())
        assert registration["namespaces"]["users"] == [{"regex": "@irc_.*", "exclusive": True}]
        assert len(registration["as_token"]) >= 40 and registration["as_token"] != registration["hs_token"]
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
            r = await http.post(API + "/register", json={"username": "mum", "password": "knitting by the window",
                                                         "auth": {"type": "m.login.dummy"}})
            mum = Person(http, r.json()["access_token"])
            await mum.sync_once(0)
            log = open(tmp_path / "heisenbridge.log", "wb")
            bridge = subprocess.Popen([str(python), "-m", "heisenbridge", "-c", str(reg_file), "-l", "127.0.0.1",
                                       "-p", str(port), "-o", "@mum:hearth.test", srv.base_url],
                                      stdout=log, stderr=subprocess.STDOUT)
            # The bot opens a control room with its owner and greets her.
            control, _ = await mum.wait_for(_message("granted access", "@heisenbridge:hearth.test"),
                                            "the bot's greeting", timeout=60)
            await mum.say(control, "addnetwork test")
            await mum.bot_says(control, "Network added", "the network added")
            await mum.say(control, f"addserver test 127.0.0.1 {irc.port}")
            await mum.bot_says(control, "Server added", "the server added")
            await mum.say(control, "open test")
            network, _ = await mum.wait_for(_message("network room for test", "@heisenbridge:hearth.test"),
                                            "the network room")
            grandpa = await IrcClient.connect(irc.port, "grandpa")
            await grandpa.send("JOIN #family")
            await mum.say(network, "connect")
            await mum.wait_for(lambda rid, e: rid == network and "Welcome to the Internet Relay Network"
                               in e.get("content", {}).get("body", ""), "the IRC welcome")
            await mum.say(network, "join #family")
            channel, _ = await mum.wait_for(_message("Joined #family", "@heisenbridge:hearth.test"),
                                            "the channel room")
            await grandpa.wait_for(lambda line: "JOIN" in line and line.startswith(":mum!"))
            # IRC → Matrix: Grandpa's line arrives from his ghost.
            await grandpa.send("PRIVMSG #family :hello from the old computer")
            _, event = await mum.wait_for(_message("hello from the old computer"), "Grandpa's message")
            assert event["sender"] == "@irc_test_grandpa:hearth.test"
            # Matrix → IRC: Mum's message reaches Grandpa from her nick.
            await mum.say(channel, "hello from my phone")
            line = await grandpa.wait_for(lambda l: "PRIVMSG #family" in l and "hello from my phone" in l)
            assert line.startswith(":mum!")
            # Nick change and part are mirrored in the room.
            await grandpa.send("NICK grandpa_away")
            await mum.wait_for(lambda rid, e: rid == channel and e["type"] == "m.room.member"
                               and e.get("state_key") == "@irc_test_grandpa_away:hearth.test"
                               and e["content"].get("membership") == "join", "the new nick's ghost joining")
            await grandpa.send("PART #family :off to bed")
            await mum.wait_for(lambda rid, e: rid == channel and e["type"] == "m.room.member"
                               and e.get("state_key") == "@irc_test_grandpa_away:hearth.test"
                               and e["content"].get("membership") == "leave", "the ghost leaving on part")
            # Each message arrived once.
            bodies = [e["content"]["body"] for rid, e in mum.events
                      if rid == channel and e["type"] == "m.room.message"]
            assert bodies.count("hello from the old computer") == 1
    finally:
        if grandpa is not None:
            await grandpa.close()
        if bridge is not None:
            bridge.terminate()
            try:
                bridge.wait(10)
            except subprocess.TimeoutExpired:
                bridge.kill()
        srv.stop()
        irc.stop()
