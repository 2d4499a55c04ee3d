"""quart_shim.py holds every private attribute of Quart, Flask and Werkzeug that Hearth uses: this
fails, by name, when one of them changes version, so that the shim is checked again."""
from __future__ import annotations

import asyncio
from importlib.metadata import version

from quart import Blueprint, Quart
from quart.wrappers.request import Body

from appliance.core.api import quart_shim


def test_the_installed_versions_are_the_ones_the_shim_was_checked_against():
    installed = {name: version(name) for name in quart_shim.TESTED_VERSIONS}
    assert installed == quart_shim.TESTED_VERSIONS, (
        f"Quart/Flask/Werkzeug changed ({quart_shim.TESTED_VERSIONS} -> {installed}): check every private "
        "attribute in appliance/core/api/quart_shim.py against the new versions, then update TESTED_VERSIONS")


async def test_a_body_tells_when_it_is_complete():
    body = Body(None, None)
    assert quart_shim.body_complete_event(body) is not None
    assert not quart_shim.body_is_complete(body)
    waiter = asyncio.create_task(quart_shim.wait_body_complete(body))
    body.append(b"{}")
    await asyncio.sleep(0)
    assert not waiter.done()
    body.set_complete()
    await asyncio.wait_for(waiter, 1)
    assert quart_shim.body_is_complete(body)
    assert await body == b"{}"


async def test_lazy_rules_build_urls_on_first_use():
    class App(Quart):
        url_rule_class = quart_shim.LazyRule

    app = App(__name__)

    @app.get("/rooms/<room_id>/x")
    async def probe(room_id):
        return room_id

    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "probe")
    lazy = "LazyRule._compile_builder.<locals>.build"
    assert rule._build.__qualname__ == rule._build_unknown.__qualname__ == lazy  # not compiled at start
    async with app.test_request_context("/"):
        from quart import url_for

        assert url_for("probe", room_id="!a", v=1) == "/rooms/!a/x?v=1"
        assert url_for("probe", room_id="!b", v=2) == "/rooms/!b/x?v=2"
    assert rule._build_unknown.__qualname__ != lazy and rule._build.__qualname__ == lazy  # compiled when used


def test_a_blueprints_static_settings():
    bp = Blueprint("probe_static", __name__, static_folder="static", static_url_path="/s")
    assert quart_shim.blueprint_static(bp) == ("static", "/s")
    assert quart_shim.blueprint_static(Blueprint("probe_plain", __name__)) == (None, None)
