"""The plugin API of in-process bridges (DESIGN decision 9): what a bridge is, and the narrow
context it is given. A plugin never sees the server itself.

The shape follows mautrix-go's bridgev2, read before designing this: the network side (a
`BridgePlugin`, bridgev2's NetworkConnector and NetworkAPI) talks to the remote network; the
Matrix side (`BridgeContext`, bridgev2's MatrixConnector and Bridge) gives it *intents* — the
bot's and one per remote user (a *ghost*) — to act in Matrix, *portals* (a Matrix room per remote
chat, found by a deterministic key), and the events of the rooms it cares about. IDs are
deterministic: a ghost's user ID comes from its remote ID (`ghost_id`), a portal's alias from
its key (`portal_alias`), so a restart finds everything again without a lookup table.

A plugin module registers a class in the entry-point group `appliance.bridges`:

    [project.entry-points."appliance.bridges"]
    irc = "appliance.bridges.irc:IrcBridge"

The class has the class attributes of `BridgePlugin` (`info`, `settings_model`, optional
`migrations`) and is made with no arguments when the bridge is switched on. The host
(appliance/bridges/host.py) then calls, each with a timeout: `start(ctx)` once, `on_event(event)`
for every committed Matrix event of the bridge's rooms (from its own persisted stream position:
in order, none missed; one in flight at a crash is given again after the restart),
`on_command(...)` for `!commands` in a person's management room, `on_alias_query(key)` when
someone joins a portal alias that has no room yet, `probe()` for the end-to-end
check, `stop()` when the bridge is switched off or Hearth stops. A call that raises or does not
return in time marks the bridge failed on the dashboard; the host restarts it with backoff.

Long-running work (a connection to the remote network) goes in tasks made with `ctx.spawn`: they
are cancelled on stop and a crash in one is a crash of the bridge.
"""
from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class BridgeInfo:
    id: str              # the entry point's name: [a-z][a-z0-9]*, also the namespace prefix
    name: str            # shown to people: "IRC"
    description: str     # one sentence for the wizard and the admin page
    network_url: str = ""  # where people read about the network


class Health(enum.Enum):
    STARTING = "starting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class MatrixEvent:
    """A committed event of a room the bridge takes part in, as the plugin sees it."""

    event_id: str
    room_id: str
    sender: str
    type: str
    content: Mapping[str, Any]
    origin_server_ts: int
    state_key: str | None = None
    redacts: str | None = None
    portal_key: str | None = None        # the room's portal, if it is one
    management_of: str | None = None     # the person whose management room this is, if it is one

    @property
    def is_state(self) -> bool:
        return self.state_key is not None


@dataclass(frozen=True, slots=True)
class EphemeralEvent:
    """Typing (`m.typing`: content.user_ids), a read receipt (`m.receipt`: sender read
    content.event_id) or presence (`m.presence`: sender's content) of the bridge's rooms."""

    type: str
    room_id: str | None
    sender: str | None
    content: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    """A message from the remote network for `BridgeContext.backfill`: sent as `sender` (a ghost's
    remote ID) with the remote network's time."""

    sender: str
    content: Mapping[str, Any]
    ts: int
    event_type: str = "m.room.message"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    detail: str          # plain words: "A message went to #hearth-probe and came back in 0.4 s"


@dataclass(frozen=True, slots=True)
class Command:
    """A management-room command: `!name args…`. `handler(ctx, user_id, args)` returns the reply."""

    name: str
    summary: str                   # one line for `!help`
    usage: str = ""                # "!nick NEWNICK"
    handler: Callable[[BridgeContext, str, list[str]], Awaitable[str]] | None = None


@dataclass(frozen=True, slots=True)
class LoginStep:
    """One step of a person's login to the remote network, rendered by the web UI (/me/bridges):
    a form (a pydantic model), a code to type elsewhere, or a QR code to scan."""

    id: str
    title: str
    instructions: str
    form: type[BaseModel] | None = None
    code: str | None = None
    qr: str | None = None
    done: bool = False


