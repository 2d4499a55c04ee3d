"""The route table (appliance/routes.py) matches the real handlers, is regenerated when the
sources change, and a server started from it answers routes whose modules it has not imported yet."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

from appliance import routes
from appliance.app import create_app


def _rules(app) -> list[tuple]:
    return [(r.rule, r.endpoint, tuple(sorted(r.methods)), r.strict_slashes, r.defaults, r.provide_automatic_options)
            for r in app.url_map.iter_rules()]


def test_the_table_is_generated_from_the_real_blueprints():
    assert routes.route_table() == routes.generate()


def _cache_in(monkeypatch, path):
    monkeypatch.setattr(routes, "cache_paths", lambda: [path])
    monkeypatch.setattr(routes, "_memo", {})


def test_a_stale_cache_is_regenerated_in_a_child_and_written_atomically(tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "route_table.json"
    cache.parent.mkdir()
    cache.write_text(json.dumps({"format": routes.FORMAT, "stat": "old", "key": "old", "blueprints": []}))
    _cache_in(monkeypatch, cache)
    table = routes.route_table()
    assert table == routes.generate()
    files = routes._sources()
    written = json.loads(cache.read_text())
    assert written == {"format": routes.FORMAT, "stat": routes.stat_signature(files),
                       "key": routes.source_key(files), "blueprints": table}
    assert [p.name for p in cache.parent.iterdir()] == ["route_table.json"]  # no temporary file left


def test_a_cache_of_the_same_sources_is_used_and_its_signature_refreshed(tmp_path, monkeypatch):
    """Same contents, other mtimes (a fresh checkout, a copied image): the table is not regenerated."""
    cache = tmp_path / "route_table.json"
    files = routes._sources()
    marker = [["only_in_the_cache", [], "m", "bp", {"root": ".", "url_prefix": None}, []]]
    cache.write_text(json.dumps({"format": routes.FORMAT, "stat": "other mtimes", "key": routes.source_key(files),
                                 "blueprints": marker}))
    _cache_in(monkeypatch, cache)
    monkeypatch.setattr(routes, "_generate_in_child", lambda: (_ for _ in ()).throw(AssertionError("generated")))
    assert routes.route_table() == marker
    assert json.loads(cache.read_text())["stat"] == routes.stat_signature(files)
    monkeypatch.setattr(routes, "_memo", {})
    assert routes.route_table() == marker  # now by the signature alone


def test_without_a_writable_cache_the_table_is_kept_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    _cache_in(monkeypatch, blocker / "route_table.json")  # its directory cannot be made
    calls = []
    monkeypatch.setattr(routes, "_generate_in_child", lambda: calls.append(1) or routes.generate())
    assert routes.route_table() == routes.route_table() == routes.generate()
    assert calls == [1]


def test_the_url_map_from_the_table_is_the_real_one(settings):
    lazy, eager = create_app(settings), create_app(settings, lazy_routes=False)
    assert _rules(lazy) == _rules(eager)
    assert len(_rules(lazy)) > 200
    # Every placeholder resolves to the view the real blueprint registers for that endpoint.
    for name, modules, module, attr, _, rules in routes.route_table():
        views = routes.load_views(name, modules, module, attr, frozenset(ep for _, ep, _ in rules))
        for _, endpoint, _ in rules:
            assert eager.view_functions[f"{name}.{endpoint}"] is views[endpoint]


def test_a_blueprint_that_does_more_than_routes_is_refused():
    from quart import Blueprint

    bp = Blueprint("probe_hooks", __name__)

    @bp.get("/probe")
    async def probe():
        return "ok"

    bp.record_once(lambda state: state.app.config.update(X=1))
    try:
        routes.describe(bp, __name__, "bp")
    except routes.RouteTableError as exc:
        assert "state.app" in str(exc)
    else:
        raise AssertionError("a record_once blueprint was accepted")
    bp2 = Blueprint("probe_hook2", __name__)
    bp2.before_request(probe)
    try:
        routes.describe(bp2, __name__, "bp2")
    except routes.RouteTableError as exc:
        assert "before_request_funcs" in str(exc)
    else:
        raise AssertionError("a blueprint with a before_request hook was accepted")


async def test_first_request_loads_the_handler_module(hs):
    """In-process: the placeholder swaps itself for the real view on the first request."""
    app = hs.client.app
    endpoint = "client_typing.set_typing_0"
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    r = await hs.client.put(f"/_matrix/client/v3/rooms/{room_id}/typing/{alice.user_id}", headers=alice.headers,
                            json={"typing": True, "timeout": 1000})
    assert r.status_code == 200, await r.get_data()
    assert not app.view_functions[endpoint].__qualname__.startswith("placeholder:")
    r = await hs.client.put(f"/_matrix/client/r0/rooms/{room_id}/typing/{alice.user_id}", headers=alice.headers,
                            json={"typing": False})
    assert r.status_code == 200


def test_a_fresh_server_answers_routes_it_has_not_imported(server):
    """A real `hearth run`: the handler modules are not imported at start; the first request to
    one (a 404 from a lazily loaded module, a login, a page) is answered as always."""
    probe = ("import sys, json; from appliance.app import create_app; create_app(); "
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('appliance.core.api.client.', "
             "'appliance.core.api.admin.', 'appliance.webui.admin', 'appliance.setup_wizard.routes')))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                       check=True).stdout)
    assert loaded == [], f"imported at start: {loaded}"

    def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict | str]:
        req = urllib.request.Request(server.base_url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    status, body = call("GET", "/_matrix/client/v3/login")
    assert status == 200 and any(f["type"] == "m.login.password" for f in body["flows"])
    status, body = call("GET", "/_matrix/client/r0/profile/@nobody:hearth.test")
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    status, body = call("GET", "/_matrix/client/v3/account/whoami")
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"
    status, body = call("POST", "/_synapse/admin/v1/registration_tokens/new", {})
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"
    status, body = call("GET", "/_matrix/client/v3/rooms/!x:y/typing/@a:b")
    assert status == 405 and body["errcode"] == "M_UNRECOGNIZED"
    status, page = call("GET", "/login")
    assert status in (200, 303) and isinstance(page, str)
