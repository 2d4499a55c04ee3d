"""`hearth` command line: run the server, and operator commands until the web UI exists."""
from __future__ import annotations

from .core import interpreter

if __name__ == "__main__":  # `python -m appliance`, not a test importing this module
    interpreter.pause_collector()  # until the start-up is over (core/interpreter.py)

import argparse  # noqa: E402  (these and the rest: after the pause)
import asyncio
import getpass
import logging
import os
import secrets
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

# Hearth uses no pydantic plugins. Without this, the first model pydantic builds (the settings,
# below) reads the metadata of every installed distribution looking for them: a few ms of every
# start and ~0.6 MiB kept for the life of the process (tracemalloc: pydantic/plugin/_loader.py).
# An operator who wants a plugin can still set the variable to something else.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from .settings import Settings  # noqa: E402  (after the variable above)


def _parse_expiry(value: str | None) -> int | None:
    """An ISO date/time or a duration like 7d / 12h / 30m, as ms since the epoch."""
    if not value:
        return None
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    if value[-1] in units and value[:-1].isdigit():
        return int((datetime.now(timezone.utc).timestamp() + int(value[:-1]) * units[value[-1]]) * 1000)
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


async def _with_hearth(settings: Settings, fn):
    from .hearth import build_hearth

    hearth = await build_hearth(settings)
    try:
        return await fn(hearth)
    finally:
        await hearth.close()


def _setup_urls(base_url: str, host: str, port: int) -> list[str]:
    """Where the wizard is: the server's address first (what the family will use too), then the
    other LAN addresses; localhost last, marked, as it works on this machine only."""
    from .public_address import url_is_loopback

    urls = [f"{base_url}/setup"]
    if host in ("0.0.0.0", "::", ""):  # zeroconf only for the LAN addresses (loopback: not loaded)
        from zeroconf import IPVersion

        from .lan_discovery import lan_addresses

        for h in lan_addresses(IPVersion.V4Only if host == "0.0.0.0" else IPVersion.All)[:3]:
            url = f"http://{'[' + h + ']' if ':' in h else h}:{port}/setup"
            if url not in urls:
                urls.append(url)
        if not url_is_loopback(base_url):
            urls.append(f"http://localhost:{port}/setup   (on this machine only)")
    return urls


def _print_setup_banner(code: str | None, base_url: str, host: str, port: int) -> None:
    """Setup is pending: where the wizard is and the one-time code that claims it."""
    urls = _setup_urls(base_url, host, port)
    lines = ["Hearth is not set up yet. Open the setup wizard in a browser:", *(f"  {u}" for u in urls),
             "", f"Setup code:  {code}", "(also in setup-code.txt in the data folder)"]
    rule = "=" * (max(len(line) for line in lines) + 2)
    print("\n".join(["", rule, *lines, rule, ""]), flush=True)
    # INFO, not WARNING: a pending setup is expected on a new box, not a problem for the dashboard.
    logging.getLogger("hearth.web.setup").info("setup pending: open %s with the setup code %s", urls[0], code)


def _host_port(host: str, port: int) -> str:
    return f"{'[' + host + ']' if ':' in host else host}:{port}"


def tls_files(settings: Settings) -> tuple[Path, Path] | None:
    """The certificate chain and key the TLS listeners use: the operator's
    (HEARTH_FEDERATION_TLS_CERT/KEY), else the one Hearth got from the ACME CA for the family's
    name (Admin → Outside access), else none."""
    if settings.federation_tls_cert is not None:
        return settings.federation_tls_cert, settings.federation_tls_key
    chain, key = settings.tls_dir / "fullchain.pem", settings.tls_dir / "privkey.pem"
    if settings.reach_mode == "lan" or not (chain.is_file() and key.is_file()):
        return None
    from .core.protocol.acme import chain_matches_key

    try:  # a power cut between the two files' replacement: serve plain HTTP until the next certificate
        if chain_matches_key(chain.read_bytes(), key.read_bytes()):
            return chain, key
    except (OSError, ValueError):
        pass
    logging.getLogger("hearth").warning("the certificate in %s does not match its key: not serving TLS until the "
                                        "next one", settings.tls_dir)
    return None


