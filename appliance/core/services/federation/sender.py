"""The outbound federation sender (server-server-api.md "Transactions"; DESIGN decisions 6, 10).

It follows the stream as the consumer `federation` (core/stream_consumer.py): each batch puts
our own live events into per-destination queues on disk (`federation_outbox`: one row per
server in the room, plus the target's server of a membership event about a remote user), in the
same transaction that moves its position, so a crash neither loses nor repeats a queue entry.

One worker task per destination sends its queue in stream order, up to 50 PDUs (and the EDUs
waiting) per `PUT /send/{txnId}`; a row goes when the destination acknowledged it. A failure
(unreachable, timeout, 5xx) retries after a backoff that doubles up to `max_backoff`, and
resets as soon as the peer answers, or talks to us (`peer_is_back`, called on an inbound
request from it). After a restart the workers start for every destination with a queue:
catch-up after downtime is the queue itself.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ...protocol import ids
from ...storage.database import Database
from ...storage.stores.events import EventStore
from ...storage.stores.e2e_keys import E2eKeyStore
from ...storage.stores.federation_outbox import FederationOutboxStore
from ...storage.stores.receipts import ReceiptStore
from ...storage.stores.stream_consumers import StreamConsumerStore
from ...stream import Stream
from ...stream_consumer import Batch, StreamConsumer
from ..typing import TypingService
from .client import FederationClient, FederationRefused

if TYPE_CHECKING:
    from ..presence import PresenceService

log = logging.getLogger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100
BATCH_EVENTS = 500


class FederationSender:
    def __init__(self, server_name: str, db: Database, stream: Stream, consumers: StreamConsumerStore,
                 events: EventStore, receipts: ReceiptStore, device_lists: E2eKeyStore, typing: TypingService,
                 client: FederationClient, *, presence: PresenceService | None = None,
                 share_presence: Callable[[], bool] = lambda: False,
                 min_backoff: float = 1.0, max_backoff: float = 300.0) -> None:
        self.server_name = server_name
        self.presence = presence
        self.share_presence = share_presence  # read at each change: the admin may switch it
        self.events = events
        self.receipts = receipts
        self.device_lists = device_lists
        self.typing = typing
        self._typing_sent: dict[str, set[str]] = {}  # room -> our users other servers think are typing
        typing.changed.subscribe(self._typing_changed)
        self.client = client
        self.outbox = FederationOutboxStore(db)
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.consumer = StreamConsumer("federation", db, stream, consumers, self._prepare, self._queued,
                                       start_at_current=True)
        self._workers: dict[str, asyncio.Task] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._backoff: dict[str, float] = {}
        self._edus: dict[str, list[dict[str, Any]]] = {}
        self._txn = int(time.time() * 1000)
        self.sent_transactions = 0

    # -- the stream consumer --------------------------------------------------------------------

    async def _prepare(self, after: int, upto: int) -> Batch[set[str]]:
        evs = await self.events.live_events_between(after, upto, BATCH_EVENTS)
        reach = evs[-1].stream_pos if len(evs) == BATCH_EVENTS else upto
        await self._ephemeral(after, reach)
        rows: list[tuple[str, int, str]] = []
        servers_of: dict[str, set[str]] = {}
        for ev in evs:
            pdu = ev.pdu
            try:
                if ids.server_name_of(pdu.sender) != self.server_name:
                    continue  # we relay nothing: each server sends its own events
            except ValueError:
                continue
            if pdu.room_id not in servers_of:
                servers_of[pdu.room_id] = await self._servers_in(pdu.room_id)
            targets = set(servers_of[pdu.room_id])
            if pdu.type == "m.room.member" and pdu.state_key and pdu.state_key != pdu.sender:
                try:
                    targets.add(ids.server_name_of(pdu.state_key))  # a kick or ban reaches the target
                except ValueError:
                    pass
            if pdu.type == "m.room.member" and pdu.membership in ("join", "leave", "ban"):
                servers_of.pop(pdu.room_id, None)  # the room's servers may change here
            targets.discard(self.server_name)
            if pdu.type == "m.room.member" and pdu.membership == "invite" and pdu.state_key:
                try:  # the invitee's server got it through /invite already
                    only = ids.server_name_of(pdu.state_key)
                    if only not in servers_of.get(pdu.room_id, set()):
                        targets.discard(only)
                except ValueError:
                    pass
            rows += [(d, ev.stream_pos, ev.event_id) for d in sorted(targets)]
        if not rows:
            return Batch(reach)
        destinations = {r[0] for r in rows}
        return Batch(reach, lambda conn: (FederationOutboxStore.add_job(conn, rows), destinations)[1])

    async def _servers_in(self, room_id: str) -> set[str]:
        out = set()
        for member in await self.events.members(room_id, "join"):
            try:
                out.add(ids.server_name_of(member))
            except ValueError:
                pass
        return out

    def _is_ours(self, user_id: str) -> bool:
        try:
            return ids.server_name_of(user_id) == self.server_name
        except ValueError:
            return False

    async def _ephemeral(self, after: int, upto: int) -> None:
        """Our users' public receipts and device-list changes in (after, upto], as EDUs to the
        servers that share a room with them (queued in memory: EDUs are not kept over a restart)."""
        for r in await self.receipts.changed_anywhere(after, upto):
            if r.receipt_type != "m.read" or not self._is_ours(r.user_id):
                continue
            data: dict[str, Any] = {"ts": r.ts}
            if r.thread_id:
                data["thread_id"] = r.thread_id
            content = {r.room_id: {"m.read": {r.user_id: {"event_ids": [r.event_id], "data": data}}}}
            self.queue_edu(await self._servers_in(r.room_id), "m.receipt", content)
        for user_id in await self.device_lists.users_changed_anywhere(after, upto):
            if not self._is_ours(user_id):
                continue
            servers: set[str] = set()
            for room_id in await self.device_lists.joined_rooms(user_id):
                servers |= await self._servers_in(room_id)
            # No prev_id: the other server asks for the whole list again (user/devices).
            self.queue_edu(servers, "m.device_list_update",
                           {"user_id": user_id, "device_id": "", "stream_id": upto, "prev_id": [], "deleted": False})
        if self.presence is not None and self.share_presence():
            for user_id, content in await self.presence.local_changes(after, upto):
                servers = set()
                for room_id in await self.presence.joined_rooms(user_id):
                    servers |= await self._servers_in(room_id)
                self.queue_edu(servers, "m.presence", {"push": [{"user_id": user_id, **content}]})

    def _typing_changed(self, room_id: str) -> None:
        now = {u for u in self.typing.typing_users(room_id) if self._is_ours(u)}
        before = self._typing_sent.get(room_id, set())
        if now == before:
            return
        if now:
            self._typing_sent[room_id] = now
        else:
            self._typing_sent.pop(room_id, None)
        changes = [(u, True) for u in now - before] + [(u, False) for u in before - now]
        asyncio.get_running_loop().create_task(self._send_typing(room_id, changes))

    async def _send_typing(self, room_id: str, changes: list[tuple[str, bool]]) -> None:
        servers = await self._servers_in(room_id)
        for user_id, typing in changes:
            self.queue_edu(servers, "m.typing", {"room_id": room_id, "user_id": user_id, "typing": typing})

    def to_device(self, sender: str, event_type: str, message_id: str, by_server: dict[str, dict[str, Any]]) -> None:
        """Our users' to-device messages for other servers' users (ToDeviceService.remote_messages)."""
        for server, messages in by_server.items():
            self.queue_edu([server], "m.direct_to_device", {"sender": sender, "type": event_type,
                                                            "message_id": message_id, "messages": messages})

    def _queued(self, destinations: set[str] | None) -> None:
        for d in destinations or ():
            self._start(d)

    # -- EDUs -----------------------------------------------------------------------------------

    def queue_edu(self, destinations: Iterable[str], edu_type: str, content: dict[str, Any]) -> None:
        """An EDU for the next transaction to each destination (kept in memory: EDUs are ephemeral)."""
        for d in destinations:
            if d == self.server_name:
                continue
            queue = self._edus.setdefault(d, [])
            queue.append({"edu_type": edu_type, "content": content})
            del queue[:-MAX_EDUS * 10]
            self._start(d)

    # -- workers --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Background task: queued destinations from before a restart, then the stream."""
        for d in await self.outbox.destinations():
            self._start(d)
        await self.consumer.run()

    async def stop(self) -> None:
        tasks = list(self._workers.values())
        self._workers.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, destination: str) -> None:
        self._wake.setdefault(destination, asyncio.Event()).set()
        task = self._workers.get(destination)
        if task is None or task.done():
            self._workers[destination] = asyncio.create_task(self._worker(destination),
                                                             name=f"federation sender to {destination}")

    def peer_is_back(self, destination: str) -> None:
        """The peer talked to us: whatever it missed is retried now, from the first backoff."""
        if self._backoff.pop(destination, None) is not None:
            log.info("%s is back; retrying what it missed", destination)
            self._wake.setdefault(destination, asyncio.Event()).set()

    def backoff_of(self, destination: str) -> float | None:
        return self._backoff.get(destination)

    async def _worker(self, destination: str) -> None:
        wake = self._wake.setdefault(destination, asyncio.Event())
        while True:
            wake.clear()
            rows = await self.outbox.next_batch(destination, MAX_PDUS)
            edus = self._edus.pop(destination, [])[:MAX_EDUS]
            if not rows and not edus:
                try:
                    await asyncio.wait_for(wake.wait(), 300)
                except TimeoutError:
                    if not await self.outbox.pending(destination) and not self._edus.get(destination):
                        self._workers.pop(destination, None)
                        return
                continue
            ok = await self._send(destination, rows, edus)
            if ok:
                self._backoff.pop(destination, None)
                if rows:
                    await self.outbox.sent(destination, rows[-1][0])
                continue
            self._edus.setdefault(destination, [])[:0] = edus  # tried again with the next transaction
            delay = self._backoff.get(destination)
            delay = self.min_backoff if delay is None else min(delay * 2, self.max_backoff)
            self._backoff[destination] = delay
            try:  # woken early when the peer talks to us (peer_is_back)
                await asyncio.wait_for(self._woken_by_peer(destination, wake), delay)
            except TimeoutError:
                pass

    async def _woken_by_peer(self, destination: str, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            if destination not in self._backoff:
                return

    async def _send(self, destination: str, rows: list[tuple[int, str]], edus: list[dict[str, Any]]) -> bool:
        found = await self.events.get_events([e for _, e in rows])
        pdus = [found[e].pdu.data for _, e in rows if e in found]
        self._txn += 1
        txn_id = f"{self._txn}"
        body = {"origin": self.server_name, "origin_server_ts": int(time.time() * 1000), "pdus": pdus, "edus": edus}
        try:
            status, answer = await self.client.request("PUT", destination, f"/_matrix/federation/v1/send/{txn_id}",
                                                       content=body)
        except FederationRefused as e:
            log.warning("not sending to %s: %s (its queue is dropped)", destination, e)
            return True  # never allowed: nothing to retry
        except Exception as e:  # unreachable, timed out, TLS
            log.info("sending to %s failed: %s", destination, e)
            return False
        if status != 200:
            log.info("%s answered %s to transaction %s: %s", destination, status, txn_id, answer)
            return not (status >= 500 or status == 429)  # a 4xx will not get better by retrying
        self.sent_transactions += 1
        if isinstance(answer, dict) and isinstance(answer.get("pdus"), dict):
            for event_id, result in answer["pdus"].items():
                if isinstance(result, dict) and result.get("error"):
                    log.info("%s refused %s: %s", destination, event_id, result["error"])
        return True
