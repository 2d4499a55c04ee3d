"""The bridge host: which bridges are switched on, and one supervised runner for each.

A bridge is switched on by the admin (Admin → Bridges, the wizard's Bridges step, `hearth bridges
enable`), stored as the setting `bridge_<id>` = {"enabled": …, "settings": {…}}, or by the
operator with `HEARTH_BRIDGES_ENABLED` (which then decides). The host looks at the stored values
every WATCH_S seconds (another process, the CLI, may have changed them) and starts or stops
runners. A bridge that is off costs nothing: its module is not imported, it has no task.

A runner (`BridgeRunner`) starts its plugin (`start(ctx)` within START_TIMEOUT_S), holds its
namespaces in the appservice registry, and follows the stream as the consumer `bridge:<id>`
from a persisted position: each event of the bridge's rooms is handed to the plugin (within
CALL_TIMEOUT_S) and the position saved right after it, so a restart neither skips nor repeats
one (only an event in flight at a crash is given again). `!commands` in a person's management
room are answered by the host (`!help`) or the plugin's commands. Anything that raises or does
not answer in time — a call, a task of the plugin — fails the bridge: it is stopped, shown as
failed with the reason, and started again after a backoff that doubles up to MAX_BACKOFF_S (and
starts over once it has run for HEALTHY_AFTER_S). An event that fails the plugin POISON_TRIES
times is skipped, so one bad event cannot hold a bridge down. Hearth keeps serving throughout.
"""
from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from ..core.metrics import Family
from ..core.protocol.appservice import RegistrationError
from ..core.protocol.errors import MatrixError
from ..core.protocol.events import Pdu
from ..core.services import bridge_switches
from ..core.services.bridge_switches import WATCH_S, setting_key
from ..core.storage.plugin_tables import PluginTables
from ..core.stream_consumer import Batch, StreamConsumer
from . import naming
from .api import (BridgeInfo, BridgePlugin, EphemeralEvent, Health, InstalledBridge, LoginStep, MatrixEvent,
                  ProbeResult)
from .context import PluginContext
from .matrix_side import MatrixSide

log = logging.getLogger(__name__)

GROUP = "appliance.bridges"
START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
MIN_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
HEALTHY_AFTER_S = 60.0
POISON_TRIES = 3
EVENTS_PER_READ = 100


class NoSettings(BaseModel):
    """The settings of a plugin that has none."""


class PluginFailed(RuntimeError):
    """The plugin raised or did not answer in time."""


