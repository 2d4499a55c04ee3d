"""A household's day (issue 19): what a family's server does, replayed as fast as it allows.

Ten people, each with four devices (a desktop and a phone that sync, two idle ones that never
do: their to-device messages pile up, as a forgotten tablet's do). Sixty rooms: a DM for every
pair (45, encrypted: `m.room.encrypted` events and a room-key share to the other's devices every
so often), a family room with everyone, ten group rooms of four to six, four spaces holding them.
The day is a fixed plan (a seeded random generator, the same for every server): `--household-
messages` events, of which about 8% reactions and 4% edits of recent messages, `--household-images`
image uploads with their `m.image` events, read receipts after a third of the messages and typing
notifications before a tenth. Each person sends their share of the plan one after the other, all
ten at once.

Every sent event carries its plan number (`SEQ` in its content); the desktops' long-polling
/sync loops note when each arrives, so delivery is measured from just before the send to the
arrival at each recipient's desktop, on every event. Memory is sampled every 0.2 s for the peak.
At the end, an online backup: Hearth's own (`hearth backup`, encrypted and verified) beside
SQLite's online backup API and a copy of the media store for Synapse.

The figures: peak and final resident memory, server CPU seconds, bytes written to disk per event
(an SD card's wear), delivery p50/p99, database and media size, backup time, events per second.
"""
from __future__ import annotations

import asyncio
import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .client import Api, User, q
from .scenarios import Ctx, Scenario, bounded, percentile
from .servers import SERVER_NAME, HearthServer, SynapseServer

SEQ = "org.hearth.bench.seq"
PEOPLE = 10
GROUPS = 10
SPACES = 4
MIB = 1024 * 1024


@dataclass
class Person:
    name: str
    desktop: User
    phone: User
    idle: list[User]


@dataclass
class Room:
    room_id: str
    members: list[int]
    encrypted: bool


@dataclass(frozen=True)
class Action:
    seq: int
    sender: int
    room: int
    kind: str          # "text", "reaction", "edit", "image", "encrypted"
    receipt_by: int | None = None
    typing_first: bool = False


def plan_day(rooms: list[Room], messages: int, images: int, seed: int = 2026) -> list[Action]:
    """The day's events, the same for every server: who sends what where, in order."""
    rng = random.Random(seed)
    image_at = set(rng.sample(range(messages), min(images, messages)))
    # Busy rooms are busier: the family room and the groups take half of the traffic.
    weights = [8.0 if len(r.members) == PEOPLE else 3.0 if len(r.members) > 2 else 1.0 for r in rooms]
    out = []
    for seq in range(messages):
        room_index = rng.choices(range(len(rooms)), weights)[0]
        room = rooms[room_index]
        sender = rng.choice(room.members)
        if room.encrypted:
            kind = "encrypted"
        elif seq in image_at:
            kind = "image"
        else:
            roll = rng.random()
            kind = "reaction" if roll < 0.08 else "edit" if roll < 0.12 else "text"
        others = [m for m in room.members if m != sender]
        receipt_by = rng.choice(others) if others and rng.random() < 0.33 else None
        out.append(Action(seq, sender, room_index, kind, receipt_by, rng.random() < 0.1))
    return out


def jpeg(rng: random.Random, index: int) -> bytes:
    """A real JPEG of a photo's kind of size (noise compresses badly: 30-120 KB)."""
    from PIL import Image

    w, h = rng.choice([(320, 240), (480, 360), (640, 480)])
    img = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=60)
    return buf.getvalue()


@dataclass
class _Arrivals:
    sent_at: dict[int, float] = field(default_factory=dict)      # seq → just before the send
    recipients: dict[int, set[int]] = field(default_factory=dict)  # seq → desktops still to see it
    latencies: list[float] = field(default_factory=list)
    all_seen: asyncio.Event = field(default_factory=asyncio.Event)
    sending_done: bool = False

    def seen(self, person: int, seq: int, now: float) -> None:
        waiting = self.recipients.get(seq)
        if waiting is None or person not in waiting or seq not in self.sent_at:
            return
        waiting.discard(person)
        self.latencies.append(now - self.sent_at[seq])
        if not waiting:
            del self.recipients[seq]
            if self.sending_done and not self.recipients:
                self.all_seen.set()


