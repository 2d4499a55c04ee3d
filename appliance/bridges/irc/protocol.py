"""IRC lines (RFC 1459 / 2812, with IRCv3 message tags) as data: parse, format, and the limits.

Pure: no I/O. A line is at most 512 bytes with its CRLF; what the server adds when it relays a
PRIVMSG (`:nick!user@host `) counts against that, so `split_text` leaves room for it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LINE = 512
# Relayed to others as ":nick!user@host PRIVMSG #channel :text\r\n": our budget for the prefix.
PREFIX_ALLOWANCE = 100

_NICK_OK = re.compile(r"^[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]{0,29}$")


@dataclass(frozen=True, slots=True)
class Message:
    command: str
    params: tuple[str, ...] = ()
    prefix: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def nick(self) -> str | None:
        """The sender's nick (the prefix up to `!`), None for a server's own lines."""
        if self.prefix is None or ("!" not in self.prefix and "." in self.prefix):
            return None
        return self.prefix.split("!", 1)[0]


def parse_line(line: str) -> Message | None:
    """One received line (without CRLF); None for an empty one."""
    line = line.rstrip("\r\n")
    if not line:
        return None
    tags: dict[str, str] = {}
    if line.startswith("@"):
        raw, _, line = line.partition(" ")
        for item in raw[1:].split(";"):
            k, _, v = item.partition("=")
            tags[k] = v.replace("\\:", ";").replace("\\s", " ").replace("\\\\", "\\")
    prefix = None
    if line.startswith(":"):
        prefix, _, line = line[1:].partition(" ")
    params: list[str] = []
    while line:
        line = line.lstrip(" ")
        if line.startswith(":"):
            params.append(line[1:])
            break
        word, _, line = line.partition(" ")
        if word:
            params.append(word)
    if not params:
        return None
    return Message(params[0].upper(), tuple(params[1:]), prefix, tags)


def format_line(command: str, *params: str) -> str:
    """A line to send (without CRLF); the last parameter is a trailing one when it needs to be."""
    for p in params:
        if "\r" in p or "\n" in p or "\0" in p:
            raise ValueError("IRC parameters cannot hold line breaks or NUL")
    if not params:
        return command
    *middle, last = params
    for p in middle:
        if not p or " " in p or p.startswith(":"):
            raise ValueError(f"middle IRC parameter {p!r} must be one word")
    if not last or " " in last or last.startswith(":"):
        last = ":" + last
    return " ".join([command, *middle, last])


def irc_lower(text: str) -> str:
    """RFC 1459 case mapping: []\\~ are the capitals of {}|^."""
    return text.lower().translate(str.maketrans("[]\\~", "{}|^"))


def valid_nick(nick: str) -> bool:
    return bool(_NICK_OK.match(nick))


def nick_from(text: str, fallback: str = "hearthuser") -> str:
    """A valid nick made from a Matrix localpart or display name."""
    cleaned = re.sub(r"[^A-Za-z0-9\[\]\\`_^{|}-]", "", text)
    if not cleaned or not re.match(r"[A-Za-z\[\]\\`_^{|}]", cleaned[0]):
        cleaned = ("m" + cleaned) if cleaned else fallback
    return cleaned[:30]


def split_text(text: str, command: str, target: str, limit: int = MAX_LINE) -> list[str]:
    """`text` as the parameters of as many `command target :…` lines as it takes: split on line
    breaks, then at spaces (or anywhere in a long word) so that no line passes the limit,
    never inside a UTF-8 character."""
    budget = limit - 2 - PREFIX_ALLOWANCE - len(f"{command} {target} :".encode())
    out = []
    for paragraph in text.replace("\r\n", "\n").split("\n"):
        if not paragraph:
            continue
        while len(paragraph.encode()) > budget:
            cut = _cut(paragraph, budget)
            out.append(paragraph[:cut].rstrip(" "))
            paragraph = paragraph[cut:].lstrip(" ")
        if paragraph:
            out.append(paragraph)
    return out


def _cut(text: str, budget: int) -> int:
    """Where to cut `text` so the head fits `budget` bytes: the last space that fits, else a character."""
    size = 0
    last_space = -1
    for i, ch in enumerate(text):
        size += len(ch.encode())
        if size > budget:
            return last_space + 1 if last_space > 0 else max(i, 1)
        if ch == " ":
            last_space = i
    return len(text)
