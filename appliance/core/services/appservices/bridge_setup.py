"""Setting up an external bridge without YAML (the admin pages' "Add an external bridge"):
Hearth writes the registration with fresh tokens for a known kind of bridge (or takes the one
the bridge wrote), shows the few lines the bridge's own config needs, checks the connection in
plain words (the bridge doctor), and removes a bridge, its ghosts leaving their rooms if asked.

The questions of the doctor are the ones the mautrix troubleshooting FAQ answers: can Hearth
reach the bridge, does the bridge accept Hearth's token, when did the last transaction go
through and what failed, how much is waiting, is the bridge's bot in rooms.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from ...protocol.appservice import Registration
from ...storage.stores.accounts import AccountStore
from ...storage.stores.appservices import AppServiceStore
from ..rooms.membership import Membership
from .client import AppServiceClient, AppServiceUnreachable
from .registry import AppServiceRegistry


@dataclass(frozen=True, slots=True)
class BridgeKind:
    key: str
    label: str
    id: str
    bot: str           # sender_localpart
    user_prefix: str   # ghosts are @<prefix>…:server
    alias_prefix: str | None
    port: int          # where the bridge listens by default
    modern: bool       # a mautrix bridge: ephemeral events, MSC3202 and MSC4190 for encryption
    config: str        # which config file the lines go to


KINDS: tuple[BridgeKind, ...] = (
    BridgeKind("whatsapp", "WhatsApp (mautrix-whatsapp)", "whatsapp", "whatsappbot", "whatsapp_", None, 29318, True,
               "config.yaml"),
    BridgeKind("signal", "Signal (mautrix-signal)", "signal", "signalbot", "signal_", None, 29328, True, "config.yaml"),
    BridgeKind("telegram", "Telegram (mautrix-telegram)", "telegram", "telegrambot", "telegram_", "telegram_", 29317,
               True, "config.yaml"),
    BridgeKind("discord", "Discord (mautrix-discord)", "discord", "discordbot", "discord_", None, 29334, True,
               "config.yaml"),
    BridgeKind("heisenbridge", "IRC (heisenbridge)", "heisenbridge", "heisenbridge", "irc_", None, 9898, False,
               "the command line"),
)


def kind(key: str) -> BridgeKind | None:
    return next((k for k in KINDS if k.key == key), None)


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the bridge doctor: ok True (fine), False (the problem, said plainly) or None
    (unknown); `at`: when it happened (the pages say how long ago)."""

    title: str
    ok: bool | None
    detail: str
    at: int | None = None


