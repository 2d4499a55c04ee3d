"""`hearth prune-notifications`: the server's periodic notification prune, run now.

    hearth prune-notifications [--days D]
        Deletes read notifications older than D days (default: notification_retention_days,
        30), as the running server does every notification_prune_interval_hours; unread ones
        stay, so no unread count changes. Safe while Hearth runs. Prints progress to stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from .settings import Settings


def add_parsers(sub) -> None:
    p = sub.add_parser("prune-notifications", help="delete read notifications older than the retention")
    p.add_argument("--days", type=float, default=None,
                   help="keep read notifications this many days (default: notification_retention_days)")


def dispatch(settings: Settings, args: argparse.Namespace) -> int | None:
    """Run a maintenance command; None if args is not one of ours."""
    if args.command == "prune-notifications":
        return cmd_prune_notifications(settings, args)
    return None


def cmd_prune_notifications(settings: Settings, args: argparse.Namespace) -> int:
    from .core.services.notification_retention import NotificationRetention
    from .hearth import build_hearth

    if args.days is not None and not args.days >= 0:
        print("hearth prune-notifications: --days must be 0 or more", file=sys.stderr)
        return 2

    def progress(done: int, total: int, deleted: int) -> None:
        print(f"prune-notifications: {done}/{total} users, {deleted} deleted", file=sys.stderr, flush=True)

    async def go() -> int:
        hearth = await build_hearth(settings)
        try:
            days = settings.notification_retention_days if args.days is None else args.days
            job = NotificationRetention(hearth.core.db, hearth.push.service, lambda: days,
                                        lambda: settings.notification_prune_interval_hours)
            deleted = await job.prune(progress=progress)
        finally:
            await hearth.close()
        print(f"Deleted {deleted} read notifications older than {days:g} days")
        return 0

    return asyncio.run(go())
