"""The bridges' two figures (issue 14), each beside Synapse taking the same events the way a bridge
that is an application service gives them to it: PUT /send as the ghost, with `ts`, over the
Client-Server API.

- **backfill**: history into a portal. Hearth: the benchmark's own plugin (bench/plugins, switched
  on for this scenario only) told `!backfill N` in its management room fills a portal through the
  bridge host's batch path; timed from the command to its answer. Synapse: the same N messages
  from ten ghosts, one after the other (a history keeps its order), timed from the first to the
  last answer.
- **irc**: messages bridged from IRC to Matrix. Hearth: a real IRC server (Debian's ngIRCd, as the
  tests use) and the IRC bridge; SPEAKERS plain IRC clients say N lines in a channel between them
  as fast as they can (ngIRCd lets one client say about 3 lines a second, so one speaker would
  measure ngIRCd) and a Matrix user's long-polling /sync counts them in the portal, timed from the
  first line to the last arrival. Synapse: the N lines sent by the IRC users' ghosts as an appservice would,
  timed the same way to the last arrival at the same kind of /sync.
"""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from .client import PREFIX, Api, User, q
from .scenarios import Ctx, Scenario
from .servers import SERVER_NAME, HearthServer, SynapseServer

SPEAKERS = 100


async def _wait_for(api: Api, user: User, room_id: str, since: str, predicate, timeout: float = 600.0) -> str:
    """Long-poll /sync until `predicate(events)` holds for the room's events since `since` (read
    with /messages once /sync says something arrived: a busy room's /sync timeline is limited);
    returns the last next_batch."""
    deadline = time.monotonic() + timeout
    start = since
    while time.monotonic() < deadline:
        resp = await api.sync(user, since, timeout_ms=10_000)
        since = resp["next_batch"]
        if room_id not in resp.get("rooms", {}).get("join", {}):
            continue
        events: list[dict] = []
        token = None
        while True:  # everything after `start`, newest first, page by page
            params = {"dir": "b", "limit": "1000", "to": start}
            if token:
                params["from"] = token
            page = await api.call("GET", f"/rooms/{q(room_id)}/messages", user, params=params)
            events += page.get("chunk", [])
            token = page.get("end")
            if not page.get("chunk") or not token:
                break
        if predicate(events):
            return since
    raise RuntimeError("what was expected never arrived")


