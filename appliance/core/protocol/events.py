"""A PDU as the protocol layer sees it: the wire JSON plus its event ID and room version.

The wire JSON (`data`) is kept exactly as it is signed and hashed; accessors normalise the
differences between event formats (v1/v2 reference lists of `[id, hashes]` pairs, v12 create
events without `room_id`), so auth rules and state resolution never look at the format.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .room_versions import RoomVersion

StateKey = tuple[str, str]  # (type, state_key)


def _ref_ids(refs: list[Any]) -> list[str]:
    out = []
    for ref in refs:
        if isinstance(ref, list):  # v1/v2: [event_id, {hashes}]
            out.append(ref[0])
        else:
            out.append(ref)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Pdu:
    event_id: str
    room_version: RoomVersion
    data: dict[str, Any]
    rejected: bool = field(default=False, compare=False)

    @property
    def type(self) -> str:
        return self.data["type"]

    @property
    def state_key(self) -> str | None:
        return self.data.get("state_key")

    @property
    def is_state(self) -> bool:
        return "state_key" in self.data

    @property
    def state_tuple(self) -> StateKey:
        """(type, state_key) of a state event."""
        return (self.data["type"], self.data["state_key"])

    @property
    def sender(self) -> str:
        return self.data["sender"]

    @property
    def room_id(self) -> str:
        """The room ID. A v12 create event has none on the wire: it is derived from its ID."""
        rid = self.data.get("room_id")
        if rid is None and self.type == "m.room.create" and self.room_version.event_format.room_id_is_create_hash:
            return "!" + self.event_id[1:]
        return rid

    @property
    def content(self) -> dict[str, Any]:
        c = self.data.get("content")
        return c if isinstance(c, dict) else {}

    @property
    def prev_event_ids(self) -> list[str]:
        return _ref_ids(self.data.get("prev_events", []))

    @property
    def auth_event_ids(self) -> list[str]:
        return _ref_ids(self.data.get("auth_events", []))

    @property
    def depth(self) -> int:
        return self.data.get("depth", 0)

    @property
    def origin_server_ts(self) -> int:
        return self.data.get("origin_server_ts", 0)

    @property
    def redacts(self) -> str | None:
        """The event a redaction redacts: top-level before v11, in content from v11."""
        if self.type != "m.room.redaction":
            return None
        if self.room_version.event_format.redacts_in_content:
            r = self.content.get("redacts")
            if r is None:
                r = self.data.get("redacts")
            return r
        return self.data.get("redacts")

    @property
    def membership(self) -> str | None:
        if self.type != "m.room.member":
            return None
        return self.content.get("membership")

    def __repr__(self) -> str:
        return f"Pdu({self.event_id} {self.type} {self.state_key!r} by {self.sender})"
