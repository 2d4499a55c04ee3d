"""Backfilling a room's history from other servers (server-server-api.md "Backfilling and
retrieving missing events"), when one of our users pages back past the oldest event we hold
(a room joined through federation starts at the join).

The room's backward extremities are the prev_events of its oldest live event that are not
live here. `backfill` asks a server in the room for up to `limit` events before them, checks
each (format, signatures, hash → redacted; the auth rules against its own auth events, which
the join brought or this batch holds; rejected ones are kept as rejected), and stores them
below position 0, oldest lowest (services/tokens.HISTORY_FLOOR): history, never announced on
the stream, so no /sync and no stream consumer takes it for new. Events already held as
outliers (the state a join brought) become live where they belong in the history.

Each backfilled event is given the state of the room at our oldest live event: what clients
are shown of old history is then judged by the room's history visibility as it is now. The
remote server has already left out what our server may not see.
"""
from __future__ import annotations

import logging
from typing import Any

from ...protocol import ids
from ...protocol.auth_rules import AuthFailure, check_auth
from ...protocol.canonical_json import encode_canonical_json
from ...protocol.events import Pdu
from ...protocol.pdu_checks import PduDropped
from ...storage.stores.events import EventStore
from ..pipeline import EventPipeline
from .client import FederationClient
from .receiving import PduReceiver

log = logging.getLogger(__name__)

MAX_LIMIT = 100


class Backfiller:
    def __init__(self, server_name: str, events: EventStore, pipeline: EventPipeline, receiver: PduReceiver,
                 client: FederationClient) -> None:
        self.server_name = server_name
        self.events = events
        self.pipeline = pipeline
        self.receiver = receiver
        self.client = client

    async def _oldest_live(self, room_id: str) -> tuple[int, list[str], int | None] | None:
        """(stream position, backward extremities, state group) of the room's oldest live event."""
        row = await self.events.oldest_live(room_id)
        if row is None:
            return None
        ev = await self.events.get_event(row[1])
        if ev is None:
            return None
        prevs = ev.pdu.prev_event_ids
        held = await self.events.live_among(list(prevs))
        return row[0], [p for p in prevs if p not in held], row[2]

    async def backfill(self, room_id: str, limit: int = 50) -> int:
        """Fetch and keep up to `limit` older events; returns how many were added (0: none)."""
        oldest = await self._oldest_live(room_id)
        if oldest is None or not oldest[1]:
            return 0
        floor_pos, extremities, group = oldest
        version = await self.events.room_version(room_id)
        if version is None:
            return 0
        servers = sorted({ids.server_name_of(m) for m in await self.events.members(room_id, "join")} - {self.server_name})
        for server in servers:
            try:
                status, body = await self.client.request(
                    "GET", server, f"/_matrix/federation/v1/backfill/{room_id}",
                    query={"v": extremities, "limit": str(max(1, min(limit, MAX_LIMIT)))})
            except Exception as e:
                log.info("backfill of %s from %s failed: %s", room_id, server, e)
                continue
            pdus = body.get("pdus") if status == 200 and isinstance(body, dict) else None
            if not isinstance(pdus, list):
                continue
            added = await self._keep(room_id, version, pdus, floor_pos, group)
            if added:
                return added
        return 0

    async def _keep(self, room_id: str, version: Any, raws: list[Any], floor_pos: int, group: int | None) -> int:
        checked: dict[str, Pdu] = {}
        for raw in raws[:MAX_LIMIT]:
            try:
                pdu = await self.receiver.checked_outlier(raw, version)
            except PduDropped as e:
                log.info("backfilled event dropped: %s", e)
                continue
            if pdu.room_id == room_id:
                checked[pdu.event_id] = pdu
        if not checked:
            return 0
        known = await self.events.get_events(list(checked))
        rows: list[tuple[Pdu, str | None, bool]] = []  # (pdu, rejected, held as an outlier)
        ordered = sorted(checked.values(), key=lambda p: (p.depth, p.origin_server_ts))
        for pdu in ordered:
            held = known.get(pdu.event_id)
            if held is not None and not await self._is_outlier(pdu.event_id):
                continue  # live already
            auth_ids = pdu.auth_event_ids
            auth_found = await self.events.get_events([a for a in auth_ids if a not in checked])
            auth = {a: checked[a] if a in checked else auth_found[a].pdu for a in auth_ids
                    if a in checked or a in auth_found}
            create = next((p for p in auth.values() if p.type == "m.room.create"), None)
            if create is None:
                create = await self.events.current_state_event(room_id, "m.room.create")
            rejected = None
            try:
                if len(auth) != len(auth_ids):
                    raise AuthFailure("some auth events are unknown")
                check_auth(pdu, {(a.type, a.state_key or ""): a for a in auth.values()}, create_event=create)
            except AuthFailure as e:
                rejected = f"backfill: {e}"
            rows.append((pdu, rejected, held is not None))
        if not rows:
            return 0
        events = self.events

        def job(conn: Any) -> int:
            pos = min(events.lowest_position_job(conn), floor_pos, 0)
            for pdu, rejected, was_outlier in reversed(rows):  # newest first: positions go down
                pos -= 1
                if was_outlier:
                    events.promote_outlier_job(conn, pdu.event_id, pos, group, rejected)
                else:
                    events.insert_event_job(conn, pdu, pos, group, encode_canonical_json(pdu.data).decode(), None,
                                            rejected=rejected)
            return len(rows)

        added = await self.pipeline.db.write(job)
        for pdu, _, _ in rows:
            events.invalidate(pdu.event_id)
        return added

    async def _is_outlier(self, event_id: str) -> bool:
        return await self.events.is_outlier(event_id)