class _AppService:
    """Synapse's side: the bench appservice (SynapseServer.appservice) acting as its ghosts."""

    def __init__(self, api: Api, server: SynapseServer):
        self.api = api
        self.token = server.appservice["as_token"]

    async def call(self, method: str, path: str, body: dict | None = None, params: str = "") -> dict:
        r = await self.api.http.request(method, PREFIX + path + params, json.dumps(body or {}).encode(),
                                        {"Authorization": f"Bearer {self.token}"})
        if r.status != 200 and not (r.status == 400 and "M_USER_IN_USE" in r.text):
            raise RuntimeError(f"appservice {method} {path}: {r.status} {r.text[:200]}")
        return r.json()

    async def ghost(self, localpart: str) -> str:
        await self.call("POST", "/register", {"type": "m.login.application_service", "username": localpart,
                                              "inhibit_login": True})
        return f"@{localpart}:{SERVER_NAME}"

    async def room_with(self, ghosts: list[str], person: User) -> str:
        room = (await self.call("POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
        for g in ghosts:
            await self.call("POST", f"/join/{q(room)}", {}, f"?user_id={q(g)}")
        await self.api.join(person, room)
        return room

    async def send(self, room: str, ghost: str, body: str, ts: int, txn: str) -> None:
        await self.call("PUT", f"/rooms/{q(room)}/send/m.room.message/{txn}", {"msgtype": "m.text", "body": body},
                        f"?user_id={q(ghost)}&ts={ts}")


class BridgeBackfill(Scenario):
    name = "backfill"

    async def setup(self, ctx: Ctx) -> None:
        self.person = await ctx.user("historian")
        if isinstance(ctx.server, HearthServer):
            ctx.server.cli("bridges", "enable", "benchbf")
            bot = f"@benchbfbot:{SERVER_NAME}"
            deadline = time.monotonic() + 30
            while (await ctx.api.http.request("GET", f"{PREFIX}/profile/{q(bot)}")).status != 200:
                if time.monotonic() > deadline:  # the bridge starts within a few seconds; its bot exists then
                    raise RuntimeError("the benchmark's bridge did not start")
                await asyncio.sleep(0.3)
            await asyncio.sleep(0.5)  # and follows the stream from then on
            self.since = (await ctx.api.sync(self.person))["next_batch"]
            self.manage = await ctx.api.create_room(self.person, preset="private_chat", invite=[bot])
            self.since = await _wait_for(ctx.api, self.person, self.manage, self.since,
                                         lambda evs: any(e.get("sender") == bot for e in evs), 60)
        else:
            self.appservice = _AppService(ctx.api, ctx.server)
            self.ghosts = [await self.appservice.ghost(f"bench_person{i}") for i in range(10)]

    async def run(self, ctx: Ctx, rep: int) -> dict[str, float]:
        n = ctx.args.backfill_events
        if isinstance(ctx.server, HearthServer):
            t0 = time.perf_counter()
            await ctx.api.send(self.person, self.manage, f"!backfill {n} history{rep}")
            self.since = await _wait_for(ctx.api, self.person, self.manage, self.since,
                                         lambda evs: any(str(e.get("content", {}).get("body", "")).startswith(
                                             f"backfilled {n}") for e in evs))
            elapsed = time.perf_counter() - t0
        else:
            room = await self.appservice.room_with(self.ghosts, self.person)
            start = 1_600_000_000_000
            t0 = time.perf_counter()
            for i in range(n):
                await self.appservice.send(room, self.ghosts[i % 10], f"Old message {i:08d} of the history",
                                           start + i * 1000, f"bf{rep}.{i}")
            elapsed = time.perf_counter() - t0
        return {"bridge_backfill_events_per_s": n / elapsed}


class IrcBridged(Scenario):
    name = "irc"

    async def setup(self, ctx: Ctx) -> None:
        self.person = await ctx.user("ircfan")
        if isinstance(ctx.server, HearthServer):
            from tests.irc_server import IrcClient, start_irc_server

            self.ircd = start_irc_server(Path(ctx.server.data_dir).parent / "ngircd")
            ctx.server.cli("bridges", "set", "irc", "networks=" + json.dumps([f"bench 127.0.0.1:{self.ircd.port}"]))
            ctx.server.cli("bridges", "enable", "irc")
            self.speakers = [await IrcClient.connect(self.ircd.port, f"speaker{i}") for i in range(SPEAKERS)]
            for speaker in self.speakers:
                await speaker.send("JOIN #bench")
            self.speaker = self.speakers[0]
            deadline = time.monotonic() + 30
            while True:
                try:
                    self.room = (await ctx.api.call("POST", f"/join/{q('#irc_bench_#bench:' + SERVER_NAME)}",
                                                    self.person, {}))["room_id"]
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            await self.speaker.wait_for(lambda line: line.startswith(":ircfan") and "JOIN" in line, 30)
        else:
            self.appservice = _AppService(ctx.api, ctx.server)
            self.ghost = await self.appservice.ghost("bench_speaker")
            self.room = await self.appservice.room_with([self.ghost], self.person)
        self.since = (await ctx.api.sync(self.person))["next_batch"]

    async def run(self, ctx: Ctx, rep: int) -> dict[str, float]:
        n = ctx.args.irc_lines
        marker = f"r{rep}"
        waiter = asyncio.create_task(_wait_for(
            ctx.api, self.person, self.room, self.since,
            lambda evs: sum(1 for e in evs if str(e.get("content", {}).get("body", "")).startswith(f"irc {marker} "))
            >= n))
        t0 = time.perf_counter()
        if isinstance(ctx.server, HearthServer):
            await asyncio.gather(*(speaker.send(*[f"PRIVMSG #bench :irc {marker} line {i:06d}"
                                                  for i in range(k, n, len(self.speakers))])
                                   for k, speaker in enumerate(self.speakers)))
        else:
            now = int(time.time() * 1000)
            for i in range(n):
                await self.appservice.send(self.room, self.ghost, f"irc {marker} line {i:06d}", now + i, f"irc{rep}.{i}")
        self.since = await waiter
        return {"bridge_irc_to_matrix_per_s": n / (time.perf_counter() - t0)}

    def close(self) -> None:
        for speaker in getattr(self, "speakers", []):
            speaker.writer.close()
        if getattr(self, "ircd", None) is not None:
            self.ircd.stop()


SCENARIOS = [BridgeBackfill, IrcBridged]
