"""Pushers (pusher.yaml) and HTTP push delivery (push-gateway-api, push_notifier.yaml).

Each pusher has its own delivery task that sends the user's notification rows in stream
order, one request per notification, and records the position of the last one the gateway
accepted: a restart resumes after it, so nothing is lost or sent twice. A failing gateway is
retried with exponential backoff (per pusher); a notification that keeps failing for
GIVE_UP_AFTER seconds is skipped. Pushkeys the gateway lists as `rejected` delete the pusher.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit


from ..protocol import push_rules as pr
from ..protocol.errors import InvalidParam, MissingParam
from ..storage.database import Database
from ..storage.stores.events import EventStore
from ..storage.stores.push import Notification, Pusher, PushStore
from ..stream import Stream
from .push import PushService

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

NOTIFY_PATH = "/_matrix/push/v1/notify"
MAX_APP_ID = 64
MAX_PUSHKEY_BYTES = 512
GIVE_UP_AFTER = 24 * 3600
PusherKey = tuple[str, str, str]  # (app_id, pushkey, user_id)


class PusherService:
    def __init__(self, db: Database, store: PushStore, push: PushService, events: EventStore, stream: Stream, *,
                 connect_timeout: float = 5.0, total_timeout: float = 20.0,
                 min_backoff: float = 1.0, max_backoff: float = 600.0):
        self.db = db
        self.store = store
        self.push = push
        self.events = events
        self.stream = stream
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._http: httpx.AsyncClient | None = None
        self._tasks: dict[PusherKey, asyncio.Task] = {}
        self._wakes: dict[PusherKey, asyncio.Event] = {}
        self._running = False
        push.notification_listeners.append(self.on_notifications)

    # -- the API ------------------------------------------------------------------------------

    async def get_pushers(self, user_id: str) -> list[dict[str, Any]]:
        out = []
        for p in await self.store.pushers(user_id):
            d: dict[str, Any] = {"pushkey": p.pushkey, "kind": p.kind, "app_id": p.app_id,
                                 "app_display_name": p.app_display_name,
                                 "device_display_name": p.device_display_name, "lang": p.lang, "data": p.data}
            if p.profile_tag is not None:
                d["profile_tag"] = p.profile_tag
            out.append(d)
        return out

    async def set_pusher(self, user_id: str, device_id: str | None, body: dict[str, Any]) -> None:
        for name in ("kind", "app_id", "pushkey"):
            if name not in body:
                raise MissingParam(f"Missing parameter: {name}")
        app_id, pushkey, kind = body["app_id"], body["pushkey"], body["kind"]
        if not isinstance(app_id, str) or not app_id or len(app_id) > MAX_APP_ID:
            raise InvalidParam(f"app_id must be a string of 1 to {MAX_APP_ID} characters")
        if not isinstance(pushkey, str) or not pushkey or len(pushkey.encode()) > MAX_PUSHKEY_BYTES:
            raise InvalidParam(f"pushkey must be a string of 1 to {MAX_PUSHKEY_BYTES} bytes")
        key = (app_id, pushkey, user_id)
        if kind is None:
            await self.db.write(lambda conn: self.store.delete_pusher_job(conn, app_id, pushkey, user_id))
            self._stop(key)
            return
        if kind != "http":
            raise InvalidParam(f"Unsupported pusher kind {kind!r}: only 'http' pushers are supported")
        missing = [n for n in ("app_display_name", "device_display_name", "lang", "data") if n not in body]
        if missing:
            raise MissingParam(f"Missing parameters: {', '.join(missing)}")
        for name in ("app_display_name", "device_display_name", "lang"):
            if not isinstance(body[name], str):
                raise InvalidParam(f"{name} must be a string")
        profile_tag = body.get("profile_tag")
        if profile_tag is not None and not isinstance(profile_tag, str):
            raise InvalidParam("profile_tag must be a string")
        append = body.get("append", False)
        if not isinstance(append, bool):
            raise InvalidParam("append must be a boolean")
        data = body["data"]
        if not isinstance(data, dict):
            raise InvalidParam("data must be an object")
        url = data.get("url")
        if url is None:
            raise MissingParam("data.url is required for http pushers")
        if not _valid_push_url(url):
            raise InvalidParam(f"data.url must be an http(s) URL with the path {NOTIFY_PATH}")
        if "format" in data and data["format"] != "event_id_only":
            raise InvalidParam("data.format must be 'event_id_only' when given")
        pusher = Pusher(user_id, app_id, pushkey, kind, body["app_display_name"], body["device_display_name"],
                        profile_tag, body["lang"], data, device_id, int(time.time()), self.stream.current)

        def job(conn: sqlite3.Connection) -> list[str]:
            removed = [] if append else self.store.delete_others_job(conn, app_id, pushkey, user_id)
            self.store.upsert_pusher_job(conn, pusher)
            return removed

        for other in await self.db.write(job):
            self._stop((app_id, pushkey, other))
        self._stop(key)
        self._start(key)

    async def on_devices_deleted(self, user_id: str, device_ids: list[str]) -> None:
        """A Devices listener: a logged-out device's pushers go with it."""
        for key in await self.db.write(lambda conn: self.store.delete_for_devices_job(conn, user_id, device_ids)):
            self._stop(key)

    # -- delivery -----------------------------------------------------------------------------

    def on_notifications(self, notes: list[Notification]) -> None:
        users = {n.user_id for n in notes}
        for key, wake in self._wakes.items():
            if key[2] in users:
                wake.set()

    async def run(self) -> None:
        """Background task: one delivery task per pusher, for as long as the server serves."""
        self._running = True
        try:
            for p in await self.store.pushers():
                self._start(p.key)
            await asyncio.Event().wait()
        finally:
            self._running = False
            tasks = list(self._tasks.values())
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.clear()
            self._wakes.clear()
            if self._http is not None:
                await self._http.aclose()
                self._http = None

    def _start(self, key: PusherKey) -> None:
        if not self._running or key in self._tasks:
            return
        self._wakes[key] = asyncio.Event()
        self._tasks[key] = asyncio.create_task(self._deliver(key), name=f"pusher-{key[2]}")

    def _stop(self, key: PusherKey) -> None:
        task = self._tasks.pop(key, None)
        self._wakes.pop(key, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _deliver(self, key: PusherKey) -> None:
        wake = self._wakes[key]
        backoff = self.min_backoff
        failing_since: tuple[int, float] | None = None
        try:
            while True:
                wake.clear()
                pusher = await self.store.pusher(*key)
                if pusher is None:
                    return
                await self.push.catch_up(self.stream.current)
                pending = await self.store.pending(pusher.user_id, pusher.last_pos, 20)
                if not pending:
                    await wake.wait()
                    continue
                for n in pending:
                    outcome = await self._send(pusher, n)
                    if outcome == "rejected":
                        log.info("push gateway rejected pushkey of %s (%s); removing the pusher", key[2], key[0])
                        await self.db.write(lambda conn: self.store.delete_pusher_job(conn, *key))
                        return
                    if outcome == "failed":
                        if failing_since is None or failing_since[0] != n.stream_pos:
                            failing_since = (n.stream_pos, time.monotonic())
                        if time.monotonic() - failing_since[1] < GIVE_UP_AFTER:
                            await asyncio.sleep(backoff)
                            backoff = min(backoff * 2, self.max_backoff)
                            break
                        log.warning("giving up pushing %s to %s", n.event_id, key[2])
                    backoff = self.min_backoff
                    failing_since = None
                    await self.store.set_last_pos(*key, n.stream_pos)
                    pusher = replace(pusher, last_pos=n.stream_pos)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pusher task for %s failed", key[2])
        finally:
            if self._tasks.get(key) is asyncio.current_task():
                self._tasks.pop(key, None)
                self._wakes.pop(key, None)

    async def _send(self, pusher: Pusher, n: Notification) -> str:
        """'ok', 'failed' (retry later) or 'rejected' (the gateway refuses this pushkey)."""
        # httpx and its client (an SSL context: ~30 ms, a few MiB) are made on the first push,
        # not at start-up: most homes have no pusher until a phone registers one.
        import httpx

        if self._http is None:
            timeout = httpx.Timeout(self.total_timeout, connect=self.connect_timeout)
            self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        try:
            payload = await self.payload(pusher, n)
        except Exception:
            log.exception("could not build the push for %s", n.event_id)
            return "ok"  # nothing to retry: skip it
        try:
            async with asyncio.timeout(self.total_timeout):
                resp = await self._http.post(pusher.data["url"], json=payload)
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            log.info("push to %s failed: %s", pusher.data.get("url"), exc)
            return "failed"
        if not 200 <= resp.status_code < 300:
            log.info("push gateway %s answered %d", pusher.data.get("url"), resp.status_code)
            return "failed"
        try:
            rejected = resp.json().get("rejected", [])
        except (ValueError, AttributeError):
            rejected = []
        return "rejected" if isinstance(rejected, list) and pusher.pushkey in rejected else "ok"

    async def payload(self, pusher: Pusher, n: Notification) -> dict[str, Any]:
        """The /_matrix/push/v1/notify body for one notification."""
        unread = await self.push.total_unread(pusher.user_id)
        tweaks = pr.tweaks(n.actions)
        device = {"app_id": pusher.app_id, "pushkey": pusher.pushkey, "pushkey_ts": pusher.pushkey_ts,
                  "data": {k: v for k, v in pusher.data.items() if k != "url"}, "tweaks": tweaks}
        note: dict[str, Any] = {
            "event_id": n.event_id,
            "room_id": n.room_id,
            "counts": {"unread": unread} if unread else {},
            "devices": [device],
            "prio": "high" if tweaks.get("sound") or tweaks.get("highlight") is True else "low",
        }
        if pusher.data.get("format") == "event_id_only":
            return {"notification": note}
        ev = await self.events.get_event(n.event_id)
        if ev is not None:
            pdu = ev.pdu
            note["type"] = pdu.type
            note["sender"] = pdu.sender
            if not ev.redacted_by and pdu.content:
                note["content"] = pdu.content
            if pdu.type == "m.room.member":
                note["user_is_target"] = pdu.state_key == pusher.user_id
            member = await self.events.current_state_event(n.room_id, "m.room.member", pdu.sender)
            name = member.content.get("displayname") if member is not None else None
            if isinstance(name, str) and name:
                note["sender_display_name"] = name
        room_name = await self.events.current_state_event(n.room_id, "m.room.name")
        if room_name is not None and isinstance(room_name.content.get("name"), str) and room_name.content["name"]:
            note["room_name"] = room_name.content["name"]
        alias = await self.events.current_state_event(n.room_id, "m.room.canonical_alias")
        if alias is not None and isinstance(alias.content.get("alias"), str):
            note["room_alias"] = alias.content["alias"]
        return {"notification": note}


def _valid_push_url(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path == NOTIFY_PATH