def configure_listeners(config, settings: Settings) -> None:
    """The client/web listener (plain HTTP, HEARTH_BIND) and, with a certificate, the TLS
    listeners: HTTPS (HEARTH_TLS_BIND, where the router's 443 arrives) once Hearth is reachable
    from outside, and federation (HEARTH_FEDERATION_BIND) when federation is on. hypercorn serves
    `bind` with TLS and `insecure_bind` without, from the same app, with one certificate."""
    client = _host_port(*settings.host_port)
    files = tls_files(settings) if (settings.federation_enabled or settings.reach_mode != "lan") else None
    secure = []
    if files is not None and settings.reach_mode != "lan":
        secure.append(_host_port(*settings.tls_host_port))
    if files is not None and settings.federation_enabled:
        secure.append(_host_port(*settings.federation_host_port))
    if not secure:
        config.bind = [client]
        return
    config.insecure_bind = [client]
    config.bind = secure
    config.certfile, config.keyfile = str(files[0]), str(files[1])


def _apply_stored_listener_settings(settings: Settings) -> None:
    """Outside access and federation as the admin pages stored them: the listeners are opened
    before the app (which reads every stored setting) is built."""
    from .core.storage.stores.server_settings import ServerSettingsStore

    stored = ServerSettingsStore.read_file(settings.database_path) if settings.database_path.exists() else {}
    settings.apply_stored({k: v for k, v in stored.items() if k.startswith(("reach_", "acme_", "federation_", "tls_"))})