def installed() -> dict[str, Any]:
    """The entry points of the group by name, not loaded."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(ep: Any) -> InstalledBridge:
    """Import one plugin (only for a bridge switched on, or a page that describes it)."""
    try:
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, BridgePlugin)) or not isinstance(
                getattr(cls, "info", None), BridgeInfo):
            raise TypeError("not a BridgePlugin subclass with `info`")
        if cls.info.id != ep.name:
            raise TypeError(f"its info.id is {cls.info.id!r}, its entry point {ep.name!r}")
        naming.check_bridge_id(ep.name)
    except Exception as exc:  # a broken plugin is reported, never fatal
        log.warning("bridge plugin %s could not be loaded: %s", ep.name, exc)
        return InstalledBridge(ep.name, None, None, f"It could not be loaded: {exc}")
    return InstalledBridge(ep.name, cls.info, cls)


@dataclass
class BridgeStatus:
    id: str
    health: Health = Health.OFF
    reason: str = ""
    since_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    restarts: int = 0
    events_in: int = 0          # Matrix events handed to the plugin
    last_error: str = ""
    last_probe: ProbeResult | None = None

    def set(self, health: Health, reason: str = "") -> None:
        if health != self.health or reason != self.reason:
            self.health, self.reason = health, reason
            self.since_ms = int(time.time() * 1000)


async def _call(what: str, coro: Any, timeout: float = CALL_TIMEOUT_S) -> Any:
    try:
        async with asyncio.timeout(timeout):
            return await coro
    except TimeoutError:
        raise PluginFailed(f"{what} did not answer within {timeout:g} s") from None
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise PluginFailed(f"{what} failed: {type(exc).__name__}: {exc}") from exc


class BridgeRunner:
    def __init__(self, side: MatrixSide, bridge: InstalledBridge, settings_values: dict[str, Any],
                 call_timeout: float = CALL_TIMEOUT_S):
        assert bridge.info is not None and bridge.factory is not None
        self.side = side
        self.call_timeout = call_timeout
        self.info: BridgeInfo = bridge.info
        self.factory = bridge.factory
        self.settings_values = settings_values
        self.status = BridgeStatus(bridge.info.id)
        self.plugin: BridgePlugin | None = None
        self.ctx: PluginContext | None = None
        self.tables: PluginTables | None = None
        self._crashed: asyncio.Future | None = None
        self._poison: dict[str, int] = {}
        self.consumer = StreamConsumer(f"bridge:{self.info.id}", side.db, side.stream, side.consumers,
                                       self._prepare, start_at_current=True)

    # -- life ---------------------------------------------------------------------------------

    def settings_model(self) -> BaseModel:
        model = self.factory.settings_model
        if model is None:
            return NoSettings()
        try:
            return model.model_validate(self.settings_values)
        except ValidationError as exc:
            raise PluginFailed(f"its settings are not valid: {exc.errors()[0].get('msg')}") from None

    async def run(self) -> None:
        backoff = MIN_BACKOFF_S
        while True:
            started = time.monotonic()
            try:
                await self._start()
                follow = asyncio.ensure_future(self._follow())
                assert self._crashed is not None
                try:
                    done, _ = await asyncio.wait({follow, self._crashed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    follow.cancel()
                for fut in done:
                    fut.result()  # raises the reason
                raise PluginFailed("stopped following the stream")
            except asyncio.CancelledError:
                await self._shutdown()
                self.status.set(Health.OFF)
                raise
            except Exception as exc:
                reason = str(exc) if isinstance(exc, PluginFailed) else f"{type(exc).__name__}: {exc}"
                log.error("bridge %s failed: %s", self.info.id, reason, exc_info=not isinstance(exc, PluginFailed))
                self.status.set(Health.FAILED, reason)
                self.status.last_error = reason
                self.status.restarts += 1
                await self._shutdown(keep_status=True)
                if time.monotonic() - started > HEALTHY_AFTER_S:
                    backoff = MIN_BACKOFF_S
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _start(self) -> None:
        self.status.set(Health.STARTING)
        self._crashed = asyncio.get_running_loop().create_future()
        settings = self.settings_model()
        self.tables = PluginTables(self.side.db, self.info.id)
        if self.factory.migrations:
            self.tables.migrate(self.factory.migrations)
        try:
            self.side.registry.reserve(naming.namespace_registration(self.info.id, self.side.server_name),
                                       _Queries(self))
        except RegistrationError as exc:
            raise PluginFailed(f"its namespace is taken: {exc}") from None
        await self.side.ensure_user(naming.bot_id(self.info.id, self.side.server_name), f"{self.info.name} bridge")
        self.plugin = await _call("making the plugin", _made(self.factory))
        self.ctx = PluginContext(self.side, self.info, settings, self.tables, self.status.set, self._task_failed)
        await _call("start()", self.plugin.start(self.ctx), START_TIMEOUT_S)
        if self.status.health == Health.STARTING:
            self.status.set(Health.CONNECTED)

    def _task_failed(self, exc: BaseException) -> None:
        if self._crashed is not None and not self._crashed.done():
            self._crashed.set_exception(PluginFailed(f"a task failed: {type(exc).__name__}: {exc}"))

    async def _shutdown(self, keep_status: bool = False) -> None:
        plugin, ctx = self.plugin, self.ctx
        self.plugin = self.ctx = None
        if ctx is not None:
            await ctx.cancel_tasks()
        if plugin is not None:
            try:
                await _call("stop()", plugin.stop(), STOP_TIMEOUT_S)
            except PluginFailed as exc:
                log.warning("bridge %s: %s", self.info.id, exc)
        self.side.registry.release(self.info.id)
        if self.tables is not None:
            self.tables.close()
            self.tables = None
        if self._crashed is not None and not self._crashed.done():
            self._crashed.cancel()

    # -- the stream ---------------------------------------------------------------------------

    async def _follow(self) -> None:
        while True:
            pos = await self.consumer.catch_up()
            await self.side.stream.wait_past(pos)

    async def _prepare(self, after: int, upto: int) -> Batch:
        evs = await self.side.events.live_events_between(after, upto, EVENTS_PER_READ)
        portals, managed = await self.side.store.room_ids(self.info.id)
        for ev in evs:
            if self._mine(ev.pdu.sender):
                continue
            if await self._relevant(ev.pdu, portals, managed):
                await self._ephemeral(after, ev.stream_pos - 1, portals)
                await self._handle(ev.pdu, portals, managed)
                return Batch(ev.stream_pos, _nothing)  # saved right after the event
        end = evs[-1].stream_pos if len(evs) == EVENTS_PER_READ else upto
        if await self._ephemeral(after, end, portals):
            return Batch(end, _nothing)
        return Batch(end)

    async def _ephemeral(self, after: int, upto: int, portals: dict[str, str]) -> bool:
        """Receipts and presence in (after, upto] of the bridge's portals, handed on; True if any."""
        if upto <= after or self.plugin is None or not portals:
            return False
        out: list[EphemeralEvent] = []
        for r in await self.side.receipts.changed_anywhere(after, upto):
            if r.room_id in portals and not self._mine(r.user_id) and r.receipt_type == "m.read":
                out.append(EphemeralEvent("m.receipt", r.room_id, r.user_id,
                                          {"event_id": r.event_id, "thread_id": r.thread_id or None, "ts": r.ts}))
        for p in await self.side.presence.changes(after, upto):
            user_id = p.get("sender", "")
            if self._mine(user_id):
                continue
            rooms = [room for room in await self.side.presence.joined_rooms(user_id) if room in portals]
            if rooms:
                out.append(EphemeralEvent("m.presence", None, user_id, p.get("content", {})))
        for event in out:
            await self._give_ephemeral(event)
        return bool(out)

    async def _give_ephemeral(self, event: EphemeralEvent) -> None:
        if self.plugin is None:
            return
        try:
            await _call("on_ephemeral()", self.plugin.on_ephemeral(event), self.call_timeout)
        except PluginFailed as exc:  # a courtesy: logged, not a failure of the bridge
            log.warning("bridge %s: %s", self.info.id, exc)

    async def typing_changed(self, room_id: str) -> None:
        if self.plugin is None:
            return
        portals, _managed = await self.side.store.room_ids(self.info.id)
        if room_id in portals:
            users = [u for u in self.side.typing.typing_users(room_id) if not self._mine(u)]
            await self._give_ephemeral(EphemeralEvent("m.typing", room_id, None, {"user_ids": users}))

    async def _relevant(self, pdu: Pdu, portals: dict[str, str], managed: dict[str, str]) -> bool:
        if pdu.room_id in portals or pdu.room_id in managed:
            return True
        target = pdu.state_key if pdu.type == "m.room.member" else None
        return target is not None and (self._mine(target))

    def _mine(self, user_id: str) -> bool:
        return (user_id == naming.bot_id(self.info.id, self.side.server_name)
                or naming.remote_id_of(self.info.id, user_id, self.side.server_name) is not None)

    async def _handle(self, pdu: Pdu, portals: dict[str, str], managed: dict[str, str]) -> bool:
        """Hand one event on (one `_relevant` says concerns the bridge)."""
        room_id = pdu.room_id
        target = pdu.state_key if pdu.type == "m.room.member" else None
        bot = naming.bot_id(self.info.id, self.side.server_name)
        if room_id not in portals and room_id not in managed:
            if target == bot and pdu.membership == "invite" and self.ctx is not None:
                await self._invited_bot(pdu)
                return True
            if not (target is not None and self._mine(target)):
                return False
        if room_id in managed and pdu.sender == managed[room_id] and pdu.type == "m.room.message":
            body = pdu.content.get("body")
            if isinstance(body, str) and body.startswith("!"):
                await self._command(managed[room_id], room_id, body)
                return True
        event = MatrixEvent(pdu.event_id, room_id, pdu.sender, pdu.type, pdu.content, pdu.origin_server_ts,
                            pdu.state_key, pdu.redacts, portals.get(room_id), managed.get(room_id))
        assert self.plugin is not None
        try:
            await _call("on_event()", self.plugin.on_event(event), self.call_timeout)
        except PluginFailed:
            tries = self._poison[pdu.event_id] = self._poison.get(pdu.event_id, 0) + 1
            if tries < POISON_TRIES:
                raise
            log.error("bridge %s: skipping %s after %d failures", self.info.id, pdu.event_id, tries)
            self._poison.pop(pdu.event_id, None)
        self.status.events_in += 1
        return True

    async def _invited_bot(self, pdu: Pdu) -> None:
        """A person invited the bot: it joins, and the room is their management room."""
        assert self.ctx is not None
        inviter = pdu.sender
        await self.ctx.bot.join(pdu.room_id)
        if self.ctx.is_local_user(inviter):
            await self.side.store.set_management_room(self.info.id, inviter, pdu.room_id)
            await self.ctx.bot.send_message(pdu.room_id, {
                "msgtype": "m.notice", "body": f"Hello! This is the {self.info.name} bridge. Send !help to see "
                                               "what I understand."})

    async def _command(self, user_id: str, room_id: str, body: str) -> None:
        assert self.plugin is not None and self.ctx is not None
        try:
            words = shlex.split(body[1:])
        except ValueError:
            words = body[1:].split()
        name, args = (words[0].lower(), words[1:]) if words else ("help", [])
        reply: str | None
        commands = {c.name: c for c in self.factory.commands}
        if name == "help":
            lines = [f"{self.info.name} bridge commands:"] + [
                f"  {c.usage or '!' + c.name} — {c.summary}" for c in self.factory.commands] + ["  !help — this list"]
            reply = "\n".join(lines)
        else:
            try:
                if name in commands and commands[name].handler is not None:
                    reply = await _call(f"!{name}", commands[name].handler(self.ctx, user_id, args), self.call_timeout)
                else:
                    reply = await _call(f"!{name}", self.plugin.on_command(user_id, name, args), self.call_timeout)
                    if reply is None:
                        reply = f"I don't know !{name}. Send !help for the commands."
            except PluginFailed as exc:  # told to the person; one command does not fail the bridge
                log.warning("bridge %s: %s", self.info.id, exc)
                reply = f"Sorry, {exc}."
        self.status.events_in += 1
        if reply:
            await self.ctx.bot.send_message(room_id, {"msgtype": "m.notice", "body": reply})

    # -- asked by the pages -------------------------------------------------------------------

    async def probe(self) -> ProbeResult:
        if self.plugin is None:
            result = ProbeResult(False, "The bridge is not running.")
        else:
            try:
                result = await _call("probe()", self.plugin.probe(), START_TIMEOUT_S)
            except PluginFailed as exc:
                result = ProbeResult(False, str(exc))
        self.status.last_probe = result
        return result


