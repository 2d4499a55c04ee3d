"""Deterministic Matrix IDs of a bridge's users and portals (pure; no I/O).

A bridge `<id>` owns the user IDs `@<id>_…` (its ghosts), the alias `#<id>_…` (its portals) and
its bot `@<id>bot`. A ghost's localpart carries the remote ID, escaped into the characters a user
ID may hold (spec appendices, "Mapping from other character sets"): `_` becomes `__`, a capital
letter `_` and the small one, and every other character outside `a-z 0-9 . - /` the `=xx` hex of
its UTF-8 bytes. The mapping is one-to-one, so the remote ID is read back from the user ID. An
alias localpart may hold anything but `:` (and NUL), so a portal key is kept readable: only `=`,
`:` and NUL are escaped (`=3d`, `=3a`, `=00`), and capitals are lowered — aliases are looked up as
typed, and `#irc_libera_#Hearth` should find the portal of `#hearth`.
"""
from __future__ import annotations

import re

from ..core.protocol.appservice import Registration, parse_registration

BRIDGE_ID = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-/")


def check_bridge_id(bridge_id: str) -> None:
    if not BRIDGE_ID.match(bridge_id):
        raise ValueError(f"bridge id {bridge_id!r}: small letters and digits, starting with a letter, at most 16")


def escape_localpart(remote_id: str) -> str:
    out = []
    for ch in remote_id:
        if ch == "_":
            out.append("__")
        elif "A" <= ch <= "Z":
            out.append("_" + ch.lower())
        elif ch in _PLAIN:
            out.append(ch)
        else:
            out.extend(f"={b:02x}" for b in ch.encode())
    return "".join(out)


def unescape_localpart(text: str) -> str | None:
    """The remote ID an escaped localpart came from; None if it is not one escape_localpart makes."""
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "_":
            if i + 1 >= len(text):
                return None
            nxt = text[i + 1]
            if nxt == "_":
                raw += b"_"
            elif "a" <= nxt <= "z":
                raw += nxt.upper().encode()
            else:
                return None
            i += 2
        elif ch == "=":
            pair = text[i + 1:i + 3]
            if len(pair) != 2 or not all(c in "0123456789abcdef" for c in pair):
                return None
            raw.append(int(pair, 16))
            i += 3
        elif ch in _PLAIN:
            raw += ch.encode()
            i += 1
        else:
            return None
    try:
        decoded = raw.decode()
    except UnicodeDecodeError:
        return None
    return decoded if escape_localpart(decoded) == text else None


def ghost_id(bridge_id: str, remote_id: str, server_name: str) -> str:
    return f"@{bridge_id}_{escape_localpart(remote_id)}:{server_name}"


def remote_id_of(bridge_id: str, user_id: str, server_name: str) -> str | None:
    prefix, suffix = f"@{bridge_id}_", f":{server_name}"
    if not (user_id.startswith(prefix) and user_id.endswith(suffix)):
        return None
    return unescape_localpart(user_id[len(prefix):-len(suffix)])


def bot_id(bridge_id: str, server_name: str) -> str:
    return f"@{bridge_id}bot:{server_name}"


def portal_alias(bridge_id: str, key: str, server_name: str) -> str:
    escaped = key.lower().replace("=", "=3d").replace(":", "=3a").replace("\0", "=00")
    return f"#{bridge_id}_{escaped}:{server_name}"


def portal_key_of_alias(bridge_id: str, alias: str, server_name: str) -> str | None:
    """The portal key an alias names (lowered), or None when the alias is not the bridge's."""
    prefix, suffix = f"#{bridge_id}_", f":{server_name}"
    if not (alias.startswith(prefix) and alias.endswith(suffix)) or len(alias) <= len(prefix) + len(suffix):
        return None
    text = alias[len(prefix):-len(suffix)].lower()
    return text.replace("=3a", ":").replace("=00", "\0").replace("=3d", "=")


def namespace_registration(bridge_id: str, server_name: str) -> Registration:
    """The bridge's namespaces as an appservice registration without a URL or usable tokens:
    what the appservice registry holds to keep them exclusive (registration, aliases, rooms)."""
    check_bridge_id(bridge_id)
    server = re.escape(server_name)
    unusable = f"in-process-bridge-{bridge_id}-has-no-token"
    return parse_registration({
        "id": bridge_id, "url": None, "as_token": unusable + "-as", "hs_token": unusable + "-hs",
        "sender_localpart": f"{bridge_id}bot", "rate_limited": False,
        "namespaces": {"users": [{"regex": f"@{bridge_id}_.*:{server}", "exclusive": True}],
                       "aliases": [{"regex": f"#{bridge_id}_.*:{server}", "exclusive": True}], "rooms": []},
    }, server_name)