def listener_config():
    """hypercorn's Config, whose TLS contexts take a renewed certificate without a restart
    (core/services/reach/tls_contexts.py)."""
    from hypercorn.config import Config

    from .core.services.reach import tls_contexts

    class ListenerConfig(Config):
        def create_ssl_context(self):
            context = super().create_ssl_context()
            return tls_contexts.register(context) if context is not None else None

    return ListenerConfig()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from hypercorn.asyncio.run import worker_serve
    from hypercorn.utils import wrap_app

    from .app import create_app
    from .lan_discovery import Advertiser
    from .sd_notify import Notifier

    from .core.storage.disk import check_free_space

    try:  # no room for the write-ahead log: refuse to start rather than fail on the first write
        check_free_space(settings.data_dir, settings.min_free_mb * 1024 * 1024)
    except SystemExit as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    config = listener_config()
    host, port = settings.host_port
    _apply_stored_listener_settings(settings)
    configure_listeners(config, settings)
    config.accesslog = None
    config.graceful_timeout = 3
    interpreter.tune()
    from .core import log_output

    batched_log = log_output.install()  # log lines written in batches (one write per request was ~4%)
    from . import h11_writes

    h11_writes.install()  # one socket write per response: head and body together

    # Listen before the app starts, so READY=1 (sent once it has started) means "accepting".
    sockets = config.create_sockets()
    for sock in (*sockets.insecure_sockets, *sockets.secure_sockets):  # secure: the federation listener
        sock.listen(config.backlog)
    port = sockets.insecure_sockets[0].getsockname()[1]
    notifier = Notifier.from_env()
    advertiser = Advertiser(settings.server_name, host, port) if settings.lan_discovery else None
    stop = asyncio.Event()
    restart: list[bool] = []  # a restore or the wizard's new name: stop cleanly, then run again (below)

    def restart_process() -> None:
        restart.append(True)
        stop.set()

    async def setup_completed() -> None:
        if advertiser is not None:
            await advertiser.update(setup_pending=False)

    app = create_app(settings, restart_process=restart_process, on_setup_completed=setup_completed)
    print(f"Hearth is starting for {settings.server_name} at {settings.base_url()}", flush=True)
    print(f"Point a Matrix client at {settings.base_url()} (registration: {settings.registration})", flush=True)
    for warning in settings.federation_warnings():  # federation (issue 18): loud on purpose
        logging.getLogger("hearth").warning(warning)
        print("WARNING: " + warning, flush=True)

    advertising: list[asyncio.Task] = []

    async def advertise(pending: bool) -> None:
        try:
            # An admin made by `hearth create-user --admin` elsewhere ends setup too: re-checked.
            await advertiser.start(setup_pending=pending,
                                   still_pending=lambda: app.config["HEARTH"].web.setup.pending())
        except Exception:  # the server is still reachable by address
            logging.getLogger("hearth").exception("LAN discovery failed to start")

    @app.before_serving
    async def announce() -> None:  # runs after create_app's hook has built the Hearth
        # Not now: the collection takes ~20 ms, and the first requests are waiting for us. The
        # collector, paused since the first import, runs again from then on.
        asyncio.get_running_loop().call_later(interpreter.FREEZE_AFTER_S, interpreter.freeze_startup_objects)
        hearth = app.config["HEARTH"]
        pending = await hearth.web.setup.pending()
        if pending:
            from .public_address import derived_base_url  # with the port bound (HEARTH_BIND may say 0)

            base_url = settings.base_url() if settings.public_baseurl else \
                derived_base_url(host, port, settings.lan_discovery)
            _print_setup_banner(hearth.web.setup.setup_code, base_url, host, port)
        hearth.core.backups.start()  # scheduled backups, when backup_dir is set
        await notifier.ready(f"Serving {settings.server_name} on port {port}"
                             + ("; setup pending" if pending else ""))
        notifier.start_watchdog()
        if advertiser is not None:  # probing the name takes a second: do not hold up the start
            advertising.append(asyncio.create_task(advertise(pending)))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        if batched_log is not None:
            log_output.flush_periodically(batched_log, loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        async def shutdown() -> None:
            await stop.wait()
            if restart:  # the same PID comes back: systemd sees a reload, not a stop
                now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
                await notifier.notify("RELOADING=1", f"MONOTONIC_USEC={now_usec}",
                                      "STATUS=Restarting")
            else:
                await notifier.stopping()
            if advertiser is not None:
                for task in advertising:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                try:
                    await advertiser.stop()
                except Exception:
                    logging.getLogger("hearth").exception("LAN discovery failed to withdraw")

        try:
            await worker_serve(wrap_app(app, config.wsgi_max_body_size, None), config,
                               sockets=sockets, shutdown_trigger=shutdown)
        finally:
            await notifier.close()

    with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
        runner.run(main())
    if restart:
        _restart_self()
    return 0


def _event_loop_factory():
    """uvloop when it is installed: its transports, timers and callbacks are C. The bare stack
    (Quart on Hypercorn, a trivial PUT) serves ~4,000 instead of ~3,300 requests/s with it; on
    Hearth's send load it is a few percent less CPU per event. HEARTH_EVENT_LOOP=asyncio picks
    the standard loop (to compare, or if uvloop misbehaves somewhere)."""
    if os.environ.get("HEARTH_EVENT_LOOP", "uvloop") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _restart_self() -> None:
    """Run `hearth` again in this process (same PID, arguments and environment): the new start
    swaps the staged restore in before it opens the database. If exec fails, exit 75 so that
    systemd's Restart=on-failure starts it again."""
    logging.getLogger("hearth").warning("restarting")  # a warning: the buffered log lines are written too
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, "-m", "appliance", *sys.argv[1:]])
    except OSError:
        logging.getLogger("hearth").exception("could not restart; exiting for the service manager to restart")
        sys.exit(75)


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or getpass.getpass("Password: ")

    async def go(hearth):
        user_id = await hearth.accounts.registration.create_user(args.name, password, admin=args.admin)
        print(user_id)

    asyncio.run(_with_hearth(settings, go))
    return 0


