from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.core.protocol import room_versions
from appliance.core.protocol.ids import (
    is_valid_event_id,
    is_valid_room_alias,
    is_valid_room_id,
    is_valid_server_name,
    is_valid_user_id,
    is_valid_user_localpart,
    make_room_id,
    make_v1_event_id,
    parse_user_id,
    room_id_for_create_event,
    server_name_of,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "ids.json").read_text("utf-8"))
V1, V3, V4, V11, V12 = (room_versions.KNOWN[v] for v in ("1", "3", "4", "11", "12"))


@pytest.mark.parametrize("name", VECTORS["server_names"]["valid"])
def test_valid_server_names(name: str) -> None:
    assert is_valid_server_name(name)


@pytest.mark.parametrize("name", VECTORS["server_names"]["invalid"])
def test_invalid_server_names(name: str) -> None:
    assert not is_valid_server_name(name)


@pytest.mark.parametrize("localpart", VECTORS["user_localparts"]["valid"])
def test_valid_localparts(localpart: str) -> None:
    assert is_valid_user_localpart(localpart)


@pytest.mark.parametrize("localpart", VECTORS["user_localparts"]["invalid"])
def test_invalid_localparts(localpart: str) -> None:
    assert not is_valid_user_localpart(localpart)


@pytest.mark.parametrize(("user_id", "localpart", "server_name"), VECTORS["user_ids"]["valid"])
def test_parse_user_id(user_id: str, localpart: str, server_name: str) -> None:
    assert parse_user_id(user_id) == (localpart, server_name)
    assert is_valid_user_id(user_id)
    assert server_name_of(user_id) == server_name


@pytest.mark.parametrize("user_id", VECTORS["user_ids"]["invalid"])
def test_parse_user_id_rejects(user_id: str) -> None:
    with pytest.raises(ValueError):
        parse_user_id(user_id)
    assert not is_valid_user_id(user_id)


@pytest.mark.parametrize("alias", VECTORS["room_aliases"]["valid"])
def test_valid_aliases(alias: str) -> None:
    assert is_valid_room_alias(alias)


@pytest.mark.parametrize("alias", VECTORS["room_aliases"]["invalid"])
def test_invalid_aliases(alias: str) -> None:
    assert not is_valid_room_alias(alias)


@pytest.mark.parametrize("room_id", VECTORS["room_ids"]["domain_form"])
def test_domain_room_ids(room_id: str) -> None:
    assert is_valid_room_id(room_id)
    assert is_valid_room_id(room_id, V1) and is_valid_room_id(room_id, V11)
    assert not is_valid_room_id(room_id, V12)


@pytest.mark.parametrize("room_id", VECTORS["room_ids"]["hash_form"])
def test_hash_room_ids(room_id: str) -> None:
    assert is_valid_room_id(room_id)
    assert is_valid_room_id(room_id, V12)
    assert not is_valid_room_id(room_id, V11)
    with pytest.raises(ValueError):
        server_name_of(room_id)


@pytest.mark.parametrize("room_id", VECTORS["room_ids"]["invalid"])
def test_invalid_room_ids(room_id: str) -> None:
    assert not is_valid_room_id(room_id)


@pytest.mark.parametrize("event_id", VECTORS["event_ids"]["v1"])
def test_v1_event_ids(event_id: str) -> None:
    assert is_valid_event_id(event_id) and is_valid_event_id(event_id, V1)
    assert not is_valid_event_id(event_id, V3) and not is_valid_event_id(event_id, V4)


@pytest.mark.parametrize("event_id", VECTORS["event_ids"]["v3"])
def test_v3_event_ids(event_id: str) -> None:
    assert is_valid_event_id(event_id) and is_valid_event_id(event_id, V3)
    assert not is_valid_event_id(event_id, V1) and not is_valid_event_id(event_id, V4)


@pytest.mark.parametrize("event_id", VECTORS["event_ids"]["v4"])
def test_v4_event_ids(event_id: str) -> None:
    assert is_valid_event_id(event_id) and is_valid_event_id(event_id, V4)
    assert is_valid_event_id(event_id, V12)
    assert not is_valid_event_id(event_id, V1) and not is_valid_event_id(event_id, V3)
    with pytest.raises(ValueError):
        server_name_of(event_id)


@pytest.mark.parametrize("event_id", VECTORS["event_ids"]["both_v3_and_v4"])
def test_event_ids_in_both_alphabets(event_id: str) -> None:
    assert is_valid_event_id(event_id, V3) and is_valid_event_id(event_id, V4)


@pytest.mark.parametrize("event_id", VECTORS["event_ids"]["invalid"])
def test_invalid_event_ids(event_id: str) -> None:
    assert not is_valid_event_id(event_id)


def test_make_room_id() -> None:
    first, second = make_room_id("example.org:8448"), make_room_id("example.org:8448")
    assert first != second
    assert first.startswith("!") and first.endswith(":example.org:8448")
    assert first[1:-len(":example.org:8448")].isalnum()
    assert is_valid_room_id(first, V11)
    assert server_name_of(first) == "example.org:8448"


def test_make_v1_event_id() -> None:
    event_id = make_v1_event_id("example.org")
    assert is_valid_event_id(event_id, V1)
    assert server_name_of(event_id) == "example.org"


def test_room_id_for_create_event() -> None:
    event_id = VECTORS["event_ids"]["v4"][0]
    assert room_id_for_create_event(event_id) == "!" + event_id[1:]
    with pytest.raises(ValueError):
        room_id_for_create_event("!" + event_id[1:])


@pytest.mark.parametrize("identifier", ["alice", "@alice:", "@alice:bad_server"])
def test_server_name_of_rejects(identifier: str) -> None:
    with pytest.raises(ValueError):
        server_name_of(identifier)