class Intent(Protocol):
    """Acting in Matrix as one user the bridge owns (its bot or a ghost)."""

    user_id: str

    async def send_message(self, room_id: str, content: Mapping[str, Any], *, event_type: str = "m.room.message",
                           ts: int | None = None, txn_id: str | None = None) -> str: ...

    async def send_state(self, room_id: str, event_type: str, state_key: str, content: Mapping[str, Any]) -> str: ...

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str: ...

    async def set_displayname(self, name: str | None) -> None: ...

    async def set_avatar_url(self, url: str | None) -> None: ...

    async def join(self, room_id: str) -> None: ...

    async def leave(self, room_id: str, reason: str | None = None) -> None: ...

    async def invite(self, room_id: str, user_id: str) -> None: ...

    async def kick(self, room_id: str, user_id: str, reason: str | None = None) -> None: ...

    async def ban(self, room_id: str, user_id: str, reason: str | None = None) -> None: ...

    async def set_typing(self, room_id: str, typing: bool, timeout_ms: int = 30_000) -> None: ...


@dataclass(frozen=True, slots=True)
class Portal:
    key: str             # the plugin's deterministic key of the remote chat ("libera/#hearth")
    room_id: str
    plumbed: bool        # an existing Matrix room linked by an admin (not made by the bridge)


class Portals(Protocol):
    async def get(self, key: str) -> Portal | None: ...

    async def by_room(self, room_id: str) -> Portal | None: ...

    async def create(self, key: str, *, name: str, topic: str | None = None, invite: Sequence[str] = (),
                     public: bool = False, alias: bool = True, direct: bool = False) -> Portal: ...

    async def plumb(self, key: str, room_id: str) -> Portal: ...

    async def unlink(self, key: str) -> None: ...

    async def all(self) -> list[Portal]: ...

    async def members(self, key: str) -> list[str]:
        """Who is joined to the portal now."""
        ...

    async def set_power_levels(self, key: str, levels: Mapping[str, int]) -> None:
        """Users' power levels in the portal (remote roles mapped by the plugin: op → 50)."""
        ...


