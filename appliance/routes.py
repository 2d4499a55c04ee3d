"""Every URL rule of the app from a route table: handler modules load on their first request.

Hearth serves ~250 routes from ~50 modules (the Client-Server and admin APIs, the setup wizard,
the web pages), with their pydantic request models and the services they call. Importing them
all cost a start ~0.05 s and ~4 MiB, most of them for routes a given home server never sees.
So the app's URL map is built from a route table (blueprint name, rule, endpoint, options:
plain data, no imports), each rule pointing at a small placeholder view. The first request to
any of a blueprint's rules imports its modules, takes the real views from the blueprint, puts
them in the app's `view_functions` and calls the real one; later requests go straight to the
real views. The URL map is the same rule for rule either way (so are 404, 405 and OPTIONS
answers): `tests/api/test_route_table.py` checks it against the real blueprints.

The table is generated from the real blueprints (`eager_blueprints()` below, the one list of
what the app serves) and cached, never committed nor edited: `route_table.json`, keyed by the
sources of the appliance package (and the versions of Python, Quart, Flask and Werkzeug). A
start checks the key and regenerates a stale or missing table itself, in a child process (so
that the server does not import every handler module it may never need), then writes it
atomically to the first writable of the package's `__pycache__/` (written at build time on an
image, or by the first start of a checkout: `python -m appliance.routes --write` does it ahead)
and systemd's cache directory (`$CACHE_DIRECTORY`, where /opt is read-only); with neither, the
table lives in memory. Not the data directory: a backup archives and a restore replaces it.
Checking costs a `stat` of each source file when the cache's signature of sizes and mtimes
matches (the test Python itself applies to its bytecode), a hash of the sources otherwise.

A blueprint in the table may hold only URL rules (no record_once, blueprint-level hooks, error
handlers or view attributes such as `methods`): anything app-wide is installed at start-up by
create_app, not by a blueprint whose module may not be loaded yet. The generator refuses others.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from quart import Blueprint, Quart, current_app

log = logging.getLogger("hearth.routes")

APPLIANCE_DIR = Path(__file__).resolve().parent
CACHE_NAME = "route_table.json"
PACKAGE_CACHE = APPLIANCE_DIR / "__pycache__" / CACHE_NAME
FORMAT = 1  # of the cache file; a change regenerates every cached table
# What the table depends on besides the package's own sources: the URL rules they build.
_DEPENDENCIES = ("quart", "flask", "werkzeug")

# Blueprint attributes that hold hooks or handlers: must be empty for a table blueprint.
_HOOK_ATTRS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs", "error_handler_spec",
               "url_value_preprocessors", "url_default_functions", "template_context_processors",
               "before_websocket_funcs", "after_websocket_funcs", "teardown_websocket_funcs",
               "after_serving_funcs", "before_serving_funcs", "while_serving_gens", "_blueprints")
_VIEW_ATTRS = ("methods", "required_methods", "provide_automatic_options")


class RouteTableError(RuntimeError):
    """The table and the real blueprints disagree, or a blueprint cannot be served from a table."""


def eager_blueprints() -> list[tuple[Blueprint, str, str]]:
    """(blueprint, module, attribute) for everything the app serves, in registration order.
    Imports every handler module: for the generator and the tests, not for a start."""
    from .core.api.admin import blueprints as admin_blueprints
    from .core.api.client import blueprints as client_blueprints
    from .core.api import acme_challenge
    from .core.api.federation import keys as federation_keys
    from .core.api.federation import openid as federation_openid
    from .core.api.federation import events as federation_events
    from .core.api.federation import media as federation_media
    from .core.api.federation import membership as federation_membership
    from .core.api.federation import queries as federation_queries
    from .core.api.federation import transactions as federation_transactions
    from .setup_wizard import restore as _wizard_restore  # noqa: F401  (its pages join the wizard's blueprint)
    from .setup_wizard import routes as wizard_routes
    from .webui import (account_pages, admin_backups, admin_bridges, admin_external_bridges, admin_pages, admin_reach, join,
                        layout, me_bridges, oauth_pages)

    found = [*client_blueprints(), *admin_blueprints(), federation_openid.bp, federation_keys.bp,
             federation_queries.bp, federation_transactions.bp, federation_events.bp, federation_membership.bp,
             federation_media.bp, acme_challenge.bp, wizard_routes.bp, layout.bp, join.bp, account_pages.bp,
             admin_pages.bp, admin_backups.bp, admin_backups.state_bp, admin_bridges.bp, admin_external_bridges.bp,
             admin_reach.bp, me_bridges.bp, oauth_pages.bp]
    out = []
    for bp in found:
        module = sys.modules[bp.import_name]
        attrs = [name for name, value in vars(module).items() if value is bp]
        if not attrs:
            raise RouteTableError(f"blueprint {bp.name} is not a module-level name of {bp.import_name}")
        out.append((bp, bp.import_name, attrs[0]))
    return out


class _Capture:
    """Stands in for Flask's BlueprintSetupState: records a blueprint's URL rules, refuses the rest."""

    first_registration = True

    def __init__(self, bp: Blueprint) -> None:
        self.bp = bp
        self.rules: list[tuple[str, str, Any, dict]] = []

    def add_url_rule(self, rule: str, endpoint: str | None = None, view_func: Any = None, **options: Any) -> None:
        if endpoint is None:
            endpoint = view_func.__name__
        self.rules.append((rule, endpoint, view_func, options))

    def __getattr__(self, name: str) -> Any:
        raise RouteTableError(f"blueprint {self.bp.name} does more at registration than add URL rules "
                              f"(it uses state.{name}): install that on the app in create_app instead")


def capture_rules(bp: Blueprint) -> list[tuple[str, str, Any, dict]]:
    """The blueprint's URL rules as recorded: (rule without url_prefix, endpoint, view, options)."""
    state = _Capture(bp)
    for fn in bp.deferred_functions:
        fn(state)
    return state.rules


