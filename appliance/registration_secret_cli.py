"""`hearth registration-secret show`: the shared secret of `/_synapse/admin/v1/register`.

    hearth registration-secret show
        Prints the secret (made at the first start; made now if the server never started) and
        whether shared-secret registration is on. It is off unless the admin turns it on: the
        admin settings page, or HEARTH_REGISTRATION_SHARED_SECRET_ENABLED=true.
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from .settings import Settings


def add_parsers(sub) -> None:
    p = sub.add_parser("registration-secret", help="the shared secret for /_synapse/admin/v1/register")
    ssub = p.add_subparsers(dest="secret_command")
    ssub.add_parser("show", help="print the secret and whether shared-secret registration is on")


def dispatch(settings: Settings, args: argparse.Namespace) -> int | None:
    if args.command != "registration-secret":
        return None
    if getattr(args, "secret_command", None) != "show":
        print("usage: hearth registration-secret show", file=sys.stderr)
        return 2
    return cmd_show(settings)


def cmd_show(settings: Settings) -> int:
    from .core.services.shared_secret_registration import load_or_create_secret
    from .hearth import build_hearth

    async def enabled() -> bool:  # the stored setting counts: build the server's settings view
        hearth = await build_hearth(settings)
        try:
            return hearth.settings.registration_shared_secret_enabled
        finally:
            await hearth.close()

    on = asyncio.run(enabled())
    print(load_or_create_secret(settings.registration_secret_path))
    print(f"shared-secret registration is {'on' if on else 'off'}"
          + ("" if on else " (turn it on in the admin settings page)"), file=sys.stderr)
    return 0
