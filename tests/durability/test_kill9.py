"""A 200 means it is on disk: concurrent senders, `kill -9` at random moments, restart, check.

Each cycle starts the real server, lets several clients send messages into a few rooms (each
with its own transaction ID), send to-device messages and write account data, sync now and
then, and kills the process with SIGKILL after a random moment. After each restart:

- requests whose answer was lost in the kill are retried with the same transaction ID (the
  same event if the first try had committed, never a second one), and a sample of
  acknowledged transactions is retried too: each must give back the very same event ID;
- every client's sync token moves forwards, never backwards.

At the end every acknowledged event is served by /messages and /event, in each sender's
order, each transaction exactly once; every acknowledged to-device message is delivered;
every acknowledged account-data write reads back; and `PRAGMA integrity_check` is ok.

HEARTH_KILL9_CYCLES sets the number of cycles (20 here; `make soak` runs many more).
"""
from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import start_server

CYCLES = int(os.environ.get("HEARTH_KILL9_CYCLES", "20"))
USERS = 4
ROOMS = 2
pytestmark = pytest.mark.timeout(max(300, CYCLES * 15))
API = "/_matrix/client/v3"


def stream_of(token: str) -> int:
    return int(token[1:].split("_")[0])


@dataclass
class Sender:
    user_id: str
    token: str
    device_id: str
    sync_token: str | None = None
    acked: list[tuple[str, str, str]] = field(default_factory=list)   # (txn, room, event_id) in send order
    pending: dict[str, tuple[str, dict]] = field(default_factory=dict)  # txn -> (room, content): outcome unknown
    to_device_acked: list[str] = field(default_factory=list)
    to_device_pending: dict[str, dict] = field(default_factory=dict)
    account_data_acked: dict[str, dict] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(base: str, name: str) -> Sender:
    body = {"username": name, "password": f"{name} password long enough", "initial_device_display_name": "load"}
    r = httpx.post(base + API + "/register", json=body)
    if r.status_code == 401:
        body["auth"] = {"type": "m.login.dummy", "session": r.json()["session"]}
        r = httpx.post(base + API + "/register", json=body)
    r.raise_for_status()
    j = r.json()
    return Sender(j["user_id"], j["access_token"], j["device_id"])


def login_inbox(base: str, user: Sender) -> Sender:
    """A second device of `user` that never syncs during the load: it receives the to-device messages."""
    r = httpx.post(base + API + "/login", json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user.user_id},
        "password": f"{user.user_id[1:].split(':')[0]} password long enough", "device_id": "INBOX"})
    r.raise_for_status()
    j = r.json()
    return Sender(j["user_id"], j["access_token"], j["device_id"])


async def check_sync(http: httpx.AsyncClient, s: Sender) -> None:
    params = {"timeout": "0"}
    if s.sync_token:
        params["since"] = s.sync_token
        params["filter"] = '{"room":{"timeline":{"limit":1}}}'
    r = await http.get(API + "/sync", params=params, headers=s.headers)
    r.raise_for_status()
    nxt = r.json()["next_batch"]
    if s.sync_token is not None:
        assert stream_of(nxt) >= stream_of(s.sync_token), f"sync token went backwards: {s.sync_token} -> {nxt}"
    s.sync_token = nxt


async def load(base: str, senders: list[Sender], rooms: list[str], inbox: Sender, cycle: int,
               stop: asyncio.Event) -> None:
    """Each sender sends in a loop until the server dies (or `stop`)."""
    async def one(idx: int, s: Sender) -> None:
        rnd = random.Random(cycle * 100 + idx)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            i = 0
            while not stop.is_set():
                i += 1
                kind = rnd.random()
                try:
                    if kind < 0.75:
                        txn = f"c{cycle}-{idx}-{i}"
                        room = rooms[rnd.randrange(len(rooms))]
                        content = {"msgtype": "m.text", "body": f"{s.user_id} {txn}"}
                        s.pending[txn] = (room, content)
                        r = await http.put(f"{API}/rooms/{room}/send/m.room.message/{txn}", json=content,
                                           headers=s.headers)
                        r.raise_for_status()
                        del s.pending[txn]
                        s.acked.append((txn, room, r.json()["event_id"]))
                    elif kind < 0.85:
                        txn = f"td{cycle}-{idx}-{i}"
                        msg = {"messages": {inbox.user_id: {inbox.device_id: {"id": txn}}}}
                        s.to_device_pending[txn] = msg
                        r = await http.put(f"{API}/sendToDevice/org.hearth.test/{txn}", json=msg, headers=s.headers)
                        r.raise_for_status()
                        del s.to_device_pending[txn]
                        s.to_device_acked.append(txn)
                    elif kind < 0.93:
                        typ = f"org.hearth.test.c{cycle}.{i}"
                        content = {"n": i, "cycle": cycle}
                        r = await http.put(f"{API}/user/{s.user_id}/account_data/{typ}", json=content,
                                           headers=s.headers)
                        r.raise_for_status()
                        s.account_data_acked[typ] = content
                    else:
                        await check_sync(http, s)
                except (httpx.TransportError, httpx.HTTPStatusError):
                    return  # the server is gone; what was not acknowledged stays pending
    await asyncio.gather(*(one(i, s) for i, s in enumerate(senders)))


