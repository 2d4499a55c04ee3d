"""All SQL lives in the storage package (`appliance/core/storage/`: the stores, the database, the
migrations); services, the stream, the HTTP and web layers call store methods instead.

This is what DESIGN.md's "Beyond one box" relies on: PostgreSQL can be added as a second backend
by writing a second set of stores only if no query hides anywhere else. A query outside the
storage package would silently stay SQLite-only, so this test fails as soon as one appears.

The source is parsed (`ast`), not grepped: a call to a database read or write method
(`execute`, `executemany`, `executescript`, `fetchall`, `fetchone`, `fetchval`, `fetchmany`),
opening a database (`sqlite3.connect`, `aiosqlite.connect`), or a string literal that reads as
SQL (docstrings excepted, so that prose may name `DELETE /rooms/...` or a table) counts.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPLIANCE = ROOT / "appliance"
STORAGE = APPLIANCE / "core" / "storage"

# Files that still hold SQL while their move into stores is under way on other branches. Each
# entry must still hold SQL (see test_allow_list_does_not_rot): whoever moves a file's queries
# into stores deletes its line here, and the list ends empty.
ALLOWED: set[str] = set()  # nothing outside the stores may hold SQL

SQL_METHODS = frozenset({"execute", "executemany", "executescript", "fetchall", "fetchone", "fetchval",
                         "fetchmany"})
DRIVERS = frozenset({"sqlite3", "aiosqlite"})
# Upper-case keywords in the shape of a statement: English prose ("select a file from …") does
# not match, an HTTP method name alone ("DELETE") does not either.
SQL_TEXT = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(?:OR\s+[A-Z]+\s+)?INTO\b|\bREPLACE\s+INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\bPRAGMA\s+\w+|\b(?:CREATE|DROP|ALTER)\s+(?:TABLE|INDEX|VIRTUAL\s+TABLE|TRIGGER|VIEW)\b"
    r"|^\s*(?:BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _literal_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):  # f"SELECT {cols} FROM t": the placeholders read as a word
        return "".join(v.value if isinstance(v, ast.Constant) else " x " for v in node.values)
    return None


def sql_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) of every SQL use in a module's source."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in SQL_METHODS:
                found.add((node.lineno, f".{name}() call"))
            elif name == "connect" and isinstance(node.func.value, ast.Name) and node.func.value.id in DRIVERS:
                found.add((node.lineno, f"{node.func.value.id}.connect() call"))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and id(node) not in docstrings:
            text = _literal_text(node)
            if text is not None and SQL_TEXT.search(text):
                found.add((node.lineno, "SQL text " + repr(" ".join(text.split())[:50])))
    return sorted(found)


# A bridge plugin's own store module (appliance/bridges/<plugin>/store.py) is that plugin's storage
# layer: its queries reach only its own tables, through the authorizer of core/storage/plugin_tables.py.
PLUGIN_STORE = re.compile(r"^appliance/bridges/[a-z0-9_]+/store\.py$")


def _modules_outside_storage() -> dict[str, list[tuple[int, str]]]:
    out = {}
    for path in sorted(APPLIANCE.rglob("*.py")):
        if path.is_relative_to(STORAGE) or PLUGIN_STORE.match(path.relative_to(ROOT).as_posix()):
            continue
        out[path.relative_to(ROOT).as_posix()] = sql_uses(path.read_text(encoding="utf-8"))
    return out


def test_no_sql_outside_the_storage_package():
    offending = [f"{name}:{line}: {what}" for name, uses in _modules_outside_storage().items()
                 if name not in ALLOWED for line, what in uses]
    assert not offending, ("SQL outside appliance/core/storage/ (give the store a method and call it):\n"
                           + "\n".join(offending))


def test_allow_list_does_not_rot():
    modules = _modules_outside_storage()
    missing = sorted(name for name in ALLOWED if name not in modules)
    assert not missing, f"allow-listed files that no longer exist: {missing}"
    clean = sorted(name for name in ALLOWED if not modules[name])
    assert not clean, f"these files hold no SQL any more: remove them from ALLOWED: {clean}"


def test_the_detector_sees_sql_and_ignores_prose():
    code = '''
"""Module prose may say SELECT x FROM y."""
import sqlite3

async def handler(db, conn, cols):
    """DELETE /rooms/{room_id}: prose again."""
    methods = ("GET", "DELETE")
    await db.fetchval("SELECT 1")
    conn.execute(query)
    rows = [r for r in conn.executemany(q, [])]
    sql = f"SELECT {cols} FROM users"
    text = "INSERT OR IGNORE INTO t (k) VALUES (?)"
    other = "UPDATE users SET name = ?"
    raw = sqlite3.connect(path)
    note = "Select a file from the list, then update it."
'''
    lines = {line for line, _ in sql_uses(code)}
    assert lines == {8, 9, 10, 11, 12, 13, 14}
