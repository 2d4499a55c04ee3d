"""`hearth backup`, `hearth restore` and `hearth backup-key show` (logic in core/services/backup.py).

    hearth backup [--to DIR] [--kit FILE] [--stored-key]
        Writes one encrypted archive while Hearth runs, verifies it, prints the emergency kit
        (the key, shown once; --kit also writes it to FILE). --stored-key uses the key of the
        scheduled backups (data_dir/backup.key) instead of a fresh one.
    hearth restore ARCHIVE [--key KEY | --key-file KIT] [--force]
        With Hearth stopped: restores into the (empty) data directory. --force sets current data
        aside as DATA_DIR.before-restore-<time>. Refuses another server's archive when
        HEARTH_SERVER_NAME is set, a wrong key and a damaged file, leaving the data untouched.
    hearth backup-key show [--kit FILE]
        The emergency kit of the scheduled backups' key (created if missing).
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

from .settings import Settings


def add_parsers(sub) -> None:
    p = sub.add_parser("backup", help="write an encrypted, verified backup archive (while Hearth runs)")
    p.add_argument("--to", type=Path, default=None, help="folder for the archive (default: backup_dir or .)")
    p.add_argument("--kit", type=Path, default=None, help="also write the emergency kit (the key) to this file")
    p.add_argument("--stored-key", action="store_true", help="use the scheduled backups' key, not a fresh one")
    p = sub.add_parser("restore", help="restore a backup archive into the data directory (Hearth stopped)")
    p.add_argument("archive", type=Path)
    p.add_argument("--key", default=None, help="the key from the emergency kit")
    p.add_argument("--key-file", type=Path, default=None, help="the emergency kit file (or a file with the key)")
    p.add_argument("--force", action="store_true", help="set a non-empty data directory aside and restore anyway")
    p = sub.add_parser("backup-key", help="the key of scheduled backups")
    ksub = p.add_subparsers(dest="key_command")
    k = ksub.add_parser("show", help="print the emergency kit of the scheduled backups' key")
    k.add_argument("--kit", type=Path, default=None, help="also write it to this file")


def _progress(label: str):
    def show(frac: float, phase: str) -> None:
        print(f"{label}: {int(frac * 100):3d}% {phase}", file=sys.stderr, flush=True)
    return show


def _write_kit(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def dispatch(settings: Settings, args: argparse.Namespace) -> int | None:
    """Run a backup command; None if args is not one of ours."""
    if args.command == "backup":
        return cmd_backup(settings, args)
    if args.command == "restore":
        return cmd_restore(settings, args)
    if args.command == "backup-key" and getattr(args, "key_command", None) == "show":
        return cmd_key_show(settings, args)
    return None


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from .core.services import backup as b
    from .hearth import build_hearth

    dest = args.to or settings.backup_dir or Path(".")

    async def go() -> int:
        hearth = await build_hearth(settings)
        try:
            key = b.load_or_create_stored_key(settings.data_dir) if args.stored_key else b.new_key()
            try:
                result = await hearth.core.backups.run("manual", Path(dest), key, _progress("backup"))
            except b.BackupError as exc:
                print(f"hearth backup: {exc}", file=sys.stderr)
                return 1
        finally:
            await hearth.close()
        kit = b.emergency_kit(key, settings.server_name, result.path.name)
        if args.kit:
            _write_kit(args.kit, kit)
        print(f"Backup written and verified: {result.path} ({result.size} bytes, {result.files} files)")
        if args.stored_key:
            print("Encrypted with the scheduled backups' key (see `hearth backup-key show`).")
        else:
            print("Keep this emergency kit: it is shown only once, and the backup cannot be opened without it.")
            print()
            print(kit)
        return 0

    return asyncio.run(go())


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from .core.services import backup as b

    try:
        if args.key_file:
            key = b.read_key_text(args.key_file.read_text())
        elif args.key:
            key = b.parse_key(args.key)
        else:
            key = b.parse_key(getpass.getpass("Backup key (from the emergency kit): "))
        summary = b.restore_backup(settings, args.archive, key, force=args.force,
                                   check_server_name="server_name" in settings.model_fields_set,
                                   progress=_progress("restore"))
    except (b.BackupError, OSError) as exc:
        print(f"hearth restore: {exc}", file=sys.stderr)
        print("Nothing was changed.", file=sys.stderr)
        return 1
    print(f"Restored {summary['server_name']} into {Path(settings.data_dir).absolute()} "
          f"({summary['files']} files). Start Hearth with HEARTH_SERVER_NAME={summary['server_name']}.")
    if summary["moved_aside"]:
        print(f"The previous data was kept in {summary['moved_aside']}.")
    return 0


def cmd_key_show(settings: Settings, args: argparse.Namespace) -> int:
    from .core.services import backup as b

    key = b.load_or_create_stored_key(settings.data_dir)
    kit = b.emergency_kit(key, settings.server_name)
    if args.kit:
        _write_kit(args.kit, kit)
    print(kit)
    return 0