def describe(bp: Blueprint, module: str, attr: str) -> tuple:
    """One table entry: (name, modules to import, module, attribute, blueprint kwargs, rules)."""
    from .core.api.quart_shim import blueprint_static

    fresh = Blueprint("probe", __name__)
    for name in _HOOK_ATTRS:
        if getattr(bp, name, None) != getattr(fresh, name, None):
            raise RouteTableError(f"blueprint {bp.name} has {name}: install it on the app in create_app instead")
    rules = []
    modules = {module}
    for rule, endpoint, view, options in capture_rules(bp):
        for name in _VIEW_ATTRS:
            if hasattr(view, name):
                raise RouteTableError(f"{bp.name}.{endpoint}: a view with .{name} cannot be served from the table")
        if json.loads(json.dumps(options)) != options:
            raise RouteTableError(f"{bp.name}.{endpoint}: options {options!r} are not plain data")
        modules.add(view.__module__)
        rules.append((rule, endpoint, options))
    static_folder, static_url_path = blueprint_static(bp)
    kwargs = {"root": Path(bp.root_path).resolve().relative_to(APPLIANCE_DIR).as_posix(),
              "url_prefix": bp.url_prefix, "template_folder": bp.template_folder,
              "static_folder": static_folder, "static_url_path": static_url_path}
    return (bp.name, tuple(sorted(modules)), module, attr, kwargs, tuple(rules))


def generate() -> list:
    """The route table, from the real blueprints (imports every handler module), as the plain
    JSON data the cache holds: [name, modules, module, attribute, blueprint kwargs, rules]."""
    return json.loads(json.dumps([describe(bp, module, attr) for bp, module, attr in eager_blueprints()]))


# -- the cached table ------------------------------------------------------------------------------

