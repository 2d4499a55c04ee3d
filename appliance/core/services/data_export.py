"""Export a user's data as one zip archive: what Synapse's `export-data` admin command writes.

    rooms/<room>/events                 the room's events the user may see, one JSON per line
    rooms/<room>/state/<event_id>       the room's state after the last exported event
    rooms/<room>/invite_state           for a pending invite: what the invite showed of the room
    rooms/<room>/knock_state            for a pending knock: the same
    user_data/profile                   display name, avatar and other profile fields
    user_data/devices                   the devices signed in
    user_data/connections               where each device was seen (IP, user agent, time)
    user_data/account_data/global       global account data, {type: content}
    user_data/account_data/<room>       per-room account data (tags, read markers ...)
    user_data/media_ids/<media_id>      one file per upload: its metadata (not the bytes)

Events are in the client format (as the user's apps get them). A room the user left or was
banned from is exported up to that moment; history visibility and ignored users apply as in
/messages. `<room>` is the room ID with ':' made '_' so the archive unpacks on any computer
(each event still names its room).
"""
from __future__ import annotations

import asyncio
import json
import tempfile
import time
import zipfile
from typing import IO, Any

from ..storage.stores.account_data import AccountDataStore
from ..storage.stores.accounts import AccountStore
from ..storage.stores.admin import AdminStore
from ..storage.stores.events import EventStore
from ..storage.stores.media import MediaStore
from ..storage.stores.rooms import RoomStore
from ..storage.stores.state import StateStore
from .accounts.profiles import Profiles
from .client_events import ClientEventFormatter
from .visibility import Visibility

BATCH = 500
_STRIPPED_TYPES = ("m.room.create", "m.room.name", "m.room.avatar", "m.room.topic", "m.room.join_rules",
                   "m.room.canonical_alias", "m.room.encryption")


def room_dir(room_id: str) -> str:
    return "rooms/" + room_id.replace(":", "_").replace("/", "_")


def _lines(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(i, ensure_ascii=False, sort_keys=True) + "\n" for i in items)


class DataExportService:
    def __init__(self, events: EventStore, state: StateStore, accounts: AccountStore, rooms: RoomStore,
                 admin: AdminStore, account_data: AccountDataStore, media: MediaStore,
                 profiles: Profiles, formatter: ClientEventFormatter, visibility: Visibility):
        self.rooms = rooms
        self.admin = admin
        self.account_data = account_data
        self.media = media
        self.events = events
        self.state = state
        self.accounts = accounts
        self.profiles = profiles
        self.formatter = formatter
        self.visibility = visibility

    async def export(self, user_id: str) -> IO[bytes]:
        """The archive in a temporary file (rewound; deleted when closed)."""
        out = tempfile.TemporaryFile()
        try:
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                await self._write(zf, user_id)
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return out

    async def _write(self, zf: zipfile.ZipFile, user_id: str) -> None:
        async def put(name: str, text: str) -> None:
            await asyncio.to_thread(zf.writestr, name, text)

        rooms = 0
        for room_id, membership, stream_pos in await self.rooms.memberships_of(user_id):
            if membership in ("join", "leave", "ban"):
                rooms += await self._write_room(put, user_id, room_id,
                                                None if membership == "join" else stream_pos)
            elif membership in ("invite", "knock"):
                state = await self._stripped_state(room_id)
                await put(f"{room_dir(room_id)}/{membership}_state", json.dumps(state, indent=1, sort_keys=True))

        await put("user_data/profile", json.dumps(await self.profiles.get_profile(user_id), indent=1,
                                                  sort_keys=True))
        devices = [{"device_id": d.device_id, "display_name": d.display_name, "last_seen_ts": d.last_seen_ts,
                    "last_seen_ip": d.last_seen_ip} for d in await self.accounts.list_devices(user_id)]
        await put("user_data/devices", _lines(devices))
        connections = await self.admin.connection_history(user_id)
        await put("user_data/connections", _lines([
            {"device_id": c.device_id, "ip": c.ip, "user_agent": c.user_agent, "last_seen": c.last_seen}
            for c in connections]))

        by_room: dict[str, dict[str, Any]] = {}
        for row in await self.account_data.all_of(user_id):
            by_room.setdefault(row.room_id or "global", {})[row.type] = row.content
        for key, data in by_room.items():
            name = "global" if key == "global" else key.replace(":", "_").replace("/", "_")
            await put(f"user_data/account_data/{name}", json.dumps(data, indent=1, sort_keys=True))

        media = await self.media.uploads_of(user_id)
        for m in media:
            await put(f"user_data/media_ids/{m.media_id}", json.dumps(
                {"media_id": m.media_id, "created_ts": m.created_ts, "media_length": m.size,
                 "media_type": m.content_type, "upload_name": m.upload_name}, indent=1, sort_keys=True))

        await put("README.txt", (
            f"Your data on this Hearth server, exported for {user_id} on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n"
            f"{rooms} rooms, {len(media)} uploads (their IDs; the files stay on the server).\n"
            "The layout is that of Synapse's export-data command: rooms/<room>/events holds one\n"
            "message or event per line (JSON), rooms/<room>/state the room's settings and members,\n"
            "user_data/ your profile, devices, account data and the IDs of what you uploaded.\n"))

    async def _write_room(self, put, user_id: str, room_id: str, upto: int | None) -> int:
        exported: list[dict[str, Any]] = []
        last_event = None
        after = 0
        while True:
            batch = await self.events.room_events_after(room_id, after, upto, BATCH)
            if not batch:
                break
            after = batch[-1].stream_pos
            visible = await self.visibility.filter_events(user_id, batch)
            exported += await self.formatter.serialize(visible, user_id=user_id, bundle=False)
            if visible:
                last_event = visible[-1]
        if not exported:
            return 0
        base = room_dir(room_id)
        await put(f"{base}/events", _lines(exported))
        if last_event is not None and last_event.state_group is not None:
            state = await self._state_after(last_event)
            await put(f"{base}/state/{last_event.event_id}", _lines(state))
        return 1

    async def _state_after(self, ev) -> list[dict[str, Any]]:
        ids = await self.state.get_state(ev.state_group)
        found = await self.events.get_events(list(ids.values()))
        evs = [found[e] for _, e in sorted(ids.items()) if e in found]
        return await self.formatter.serialize(evs, bundle=False)

    async def _stripped_state(self, room_id: str) -> list[dict[str, Any]]:
        out = []
        for type_ in _STRIPPED_TYPES:
            pdu = await self.events.current_state_event(room_id, type_)
            if pdu is not None:
                out.append({"type": pdu.type, "state_key": pdu.state_key, "sender": pdu.sender,
                            "content": pdu.content})
        return out
