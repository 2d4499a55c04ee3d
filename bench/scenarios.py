"""The scenarios. Each has a `setup` (run once per server, not timed) and a `run(rep)` that
returns the figures of one repetition. The runner calls run for A, B, A, B, … so that a noisy
machine does not favour one side.
"""
from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .client import Api, User, message_text
from .servers import Server


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


async def bounded(n: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    sem = asyncio.Semaphore(n)

    async def one(job):
        async with sem:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


@dataclass
class Ctx:
    """Per server: the process, the API client and the pool of registered users."""

    server: Server
    api: Api
    args: Any
    progress: Callable[[str], None]
    pool: list[User] = field(default_factory=list)
    named: dict[str, User] = field(default_factory=dict)
    serial: int = 0

    async def users(self, k: int) -> list[User]:
        """The first k users of the pool, registering more (untimed) if needed."""
        missing = k - len(self.pool)
        if missing > 0:
            base = self.serial
            self.serial += missing
            new = await bounded(8, [lambda i=i: self.api.register(f"p{base + i}") for i in range(missing)])
            self.pool += new
        return self.pool[:k]

    async def user(self, name: str) -> User:
        """A dedicated user, outside the pool."""
        if name not in self.named:
            self.named[name] = await self.api.register(name)
        return self.named[name]


class Scenario:
    name = ""

    async def setup(self, ctx: Ctx) -> None:
        pass

    async def run(self, ctx: Ctx, rep: int) -> dict[str, float]:
        raise NotImplementedError


class Register(Scenario):
    name = "register"

    async def run(self, ctx, rep):
        n = ctx.args.register_users
        lat: list[float] = []
        base = ctx.serial
        ctx.serial += n

        async def one(i):
            t = time.perf_counter()
            u = await ctx.api.register(f"p{base + i}")
            lat.append(time.perf_counter() - t)
            return u

        t0 = time.perf_counter()
        users = await bounded(ctx.args.register_concurrency, [lambda i=i: one(i) for i in range(n)])
        wall = time.perf_counter() - t0
        ctx.pool += users
        return {"register_users_per_s": n / wall, "register_p50_ms": percentile(lat, 50) * 1000}


class SendThroughput(Scenario):
    """Many users sending at once into many rooms: each user is in two rooms and alternates."""

    name = "send"

    async def setup(self, ctx):
        a = ctx.args
        users = await ctx.users(a.senders)
        owner = users[0]
        self.rooms = await bounded(4, [lambda: ctx.api.create_room(owner) for _ in range(a.rooms)])
        joins = []
        for i, u in enumerate(users[1:], 1):
            for r in {self.rooms[i % a.rooms], self.rooms[(i + 1) % a.rooms]}:
                joins.append(lambda u=u, r=r: ctx.api.join(u, r))
        await bounded(8, joins)
        self.users = users

    def rooms_of(self, i: int) -> list[str]:
        n = len(self.rooms)
        return [self.rooms[i % n], self.rooms[(i + 1) % n]]

    async def run(self, ctx, rep):
        a = ctx.args
        lat: list[float] = []

        async def sender(i: int, u: User):
            rooms = self.rooms_of(i)
            for k in range(a.messages):
                t = time.perf_counter()
                await ctx.api.send(u, rooms[k % 2], message_text(k))
                lat.append(time.perf_counter() - t)

        cpu0 = ctx.server.cpu()
        t0 = time.perf_counter()
        await asyncio.gather(*(sender(i, u) for i, u in enumerate(self.users)))
        wall = time.perf_counter() - t0
        cpu = ctx.server.cpu() - cpu0
        total = len(lat)
        return {
            "send_events_per_s": total / wall,
            "send_p50_ms": percentile(lat, 50) * 1000,
            "send_p95_ms": percentile(lat, 95) * 1000,
            "send_p99_ms": percentile(lat, 99) * 1000,
            "send_server_cpu_ms_per_event": cpu * 1000 / total,
        }


class Delivery(Scenario):
    """User A sends, user B's long-poll /sync receives it: idle, then with background senders."""

    name = "delivery"

    async def setup(self, ctx):
        self.a = await ctx.user("deliver_a")
        self.b = await ctx.user("deliver_b")
        self.room = await ctx.api.create_room(self.a)
        await ctx.api.join(self.b, self.room)
        self.since = (await ctx.api.sync(self.b))["next_batch"]
        # Background senders: their own rooms, each sender alternating between two of them.
        self.bg_users = await ctx.users(ctx.args.bg_senders)
        owner = self.bg_users[0]
        self.bg_rooms = [await ctx.api.create_room(owner) for _ in range(max(2, len(self.bg_users) // 2))]
        await bounded(8, [lambda u=u, r=r: ctx.api.join(u, r) for u in self.bg_users[1:] for r in self.bg_rooms_of(u)])
        self.serial = 0

    def bg_rooms_of(self, u: User) -> list[str]:
        i = self.bg_users.index(u)
        n = len(self.bg_rooms)
        return [self.bg_rooms[i % n], self.bg_rooms[(i + 1) % n]]

    async def sample(self, ctx) -> float:
        self.serial += 1
        marker = f"delivery probe {self.serial}"
        poll = asyncio.create_task(ctx.api.sync(self.b, self.since, timeout_ms=30_000))
        await asyncio.sleep(0.05)  # let the long-poll park on the server
        t0 = time.perf_counter()
        await ctx.api.send(self.a, self.room, marker)
        while True:
            resp = await poll
            self.since = resp["next_batch"]
            events = resp.get("rooms", {}).get("join", {}).get(self.room, {}).get("timeline", {}).get("events", [])
            if any(e.get("content", {}).get("body") == marker for e in events):
                return time.perf_counter() - t0
            poll = asyncio.create_task(ctx.api.sync(self.b, self.since, timeout_ms=30_000))

    async def run(self, ctx, rep):
        a = ctx.args
        idle = [await self.sample(ctx) for _ in range(a.delivery_samples)]

        stop = asyncio.Event()
        sent = 0

        async def background(u: User):
            nonlocal sent
            rooms = self.bg_rooms_of(u)
            k = 0
            while not stop.is_set():
                await ctx.api.send(u, rooms[k % 2], message_text(k))
                k += 1
                sent += 1

        tasks = [asyncio.create_task(background(u)) for u in self.bg_users]
        await asyncio.sleep(0.5)
        t0, s0 = time.perf_counter(), sent
        loaded = [await self.sample(ctx) for _ in range(a.delivery_samples)]
        bg_rate = (sent - s0) / (time.perf_counter() - t0)
        stop.set()
        await asyncio.gather(*tasks)
        return {
            "delivery_idle_p50_ms": percentile(idle, 50) * 1000,
            "delivery_idle_p99_ms": percentile(idle, 99) * 1000,
            "delivery_load_p50_ms": percentile(loaded, 50) * 1000,
            "delivery_load_p99_ms": percentile(loaded, 99) * 1000,
            "delivery_background_events_per_s": bg_rate,
        }


class SyncScenario(Scenario):
    """A user in many rooms with history: a new device's initial /sync, then an incremental one."""

    name = "sync"

    async def setup(self, ctx):
        a = ctx.args
        self.user = await ctx.user("syncer")
        self.rooms = await bounded(4, [lambda: ctx.api.create_room(self.user) for _ in range(a.sync_rooms)])

        async def history(room):
            for k in range(a.sync_history):
                await ctx.api.send(self.user, room, message_text(k))

        await bounded(8, [lambda r=r: history(r) for r in self.rooms])

    async def run(self, ctx, rep):
        device = await ctx.api.login(self.user.user_id)
        t0 = time.perf_counter()
        first = await ctx.api.sync(device)
        initial = time.perf_counter() - t0
        joined = len(first.get("rooms", {}).get("join", {}))
        if joined != len(self.rooms):
            raise RuntimeError(f"initial sync shows {joined} joined rooms, expected {len(self.rooms)}")
        await ctx.api.send(self.user, self.rooms[rep % len(self.rooms)], message_text(rep))
        t0 = time.perf_counter()
        await ctx.api.sync(device, first["next_batch"])
        incremental = time.perf_counter() - t0
        return {"initial_sync_ms": initial * 1000, "incremental_sync_ms": incremental * 1000}


# What Element X's room list asks for (matrix-rust-sdk's RoomListService: the "all_rooms" list,
# the first page of 20, one event of timeline, its required_state).
ELEMENT_X_REQUIRED_STATE = [
    ["m.room.name", ""], ["m.room.encryption", ""], ["m.room.member", "$LAZY"], ["m.room.member", "$ME"],
    ["m.room.topic", ""], ["m.room.avatar", ""], ["m.room.canonical_alias", ""], ["m.room.power_levels", ""],
    ["org.matrix.msc3401.call.member", "*"], ["m.room.join_rules", ""], ["m.room.tombstone", ""],
    ["m.room.create", ""], ["m.room.history_visibility", ""], ["io.element.functional_members", ""],
    ["m.space.parent", "*"], ["m.space.child", "*"]]


def element_x_room_list() -> dict:
    return {"conn_id": "room-list",
            "lists": {"all_rooms": {"ranges": [[0, 19]], "timeline_limit": 1,
                                    "required_state": ELEMENT_X_REQUIRED_STATE}},
            "extensions": {"account_data": {"enabled": True},
                           "receipts": {"enabled": True, "rooms": ["*"]}, "typing": {"enabled": True}}}


class SlidingSync(Scenario):
    """Simplified sliding sync (MSC4186) as Element X uses it: a new device's first room list for
    a person in many rooms, and a message's delivery to a waiting sliding-sync request."""

    name = "sliding"

    async def setup(self, ctx):
        a = ctx.args
        self.user = await ctx.user("slider")
        self.sender = await ctx.user("slider_friend")
        self.rooms = await bounded(4, [lambda: ctx.api.create_room(self.user) for _ in range(a.ss_rooms)])
        await bounded(8, [lambda r=r: ctx.api.send(self.user, r, message_text(0)) for r in self.rooms])
        self.room = self.rooms[0]
        await ctx.api.join(self.sender, self.room)
        self.serial = 0
        # Untimed: the server's first sliding-sync request of its life (a phone has made many
        # before a new one signs in) loads the handler's module on Hearth.
        await ctx.api.sliding_sync(self.sender, element_x_room_list())

    async def run(self, ctx, rep):
        a = ctx.args
        device = await ctx.api.login(self.user.user_id)
        t0 = time.perf_counter()
        first = await ctx.api.sliding_sync(device, element_x_room_list())
        first_s = time.perf_counter() - t0
        count = first.get("lists", {}).get("all_rooms", {}).get("count")
        if count != len(self.rooms) or len(first.get("rooms", {})) != min(20, len(self.rooms)):
            raise RuntimeError(f"first room list: count {count}, {len(first.get('rooms', {}))} rooms")
        pos = first["pos"]
        samples = []
        body = element_x_room_list()
        for _ in range(a.delivery_samples):
            self.serial += 1
            marker = f"sliding probe {self.serial}"
            poll = asyncio.create_task(ctx.api.sliding_sync(device, body, pos, timeout_ms=30_000))
            await asyncio.sleep(0.05)  # let the long-poll park on the server
            t0 = time.perf_counter()
            await ctx.api.send(self.sender, self.room, marker)
            while True:
                resp = await poll
                pos = resp["pos"]
                events = resp.get("rooms", {}).get(self.room, {}).get("timeline", [])
                if any(e.get("content", {}).get("body") == marker for e in events):
                    samples.append(time.perf_counter() - t0)
                    break
                poll = asyncio.create_task(ctx.api.sliding_sync(device, body, pos, timeout_ms=30_000))
        return {"ss_first_list_ms": first_s * 1000,
                "ss_delivery_p50_ms": percentile(samples, 50) * 1000,
                "ss_delivery_p99_ms": percentile(samples, 99) * 1000}


class Join(Scenario):
    """Joining a room that has many members and many state events."""

    name = "join"

    async def setup(self, ctx):
        a = ctx.args
        members = await ctx.users(a.join_members)
        owner = members[0]
        self.room = await ctx.api.create_room(owner)
        await bounded(8, [lambda u=u: ctx.api.join(u, self.room) for u in members[1:]])
        for i in range(a.join_state):
            await ctx.api.set_state(owner, self.room, "org.example.bench.state", f"key{i}", {"value": i})
        self.joiners = [await ctx.user(f"joiner{i}") for i in range(a.reps * a.joiners)]

    async def run(self, ctx, rep):
        a = ctx.args
        lat = []
        for u in self.joiners[rep * a.joiners:(rep + 1) * a.joiners]:
            t0 = time.perf_counter()
            await ctx.api.join(u, self.room)
            lat.append(time.perf_counter() - t0)
        return {"join_ms": statistics.median(lat) * 1000}


class Ingest(Scenario):
    """A long room history as fast as possible: one user sending one after the other, then a
    batch of concurrent senders in the same room. Disk figures come from the sequential part."""

    name = "ingest"

    async def setup(self, ctx):
        a = ctx.args
        self.user = await ctx.user("ingester")
        self.room = await ctx.api.create_room(self.user)
        self.senders = await ctx.users(a.ingest_senders)
        await bounded(8, [lambda u=u: ctx.api.join(u, self.room) for u in self.senders])

    async def run(self, ctx, rep):
        a = ctx.args
        srv = ctx.server
        await asyncio.sleep(0.5)
        size0, written0 = srv.db_size(), srv.written()
        t0 = time.perf_counter()
        for k in range(a.ingest_events):
            await ctx.api.send(self.user, self.room, message_text(k))
        seq = a.ingest_events / (time.perf_counter() - t0)
        await asyncio.sleep(1.0)  # background work triggered by the sends lands on disk too
        size1, written1 = srv.db_size(), srv.written()

        per = max(1, a.ingest_events // len(self.senders))

        async def sender(u):
            for k in range(per):
                await ctx.api.send(u, self.room, message_text(k))

        t0 = time.perf_counter()
        await asyncio.gather(*(sender(u) for u in self.senders))
        conc = per * len(self.senders) / (time.perf_counter() - t0)
        return {
            "ingest_seq_events_per_s": seq,
            "ingest_concurrent_events_per_s": conc,
            "db_bytes_per_message": (size1 - size0) / a.ingest_events,
            "db_bytes_per_1000_messages": (size1 - size0) / a.ingest_events * 1000,
            "written_bytes_per_message": (written1 - written0) / a.ingest_events,
        }


ALL = [Register, SendThroughput, Delivery, SyncScenario, SlidingSync, Join, Ingest]
