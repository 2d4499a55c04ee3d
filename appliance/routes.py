"""Every URL rule of the app from a static table: handler modules load on their first request.

Hearth serves ~250 routes from ~50 modules (the Client-Server and admin APIs, the setup wizard,
the web pages), with their pydantic request models and the services they call. Importing them
all cost a start ~0.05 s and ~4 MiB, most of them for routes a given home server never sees.
So the app's URL map is built from `route_table.BLUEPRINTS` (blueprint name, rule, endpoint,
options: plain data, no imports), each rule pointing at a small placeholder view. The first
request to any of a blueprint's rules imports its modules, takes the real views from the
blueprint, puts them in the app's `view_functions` and calls the real one; later requests go
straight to the real views. The URL map is the same rule for rule either way (so are 404, 405
and OPTIONS answers): `tests/api/test_route_table.py` checks it against the real blueprints.

The table is generated from the real blueprints (`eager_blueprints()` below, the one list of
what the app serves), never edited by hand:

    .venv/bin/python -m appliance.routes --write

A blueprint in the table may hold only URL rules (no record_once, blueprint-level hooks, error
handlers or view attributes such as `methods`): anything app-wide is installed at start-up by
create_app, not by a blueprint whose module may not be loaded yet. The generator refuses others.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from quart import Blueprint, Quart, current_app

APPLIANCE_DIR = Path(__file__).resolve().parent
TABLE_PATH = APPLIANCE_DIR / "route_table.py"

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
    from .core.api.federation import openid as federation_openid
    from .setup_wizard import restore as _wizard_restore  # noqa: F401  (its pages join the wizard's blueprint)
    from .setup_wizard import routes as wizard_routes
    from .webui import account_pages, admin_backups, admin_pages, join, layout

    found = [*client_blueprints(), *admin_blueprints(), federation_openid.bp, wizard_routes.bp, layout.bp, join.bp,
             account_pages.bp, admin_pages.bp, admin_backups.bp, admin_backups.state_bp]
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
    import ast

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
        if ast.literal_eval(repr(options)) != options:
            raise RouteTableError(f"{bp.name}.{endpoint}: options {options!r} are not plain data")
        modules.add(view.__module__)
        rules.append((rule, endpoint, options))
    kwargs = {"root": Path(bp.root_path).resolve().relative_to(APPLIANCE_DIR).as_posix(),
              "url_prefix": bp.url_prefix, "template_folder": bp.template_folder,
              "static_folder": bp._static_folder, "static_url_path": bp._static_url_path}
    return (bp.name, tuple(sorted(modules)), module, attr, kwargs, tuple(rules))


def generate() -> tuple:
    return tuple(describe(bp, module, attr) for bp, module, attr in eager_blueprints())


def render_table(entries: tuple) -> str:
    lines = ['"""Generated by `python -m appliance.routes --write` from the real blueprints: do not edit.',
             "",
             "(blueprint name, modules to import, module, attribute, blueprint kwargs, rules); a rule is",
             "(rule without the url_prefix, endpoint, options). See appliance/routes.py.", '"""', "",
             "BLUEPRINTS = ("]
    for name, modules, module, attr, kwargs, rules in entries:
        lines.append(f"    ({name!r}, {modules!r}, {module!r}, {attr!r}, {kwargs!r}, (")
        lines += [f"        {rule!r}," for rule in rules]
        lines.append("    )),")
    lines.append(")")
    return "\n".join(lines) + "\n"


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
            raise RouteTableError(f"route table out of date for {name}: run python -m appliance.routes --write")
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
    from .route_table import BLUEPRINTS

    for name, modules, module, attr, kwargs, rules in BLUEPRINTS:
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
    p.add_argument("--write", action="store_true", help=f"write {TABLE_PATH.name}; else check it")
    args = p.parse_args(argv)
    text = render_table(generate())
    if args.write:
        TABLE_PATH.write_text(text)
        print(f"wrote {TABLE_PATH}")
        return 0
    current = TABLE_PATH.read_text() if TABLE_PATH.exists() else ""
    if current != text:
        print(f"{TABLE_PATH} is out of date: run python -m appliance.routes --write", file=sys.stderr)
        return 1
    print("route table up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
