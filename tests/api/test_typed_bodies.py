"""Request bodies declared as models (routing.BodyModel): a wrong shape gets the errcode the spec
or the clients expect for that field, M_BAD_JSON otherwise."""
from __future__ import annotations

import pytest
from pydantic import StrictBool

from appliance.core.api.models import BodyModel
from appliance.core.api.routing import body_error
from appliance.core.protocol.errors import InvalidParam, MissingParam


class Probe(BodyModel):
    enabled: StrictBool
    other: int = 0
    body_errors = {"enabled:missing": MissingParam, "enabled": InvalidParam}


def _error(model, data):
    from pydantic import ValidationError

    try:
        model.model_validate(data)
    except ValidationError as exc:
        return body_error(model, exc)
    raise AssertionError("validated")


def test_the_model_names_the_errcode_of_a_missing_or_a_wrong_field():
    assert _error(Probe, {}).errcode == "M_MISSING_PARAM"
    assert _error(Probe, {"enabled": "yes"}).errcode == "M_INVALID_PARAM"
    assert _error(Probe, {"enabled": True, "other": "x"}).errcode == "M_BAD_JSON"
    assert Probe.model_validate({"enabled": True, "mine": 1}).model_extra == {"mine": 1}  # kept


async def _put(hs, user, path, body):
    r = await hs.client.put(path, headers=user.headers, json=body)
    return r.status_code, await r.get_json()


@pytest.mark.parametrize("body, errcode", [({}, "M_MISSING_PARAM"), ({"enabled": "no"}, "M_INVALID_PARAM")])
async def test_push_rule_enabled(hs, body, errcode):
    alice = await hs.user("alice")
    status, got = await _put(hs, alice, "/_matrix/client/v3/pushrules/global/override/.m.rule.master/enabled", body)
    assert (status, got["errcode"]) == (400, errcode)


async def test_typing_and_read_markers(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    status, got = await _put(hs, alice, f"/_matrix/client/v3/rooms/{room_id}/typing/{alice.user_id}",
                             {"typing": True, "timeout": True})
    assert (status, got["errcode"]) == (400, "M_BAD_JSON")
    r = await hs.client.post(f"/_matrix/client/v3/rooms/{room_id}/read_markers", headers=alice.headers,
                             json={"m.read": 5})
    assert (r.status_code, (await r.get_json())["errcode"]) == (400, "M_INVALID_PARAM")


async def test_a_key_backup_version_needs_its_algorithm(hs):
    alice = await hs.user("alice")
    r = await hs.client.post("/_matrix/client/v3/room_keys/version", headers=alice.headers, json={"auth_data": {}})
    assert (r.status_code, (await r.get_json())["errcode"]) == (400, "M_MISSING_PARAM")


@pytest.mark.parametrize("body, errcode", [({}, "M_MISSING_PARAM"), ({"admin": "yes"}, "M_INVALID_PARAM"),
                                           ({"admin": None}, "M_INVALID_PARAM")])
async def test_admin_bodies_answer_as_synapse(hs, boss, body, errcode):
    alice = await hs.user("alice")
    status, got = await _put(hs, boss, f"/_synapse/admin/v1/users/{alice.user_id}/admin", body)
    assert (status, got["errcode"]) == (400, errcode)


def test_every_request_model_is_fully_defined():
    """Models build on first use (defer_build): a name a model misses would be a 500 on its route."""
    import inspect
    import sys

    from pydantic import BaseModel

    from appliance import routes

    routes.eager_blueprints()
    models = [obj for name, module in list(sys.modules.items()) if name.startswith("appliance.core.api.")
              for obj in vars(module).values()
              if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == name]
    assert len(models) > 60
    for model in models:
        model.model_rebuild(force=True)  # raises PydanticUserError for an undefined name
