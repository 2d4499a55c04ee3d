"""`hearth bridges …`: the in-process bridges from the command line, on a running server or not.

    hearth bridges list
        Every installed bridge: on or off, its settings, and whether it could be loaded.
    hearth bridges enable ID      /      hearth bridges disable ID
        Switch a bridge on or off (what Admin → Bridges does). A running server follows within
        a few seconds. `HEARTH_BRIDGES_ENABLED`, when the operator sets it, decides instead.
    hearth bridges set ID KEY=VALUE [KEY=VALUE …]
        Change a bridge's settings (checked against its settings model; a running bridge
        restarts with them). Values are read as JSON where they parse (true, 3, ["a"]), else as text.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from .settings import Settings


def add_parsers(sub) -> None:
    p = sub.add_parser("bridges", help="in-process bridges (list, enable, disable, set)")
    bsub = p.add_subparsers(dest="bridges_command")
    bsub.add_parser("list", help="the installed bridges")
    for name in ("enable", "disable"):
        e = bsub.add_parser(name, help=f"{name} a bridge")
        e.add_argument("id")
    s = bsub.add_parser("set", help="change a bridge's settings")
    s.add_argument("id")
    s.add_argument("values", nargs="+", metavar="KEY=VALUE")


def dispatch(settings: Settings, args: argparse.Namespace) -> int | None:
    if args.command != "bridges":
        return None
    command = getattr(args, "bridges_command", None)
    if command in ("list", "enable", "disable", "set"):
        return asyncio.run(_run(settings, args))
    print("usage: hearth bridges {list|enable ID|disable ID|set ID KEY=VALUE…}", file=sys.stderr)
    return 2


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from .hearth import build_hearth

    hearth = await build_hearth(settings)
    try:
        host = hearth.bridges.host
        bridges = {b.id: b for b in host.describe()}
        if args.bridges_command == "list":
            if not bridges:
                print("No bridges are installed.")
            forced = host.forced()
            for bid, b in bridges.items():
                entry = await host.entry(bid)
                on = host.is_on(bid, entry)
                name = b.info.name if b.info else bid
                state = "on" if on else "off"
                if forced is not None:
                    state += " (HEARTH_BRIDGES_ENABLED)"
                print(f"{bid}\t{name}\t{state}\t{json.dumps(entry.get('settings') or {})}"
                      + (f"\t{b.error}" if b.error else ""))
            return 0
        bid = args.id
        if bid not in bridges:
            print(f"hearth bridges: no bridge {bid!r} is installed (see `hearth bridges list`)", file=sys.stderr)
            return 1
        bridge = bridges[bid]
        if bridge.factory is None:
            print(f"hearth bridges: {bid}: {bridge.error}", file=sys.stderr)
            return 1
        if args.bridges_command in ("enable", "disable"):
            entry = await host.configure(bridge, enabled=args.bridges_command == "enable", apply=False)
        else:
            values = dict((await host.entry(bid))["settings"])
            for pair in args.values:
                key, sep, text = pair.partition("=")
                if not sep:
                    print(f"hearth bridges: {pair!r} is not KEY=VALUE", file=sys.stderr)
                    return 2
                values[key] = _value(text)
            from pydantic import ValidationError

            try:
                entry = await host.configure(bridge, settings=values, apply=False)  # the server follows
            except ValidationError as exc:
                err = exc.errors()[0]
                print(f"hearth bridges: {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
                return 1
        print(f"{bid}: {'on' if entry.get('enabled') else 'off'}, settings {json.dumps(entry['settings'])}")
        return 0
    finally:
        await hearth.close()