class Household(Scenario):
    name = "household"

    async def setup(self, ctx: Ctx) -> None:
        api = ctx.api
        ctx.progress("household: ten people, four devices each")
        self.people: list[Person] = []
        for i in range(PEOPLE):
            desktop = await ctx.user(f"hh{i}")
            phone, *idle = [await api.login(desktop.user_id) for _ in range(3)]
            self.people.append(Person(f"hh{i}", desktop, phone, idle))
        ctx.progress("household: sixty rooms")
        rng = random.Random(7)
        rooms: list[Room] = []
        everyone = list(range(PEOPLE))
        rooms.append(Room(await api.create_room(self.people[0].desktop, preset="private_chat", name="Family"),
                          everyone, False))
        for g in range(GROUPS):
            members = rng.sample(everyone, rng.randint(4, 6))
            rooms.append(Room(await api.create_room(self.people[members[0]].desktop, preset="private_chat",
                                                    name=f"Group {g}"), members, False))
        for a in range(PEOPLE):
            for b in range(a + 1, PEOPLE):
                room_id = await api.create_room(
                    self.people[a].desktop, preset="trusted_private_chat", is_direct=True,
                    initial_state=[{"type": "m.room.encryption", "state_key": "",
                                    "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
                rooms.append(Room(room_id, [a, b], True))
        # Everyone joins by invite, as in a real family (the creator invites).
        invites = []
        for r in rooms:
            creator = self.people[r.members[0]].desktop
            for m in r.members[1:]:
                invites.append((r, creator, self.people[m].desktop))
        await bounded(8, [lambda r=r, c=c, u=u: api.call("POST", f"/rooms/{q(r.room_id)}/invite", c,
                                                         {"user_id": u.user_id}) for r, c, u in invites])
        await bounded(8, [lambda r=r, u=u: api.join(u, r.room_id) for r, _c, u in invites])
        for s in range(SPACES):
            space = await api.create_room(self.people[0].desktop, preset="private_chat", name=f"Space {s}",
                                          creation_content={"type": "m.space"})
            for r in rooms[s::SPACES][:6]:
                await api.set_state(self.people[0].desktop, space, "m.space.child", r.room_id,
                                    {"via": [SERVER_NAME]})
        self.rooms = rooms
        self.plan = plan_day(rooms, ctx.args.household_messages, ctx.args.household_images)
        img_rng = random.Random(11)
        ctx.progress("household: photos")
        self.photos = [jpeg(img_rng, i) for i in range(min(ctx.args.household_images, 40))]

    async def _sync_loop(self, api: Api, person: int, user: User, arrivals: _Arrivals | None,
                         stop: asyncio.Event, filter_: str | None) -> None:
        since = (await api.sync(user, filter_=filter_))["next_batch"]
        while not stop.is_set():
            try:
                resp = await api.sync(user, since, timeout_ms=5_000, filter_=filter_)
            except Exception:
                if stop.is_set():
                    return
                raise
            now = time.perf_counter()
            since = resp["next_batch"]
            if arrivals is None:
                continue
            for room in resp.get("rooms", {}).get("join", {}).values():
                for ev in room.get("timeline", {}).get("events", []):
                    seq = ev.get("content", {}).get(SEQ)
                    if isinstance(seq, int):
                        arrivals.seen(person, seq, now)

    async def _send(self, ctx: Ctx, a: Action, recent: dict[int, list[str]], arrivals: _Arrivals,
                    photo_index: list[int]) -> None:
        api = ctx.api
        me = self.people[a.sender].desktop
        room = self.rooms[a.room]
        path = f"/rooms/{q(room.room_id)}"
        if a.typing_first:
            await api.call("PUT", f"{path}/typing/{q(me.user_id)}", me, {"typing": True, "timeout": 10_000})
        previous = recent.get(a.room) or []
        if a.kind == "encrypted":
            ev_type, content = "m.room.encrypted", {
                "algorithm": "m.megolm.v1.aes-sha2", "sender_key": "x" * 43, "device_id": me.device_id,
                "session_id": f"s{a.room}", "ciphertext": "A" * random.Random(a.seq).randint(150, 600)}
        elif a.kind == "reaction" and previous:
            # A person reacts to a message once per key (servers refuse the same reaction twice:
            # M_DUPLICATE_ANNOTATION); the sequence number makes each key new.
            ev_type, content = "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": previous[-1],
                                                               "key": f"👍 {a.seq}"}}
        elif a.kind == "edit" and previous:
            ev_type, content = "m.room.message", {
                "msgtype": "m.text", "body": f"* corrected {a.seq}",
                "m.new_content": {"msgtype": "m.text", "body": f"corrected {a.seq}"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": previous[-1]}}
        elif a.kind == "image":
            data = self.photos[photo_index[0] % len(self.photos)]
            photo_index[0] += 1
            r = await api.http.request("POST", "/_matrix/media/v3/upload?filename=photo.jpg", data, me.headers,
                                       content_type="image/jpeg")
            if r.status != 200:
                raise RuntimeError(f"upload: {r.status} {r.text[:200]}")
            ev_type, content = "m.room.message", {"msgtype": "m.image", "body": "photo.jpg", "url": r.json()["content_uri"],
                                                  "info": {"mimetype": "image/jpeg", "size": len(data)}}
        else:
            ev_type, content = "m.room.message", {"msgtype": "m.text",
                                                  "body": f"Message {a.seq} of the day: see you at dinner?"}
        content[SEQ] = a.seq
        arrivals.recipients[a.seq] = {m for m in room.members if m != a.sender}
        arrivals.sent_at[a.seq] = time.perf_counter()
        d = await api.call("PUT", f"{path}/send/{q(ev_type)}/hh{a.seq}.{time.monotonic_ns()}", me, content)
        if ev_type == "m.room.message" and a.kind in ("text", "image"):
            recent.setdefault(a.room, []).append(d["event_id"])
            del recent[a.room][:-5]
        if a.kind == "encrypted" and a.seq % 25 == 0:  # a room-key share to every device of the other
            other = self.people[next(m for m in room.members if m != a.sender)]
            messages = {other.desktop.user_id: {dev.device_id: {"algorithm": "m.olm.v1.curve25519-aes-sha2",
                                                                "ciphertext": {"k": {"type": 0, "body": "B" * 400}},
                                                                "sender_key": "y" * 43}
                                                for dev in (other.desktop, other.phone, *other.idle)}}
            await api.call("PUT", f"/sendToDevice/m.room.encrypted/hh{a.seq}.{time.monotonic_ns()}", me,
                           {"messages": messages})
        if a.receipt_by is not None:
            reader = self.people[a.receipt_by].desktop
            await api.call("POST", f"{path}/receipt/m.read/{q(d['event_id'])}", reader, {})
        if a.typing_first:
            await api.call("PUT", f"{path}/typing/{q(me.user_id)}", me, {"typing": False})

    async def run(self, ctx: Ctx, rep: int) -> dict[str, float]:
        srv = ctx.server
        arrivals = _Arrivals()
        stop = asyncio.Event()
        phone_filter = json.dumps({"room": {"timeline": {"limit": 10}, "state": {"lazy_load_members": True}}})
        loops = [asyncio.create_task(self._sync_loop(ctx.api, i, p.desktop, arrivals, stop, None))
                 for i, p in enumerate(self.people)]
        loops += [asyncio.create_task(self._sync_loop(ctx.api, i, p.phone, None, stop, phone_filter))
                  for i, p in enumerate(self.people)]
        await asyncio.sleep(1.0)  # the loops' first syncs are done and they are parked
        peak = srv.rss()

        async def sample_memory() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, srv.rss())
                await asyncio.sleep(0.2)

        sampler = asyncio.create_task(sample_memory())
        recent: dict[int, list[str]] = {}
        photo_index = [0]
        done = [0]

        async def person(i: int) -> None:
            for a in self.plan:
                if a.sender == i:
                    await self._send(ctx, a, recent, arrivals, photo_index)
                    done[0] += 1
                    if done[0] % 1000 == 0:
                        ctx.progress(f"household: {done[0]}/{len(self.plan)} events")

        cpu0, written0 = srv.cpu(), srv.written()
        db0 = _db_counters(srv)
        t0 = time.perf_counter()
        await asyncio.gather(*(person(i) for i in range(PEOPLE)))
        wall = time.perf_counter() - t0
        arrivals.sending_done = True
        if not arrivals.recipients:
            arrivals.all_seen.set()
        try:
            await asyncio.wait_for(arrivals.all_seen.wait(), 60)
        except TimeoutError:
            raise RuntimeError(f"{len(arrivals.recipients)} events never reached some desktop") from None
        await asyncio.sleep(1.0)  # background work the day caused lands on disk too
        cpu, written = srv.cpu() - cpu0, srv.written() - written0
        db1 = _db_counters(srv)
        stop.set()
        await asyncio.gather(*loops, return_exceptions=True)
        await sampler
        final = srv.rss()
        backup_s = await asyncio.to_thread(online_backup, srv, srv.data_dir.parent / f"backup-{rep}")
        events = len(self.plan)
        if db0 and db1:  # Hearth only: how the writes were grouped (its /_hearth/metrics)
            ctx.progress(f"household: {(db1['commits'] - db0['commits']) / events:.2f} commits and "
                         f"{(db1['jobs'] - db0['jobs']) / events:.2f} write jobs per event")
        return {
            "household_events_per_s": events / wall,
            "household_peak_rss_mib": peak / MIB,
            "household_final_rss_mib": final / MIB,
            "household_cpu_s": cpu,
            "household_written_bytes_per_event": written / events,
            "household_delivery_p50_ms": percentile(arrivals.latencies, 50) * 1000,
            "household_delivery_p99_ms": percentile(arrivals.latencies, 99) * 1000,
            "household_db_mib": srv.db_size() / MIB,
            "household_media_mib": _tree_size(media_dir(srv)) / MIB,
            "household_backup_s": backup_s,
        }


def _db_counters(srv) -> dict[str, float]:
    """Hearth's database commit and write-job counters, from its metrics (empty for Synapse)."""
    if not isinstance(srv, HearthServer):
        return {}
    import urllib.request

    with urllib.request.urlopen(f"{srv.base_url}/_hearth/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        for key, name in (("commits", "hearth_db_commits_total "), ("jobs", "hearth_db_jobs_total ")):
            if line.startswith(name):
                out[key] = float(line.split()[-1])
    return out


def media_dir(srv) -> Path:
    return srv.data_dir / ("media_store" if isinstance(srv, SynapseServer) else "media")


def _tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def online_backup(srv, dest: Path) -> float:
    """Seconds for a backup of the running server: Hearth's own command; for Synapse on SQLite,
    SQLite's online backup API and a copy of the media store (what its docs suggest)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    t0 = time.perf_counter()
    if isinstance(srv, HearthServer):
        python = srv.python if srv.python.exists() else Path(sys.executable)
        out = subprocess.run([str(python), "-m", "appliance", "backup", "--to", str(dest), "--stored-key"],
                             env=srv.env(), capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"hearth backup failed: {out.stderr[-500:]}")
    else:
        source = sqlite3.connect(srv.database_path())
        target = sqlite3.connect(dest / "homeserver.db")
        with target:
            source.backup(target)
        source.close()
        target.close()
        shutil.copytree(media_dir(srv), dest / "media_store", dirs_exist_ok=True)
    elapsed = time.perf_counter() - t0
    shutil.rmtree(dest, ignore_errors=True)
    return elapsed