def cmd_reset_password(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or getpass.getpass("New password: ")

    async def go(hearth):
        await hearth.accounts.login.reset_password(args.name, password)
        print("password changed; the user's devices were signed out")

    asyncio.run(_with_hearth(settings, go))
    return 0


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    """Prints a new invite code, the same kind the web pages make (XXXX-XXXX-XXXX)."""
    async def go(hearth):
        tokens = hearth.admin.registration_tokens
        expiry = _parse_expiry(args.expires)
        if args.token:
            token = await tokens.create(args.token, uses_allowed=args.uses, expiry_time=expiry)
        else:
            token = await tokens.create_invite(uses_allowed=args.uses, expiry_time=expiry)
        print(token.token)

    asyncio.run(_with_hearth(settings, go))
    return 0


def _when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def cmd_token_list(settings: Settings, args: argparse.Namespace) -> int:
    """Every invite code still usable (--all: used-up and expired ones too), one a line."""
    async def go(hearth):
        tokens = await hearth.admin.registration_tokens.list(valid=None if args.all else True)
        if not tokens:
            print("No invite codes." if args.all else "No usable invite codes.")
            return
        rows = [("CODE", "USED", "EXPIRES", "STATE")]
        for t in tokens:
            allowed = "unlimited" if t.uses_allowed is None else str(t.uses_allowed)
            rows.append((t.token, f"{t.completed} of {allowed}", _when(t.expiry_time),
                         "usable" if t.valid else "used up or expired"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3])

    asyncio.run(_with_hearth(settings, go))
    return 0


def cmd_token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Withdraw an invite code: nobody can create an account with it any more."""
    from .core.protocol.errors import NotFound

    async def go(hearth) -> int:
        for code in dict.fromkeys((args.code.strip(), args.code.strip().upper())):  # as typed, then capitals
            try:
                await hearth.admin.registration_tokens.delete(code)
            except NotFound:
                continue
            print(f"Invite code {code} revoked.")
            return 0
        print(f"No invite code {args.code} (see: hearth registration-token list --all).", file=sys.stderr)
        return 1

    return asyncio.run(_with_hearth(settings, go))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hearth", description="Hearth, a Matrix homeserver for the home")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="start the server")
    p = sub.add_parser("create-user", help="create a local account")
    p.add_argument("name", help="localpart or full user ID")
    p.add_argument("--admin", action="store_true")
    p.add_argument("--password")
    p = sub.add_parser("reset-password", help="set a new password and sign out every device")
    p.add_argument("name")
    p.add_argument("--password")
    p = sub.add_parser("registration-token", help="registration tokens (invite codes)")
    tsub = p.add_subparsers(dest="token_command")
    t = tsub.add_parser("create", help="print a new invite code (XXXX-XXXX-XXXX)")
    t.add_argument("--uses", type=int, default=None, help="how many registrations it allows")
    t.add_argument("--expires", default=None, help="ISO date/time, or a duration like 7d")
    t.add_argument("--token", default=None, help="the code's text (default: a new XXXX-XXXX-XXXX code)")
    t = tsub.add_parser("list", help="the usable invite codes, with their uses and expiry")
    t.add_argument("--all", action="store_true", help="used-up and expired codes too")
    t = tsub.add_parser("revoke", help="withdraw an invite code")
    t.add_argument("code")
    from . import appservice_cli, backup_cli, bridges_cli, maintenance_cli, registration_secret_cli

    backup_cli.add_parsers(sub)
    maintenance_cli.add_parsers(sub)
    registration_secret_cli.add_parsers(sub)
    appservice_cli.add_parsers(sub)
    bridges_cli.add_parsers(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    if args.command in (None, "run"):
        return cmd_run(settings, args)
    interpreter.resume_collector()
    if args.command == "create-user":
        return cmd_create_user(settings, args)
    if args.command == "reset-password":
        return cmd_reset_password(settings, args)
    if args.command == "registration-token" and args.token_command in ("create", "list", "revoke"):
        return {"create": cmd_token_create, "list": cmd_token_list,
                "revoke": cmd_token_revoke}[args.token_command](settings, args)
    rc = backup_cli.dispatch(settings, args)
    if rc is None:
        rc = maintenance_cli.dispatch(settings, args)
    if rc is None:
        rc = registration_secret_cli.dispatch(settings, args)
    if rc is None:
        rc = appservice_cli.dispatch(settings, args)
    if rc is None:
        rc = bridges_cli.dispatch(settings, args)
    if rc is not None:
        return rc
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