async def _made(factory: Callable[[], BridgePlugin]) -> BridgePlugin:
    return factory()


def _nothing(conn: Any) -> None:
    """A batch's write with nothing but the consumer's position in it (saved now, not later)."""
    return None


class _Queries:
    """The registry's questions about users and aliases in a running bridge's namespace."""

    def __init__(self, runner: BridgeRunner):
        self.runner = runner

    async def user_exists(self, user_id: str) -> bool:
        r = self.runner
        remote = naming.remote_id_of(r.info.id, user_id, r.side.server_name)
        if remote is None or r.plugin is None or r.ctx is None:
            return False
        try:
            if await _call("on_user_query()", r.plugin.on_user_query(remote), r.call_timeout):
                await r.ctx.ghost(remote)
                return True
        except PluginFailed as exc:
            log.warning("bridge %s: %s", r.info.id, exc)
        return False

    async def alias_exists(self, alias: str) -> bool:
        r = self.runner
        key = naming.portal_key_of_alias(r.info.id, alias, r.side.server_name)
        if key is None or r.plugin is None:
            return False
        try:
            return bool(await _call("on_alias_query()", r.plugin.on_alias_query(key), r.call_timeout))
        except PluginFailed as exc:
            log.warning("bridge %s: %s", r.info.id, exc)
            return False