class PluginStorage(Protocol):
    """The plugin's own tables (declared by its `migrations` package), and nothing else: a query
    that touches any other table is refused by SQLite's authorizer."""

    async def fetchall(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple]: ...

    async def fetchone(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> tuple | None: ...

    async def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> int:
        """One write, committed (and durable) when this returns; the number of rows changed."""
        ...

    async def execute_many(self, statements: Sequence[tuple[str, Sequence[Any] | Mapping[str, Any]]]) -> None:
        """Several writes in one transaction."""
        ...


@runtime_checkable
class BridgeContext(Protocol):
    """Everything a plugin may do. Made by the host for one plugin; its IDs are all inside the
    plugin's namespace (`@<id>_…`, `#<id>_…` and the bot `@<id>bot`)."""

    info: BridgeInfo
    server_name: str
    bot: Intent
    portals: Portals
    storage: PluginStorage

    @property
    def settings(self) -> BaseModel:
        """The plugin's settings as the admin saved them (a `settings_model` instance)."""
        ...

    def ghost_id(self, remote_id: str) -> str:
        """The user ID of the ghost of `remote_id` (deterministic, escaped into a localpart)."""
        ...

    def is_ghost(self, user_id: str) -> bool: ...

    def remote_id(self, user_id: str) -> str | None:
        """The remote ID a ghost's user ID was made from (None for anyone else)."""
        ...

    def portal_alias(self, key: str) -> str:
        """The alias `#<id>_<escaped key>:<server>` of the portal of `key`."""
        ...

    async def ghost(self, remote_id: str, *, displayname: str | None = None,
                    avatar_url: str | None = None) -> Intent:
        """The ghost's intent; the account exists (without a password) once this returns."""
        ...

    async def ensure_member(self, intent: Intent, room_id: str) -> None:
        """The intent's user joined to a room of the bridge (invited by the bot first if needed)."""
        ...

    async def management_room(self, user_id: str) -> str:
        """The person's management room with the bot (made and the person invited on first use)."""
        ...

    async def notice(self, user_id: str, text: str) -> None:
        """A notice from the bot in the person's management room."""
        ...

    def set_health(self, health: Health, reason: str = "") -> None:
        """What the dashboard shows: connected, reconnecting (with why) or failed (with why)."""
        ...

    async def backfill(self, portal_key: str, messages: Sequence[RemoteMessage]) -> list[str]:
        """History into a portal, in order, with the remote timestamps: persisted in one write
        without waking clients per event. Returns the event IDs."""
        ...

    def spawn(self, coro: Awaitable[Any], name: str) -> Any:
        """A task of the bridge: cancelled on stop; if it raises, the bridge has failed."""
        ...

    def is_local_user(self, user_id: str) -> bool:
        """A person with an account here (not a ghost, not the bot, not a remote user)."""
        ...

    def secret(self) -> bytes:
        """32 bytes made for this server and this bridge, kept outside the database: the key for
        what the plugin must store encrypted (people's passwords on the other network)."""
        ...

    def media_url(self, mxc: str) -> str | None:
        """An HTTP address of Hearth's for an `mxc://` URI, for networks that can only show a link."""
        ...


class BridgePlugin:
    """The base of a bridge plugin; subclass it and set the class attributes."""

    info: ClassVar[BridgeInfo]
    settings_model: ClassVar[type[BaseModel] | None] = None
    # A package holding NNNN_name.sql files: the plugin's own tables, applied at its start, in the
    # plugin's own migration track. Table names must start with `<id>_`.
    migrations: ClassVar[str | None] = None
    commands: ClassVar[Sequence[Command]] = ()
    # What the admin page asks for when an admin links an existing room (see `plumb_key`).
    plumb_hint: ClassVar[str] = "The remote chat's name"

    async def start(self, ctx: BridgeContext) -> None:
        """Connect and be ready (return quickly; long work goes in ctx.spawn)."""

    async def stop(self) -> None:
        """Disconnect; called once, also after a failed start."""

    async def on_event(self, event: MatrixEvent) -> None:
        """A committed Matrix event of one of the bridge's rooms (never one its own users sent).
        The one in flight when Hearth stopped hard is given again: make handling it twice
        harmless (send into Matrix with `txn_id` derived from `event.event_id`, write rows once)."""

    async def on_ephemeral(self, event: EphemeralEvent) -> None:
        """Typing, read receipts and presence in the bridge's rooms (a courtesy: one that fails is
        logged and not given again)."""

    def plumb_key(self, text: str) -> str | None:
        """What an admin typed to name a remote chat (Admin → Bridges → link a room) → the portal
        key, or None when it names none."""
        return text.strip() or None

    async def on_portal_linked(self, key: str, room_id: str) -> None:
        """An admin linked an existing room to the remote chat `key` (the bot has joined it)."""

    async def on_alias_query(self, key: str) -> bool:
        """Someone looked up (or is joining) `#<id>_<key>`, a portal that does not exist yet:
        make it now (`ctx.portals.create(key, …)`) and answer True, or answer False (not found)."""
        return False

    async def on_user_query(self, remote_id: str) -> bool:
        """Someone asked about the ghost of `remote_id`, who has no account yet: True to make it."""
        return False

    async def on_command(self, user_id: str, command: str, args: list[str]) -> str | None:
        """A `!command` nobody in `commands` handles; None: unknown (the host answers with help)."""
        return None

    async def login_steps(self, user_id: str) -> list[LoginStep]:
        """The person's login to the remote network (or their name and password on it), as steps
        the web UI renders on /me/bridges; [] when the network needs none."""
        return []

    async def login_submit(self, user_id: str, step_id: str, values: BaseModel) -> str:
        """A submitted step's form (an instance of that step's `form`); what to tell the person."""
        return ""

    async def probe(self) -> ProbeResult:
        """The end-to-end check: a message out and back. Default: not offered."""
        return ProbeResult(False, "This bridge has no end-to-end check.")


PluginFactory = Callable[[], BridgePlugin]


@dataclass(frozen=True, slots=True)
class InstalledBridge:
    """An entry point of the group, loaded (or not: `error` says why)."""

    id: str
    info: BridgeInfo | None
    factory: type[BridgePlugin] | None
    error: str = ""
