"""Sync and pagination tokens: `s{stream}_{ephemeral}`, one format for both.

A token names a point on the stream: everything at or before `stream` is "before" it. Sync's
`next_batch` and `prev_batch` are therefore valid `from` tokens for /messages, /relations and
/threads, and a /messages `end` token can be handed back to /messages or /sync alike.
"""
from __future__ import annotations

from ..protocol.errors import InvalidParam
from ..stream import Position

# History backfilled from other servers (federation) sits below position 0, oldest lowest:
# it is older than anything this server saw happen. Pagination tokens may point down there;
# sync tokens never do.
HISTORY_FLOOR = -(2**62)


def make_token(pos: Position | int, ephemeral: int = 0) -> str:
    if isinstance(pos, Position):
        return f"s{pos.stream}_{pos.ephemeral}"
    return f"s{max(pos, HISTORY_FLOOR)}_{ephemeral}"


def parse_token(token: str, name: str = "token") -> Position:
    body = token[1:] if token.startswith("s") else token
    stream, _, eph = body.partition("_")
    try:
        s = int(stream)
        e = int(eph) if eph else 0
    except ValueError:
        raise InvalidParam(f"Invalid {name}") from None
    if s < (HISTORY_FLOOR if name in ("from", "to") else 0) or e < 0:
        raise InvalidParam(f"Invalid {name}")
    return Position(s, e)