async def after_restart(base: str, senders: list[Sender], inbox: Sender) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for s in senders:
            await check_sync(http, s)  # tokens from before the crash are valid and only move forwards
            for txn, (room, content) in list(s.pending.items()):  # answers lost in the kill: retry
                r = await http.put(f"{API}/rooms/{room}/send/m.room.message/{txn}", json=content, headers=s.headers)
                assert r.status_code == 200, r.text
                s.acked.append((txn, room, r.json()["event_id"]))
                del s.pending[txn]
            for txn, msg in list(s.to_device_pending.items()):
                r = await http.put(f"{API}/sendToDevice/org.hearth.test/{txn}", json=msg, headers=s.headers)
                assert r.status_code == 200, r.text
                s.to_device_acked.append(txn)
                del s.to_device_pending[txn]
            for txn, room, event_id in random.sample(s.acked, min(3, len(s.acked))):
                content = {"msgtype": "m.text", "body": f"{s.user_id} {txn}"}
                r = await http.put(f"{API}/rooms/{room}/send/m.room.message/{txn}", json=content, headers=s.headers)
                assert r.status_code == 200 and r.json()["event_id"] == event_id, (txn, r.text)


async def final_checks(base: str, senders: list[Sender], rooms: list[str], inbox: Sender) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        h = senders[0].headers
        timeline: dict[str, list[tuple[str, str, str]]] = {}
        for room in rooms:
            events, frm = [], None
            while True:
                params = {"dir": "f", "limit": "500"}
                if frm:
                    params["from"] = frm
                r = await http.get(f"{API}/rooms/{room}/messages", params=params, headers=h)
                r.raise_for_status()
                j = r.json()
                events += [(e["event_id"], e["sender"], e["content"].get("body", ""))
                           for e in j["chunk"] if e["type"] == "m.room.message"]
                if not j.get("end") or not j["chunk"]:
                    break
                frm = j["end"]
            timeline[room] = events
        total = 0
        for s in senders:
            for room in rooms:
                mine = [e for e in timeline[room] if e[1] == s.user_id]
                bodies = [b for _, _, b in mine]
                assert len(bodies) == len(set(bodies)), f"duplicated transaction in {room}"
                expected = [eid for txn, rm, eid in s.acked if rm == room]
                # The acknowledged events, each once, in the order the sender sent them.
                assert [eid for eid, _, _ in mine] == expected
                total += len(expected)
            for txn, room, eid in random.sample(s.acked, min(5, len(s.acked))):
                r = await http.get(f"{API}/rooms/{room}/event/{eid}", headers=s.headers)
                assert r.status_code == 200 and r.json()["content"]["body"].endswith(txn)
            for typ, content in s.account_data_acked.items():
                r = await http.get(f"{API}/user/{s.user_id}/account_data/{typ}", headers=s.headers)
                assert r.status_code == 200 and r.json() == content, (typ, r.text)
        # Every acknowledged to-device message is delivered to the inbox device, exactly once.
        got: list[str] = []
        since = None
        for _ in range(200):
            params = {"timeout": "0"} | ({"since": since} if since else {})
            r = await http.get(API + "/sync", params=params, headers=inbox.headers)
            r.raise_for_status()
            j = r.json()
            batch = [e["content"]["id"] for e in j.get("to_device", {}).get("events", [])
                     if e["type"] == "org.hearth.test"]
            got += batch
            if since is not None and not batch:
                break
            since = j["next_batch"]
        acked = [t for s in senders for t in s.to_device_acked]
        assert sorted(got) == sorted(set(got)), "a to-device message was delivered twice"
        assert set(acked) <= set(got)
        return total


async def test_kill9_loses_nothing_acknowledged(tmp_path):
    data = tmp_path / "data"
    srv = start_server(data)
    rnd = random.Random(int(os.environ.get("HEARTH_KILL9_SEED", time.time())))
    try:
        senders = [register(srv.base_url, f"u{i}") for i in range(USERS)]
        inbox = login_inbox(srv.base_url, senders[0])
        rooms = []
        for _ in range(ROOMS):
            r = httpx.post(srv.base_url + API + "/createRoom", json={"preset": "public_chat"},
                           headers=senders[0].headers)
            rooms.append(r.json()["room_id"])
            for s in senders[1:]:
                r = httpx.post(srv.base_url + API + f"/rooms/{rooms[-1]}/join", json={}, headers=s.headers)
                r.raise_for_status()
        for cycle in range(CYCLES):
            if cycle:
                srv = start_server(data)
                await after_restart(srv.base_url, senders, inbox)
            stop = asyncio.Event()
            task = asyncio.create_task(load(srv.base_url, senders, rooms, inbox, cycle, stop))
            await asyncio.sleep(rnd.uniform(0.2, 1.0))
            srv.process.kill()  # kill -9, mid-flight
            srv.process.wait(10)
            stop.set()
            await asyncio.wait_for(task, 30)
        srv = start_server(data)
        await after_restart(srv.base_url, senders, inbox)
        total = await final_checks(srv.base_url, senders, rooms, inbox)
        assert total > CYCLES * 5  # the load did run
    finally:
        srv.stop()
    conn = sqlite3.connect(data / "hearth.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