def _sources() -> list[Path]:
    out = []
    for root, dirs, files in os.walk(APPLIANCE_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        out += [Path(root) / name for name in sorted(files) if name.endswith(".py")]
    return out


def _dependency_files() -> list[Path]:
    return [Path(importlib.import_module(name).__file__) for name in _DEPENDENCIES]  # type: ignore[arg-type]


def stat_signature(files: list[Path]) -> str:
    """Cheap: the sources' names, sizes and mtimes (and the dependencies' package files')."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{FORMAT} {sys.version}".encode())
    for p in [*files, *_dependency_files()]:
        try:
            st = p.stat()
        except OSError:  # removed meanwhile: then the signature matches no cache
            h.update(f"{p}\0gone\n".encode())
            continue
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def source_key(files: list[Path]) -> str:
    """The sources' contents and the versions of Python and of the web framework."""
    from importlib.metadata import version

    h = hashlib.blake2b(digest_size=16)
    h.update(f"{FORMAT} {sys.version} ".encode())
    h.update(" ".join(f"{name}={version(name)}" for name in _DEPENDENCIES).encode())
    for p in files:
        h.update(f"\0{p.relative_to(APPLIANCE_DIR).as_posix()}\0".encode())
        try:
            h.update(p.read_bytes())
        except OSError:
            h.update(b"\0gone")
    return h.hexdigest()


def cache_paths() -> list[Path]:
    """Where a table is looked for and written, first writable first."""
    paths = [PACKAGE_CACHE]
    systemd_cache = os.environ.get("CACHE_DIRECTORY")  # CacheDirectory= of the unit
    if systemd_cache:
        paths.append(Path(systemd_cache.split(":")[0]) / CACHE_NAME)
    return paths


def _read(path: Path) -> dict | None:
    try:
        cached = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return cached if isinstance(cached, dict) and cached.get("format") == FORMAT else None


def _write(path: Path, cached: dict) -> bool:
    """Atomically (a temporary file renamed over it); False where it cannot be written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(cached))
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return False


def _generate_in_child() -> list:
    """generate() in a child process: the server keeps importing handler modules lazily. In
    this process if the child fails (then its imports stay, the table is right all the same)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(APPLIANCE_DIR.parent), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run([sys.executable, "-m", "appliance.routes", "--print"], capture_output=True,
                              env=env, timeout=300, check=True)
        table = json.loads(done.stdout)
        if isinstance(table, list):
            return table
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.warning("route table: the child generating it failed (%s); generating it here", exc)
    return generate()


_memo: dict[str, list] = {}  # stat signature -> table, for this process


def route_table() -> list:
    """The route table for the sources as they are: cached, or generated and cached."""
    files = _sources()
    stat = stat_signature(files)
    if stat in _memo:
        return _memo[stat]
    paths = cache_paths()
    found = [(p, _read(p)) for p in paths]
    table = next((c["blueprints"] for _, c in found if c is not None and c.get("stat") == stat), None)
    if table is None:
        key = source_key(files)
        table = next((c["blueprints"] for _, c in found if c is not None and c.get("key") == key), None)
        if table is None:
            log.info("route table: generating it (the sources changed since it was cached)")
            table = _generate_in_child()
        cached = {"format": FORMAT, "stat": stat, "key": key, "blueprints": table}
        if not any(_write(p, cached) for p in paths):
            log.info("route table: no writable cache (%s); kept in memory", ", ".join(map(str, paths)))
    _memo[stat] = table
    return table


# -- serving from the table ------------------------------------------------------------------------

_loaded: dict[str, dict[str, Any]] = {}  # blueprint name -> endpoint -> real view (app-independent)


def load_views(name: str, modules: tuple[str, ...], module: str, attr: str, endpoints: frozenset[str]) -> dict:
    views = _loaded.get(name)
    if views is None:
        for m in modules:
            importlib.import_module(m)
        bp = getattr(sys.modules[module], attr)
        views = {endpoint: view for _, endpoint, view, _ in capture_rules(bp)}
        if set(views) != endpoints:
            raise RouteTableError(f"route table out of date for {name}: {sorted(set(views) ^ endpoints)}")
        _loaded[name] = views
    return views


def _placeholder(name: str, modules: tuple[str, ...], module: str, attr: str, endpoint: str,
                 endpoints: frozenset[str]) -> Any:
    async def view(**kwargs: Any) -> Any:
        views = load_views(name, modules, module, attr, endpoints)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        for ep, real in views.items():  # from now on the app calls the real views directly
            app.view_functions[f"{name}.{ep}"] = real
        return await app.ensure_async(views[endpoint])(**kwargs)

    view.__name__ = endpoint
    view.__qualname__ = f"placeholder:{name}.{endpoint}"
    return view


def install_routes(app: Quart, *, lazy: bool = True) -> None:
    """Every blueprint's rules on the app: from the table (lazy), or the real blueprints."""
    if not lazy:
        for bp, _, _ in eager_blueprints():
            app.register_blueprint(bp)
        return
    for name, modules, module, attr, kwargs, rules in route_table():
        modules = tuple(modules)
        kwargs = dict(kwargs)
        root = str(APPLIANCE_DIR / kwargs.pop("root"))
        shell = Blueprint(name, module, root_path=root, **kwargs)
        endpoints = frozenset(endpoint for _, endpoint, _ in rules)
        placeholders = {ep: _placeholder(name, modules, module, attr, ep, endpoints) for ep in endpoints}
        for rule, endpoint, options in rules:
            shell.add_url_rule(rule, endpoint, placeholders[endpoint], **options)
        app.register_blueprint(shell)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true",
                   help="generate the table and cache it now (e.g. when building an image), else check the cache")
    p.add_argument("--print", action="store_true", help="print the generated table (JSON) and cache nothing")
    args = p.parse_args(argv)
    if args.print:
        sys.stdout.write(json.dumps(generate()))
        return 0
    files = _sources()
    stat = stat_signature(files)
    cached = {"format": FORMAT, "stat": stat, "key": source_key(files), "blueprints": generate()}
    if args.write:
        written = next((path for path in cache_paths() if _write(path, cached)), None)
        print(f"wrote {written}" if written else "no writable cache: a start generates the table in memory")
        return 0 if written else 1
    current = next((c for c in map(_read, cache_paths()) if c is not None and c.get("key") == cached["key"]), None)
    if current is None or current["blueprints"] != cached["blueprints"]:
        print("no up-to-date route table cached: the next start generates it", file=sys.stderr)
        return 1
    print("route table up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
