"""Which of several IRC connections in a channel speaks for it to Matrix (pure).

Every family member in a portal has their own connection in its channel, and each connection
receives every line of the channel. Only the *nominated* one (the longest-connected) relays, so a
line reaches Matrix once; lines sent by any of our own connections are never relayed (Matrix has
them already). The others keep the channel's recent lines in a short ring. When the nominated
connection drops, the next one takes over and first relays, from its ring, the lines after the
last one the old nominee relayed: IRC servers send a channel's lines to every member in the same
order, so the rings line up and nothing received during the change-over is lost or doubled.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

RING = 200


@dataclass(frozen=True, slots=True)
class Line:
    sender: str   # nick, as sent
    kind: str     # "PRIVMSG", "NOTICE", "ACTION", or an event (JOIN, PART, QUIT, NICK, TOPIC, MODE, KICK)
    text: str


@dataclass
class _Member:
    order: int
    ring: deque[Line] = field(default_factory=lambda: deque(maxlen=RING))


class Channel:
    """The connections of one channel: `heard(conn, line)` → the lines to relay now."""

    def __init__(self) -> None:
        self._members: dict[str, _Member] = {}
        self._next = 0
        self.relayed: deque[Line] = deque(maxlen=RING)  # what went to Matrix, newest last
        # After a takeover by a connection that had not yet read all the old nominee relayed:
        # those lines, which it is about to hear and must not relay again.
        self._skip: deque[Line] = deque()

    @property
    def nominee(self) -> str | None:
        return min(self._members, key=lambda c: self._members[c].order) if self._members else None

    def connections(self) -> list[str]:
        return sorted(self._members, key=lambda c: self._members[c].order)

    def joined(self, conn: str) -> None:
        if conn not in self._members:
            self._members[conn] = _Member(self._next)
            self._next += 1

    def left(self, conn: str) -> list[Line]:
        """`conn` is gone from the channel; the lines the new nominee must relay now."""
        was_nominee = conn == self.nominee
        self._members.pop(conn, None)
        if not was_nominee or self.nominee is None:
            return []
        return self._missed(self._members[self.nominee].ring)

    def heard(self, conn: str, line: Line) -> list[Line]:
        member = self._members.get(conn)
        if member is None:
            return []
        member.ring.append(line)
        if conn != self.nominee:
            return []
        if self._skip:
            if self._skip[0] == line:
                self._skip.popleft()
                return []
            self._skip.clear()  # it heard something else: the rings did not line up after all
        self.relayed.append(line)
        return [line]

    def _missed(self, ring: deque[Line]) -> list[Line]:
        """What the new nominee must relay now, from its ring. Level with or ahead of the old
        nominee: the ring's lines after the last relayed one (all of them if they share none).
        Behind it (its connection reads the channel later): nothing now, and the relayed lines
        it has yet to read are skipped when they come."""
        lines = list(ring)
        relayed = list(self.relayed)
        self._skip.clear()
        if not relayed:
            self.relayed.extend(lines)
            return lines
        # level or ahead: the longest tail of what was relayed, found in the ring
        for size in range(min(len(relayed), len(lines)), 0, -1):
            found = _last_index(lines, relayed[-size:])
            if found is not None:
                out = lines[found + size:]
                self.relayed.extend(out)
                return out
        # behind: the longest tail of the ring, found in what was relayed
        for size in range(min(len(relayed), len(lines)), 0, -1):
            at = _last_index(relayed, lines[-size:])
            if at is not None:
                self._skip.extend(relayed[at + size:])
                return []
        self.relayed.extend(lines)
        return lines


def _last_index(haystack: list[Line], needle: list[Line]) -> int | None:
    for start in range(len(haystack) - len(needle), -1, -1):
        if haystack[start:start + len(needle)] == needle:
            return start
    return None
