"""Hitting every route of an API with junk, for the tests that no input ever produces a 500:
each path parameter filled with real IDs and with junk, each body-taking method sent junk
bodies, each request with junk query parameters. Used by test_bad_input_never_500.py (the
client API) and test_admin_junk.py (the admin API)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def fill(rule: str, value: str, room_id: str, user_id: str) -> str:
    """The rule's path with every parameter set to `value`; "real" puts the room or user ID
    where the parameter names one (and "x" elsewhere)."""
    def repl(m: re.Match) -> str:
        name = m.group(1).split(":")[-1]
        if value == "real":
            return room_id if "room" in name else user_id if "user" in name else "x"
        return value
    return re.sub(r"<([^>]+)>", repl, rule)


@dataclass
class JunkRun:
    failures: list[tuple] = field(default_factory=list)   # a 500, or an error without an errcode
    statuses: dict[int, int] = field(default_factory=dict)
    rules: int = 0


async def hit_every_route(hs, prefix: str, user, room_id: str, *, bodies: Sequence[bytes | None],
                          path_values: Iterable[str], queries: Sequence[dict[str, str]],
                          body_methods: tuple[str, ...] = ("POST", "PUT"), bare_401_ok: bool = False,
                          user_id: str | None = None) -> JunkRun:
    """Every route under `prefix`, every method, as `user`: see the module docstring. `user_id`
    goes in user parameters (default: the caller's own). `bare_401_ok`: a 401 may come without
    an errcode (UIA and login flows answer others)."""
    run = JunkRun()
    rules = [r for r in hs.client.app.url_map.iter_rules() if r.rule.startswith(prefix)]
    run.rules = len(rules)
    values = ["real", *path_values]
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for value in values:
                path = fill(rule.rule, value, room_id, user_id or user.user_id)
                for body in (bodies if method in body_methods else [None]):
                    for query in queries:
                        r = await hs.client.open(path, method=method, headers=user.headers, data=body,
                                                 query_string=query)
                        run.statuses[r.status_code] = run.statuses.get(r.status_code, 0) + 1
                        if r.status_code >= 500:
                            run.failures.append((method, path[:80], body[:40] if body else None, r.status_code))
                        elif r.status_code >= 400 and not (bare_401_ok and r.status_code == 401):
                            data = await r.get_json(force=True, silent=True)
                            if not (isinstance(data, dict) and "errcode" in data):
                                run.failures.append((method, path[:80], "no errcode", r.status_code))
    return run
