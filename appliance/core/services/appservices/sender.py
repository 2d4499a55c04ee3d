"""Transactions to application services (application-service-api.md "Pushing events").

Each appservice with a URL gets a stream consumer (`appservice:<id>`, core/stream_consumer.py)
and a delivery task. The consumer reads committed events, keeps those the appservice is
interested in, and queues them as one transaction in the same write that moves its position:
a restart neither repeats nor skips an event, and a queued transaction survives `kill -9`. The
delivery task sends the oldest queued transaction until the appservice accepts it, always with
the same id and body, backing off exponentially while it fails (up to five minutes); a successful
ping (`POST /_matrix/client/v1/appservice/{id}/ping`) retries at once.

"Interested" (the spec's namespaces): the event's room ID is in a room namespace, the room's
canonical alias (or an alternative one) is in an alias namespace, or the sender, the state key of
a membership, or a joined member of the room is the appservice's bot or a local user in a user
namespace.

With `receive_ephemeral` (or its MSC2409 name) a transaction also carries, under `ephemeral` and
`de.sorunome.msc2409.ephemeral`, the read receipts of those rooms (private ones only of the
appservice's own users) and the presence of its users and of people in those rooms, and under
`de.sorunome.msc2409.to_device` the to-device messages sent to its users' devices. Typing lives
outside the stream: a change in an interesting room is queued as a transaction of its own.

With MSC3202 (`org.matrix.msc3202` in the registration) a transaction carries
`org.matrix.msc3202.device_lists` (who, among its users and the people sharing a room with them,
changed devices) and, whenever it carries anything, the one-time key counts and unused fallback
key types of its users' devices.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from ...protocol.appservice import Registration
from ...storage.database import Database
from ...storage.stores.appservices import AppServiceStore, consumer_name
from ...storage.stores.accounts import AccountStore
from ...storage.stores.events import EventStore, StoredEvent
from ...storage.stores.receipts import Receipt, ReceiptStore
from ...storage.stores.stream_consumers import StreamConsumerStore
from ...storage.stores.to_device import ToDeviceStore
from ...stream import Stream
from ...stream_consumer import Batch, StreamConsumer
from ..client_events import ClientEventFormatter
from ..device_keys import DeviceKeyService
from ..presence import PresenceService
from ..typing import TypingService
from .client import AppServiceClient, AppServiceUnreachable
from .registry import AppServiceRegistry

log = logging.getLogger(__name__)

BATCH_EVENTS = 100
GATHER_S = 0.05  # after a wake-up, let a burst of events gather into one transaction
MIN_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0


class _Worker:
    """One appservice: its stream consumer and its delivery task."""

    def __init__(self, sender: TransactionSender, reg: Registration):
        self.sender = sender
        self.reg = reg
        self.wake = asyncio.Event()
        self.retry_now = asyncio.Event()
        self.consumer = StreamConsumer(consumer_name(reg.id), sender.db, sender.stream, sender.consumers,
                                       partial(sender.prepare, reg), lambda _txn_id: self.wake.set(),
                                       start_at_current=True, delay=GATHER_S)
        self.tasks: list[asyncio.Task] = []
        self.backoff = MIN_BACKOFF_S

    def start(self) -> None:
        self.wake.set()  # whatever was queued before a restart goes out first
        self.tasks = [asyncio.create_task(self.consumer.run(), name=f"appservice {self.reg.id} consumer"),
                      asyncio.create_task(self.deliver(), name=f"appservice {self.reg.id} delivery")]

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def deliver(self) -> None:
        store, client = self.sender.store, self.sender.client
        while True:
            txn = await store.oldest_txn(self.reg.id)
            if txn is None:
                self.wake.clear()
                if await store.oldest_txn(self.reg.id) is None:  # queued meanwhile: go on
                    await self.wake.wait()
                continue
            try:
                await client.send_transaction(self.reg, txn.txn_id, txn.body)
            except AppServiceUnreachable as exc:
                await store.failed(self.reg.id, f"transaction {txn.txn_id}: {exc.reason}")
                log.warning("appservice %s: transaction %s not accepted (%s); again in %.0f s",
                            self.reg.id, txn.txn_id, exc.reason, self.backoff)
                self.retry_now.clear()
                try:
                    await asyncio.wait_for(self.retry_now.wait(), self.backoff)
                except TimeoutError:
                    pass
                self.backoff = min(self.backoff * 2, MAX_BACKOFF_S)
                continue
            await store.delivered(self.reg.id, txn.txn_id)
            self.backoff = MIN_BACKOFF_S


class TransactionSender:
    def __init__(self, db: Database, stream: Stream, consumers: StreamConsumerStore, store: AppServiceStore,
                 registry: AppServiceRegistry, client: AppServiceClient, events: EventStore,
                 formatter: ClientEventFormatter, receipts: ReceiptStore, to_device: ToDeviceStore,
                 presence: PresenceService, typing: TypingService, device_keys: DeviceKeyService,
                 accounts: AccountStore, server_name: str):
        self.db = db
        self.stream = stream
        self.consumers = consumers
        self.store = store
        self.registry = registry
        self.client = client
        self.events = events
        self.formatter = formatter
        self.receipts = receipts
        self.to_device = to_device
        self.presence = presence
        self.typing = typing
        self.device_keys = device_keys
        self.accounts = accounts
        self.server_name = server_name
        typing.changed.subscribe(self._typing_changed)
        self._workers: dict[str, _Worker] = {}
        self._running = False
        registry.changed.subscribe(self._follow)

    # -- the background task ----------------------------------------------------------------

    async def run(self) -> None:
        """Background task: one worker per appservice with a URL, following the registry."""
        self._running = True
        self._follow(self.registry.all())
        try:
            await asyncio.Event().wait()
        finally:
            self._running = False
            workers, self._workers = list(self._workers.values()), {}
            await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
            await self.client.close()

    def _follow(self, registrations: Iterable[Registration]) -> None:
        if not self._running:
            return
        wanted = {reg.id: reg for reg in registrations if reg.url is not None}
        for appservice_id, worker in list(self._workers.items()):
            if wanted.get(appservice_id) != worker.reg:  # removed, or changed (new URL or tokens)
                del self._workers[appservice_id]
                asyncio.ensure_future(worker.stop())
        for appservice_id, reg in wanted.items():
            if appservice_id not in self._workers:
                worker = self._workers[appservice_id] = _Worker(self, reg)
                worker.start()

    def retry_now(self, appservice_id: str) -> None:
        """After a successful ping: a transaction waiting out its backoff goes at once."""
        worker = self._workers.get(appservice_id)
        if worker is not None:
            worker.backoff = MIN_BACKOFF_S
            worker.retry_now.set()

    async def flush(self, appservice_id: str) -> None:
        """Queue everything committed so far for this appservice (tests, the doctor)."""
        worker = self._workers.get(appservice_id)
        if worker is not None:
            await worker.consumer.catch_up()

    # -- building transactions --------------------------------------------------------------

    async def prepare(self, reg: Registration, after: int, upto: int) -> Batch[int]:
        evs = await self.events.live_events_between(after, upto, BATCH_EVENTS)
        reaches = evs[-1].stream_pos if len(evs) == BATCH_EVENTS else upto
        rooms: dict[str, bool] = {}
        wanted = await self.interesting(reg, evs, rooms)
        body: dict[str, Any] = {}
        if wanted:
            body["events"] = await self.formatter.serialize(wanted, with_room_id=True, bundle=False)
        if reg.receive_ephemeral:
            ephemeral = await self._receipts(reg, after, reaches, rooms) + await self._presence(reg, after, reaches, rooms)
            if ephemeral:
                body["ephemeral"] = body["de.sorunome.msc2409.ephemeral"] = ephemeral
            to_device = [{**message, "to_user_id": user_id, "to_device_id": device_id}
                         for user_id, device_id, message in await self.to_device.messages_between(after, reaches)
                         if self._is_ours(reg, user_id)]
            if to_device:
                body["de.sorunome.msc2409.to_device"] = to_device
        if reg.device_lists:
            changed = await self._device_list_changes(reg, after, reaches)
            if changed:
                body["org.matrix.msc3202.device_lists"] = {"changed": changed, "left": []}
        if not body:
            return Batch(reaches)
        body.setdefault("events", [])
        if reg.device_lists:
            body.update(await self._key_counts(reg))
        return Batch(reaches, partial(AppServiceStore.enqueue_job, appservice_id=reg.id, body=body,
                                      events=len(wanted) + len(body.get("ephemeral", []))
                                      + len(body.get("de.sorunome.msc2409.to_device", []))))

    async def _presence(self, reg: Registration, after: int, upto: int, rooms: dict[str, bool]) -> list[dict]:
        """m.presence of the appservice's users and of people in its rooms, changed in (after, upto]."""
        out = []
        for event in await self.presence.changes(after, upto):
            user_id = event["sender"]
            if not self._is_ours(reg, user_id):
                for room_id in await self.presence.joined_rooms(user_id):
                    if room_id not in rooms:
                        rooms[room_id] = await self._room_is_interesting(reg, room_id)
                    if rooms[room_id]:
                        break
                else:
                    continue
            out.append(event)
        return out

    async def _device_list_changes(self, reg: Registration, after: int, upto: int) -> list[str]:
        out = []
        for user_id in sorted(await self.device_keys.users_changed_anywhere(after, upto)):
            if self._is_ours(reg, user_id) or any(self._is_ours(reg, u)
                                                  for u in await self.device_keys.users_sharing_rooms(user_id)):
                out.append(user_id)
        return out

    async def _key_counts(self, reg: Registration) -> dict[str, Any]:
        """MSC3202's one-time key counts and unused fallback key types of the appservice's devices."""
        counts: dict[str, dict[str, Any]] = {}
        fallback: dict[str, dict[str, Any]] = {}
        for user in await self.accounts.list_users():
            if not self._is_ours(reg, user.user_id):
                continue
            for device in await self.accounts.list_devices(user.user_id):
                counts.setdefault(user.user_id, {})[device.device_id] = \
                    await self.device_keys.one_time_key_counts(user.user_id, device.device_id)
                fallback.setdefault(user.user_id, {})[device.device_id] = \
                    await self.device_keys.unused_fallback_key_types(user.user_id, device.device_id)
        if not counts:
            return {}
        return {"org.matrix.msc3202.device_one_time_keys_count": counts,
                "org.matrix.msc3202.device_unused_fallback_key_types": fallback}

    def _typing_changed(self, room_id: str) -> None:
        for worker in list(self._workers.values()):
            if worker.reg.receive_ephemeral:
                asyncio.ensure_future(self._queue_typing(worker, room_id))

    async def _queue_typing(self, worker: _Worker, room_id: str) -> None:
        try:
            if not await self._room_is_interesting(worker.reg, room_id):
                return
            event = {"type": "m.typing", "room_id": room_id,
                     "content": {"user_ids": self.typing.typing_users(room_id)}}
            body = {"events": [], "ephemeral": [event], "de.sorunome.msc2409.ephemeral": [event]}
            await self.db.write(partial(AppServiceStore.enqueue_job, appservice_id=worker.reg.id, body=body, events=1))
            worker.wake.set()
        except Exception:  # typing is a courtesy: never let it break anything else
            log.exception("appservice %s: typing in %s not queued", worker.reg.id, room_id)

    async def _receipts(self, reg: Registration, after: int, upto: int, rooms: dict[str, bool]) -> list[dict]:
        """m.receipt events (with room_id) of the interesting rooms in (after, upto]."""
        by_room: dict[str, list[Receipt]] = {}
        for r in await self.receipts.changed_anywhere(after, upto):
            if r.receipt_type == "m.read.private" and not self._is_ours(reg, r.user_id):
                continue
            if r.room_id not in rooms:
                rooms[r.room_id] = await self._room_is_interesting(reg, r.room_id)
            if rooms[r.room_id]:
                by_room.setdefault(r.room_id, []).append(r)
        out = []
        for room_id, receipts in by_room.items():
            content: dict[str, Any] = {}
            for r in receipts:
                entry: dict[str, Any] = {"ts": r.ts}
                if r.thread_id:
                    entry["thread_id"] = r.thread_id
                content.setdefault(r.event_id, {}).setdefault(r.receipt_type, {})[r.user_id] = entry
            out.append({"type": "m.receipt", "room_id": room_id, "content": content})
        return out

    async def interesting(self, reg: Registration, evs: list[StoredEvent],
                          rooms: dict[str, bool] | None = None) -> list[StoredEvent]:
        """The events of `evs` the appservice is interested in; `rooms` caches room verdicts."""
        rooms = {} if rooms is None else rooms
        out = []
        for ev in evs:
            pdu = ev.pdu
            if self._is_ours(reg, pdu.sender) or (pdu.type == "m.room.member" and self._is_ours(reg, pdu.state_key or "")):
                out.append(ev)
                continue
            if pdu.room_id not in rooms:
                rooms[pdu.room_id] = await self._room_is_interesting(reg, pdu.room_id)
            if rooms[pdu.room_id]:
                out.append(ev)
        return out

    def _is_ours(self, reg: Registration, user_id: str) -> bool:
        return reg.is_user(user_id, self.server_name)

    async def _room_is_interesting(self, reg: Registration, room_id: str) -> bool:
        if reg.claims("rooms", room_id):
            return True
        if reg.aliases:
            alias_event = await self.events.current_state_event(room_id, "m.room.canonical_alias", "")
            if alias_event is not None:
                content = alias_event.content
                aliases = [content.get("alias"), *(content.get("alt_aliases") or [])]
                if any(isinstance(a, str) and reg.claims("aliases", a) for a in aliases):
                    return True
        return any(self._is_ours(reg, member) for member in await self.events.members(room_id, "join"))