class BridgeHost:
    def __init__(self, side: MatrixSide, read_config: Callable[[], Any], write_config: Callable[[dict], Any],
                 forced: Callable[[], list[str] | None], call_timeout: float = CALL_TIMEOUT_S):
        """`read_config()` → the stored settings (a dict of key → value, awaited); `write_config(values)`
        stores some (awaited); `forced()` → the operator's HEARTH_BRIDGES_ENABLED list, or None
        when the stored choice decides."""
        self.side = side
        self.call_timeout = call_timeout
        self.read_config = read_config
        self.write_config = write_config
        self.forced = forced
        self.runners: dict[str, BridgeRunner] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        side.typing.changed.subscribe(self._typing_changed)
        self._configs: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()

    async def entry(self, bridge_id: str) -> dict[str, Any]:
        """The stored choice for one bridge: {"enabled": bool, "settings": {…}}."""
        entry = (await self.read_config()).get(setting_key(bridge_id))
        entry = dict(entry) if isinstance(entry, dict) else {}
        entry["enabled"] = bool(entry.get("enabled"))
        entry["settings"] = entry.get("settings") if isinstance(entry.get("settings"), dict) else {}
        return entry

    def is_on(self, bridge_id: str, entry: dict[str, Any]) -> bool:
        return bridge_switches.is_on(bridge_id, entry, self.forced())

    async def configure(self, bridge: InstalledBridge, *, enabled: bool | None = None,
                        settings: dict[str, Any] | None = None, apply: bool = True) -> dict[str, Any]:
        """Store a bridge's switch and settings (checked against its model: ValidationError) and,
        in the serving process (`apply`), start, stop or restart it now."""
        entry = await self.entry(bridge.id)
        if enabled is not None:
            entry["enabled"] = enabled
        if settings is not None:
            model = bridge.factory.settings_model if bridge.factory is not None else None
            entry["settings"] = model.model_validate(settings).model_dump(mode="json") if model else dict(settings)
        await self.write_config({setting_key(bridge.id): entry})
        if apply:
            await self.reconcile()
        return entry

    def describe(self) -> list[InstalledBridge]:
        """Every installed bridge, loaded to describe it (the pages; not at start-up)."""
        return [load(ep) for _name, ep in sorted(installed().items())]

    async def wanted(self) -> dict[str, dict[str, Any]]:
        """Bridge id → its stored entry, for the bridges that should run."""
        stored = await self.read_config()
        forced = self.forced()
        out = {}
        for name in installed():
            entry = stored.get(setting_key(name))
            if bridge_switches.is_on(name, entry, forced):
                out[name] = entry if isinstance(entry, dict) else {}
        return out

    async def reconcile(self) -> None:
        """Start what should run and is not, stop what runs and should not, restart what has
        new settings."""
        async with self._lock:
            wanted = await self.wanted()
            for name in list(self.runners):
                if name not in wanted or wanted[name].get("settings", {}) != self._configs.get(name):
                    await self._stop(name)
            for name, entry in wanted.items():
                if name in self.runners:
                    continue
                bridge = load(installed()[name])
                if bridge.factory is None:
                    log.error("bridge %s is switched on but %s", name, bridge.error)
                    continue
                settings = entry.get("settings") if isinstance(entry.get("settings"), dict) else {}
                runner = BridgeRunner(self.side, bridge, settings, self.call_timeout)
                self.runners[name] = runner
                self._configs[name] = settings
                self._tasks[name] = asyncio.ensure_future(runner.run())
                log.info("bridge %s switched on", name)

    def _typing_changed(self, room_id: str) -> None:
        for runner in self.runners.values():
            if runner.plugin is not None:
                asyncio.ensure_future(runner.typing_changed(room_id))

    async def _stop(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        self.runners.pop(name, None)
        self._configs.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            log.info("bridge %s switched off", name)

    async def run(self) -> None:
        """Background task: follow the stored choice (the pages and the CLI change it)."""
        try:
            while True:
                try:
                    await self.reconcile()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("bridges: reconcile failed")
                await asyncio.sleep(WATCH_S)
        finally:
            await self.stop_all()

    async def stop_all(self) -> None:
        """Stop every running bridge (the end of `run`, or of the server before `run` began)."""
        for name in list(self.runners):
            await self._stop(name)

    async def portals(self, bridge_id: str) -> list[Any]:
        """A bridge's portals (the admin page lists them)."""
        return await self.side.store.portals(bridge_id)

    def statuses(self) -> list[BridgeStatus]:
        return [self.runners[name].status for name in sorted(self.runners)]

    def metric_families(self) -> list[Family]:
        """For /_hearth/metrics: each running bridge's health (1 for its state), restarts, events."""
        health = Family("hearth_bridge_health", "gauge", "Each switched-on bridge's state (1 for the one it is in).")
        restarts = Family("hearth_bridge_restarts_total", "counter", "Times each bridge failed and was restarted.")
        events = Family("hearth_bridge_events_total", "counter", "Matrix events handed to each bridge.")
        for st in self.statuses():
            for state in Health:
                if state is not Health.OFF:
                    health.add(int(st.health is state), bridge=st.id, state=state.value)
            restarts.add(st.restarts, bridge=st.id)
            events.add(st.events_in, bridge=st.id)
        return [health, restarts, events]

    def status(self, bridge_id: str) -> BridgeStatus:
        runner = self.runners.get(bridge_id)
        return runner.status if runner is not None else BridgeStatus(bridge_id)

    async def link_room(self, bridge_id: str, room: str, remote: str, admin_user_id: str) -> str:
        """An admin links an existing room (ID or alias) to a remote chat: the admin invites the
        bot, the bot joins, the plugin is told. The portal's key; ValueError saying what is wrong."""
        runner = self.runners.get(bridge_id)
        if runner is None or runner.plugin is None or runner.ctx is None:
            raise ValueError("The bridge is not running: switch it on first.")
        key = runner.plugin.plumb_key(remote)
        if key is None:
            raise ValueError(f"That does not name a chat {runner.info.name} knows.")
        try:
            room_id = await self.side.aliases.resolve_room(room.strip())
        except MatrixError as exc:
            raise ValueError(f"No such room here: {exc.error}") from None
        if await runner.ctx.portals.by_room(room_id) is not None:
            raise ValueError("That room is already linked.")
        bot = runner.ctx.bot.user_id
        if await self.side.events.membership(room_id, bot) not in ("join", "invite"):
            try:
                await self.side.membership.invite(room_id, admin_user_id, bot)
            except MatrixError as exc:
                raise ValueError(f"You cannot invite the bridge's bot there: {exc.error}") from None
        await runner.ctx.portals.plumb(key, room_id)
        await _call("on_portal_linked()", runner.plugin.on_portal_linked(key, room_id), runner.call_timeout)
        return key

    async def unlink_room(self, bridge_id: str, key: str) -> None:
        runner = self.runners.get(bridge_id)
        if runner is not None and runner.ctx is not None:
            await runner.ctx.portals.unlink(key)
        else:
            await self.side.store.remove_portal(bridge_id, key)

    async def login_steps(self, bridge_id: str, user_id: str) -> list[LoginStep]:
        runner = self.runners.get(bridge_id)
        if runner is None or runner.plugin is None:
            return []
        try:
            return await _call("login_steps()", runner.plugin.login_steps(user_id), runner.call_timeout)
        except PluginFailed as exc:
            log.warning("bridge %s: %s", bridge_id, exc)
            return []

    async def login_submit(self, bridge_id: str, user_id: str, step_id: str, values: BaseModel) -> str:
        runner = self.runners.get(bridge_id)
        if runner is None or runner.plugin is None:
            return "The bridge is not running."
        try:
            return await _call("login_submit()", runner.plugin.login_submit(user_id, step_id, values),
                               START_TIMEOUT_S)
        except PluginFailed as exc:
            return f"That did not work: {exc}."

    async def probe(self, bridge_id: str) -> ProbeResult:
        runner = self.runners.get(bridge_id)
        if runner is None:
            return ProbeResult(False, "The bridge is switched off.")
        return await runner.probe()
