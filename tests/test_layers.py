"""Imports point down the layers and never in a circle (DESIGN.md "Where things go").

protocol ← storage ← services ← api / webui ← setup_wizard ← the entry points. Every import
counts, also one inside a function (a lazy import is still a dependency) and one made only for
type checking. Modules of one layer may import each other, but no chain of imports between the
modules of `appliance` may lead back to where it started.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import appliance

ROOT = Path(appliance.__file__).parent

# Lowest first. A module belongs to the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("settings", ("appliance.settings", "appliance.public_address", "appliance.core.cache", "appliance.core.memory",
                  "appliance.core.metrics",
                  "appliance.core.interpreter", "appliance.core.log_output", "appliance.sd_notify")),
    ("protocol", ("appliance.core.protocol",)),
    ("storage", ("appliance.core.storage", "appliance.core.stream", "appliance.core.stream_consumer")),
    ("services", ("appliance.core.services", "appliance.core.signals", "appliance.lan_discovery",
                  "appliance.groups", "appliance.hearth", "appliance.bridges")),
    ("api / webui", ("appliance.core.api", "appliance.webui")),
    ("setup_wizard", ("appliance.setup_wizard",)),
    ("entry points", ("appliance.app", "appliance.routes", "appliance.route_table", "appliance.__main__",
                      "appliance.backup_cli", "appliance.maintenance_cli", "appliance.registration_secret_cli",
                      "appliance.appservice_cli", "appliance.bridges_cli", "appliance.h11_writes")),
]
# The packages themselves (their __init__ holds a docstring): below everything.
PACKAGES = frozenset({"appliance", "appliance.core"})


def _module_name(path: Path) -> str:
    parts = ["appliance", *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `appliance` that `name` imports, anywhere in its text."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" for a in node.names] + [module]
        for target in targets:
            # `from . import x` names a module when x is one; otherwise the package itself.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("appliance"):
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _layer(module: str) -> int:
    if module in PACKAGES:
        return 0
    best, best_len = None, -1
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def _is_package_of(importer: str, imported: str) -> bool:
    """Importing a module runs its packages' __init__ first: that is not a dependency."""
    return importer.startswith(imported + ".")


def test_imports_point_down_the_layers():
    upward = []
    for module, imports in _graph().items():
        for target in imports:
            if _is_package_of(module, target):
                continue
            if _layer(target) > _layer(module):
                upward.append(f"{module} ({LAYERS[_layer(module)][0]}) imports {target} "
                              f"({LAYERS[_layer(target)][0]})")
    assert not upward, "imports from a higher layer:\n" + "\n".join(sorted(upward))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    graph = {m: {t for t in ts if not _is_package_of(m, t)} for m, ts in _graph().items()}
    cycles = _cycles(graph)
    assert not cycles, "modules that import each other (directly or in a chain):\n" + "\n".join(
        " ↔ ".join(c) for c in cycles)


def test_the_checks_see_an_upward_import_and_a_cycle():
    """The two checks above fail on what they are meant to catch."""
    assert _layer("appliance.webui.pages") > _layer("appliance.core.services.rooms")
    assert _layer("appliance.setup_wizard.steps") > _layer("appliance.webui.forms")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    with pytest.raises(AssertionError, match="in no layer"):  # a new top-level module must be placed
        _layer("appliance.something_new")
    graph = _graph()
    assert "appliance.core.services.pipeline" in graph["appliance.groups.core"]
    assert "appliance.groups.admin" in graph["appliance.hearth"]  # imported inside a function: seen
    assert "appliance.core.services.restore_staging" in graph["appliance.webui.restore_upload"]  # `from .. import x`


WEB_LAYERS = ("appliance.core.api", "appliance.webui", "appliance.setup_wizard")
STORE_FIELDS = re.compile(r"\.core\.(db|account_store|event_store|state_store)\b")


def test_the_http_and_web_layers_see_services_never_stores_or_the_database():
    """DESIGN decision 13: handlers and pages call services; the stores and the database are the
    services' own (they reach them only through the core group, which these layers leave alone)."""
    graph, modules = _graph(), _modules()
    found = []
    for module, path in modules.items():
        if not module.startswith(WEB_LAYERS):
            continue
        found += [f"{module} imports {t}" for t in graph[module] if t.startswith("appliance.core.storage")]
        found += [f"{module}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
                  if STORE_FIELDS.search(line)]
    assert not found, "\n".join(found)
    assert STORE_FIELDS.search("await hearth.core.db.fetchall(...)")
    assert not STORE_FIELDS.search("hearth.core.backups.status()")
