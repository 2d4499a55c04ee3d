"""`hearth appservice …`: application services (external bridges) from the command line.

    hearth appservice install REG.yaml [REG.yaml …]
        Checks each registration (YAML or JSON, as the bridge wrote it) and installs it. A running
        server serves it before the command returns; installing the same file again changes
        nothing. A registration that clashes with an installed one or with people's accounts is
        refused with the reason, and nothing of that file is installed.
    hearth appservice add KIND URL --registration FILE
        What Admin → Bridges does, headless: writes a registration with fresh tokens for a known
        kind of bridge (whatsapp, signal, telegram, discord, heisenbridge) listening at URL,
        installs it, saves it to FILE for the bridge, and prints the lines its config needs.
    hearth appservice list
        The installed appservices: id, URL, bot user, namespaces, queued transactions.
    hearth appservice remove ID
        Stops its transactions and forgets it (its users stay).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from .settings import Settings

WAIT_FOR_SERVER_S = 5.0


def add_parsers(sub) -> None:
    p = sub.add_parser("appservice", help="application services (external bridges)")
    asub = p.add_subparsers(dest="appservice_command")
    i = asub.add_parser("install", help="install registration files (YAML or JSON)")
    i.add_argument("files", nargs="+", type=Path)
    a = asub.add_parser("add", help="write and install a registration for a known kind of bridge")
    a.add_argument("kind")
    a.add_argument("url")
    a.add_argument("--registration", type=Path, required=True, help="where to save it for the bridge")
    asub.add_parser("list", help="the installed appservices")
    r = asub.add_parser("remove", help="stop and forget an appservice")
    r.add_argument("id")


def dispatch(settings: Settings, args: argparse.Namespace) -> int | None:
    if args.command != "appservice":
        return None
    command = getattr(args, "appservice_command", None)
    if command == "install":
        return asyncio.run(_install(settings, args.files))
    if command == "add":
        return asyncio.run(_add(settings, args.kind, args.url, args.registration))
    if command == "list":
        return asyncio.run(_list(settings))
    if command == "remove":
        return asyncio.run(_remove(settings, args.id))
    print("usage: hearth appservice {install FILE…|list|remove ID}", file=sys.stderr)
    return 2


def read_registration_file(path: Path) -> object:
    """A registration file's contents (YAML is a superset of JSON)."""
    import yaml

    return yaml.safe_load(path.read_text())


async def _install(settings: Settings, files: list[Path]) -> int:
    from .core.protocol.appservice import RegistrationError
    from .hearth import build_hearth

    hearth = await build_hearth(settings)
    try:
        registry = hearth.appservices.registry
        failed = False
        for path in files:
            try:
                reg = await registry.install(read_registration_file(path))
            except (OSError, ValueError) as exc:  # RegistrationError, YAML errors, unreadable files
                reason = str(exc) if isinstance(exc, RegistrationError) else f"cannot read it: {exc}"
                print(f"{path}: not installed: {reason}", file=sys.stderr)
                failed = True
                continue
            print(f"{path}: installed {reg.id!r} (bot {reg.sender(settings.server_name)})")
        served = await _wait_until_served(hearth)
        if not served:
            print("Hearth is not running: it serves the installed appservices when it starts.")
        return 1 if failed else 0
    finally:
        await hearth.close()


async def _add(settings: Settings, kind_key: str, url: str, out: Path) -> int:
    import yaml

    from .core.protocol.appservice import RegistrationError
    from .core.services.appservices.bridge_setup import KINDS, kind
    from .hearth import build_hearth

    bridge = kind(kind_key)
    if bridge is None:
        print(f"Unknown kind {kind_key!r}; one of: {', '.join(k.key for k in KINDS)}", file=sys.stderr)
        return 2
    hearth = await build_hearth(settings)
    try:
        setup = hearth.admin.external_bridges
        try:
            reg = await setup.add(bridge, url.rstrip("/"))
        except RegistrationError as exc:
            print(f"not added: {exc}", file=sys.stderr)
            return 1
        out.write_text(yaml.safe_dump(reg.source, sort_keys=False))
        out.chmod(0o600)
        print(f"installed {reg.id!r} (bot {reg.sender(settings.server_name)}); registration saved to {out}")
        print(setup.config_lines(reg, settings.base_url(), bridge))
        if not await _wait_until_served(hearth):
            print("Hearth is not running: it serves the bridge when it starts.")
        return 0
    finally:
        await hearth.close()


async def _wait_until_served(hearth) -> bool:
    store = hearth.appservices.store
    deadline = time.monotonic() + WAIT_FOR_SERVER_S
    while True:
        generation, loaded = await store.generation()
        if loaded >= generation:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


async def _list(settings: Settings) -> int:
    from .hearth import build_hearth

    hearth = await build_hearth(settings)
    try:
        regs = hearth.appservices.registry.all()
        if not regs:
            print("No appservices installed.")
        for reg in regs:
            status = await hearth.appservices.store.status(reg.id)
            users = ", ".join(ns.regex for ns in reg.users) or "-"
            print(f"{reg.id}\t{reg.url or '(no URL)'}\tbot {reg.sender(settings.server_name)}\tusers {users}"
                  f"\tqueued {status.queued_events} events in {status.queued_txns} transactions")
        return 0
    finally:
        await hearth.close()


async def _remove(settings: Settings, appservice_id: str) -> int:
    from .hearth import build_hearth

    hearth = await build_hearth(settings)
    try:
        if not await hearth.appservices.registry.remove(appservice_id):
            print(f"No appservice {appservice_id!r} is installed.", file=sys.stderr)
            return 1
        await _wait_until_served(hearth)
        print(f"Removed {appservice_id!r}.")
        return 0
    finally:
        await hearth.close()
