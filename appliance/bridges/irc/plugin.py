"""The IRC bridge, after matrix.org's IRC bridge: one IRC connection per family member, portals by
alias, ghosts for IRC users, one nominated connection speaking for each channel.

- Networks are set in Admin → Bridges → IRC (one per line: `name host:port [tls]`).
- Joining `#irc_<network>_<#channel>:<server>` (e.g. `#irc_libera_#hearth:hearth.local`; the
  channel with its `#`, in small letters) makes the portal and joins the person's own connection
  to the channel, under their nick (their localpart at first; `!nick` changes it).
- IRC users are ghosts `@irc_<network>/<nick>:<server>` whose display name is their nick.
- Channel operators (+o) have power level 50; giving or taking PL 50 in Matrix gives or takes +o.
  Topics, joins, parts, quits, nick changes and kicks are mirrored.
- A private message from IRC opens an invite-only direct room with the ghost.
- The bot `@ircbot:<server>` answers in a person's management room: !nick !whois !join !part
  !storepass !cmd !quit !help.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, Field, SecretStr, field_validator

from ..api import BridgeContext, BridgeInfo, BridgePlugin, Command, Health, LoginStep, MatrixEvent, ProbeResult
from . import formatting
from .connection import IrcConnection, Network
from .nominate import Channel, Line
from .protocol import Message, format_line, irc_lower, nick_from, split_text, valid_nick
from .store import IrcStore

log = logging.getLogger(__name__)

_NETWORK_LINE = re.compile(r"^([a-z0-9][a-z0-9-]{0,30})\s+([A-Za-z0-9.\-\[\]:]+?):(\d{1,5})(\s+tls)?$")
RAW_ALLOWED = {"MODE", "TOPIC", "INVITE", "KICK", "WHO", "WHOIS", "AWAY", "NAMES", "LIST", "NOTICE", "PRIVMSG"}
OP_LEVEL = 50


def parse_network(line: str) -> Network:
    m = _NETWORK_LINE.match(line.strip())
    if not m:
        raise ValueError(f"{line.strip()!r}: write a network as: name host:port, and tls to use TLS "
                         "(for example: libera irc.libera.chat:6697 tls)")
    port = int(m.group(3))
    if not 0 < port < 65536:
        raise ValueError(f"{line.strip()!r}: the port must be between 1 and 65535")
    return Network(m.group(1), m.group(2), port, bool(m.group(4)))


class IrcSettings(BaseModel):
    networks: list[str] = Field(
        default_factory=list, title="IRC networks",
        description="One per line: a short name, the server and its port, and tls to use TLS. For example: "
                    "libera irc.libera.chat:6697 tls")
    lines_per_second: float = Field(2.0, gt=0, le=20, title="Lines a second to IRC, at most",
                                    description="Flood control: IRC servers disconnect those who send faster.")

    @field_validator("networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        names = set()
        for line in v:
            net = parse_network(line)
            if net.name in names:
                raise ValueError(f"the network name {net.name!r} is used twice")
            names.add(net.name)
        return [line.strip() for line in v]

    def parsed(self) -> dict[str, Network]:
        return {n.name: n for n in (parse_network(line) for line in self.networks)}


class IrcNameForm(BaseModel):
    nick: str = Field(title="Your name on IRC (nick)", min_length=1, max_length=30,
                      description="Letters, digits and []\\`_^{|}-; it cannot start with a digit.",
                      json_schema_extra={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})
    password: SecretStr | None = Field(None, title="Password of that name (if you registered it)",
                                       description="Kept encrypted; sent to the network when you connect.")

    @field_validator("nick")
    @classmethod
    def _nick(cls, v: str) -> str:
        v = v.strip()
        if not valid_nick(v):
            raise ValueError("IRC does not accept that nick: letters, digits and []\\`_^{|}-, not starting with a digit")
        return v


def portal_key(network: str, channel: str) -> str:
    return f"{network}_{irc_lower(channel)}"


def split_portal_key(key: str) -> tuple[str, str] | None:
    network, sep, channel = key.partition("_")
    if not sep or not channel or channel[0] not in "#&":
        return None
    return network, channel


def pm_key(network: str, user_id: str, nick: str) -> str:
    """A direct room's key: `pm/<network>/<nick>/<user ID>` (neither a network nor a nick has a `/`)."""
    return f"pm/{network}/{irc_lower(nick)}/{user_id}"