class BridgeSetup:
    def __init__(self, registry: AppServiceRegistry, client: AppServiceClient, store: AppServiceStore,
                 accounts: AccountStore, membership: Membership):
        self.registry = registry
        self.client = client
        self.store = store
        self.accounts = accounts
        self.membership = membership

    @property
    def server_name(self) -> str:
        return self.registry.server_name

    def registration_for(self, bridge: BridgeKind, url: str, appservice_id: str | None = None) -> dict[str, Any]:
        """A registration for a known kind of bridge, with fresh tokens (never a default)."""
        name = self.server_name.replace(".", "\\.")
        data: dict[str, Any] = {
            "id": appservice_id or bridge.id,
            "url": url,
            "as_token": secrets.token_urlsafe(32),
            "hs_token": secrets.token_urlsafe(32),
            "sender_localpart": bridge.bot,
            "rate_limited": False,
            "namespaces": {
                "users": [{"regex": f"^@{bridge.user_prefix}.*:{name}$", "exclusive": True}],
                "aliases": ([{"regex": f"^#{bridge.alias_prefix}.*:{name}$", "exclusive": True}]
                            if bridge.alias_prefix else []),
                "rooms": [],
            },
        }
        if bridge.key == "heisenbridge":  # it wants the plain prefix form of its one user namespace
            data["namespaces"]["users"] = [{"regex": f"@{bridge.user_prefix}.*", "exclusive": True}]
        if bridge.modern:
            data.update({"receive_ephemeral": True, "de.sorunome.msc2409.push_ephemeral": True,
                         "org.matrix.msc3202": True, "io.element.msc4190": True})
        return data

    async def add(self, bridge: BridgeKind, url: str) -> Registration:
        """Install a registration Hearth writes (RegistrationError when it clashes)."""
        return await self.registry.install(self.registration_for(bridge, url))

    async def upload(self, data: Any) -> Registration:
        """Install the registration a bridge wrote (RegistrationError says what is wrong)."""
        return await self.registry.install(data)

    def config_lines(self, reg: Registration, homeserver_url: str, bridge: BridgeKind | None) -> str:
        """What the bridge's own configuration needs, ready to paste."""
        if bridge is not None and bridge.key == "heisenbridge":
            return (f"# Save the registration next to heisenbridge as heisenbridge.yaml, then run:\n"
                    f"heisenbridge -c heisenbridge.yaml -o @YOU:{self.server_name} {homeserver_url}\n")
        address = reg.url or "http://127.0.0.1:PORT"
        return (f"homeserver:\n"
                f"    address: {homeserver_url}\n"
                f"    domain: {self.server_name}\n"
                f"appservice:\n"
                f"    address: {address}\n"
                f"    id: {reg.id}\n"
                f"    bot:\n"
                f"        username: {reg.sender_localpart}\n"
                f"    as_token: {reg.as_token}\n"
                f"    hs_token: {reg.hs_token}\n")

    async def doctor(self, appservice_id: str) -> list[Check]:
        reg = self.registry.get(appservice_id)
        if reg is None:
            return [Check("Installed", False, "This bridge is not installed any more.")]
        checks = []
        if reg.url is None:
            checks.append(Check("Hearth can reach the bridge", None,
                                "The registration has no URL: Hearth sends this bridge nothing."))
        else:
            try:
                result = await self.client.ping(reg, f"doctor-{int(time.time())}")
            except AppServiceUnreachable as exc:
                if exc.status in (401, 403):
                    checks.append(Check("Hearth can reach the bridge", True, f"The bridge answers at {reg.url}."))
                    checks.append(Check("The bridge accepts Hearth's token", False,
                                        "The bridge refused Hearth's token: the hs_token in the bridge's config must "
                                        "be the one shown on this page (and the as_token too)."))
                elif exc.errcode in ("M_CONNECTION_FAILED", "M_CONNECTION_TIMEOUT"):
                    checks.append(Check("Hearth can reach the bridge", False,
                                        f"{exc.reason} Is the bridge running, and listening on that address? "
                                        "If it runs in a container, the address must be one Hearth can reach."))
                else:
                    checks.append(Check("Hearth can reach the bridge", True, f"The bridge answers at {reg.url}."))
                    checks.append(Check("The bridge accepts Hearth's token", None,
                                        f"{exc.reason} (an older bridge may not know the ping).".strip()))
            else:
                checks.append(Check("Hearth can reach the bridge", True,
                                    f"The bridge answered a ping in {result.duration_ms} ms."))
                checks.append(Check("The bridge accepts Hearth's token", True, "It accepted Hearth's hs_token."))
        status = await self.store.status(appservice_id)
        if status.last_error and (status.last_success_ts or 0) < (status.last_error_ts or 0):
            checks.append(Check("Messages reach the bridge", False, f"The last delivery failed: {status.last_error}",
                                status.last_error_ts))
        elif status.last_success_ts:
            checks.append(Check("Messages reach the bridge", True, "The last delivery went through.",
                                status.last_success_ts))
        else:
            checks.append(Check("Messages reach the bridge", None, "Nothing has been sent to the bridge yet."))
        checks.append(Check("Waiting to be sent", status.queued_events == 0 if reg.url else None,
                            "Nothing is waiting." if status.queued_events == 0 else
                            f"{status.queued_events} events wait in {status.queued_txns} deliveries; they go out "
                            "as soon as the bridge answers."))
        bot = reg.sender(self.server_name)
        rooms = await self.accounts.room_ids_with_membership(bot, ("join",))
        checks.append(Check("The bridge's bot is in rooms", bool(rooms) or None,
                            f"{bot} is in {len(rooms)} room{'s' if len(rooms) != 1 else ''}." if rooms else
                            f"{bot} is in no room yet: start a chat with it from your Matrix app."))
        return checks

    async def ghosts(self, reg: Registration) -> list[str]:
        """The bridge's users on this server (its bot and the ghosts in its namespaces)."""
        return [u.user_id for u in await self.accounts.list_users() if reg.is_user(u.user_id, self.server_name)]

    async def remove(self, appservice_id: str, *, remove_ghosts: bool) -> bool:
        """Stop the bridge's transactions and forget it; its users leave their rooms if asked."""
        reg = self.registry.get(appservice_id)
        if reg is None:
            return False
        ghosts = await self.ghosts(reg) if remove_ghosts else []
        gone = await self.registry.remove(appservice_id)
        for user_id in ghosts:
            await self.membership.leave_all(user_id)
        return gone