class IrcBridge(BridgePlugin):
    info = BridgeInfo("irc", "IRC", "Chat with people on IRC networks (Libera.Chat, OFTC…) from your Matrix app.",
                      "https://en.wikipedia.org/wiki/IRC")
    settings_model = IrcSettings
    migrations = "appliance.bridges.irc.migrations"
    plumb_hint = "The network and the channel, e.g. libera #hearth"

    def plumb_key(self, text: str) -> str | None:
        words = text.replace(",", " ").split()
        if len(words) == 1 and self.networks and words[0][:1] in "#&":
            words = [next(iter(self.networks)), words[0]]
        if len(words) != 2 or words[0] not in self.networks or words[1][:1] not in "#&":
            return None
        return portal_key(words[0], words[1])

    async def on_portal_linked(self, key: str, room_id: str) -> None:
        network, channel = split_portal_key(key) or ("", "")
        for user_id in await self.ctx.portals.members(key):
            if self.ctx.is_local_user(user_id):
                (await self._connection(user_id, network)).join(channel)

    # -- life -----------------------------------------------------------------------------------

    async def start(self, ctx: BridgeContext) -> None:
        self.ctx = ctx
        self.settings: IrcSettings = ctx.settings  # type: ignore[assignment]
        self.networks = self.settings.parsed()
        self.fernet = Fernet(base64.urlsafe_b64encode(ctx.secret()))
        self.store = IrcStore(ctx.storage)
        self.conns: dict[tuple[str, str], IrcConnection] = {}      # (user_id, network) → connection
        self.users_by_conn: dict[str, tuple[str, str]] = {}          # connection key → (user_id, network)
        self.channels: dict[tuple[str, str], Channel] = {}          # (network, channel lowered) → nomination
        self.members: dict[tuple[str, str], set[str]] = {}          # (network, channel) → IRC nicks (lowered) there
        self.whois: dict[tuple[str, str], list[str]] = {}           # (conn key, nick lowered) → reply lines
        self.whois_waiters: dict[tuple[str, str], asyncio.Future] = {}
        self.ops: dict[tuple[str, str], set[str]] = {}              # (network, channel) → operators (lowered)
        self._send_lock = asyncio.Lock()
        if not self.networks:
            ctx.set_health(Health.CONNECTED, "No IRC network is set up yet: add one in the settings.")
            return
        ctx.set_health(Health.CONNECTED, "")
        # After a restart: what was waiting to go out, then everyone back in every channel they were in.
        for row, user_id, network, line, queued_ts in await self.store.pending():
            if network in self.networks:
                age = max(0.0, time.time() - queued_ts / 1000)
                (await self._connection(user_id, network)).send(line, row, time.monotonic() - age)
        for portal in await ctx.portals.all():
            parts = split_portal_key(portal.key)
            if parts is None or parts[0] not in self.networks:
                continue
            for user_id in await ctx.portals.members(portal.key):
                if ctx.is_local_user(user_id):
                    (await self._connection(user_id, parts[0])).join(parts[1])

    async def stop(self) -> None:
        for conn in list(getattr(self, "conns", {}).values()):
            await conn.close("Hearth's IRC bridge is stopping")

    def _state(self, conn: IrcConnection, state: str, reason: str) -> None:
        down = [c for c in self.conns.values() if not c.registered.is_set()]
        if state == "reconnecting" or down:
            self.ctx.set_health(Health.RECONNECTING, reason or f"{len(down)} connection(s) reconnecting")
        else:
            self.ctx.set_health(Health.CONNECTED, "")
        if state == "reconnecting":
            for (network, channel), ch in self.channels.items():
                if network == conn.network.name and conn.key in ch.connections():
                    asyncio.ensure_future(self._relay(network, channel, ch.left(conn.key)))

    def _dropped(self, conn: IrcConnection, line: str) -> None:
        user_id, network = self.users_by_conn[conn.key]
        self.ctx.spawn(self.ctx.notice(user_id, f"Not sent to {network} (it was unreachable for too long): {line}"),
                       "drop notice")

    # -- people's connections -------------------------------------------------------------------

    async def _user_row(self, user_id: str, network: str) -> tuple[str | None, str | None]:
        row = await self.store.user(user_id, network)
        if row is None:
            return None, None
        password = None
        if row[1]:
            try:
                password = self.fernet.decrypt(row[1].encode()).decode()
            except InvalidToken:
                log.warning("irc: the stored password of %s on %s cannot be read", user_id, network)
        return row[0], password

    async def _connection(self, user_id: str, network: str) -> IrcConnection:
        conn = self.conns.get((user_id, network))
        if conn is not None:
            return conn
        nick, password = await self._user_row(user_id, network)
        nick = nick or nick_from(user_id[1:].split(":", 1)[0])
        key = f"{network}:{user_id}"
        conn = IrcConnection(key, self.networks[network], nick, on_message=self._on_irc, on_state=self._state,
                             on_dropped=self._dropped, password=password, rate=self.settings.lines_per_second)
        conn.before_write = self.store.unqueue
        self.conns[(user_id, network)] = conn
        self.users_by_conn[key] = (user_id, network)
        self.ctx.spawn(conn.run(), f"connection {key}")
        return conn

    def _our_nicks(self, network: str) -> set[str]:
        return {irc_lower(c.nick) for (u, n), c in self.conns.items() if n == network}

    # -- Matrix → IRC ---------------------------------------------------------------------------

    async def on_alias_query(self, key: str) -> bool:
        parts = split_portal_key(key)
        if parts is None or parts[0] not in self.networks:
            return False
        network, channel = parts
        await self.ctx.portals.create(key, name=channel, topic=f"{channel} on {network} (IRC)", public=True)
        return True

    async def on_event(self, event: MatrixEvent) -> None:
        if event.portal_key is None:
            return
        if event.portal_key.startswith("pm/"):
            await self._pm_from_matrix(event)
            return
        parts = split_portal_key(event.portal_key)
        if parts is None or parts[0] not in self.networks:
            return
        network, channel = parts
        if not self.ctx.is_local_user(event.sender):
            return
        if event.type == "m.room.member" and event.state_key == event.sender:
            membership = event.content.get("membership")
            if membership == "join":
                (await self._connection(event.sender, network)).join(channel)
            elif membership in ("leave", "ban"):
                conn = self.conns.get((event.sender, network))
                if conn is not None:
                    conn.part(channel)
        elif event.type == "m.room.member" and event.content.get("membership") in ("leave", "ban"):
            target = event.state_key or ""
            nick = self._nick_of(network, target)
            conn = self.conns.get((event.sender, network))
            if nick and conn is not None:
                conn.send(format_line("KICK", channel, nick, event.content.get("reason") or "Removed in Matrix"))
        elif event.type in ("m.room.message", "m.sticker"):
            await self._message_to_irc(event, network, channel)
        elif event.type == "m.room.topic" and isinstance(event.content.get("topic"), str):
            conn = await self._connection(event.sender, network)
            conn.send(format_line("TOPIC", channel, event.content["topic"] or " "))
        elif event.type == "m.room.power_levels":
            await self._levels_to_modes(event, network, channel)

    def _nick_of(self, network: str, user_id: str) -> str | None:
        remote = self.ctx.remote_id(user_id)
        if remote is not None:
            net, _, nick = remote.partition("/")
            return nick if net == network else None
        conn = self.conns.get((user_id, network))
        return conn.nick if conn is not None else None

    async def _message_to_irc(self, event: MatrixEvent, network: str, target: str) -> None:
        if await self.store.was_sent(event.event_id):
            return  # given again after a restart: it went out already
        content = dict(event.content)
        replied_to = replied_sender = None
        body = content.get("body") if isinstance(content.get("body"), str) else ""
        m = re.match(r"^> <(@[^>]+)> (.*)", body)
        if m and "m.in_reply_to" in (content.get("m.relates_to") or {}):
            replied_sender = self._nick_of(network, m.group(1)) or m.group(1)
            replied_to = m.group(2)
        media = self.ctx.media_url(content.get("url", "")) if isinstance(content.get("url"), str) else None
        lines, action = formatting.matrix_to_irc(content, media_url=media, replied_to=replied_to,
                                                 replied_sender=replied_sender)
        conn = await self._connection(event.sender, network)
        if target[:1] in "#&":
            conn.join(target)  # a plumbed room's member may not have joined the channel yet
        out = [format_line("PRIVMSG", target, f"\x01ACTION {part}\x01" if action else part)
               for line in lines for part in split_text(line, "PRIVMSG", target)]
        # Queued and marked handled in one transaction: sent once, across a restart too.
        for row, line in zip(await self.store.queue(event.event_id, event.sender, network, out), out):
            conn.send(line, row)

    async def _levels_to_modes(self, event: MatrixEvent, network: str, channel: str) -> None:
        conn = self.conns.get((event.sender, network))
        users = event.content.get("users") if isinstance(event.content.get("users"), dict) else {}
        if conn is None:
            return
        ops = self._ops(network, irc_lower(channel))
        for user_id, level in users.items():
            nick = self._nick_of(network, user_id)
            if nick is None or user_id == event.sender or not isinstance(level, int):
                continue
            is_op = irc_lower(nick) in ops
            if level >= OP_LEVEL and not is_op:
                conn.send(format_line("MODE", channel, "+o", nick))
            elif level < OP_LEVEL and is_op:
                conn.send(format_line("MODE", channel, "-o", nick))

    async def _pm_from_matrix(self, event: MatrixEvent) -> None:
        _, network, nick, user_id = (event.portal_key or "").split("/", 3)
        if event.sender != user_id or event.type != "m.room.message" or network not in self.networks:
            return
        await self._message_to_irc(event, network, nick)

    # -- IRC → Matrix ---------------------------------------------------------------------------

    async def _on_irc(self, conn: IrcConnection, msg: Message) -> None:
        user_id, network = self.users_by_conn[conn.key]
        cmd, p = msg.command, msg.params
        nick = msg.nick or ""
        ours = irc_lower(nick) in self._our_nicks(network)
        if cmd == "JOIN" and p:
            channel = irc_lower(p[0])
            ch = self.channels.setdefault((network, channel), Channel())
            if irc_lower(nick) == irc_lower(conn.nick):
                ch.joined(conn.key)
                return
            self.members.setdefault((network, channel), set()).add(irc_lower(nick))
            if not ours:
                await self._heard(conn, network, channel, Line(nick, "JOIN", ""))
        elif cmd in ("PART", "KICK") and p:
            channel = irc_lower(p[0])
            target = p[1] if cmd == "KICK" and len(p) > 1 else nick
            self.members.get((network, channel), set()).discard(irc_lower(target))
            if irc_lower(target) == irc_lower(conn.nick):
                ch = self.channels.get((network, channel))
                if ch is not None:
                    await self._relay(network, channel, ch.left(conn.key))
                if cmd == "KICK":
                    await self._kicked_person(user_id, network, channel, nick, p[2] if len(p) > 2 else "")
                return
            if irc_lower(target) not in self._our_nicks(network):
                text = p[2] if cmd == "KICK" and len(p) > 2 else (p[1] if len(p) > 1 else "")
                await self._heard(conn, network, channel, Line(nick, cmd, f"{target}\n{text}"))
        elif cmd == "QUIT":
            for (net, channel), nicks in self.members.items():
                if net == network and irc_lower(nick) in nicks:
                    if conn.key in self.channels.get((net, channel), Channel()).connections():
                        await self._heard(conn, network, channel, Line(nick, "QUIT", p[0] if p else ""))
            for (net, channel), nicks in list(self.members.items()):
                if net == network and conn.key == self._nominee(net, channel):
                    nicks.discard(irc_lower(nick))
        elif cmd == "NICK" and p and not ours:
            for (net, channel), nicks in self.members.items():
                if net == network and irc_lower(nick) in nicks:
                    await self._heard(conn, network, channel, Line(nick, "NICK", p[0]))
                    if conn.key == self._nominee(net, channel):
                        nicks.discard(irc_lower(nick))
                        nicks.add(irc_lower(p[0]))
        elif cmd in ("PRIVMSG", "NOTICE") and len(p) >= 2:
            target, text = p[0], p[1]
            if target[:1] in "#&":
                if not ours:
                    kind = "ACTION" if text.startswith("\x01ACTION ") else cmd
                    if kind == "ACTION":
                        text = text[len("\x01ACTION "):].rstrip("\x01")
                    elif text.startswith("\x01"):
                        return  # other CTCP
                    await self._heard(conn, network, irc_lower(target), Line(nick, kind, text))
            elif irc_lower(target) == irc_lower(conn.nick) and nick and "." not in nick and not ours:
                if text.startswith("\x01") and not text.startswith("\x01ACTION "):
                    return
                await self._pm_to_matrix(user_id, network, nick, cmd, text)
        elif cmd == "TOPIC" and len(p) >= 2:
            await self._heard(conn, network, irc_lower(p[0]), Line(nick, "TOPIC", p[1]))
        elif cmd == "332" and len(p) >= 3:  # the topic, on joining
            await self._heard(conn, network, irc_lower(p[1]), Line("", "TOPIC", p[2]))
        elif cmd == "MODE" and len(p) >= 3 and p[0][:1] in "#&":
            await self._heard(conn, network, irc_lower(p[0]), Line(nick, "MODE", " ".join(p[1:])))
        elif cmd == "353" and len(p) >= 4:  # NAMES: who is there, and who is an operator
            channel = irc_lower(p[2])
            members = self.members.setdefault((network, channel), set())
            ops = self._ops(network, channel)
            for entry in p[3].split():
                name = entry.lstrip("@+%&~")
                members.add(irc_lower(name))
                if entry.startswith(("@", "&", "~")):
                    ops.add(irc_lower(name))
            if conn.key == self._nominee(network, channel):
                await self._sync_names(network, channel)
        elif cmd in ("311", "312", "317", "319", "330", "318", "401"):
            await self._whois_reply(conn, msg)

    def _nominee(self, network: str, channel: str) -> str | None:
        ch = self.channels.get((network, channel))
        return ch.nominee if ch else None

    def _ops(self, network: str, channel: str) -> set[str]:
        return self.ops.setdefault((network, channel), set())

    async def _heard(self, conn: IrcConnection, network: str, channel: str, line: Line) -> None:
        ch = self.channels.setdefault((network, channel), Channel())
        await self._relay(network, channel, ch.heard(conn.key, line))

    async def _relay(self, network: str, channel: str, lines: list[Line]) -> None:
        if not lines:
            return
        async with self._send_lock:  # in the order heard
            portal = await self.ctx.portals.get(portal_key(network, channel))
            if portal is None:
                return
            for line in lines:
                try:
                    await self._relay_one(network, channel, portal.room_id, line)
                except Exception:
                    log.exception("irc: relaying %s from %s failed", line.kind, line.sender)

    async def _ghost(self, network: str, nick: str):
        return await self.ctx.ghost(f"{network}/{irc_lower(nick)}", displayname=nick)

    async def _relay_one(self, network: str, channel: str, room_id: str, line: Line) -> None:
        kind = line.kind
        if kind in ("PRIVMSG", "NOTICE", "ACTION"):
            ghost = await self._ghost(network, line.sender)
            await self.ctx.ensure_member(ghost, room_id)
            content = formatting.irc_to_matrix(line.text)
            content["msgtype"] = {"ACTION": "m.emote", "NOTICE": "m.notice"}.get(kind, "m.text")
            await ghost.send_message(room_id, content)
        elif kind == "JOIN":
            await self.ctx.ensure_member(await self._ghost(network, line.sender), room_id)
        elif kind in ("PART", "QUIT"):
            ghost = await self._ghost(network, line.sender)
            target, _, text = line.text.partition("\n") if kind == "PART" else ("", "", line.text)
            try:
                await ghost.leave(room_id, reason=text or None)
            except Exception:
                pass
        elif kind == "KICK":
            target, _, reason = line.text.partition("\n")
            ghost_id = self.ctx.ghost_id(f"{network}/{irc_lower(target)}")
            try:
                await self.ctx.bot.kick(room_id, ghost_id, reason=f"Kicked by {line.sender}: {reason}".strip())
            except Exception:
                pass
        elif kind == "NICK":
            old = await self._ghost(network, line.sender)
            try:
                await old.leave(room_id, reason=f"Now known as {line.text}")
            except Exception:
                pass
            await self.ctx.ensure_member(await self._ghost(network, line.text), room_id)
        elif kind == "TOPIC":
            await self.ctx.bot.send_state(room_id, "m.room.topic", "", {"topic": line.text})
        elif kind == "MODE":
            await self._mode_to_levels(network, channel, line.text)

    async def _mode_to_levels(self, network: str, channel: str, modes: str) -> None:
        words = modes.split()
        if not words:
            return
        flags, args = words[0], words[1:]
        sign = "+"
        levels: dict[str, int] = {}
        ops = self._ops(network, channel)
        for ch in flags:
            if ch in "+-":
                sign = ch
            elif ch in "ovhbklIeaq" and args:
                arg = args.pop(0)
                if ch == "o":
                    (ops.add if sign == "+" else ops.discard)(irc_lower(arg))
                    who = self._matrix_id_of(network, arg)
                    if who is not None:
                        levels[who] = OP_LEVEL if sign == "+" else 0
        if levels:
            await self._ensure_in_portal(network, channel, levels)
            await self.ctx.portals.set_power_levels(portal_key(network, channel), levels)

    def _matrix_id_of(self, network: str, nick: str) -> str | None:
        for (user_id, net), conn in self.conns.items():
            if net == network and irc_lower(conn.nick) == irc_lower(nick):
                return user_id
        return self.ctx.ghost_id(f"{network}/{irc_lower(nick)}")

    async def _ensure_in_portal(self, network: str, channel: str, levels: Mapping[str, int]) -> None:
        portal = await self.ctx.portals.get(portal_key(network, channel))
        if portal is None:
            return
        for user_id in levels:
            if self.ctx.is_ghost(user_id):
                remote = self.ctx.remote_id(user_id) or ""
                await self.ctx.ensure_member(await self._ghost(network, remote.partition("/")[2]), portal.room_id)

    async def _sync_names(self, network: str, channel: str) -> None:
        """After NAMES: operators get PL 50 (the others keep theirs)."""
        ops = self._ops(network, channel)
        levels = {}
        for nick in ops:
            who = self._matrix_id_of(network, nick)
            if who is not None:
                levels[who] = OP_LEVEL
        if levels:
            await self._ensure_in_portal(network, channel, levels)
            await self.ctx.portals.set_power_levels(portal_key(network, channel), levels)

    async def _kicked_person(self, user_id: str, network: str, channel: str, by: str, reason: str) -> None:
        portal = await self.ctx.portals.get(portal_key(network, channel))
        if portal is not None:
            try:
                await self.ctx.bot.kick(portal.room_id, user_id, reason=f"Kicked on IRC by {by}: {reason}".strip())
            except Exception:
                log.exception("irc: mirroring a kick failed")

    async def _pm_to_matrix(self, user_id: str, network: str, nick: str, kind: str, text: str) -> None:
        key = pm_key(network, user_id, nick)
        ghost = await self._ghost(network, nick)
        portal = await self.ctx.portals.get(key)
        if portal is None:
            portal = await self.ctx.portals.create(key, name=nick, topic=f"{nick} on {network} (IRC)", invite=[user_id],
                                                   alias=False, direct=True)
        await self.ctx.ensure_member(ghost, portal.room_id)
        action = text.startswith("\x01ACTION ")
        content = formatting.irc_to_matrix(text[len("\x01ACTION "):].rstrip("\x01") if action else text)
        content["msgtype"] = "m.emote" if action else ("m.notice" if kind == "NOTICE" else "m.text")
        await ghost.send_message(portal.room_id, content)

    # -- the person's page (/me/bridges) ---------------------------------------------------------

    async def login_steps(self, user_id: str) -> list[LoginStep]:
        steps = []
        for network in self.networks:
            nick, password = await self._user_row(user_id, network)
            current = nick or nick_from(user_id[1:].split(":", 1)[0])
            steps.append(LoginStep(
                f"name-{network}", f"Your name on {network}",
                f"You appear on {network} as {current}{' (with a stored password)' if password else ''}. "
                f"Join a channel from your Matrix app: {self.ctx.portal_alias(portal_key(network, '#channel'))}",
                form=IrcNameForm, done=nick is not None))
        return steps

    async def login_submit(self, user_id: str, step_id: str, values: BaseModel) -> str:
        network = step_id.removeprefix("name-")
        if network not in self.networks or not isinstance(values, IrcNameForm):
            return "Unknown step."
        said = [await self.cmd_nick(user_id, [values.nick, network])]
        if values.password is not None and values.password.get_secret_value():
            await self.cmd_storepass(user_id, [values.password.get_secret_value(), network])
            said.append("Your password is stored, encrypted.")
        return " ".join(said)

    # -- management commands --------------------------------------------------------------------

    async def on_command(self, user_id: str, command: str, args: list[str]) -> str | None:
        handler = getattr(self, f"cmd_{command}", None) if command in {c.name for c in self.commands} else None
        return None if handler is None else await handler(user_id, args)

    def _network_arg(self, args: list[str]) -> tuple[str | None, list[str]]:
        if args and args[-1] in self.networks:
            return args[-1], args[:-1]
        return (next(iter(self.networks)) if self.networks else None), args

    async def cmd_nick(self, user_id: str, args: list[str]) -> str:
        network, args = self._network_arg(args)
        if network is None or len(args) != 1:
            return "Usage: !nick NEWNICK [network]"
        if not valid_nick(args[0]):
            return f"{args[0]!r} is not a nick IRC accepts (letters, digits and []\\`_^{{|}}-, not starting with a digit)."
        await self.store.set_nick(user_id, network, args[0])
        conn = self.conns.get((user_id, network))
        if conn is not None:
            conn.wanted_nick = args[0]
            conn.send(format_line("NICK", args[0]))
        return f"Your nick on {network} is now {args[0]}."

    async def cmd_whois(self, user_id: str, args: list[str]) -> str:
        network, args = self._network_arg(args)
        if network is None or len(args) != 1:
            return "Usage: !whois NICK [network]"
        conn = await self._connection(user_id, network)
        key = (conn.key, irc_lower(args[0]))
        self.whois[key] = []
        waiter = asyncio.get_running_loop().create_future()
        self.whois_waiters[key] = waiter
        conn.send(format_line("WHOIS", args[0]))
        try:
            async with asyncio.timeout(10):
                await waiter
        except TimeoutError:
            pass
        finally:
            self.whois_waiters.pop(key, None)
        lines = self.whois.pop(key, [])
        return "\n".join(lines) if lines else f"No answer about {args[0]} from {network}."

    async def _whois_reply(self, conn: IrcConnection, msg: Message) -> None:
        p = msg.params
        if len(p) < 2:
            return
        key = (conn.key, irc_lower(p[1]))
        if key not in self.whois:
            return
        cmd = msg.command
        if cmd == "311" and len(p) >= 6:
            self.whois[key].append(f"{p[1]} is {p[2]}@{p[3]} ({p[5]})")
        elif cmd == "312" and len(p) >= 3:
            self.whois[key].append(f"on {p[2]}")
        elif cmd == "319" and len(p) >= 3:
            self.whois[key].append(f"in {p[2]}")
        elif cmd == "401":
            self.whois[key].append(f"{p[1]}: no such nick")
        if cmd in ("318", "401"):
            waiter = self.whois_waiters.get(key)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def cmd_join(self, user_id: str, args: list[str]) -> str:
        network, args = self._network_arg(args)
        if network is None or len(args) != 1 or args[0][:1] not in "#&":
            return "Usage: !join #channel [network]"
        key = portal_key(network, args[0])
        portal = await self.ctx.portals.get(key)
        if portal is None:
            await self.on_alias_query(key)
            portal = await self.ctx.portals.get(key)
        assert portal is not None
        await self.ctx.bot.invite(portal.room_id, user_id)
        (await self._connection(user_id, network)).join(args[0])
        return f"Joining {args[0]} on {network}: accept the invite to {self.ctx.portal_alias(key)}."

    async def cmd_part(self, user_id: str, args: list[str]) -> str:
        network, args = self._network_arg(args)
        if network is None or len(args) != 1:
            return "Usage: !part #channel [network]"
        conn = self.conns.get((user_id, network))
        if conn is None:
            return f"You are not connected to {network}."
        conn.part(args[0])
        portal = await self.ctx.portals.get(portal_key(network, args[0]))
        if portal is not None:
            try:
                await self.ctx.bot.kick(portal.room_id, user_id, reason="You left the channel with !part")
            except Exception:
                pass
        return f"Left {args[0]} on {network}."

    async def cmd_storepass(self, user_id: str, args: list[str]) -> str:
        network, args = self._network_arg(args)
        if network is None or len(args) != 1:
            return "Usage: !storepass PASSWORD [network] (used for SASL, or NickServ, at the next connect)"
        token = self.fernet.encrypt(args[0].encode()).decode()
        await self.store.set_password(user_id, network, token)
        conn = self.conns.get((user_id, network))
        if conn is not None:
            conn.password = args[0]
        return f"Your password for {network} is stored, encrypted. Delete this message: it shows the password."

    async def cmd_cmd(self, user_id: str, args: list[str]) -> str:
        network, args = self._network_arg(args)
        if network is None or not args:
            return "Usage: !cmd COMMAND args… [network] (MODE, TOPIC, INVITE, KICK, WHO, WHOIS, AWAY, NAMES, LIST)"
        command = args[0].upper()
        if command not in RAW_ALLOWED:
            return f"!cmd does not send {command}: only {', '.join(sorted(RAW_ALLOWED))}."
        line = " ".join([command, *args[1:]])
        if "\r" in line or "\n" in line:
            return "A command is one line."
        (await self._connection(user_id, network)).send(line)
        return f"Sent to {network}: {line}"

    async def cmd_quit(self, user_id: str, args: list[str]) -> str:
        gone = [n for (u, n) in list(self.conns) if u == user_id]
        for network in gone:
            conn = self.conns.pop((user_id, network))
            self.users_by_conn.pop(conn.key, None)
            for (net, channel), ch in self.channels.items():
                if net == network and conn.key in ch.connections():
                    await self._relay(net, channel, ch.left(conn.key))
            await conn.close("Left from Matrix")
        return f"Disconnected from {', '.join(gone)}." if gone else "You were not connected."

    async def probe(self) -> ProbeResult:
        if not self.networks:
            return ProbeResult(False, "No IRC network is set up.")
        network = next(iter(self.networks.values()))
        nick = f"hearthprobe{secrets.randbelow(100000)}"
        got = asyncio.get_running_loop().create_future()
        marker = secrets.token_hex(4)

        async def on_message(conn: IrcConnection, msg: Message) -> None:
            if msg.command == "PRIVMSG" and len(msg.params) > 1 and marker in msg.params[1] and not got.done():
                got.set_result(None)

        conn = IrcConnection(f"probe:{network.name}", network, nick, on_message=on_message,
                             on_state=lambda *a: None)
        started = time.monotonic()
        task = conn.start()
        try:
            async with asyncio.timeout(20):
                await conn.registered.wait()
                conn.send(format_line("PRIVMSG", conn.nick, f"probe {marker}"))
                await got
            return ProbeResult(True, f"A message to {network.name} came back in {time.monotonic() - started:.1f} s.")
        except TimeoutError:
            return ProbeResult(False, f"No answer from {network.name} ({network.host}:{network.port}) within 20 s.")
        finally:
            await conn.close("probe done")
            task.cancel()


IrcBridge.commands = (
    Command("nick", "Change your nick", "!nick NEWNICK [network]"),
    Command("whois", "Ask about someone on IRC", "!whois NICK [network]"),
    Command("join", "Join a channel (you are invited to its room)", "!join #channel [network]"),
    Command("part", "Leave a channel", "!part #channel [network]"),
    Command("storepass", "Store your IRC password, encrypted (SASL or NickServ)", "!storepass PASSWORD [network]"),
    Command("cmd", "Send a raw IRC command (MODE, TOPIC, KICK…)", "!cmd COMMAND args… [network]"),
    Command("quit", "Disconnect from IRC", "!quit"),
)
