"""Server-side key backups (key_backup.yaml, end_to_end_encryption.md "Server-side key backups")."""
from __future__ import annotations

import pytest

ALG = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:hearth.test"


async def login(client, name: str = "alice") -> dict:
    hearth = client.app.config["HEARTH"]
    user_id = f"@{name}:hearth.test"
    await hearth.core.account_store.create_user(user_id, None)
    await hearth.core.account_store.upsert_device(user_id, "DEV", None, "127.0.0.1")
    token = (await hearth.core.auth.issue_tokens(user_id, "DEV")).access_token
    return {"Authorization": f"Bearer {token}"}


def key(fmi: int = 0, fc: int = 0, verified: bool = False, tag: str = "a") -> dict:
    return {"first_message_index": fmi, "forwarded_count": fc, "is_verified": verified,
            "session_data": {"ephemeral": tag, "ciphertext": tag, "mac": tag}}


class Api:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    async def call(self, method: str, path: str, body: dict | None = None):
        resp = await getattr(self.client, method)(f"/_matrix/client/v3{path}", json=body, headers=self.headers)
        return resp.status_code, await resp.get_json()


async def test_versions_lifecycle(client):
    api = Api(client, await login(client))
    assert (await api.call("get", "/room_keys/version")) == (404, {"errcode": "M_NOT_FOUND",
                                                                   "error": "No current backup version"})
    status, body = await api.call("post", "/room_keys/version", {"algorithm": ALG, "auth_data": {"public_key": "k1"}})
    assert status == 200
    v1 = body["version"]
    status, body = await api.call("get", "/room_keys/version")
    assert status == 200
    assert body == {"algorithm": ALG, "auth_data": {"public_key": "k1"}, "version": v1, "count": 0,
                    "etag": body["etag"]}
    assert isinstance(body["etag"], str)
    status, body = await api.call("post", "/room_keys/version", {"algorithm": ALG, "auth_data": {"public_key": "k2"}})
    v2 = body["version"]
    assert v2 != v1
    assert (await api.call("get", "/room_keys/version"))[1]["version"] == v2
    assert (await api.call("get", f"/room_keys/version/{v1}"))[1]["auth_data"] == {"public_key": "k1"}

    # Update: only auth_data may change.
    status, _ = await api.call("put", f"/room_keys/version/{v2}", {"algorithm": ALG, "auth_data": {"public_key": "k3"},
                                                                   "version": v2})
    assert status == 200
    assert (await api.call("get", f"/room_keys/version/{v2}"))[1]["auth_data"] == {"public_key": "k3"}
    status, body = await api.call("put", f"/room_keys/version/{v2}", {"algorithm": "other", "auth_data": {}})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await api.call("put", f"/room_keys/version/{v2}", {"algorithm": ALG, "auth_data": {}, "version": v1})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await api.call("put", "/room_keys/version/999", {"algorithm": ALG, "auth_data": {}})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")

    # Delete: the previous version becomes current; deleting twice is fine; unknown is 404.
    assert (await api.call("delete", f"/room_keys/version/{v2}"))[0] == 200
    assert (await api.call("delete", f"/room_keys/version/{v2}"))[0] == 200
    assert (await api.call("get", f"/room_keys/version/{v2}"))[0] == 404
    assert (await api.call("get", "/room_keys/version"))[1]["version"] == v1
    status, body = await api.call("delete", "/room_keys/version/12345")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    assert (await api.call("get", "/room_keys/version/not-a-version"))[0] == 404

    status, body = await api.call("post", "/room_keys/version", {"algorithm": ALG})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await api.call("post", "/room_keys/version", {"algorithm": ALG, "auth_data": "x"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


async def test_unknown_backup_algorithms_are_refused(client):
    api = Api(client, await login(client))
    for algorithm in ["AAA", "m.megolm_backup.v2", ""]:
        status, body = await api.call("post", "/room_keys/version", {"algorithm": algorithm, "auth_data": {}})
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM" if algorithm else "M_BAD_JSON"), algorithm
    assert (await api.call("get", "/room_keys/version"))[0] == 404  # nothing was made
    v = (await api.call("post", "/room_keys/version", {"algorithm": ALG, "auth_data": {}}))[1]["version"]
    status, body = await api.call("put", f"/room_keys/version/{v}", {"algorithm": "AAA", "auth_data": {}})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    assert (await api.call("get", "/room_keys/version"))[1]["algorithm"] == ALG


async def test_backups_are_per_user(client):
    alice = Api(client, await login(client, "alice"))
    bob = Api(client, await login(client, "bob"))
    v = (await alice.call("post", "/room_keys/version", {"algorithm": ALG, "auth_data": {}}))[1]["version"]
    assert (await bob.call("get", f"/room_keys/version/{v}"))[0] == 404
    status, body = await bob.call("put", f"/room_keys/keys?version={v}", {"rooms": {}})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_keys_round_trip_etag_and_count(client):
    api = Api(client, await login(client))
    v = (await api.call("post", "/room_keys/version", {"algorithm": ALG, "auth_data": {}}))[1]["version"]
    etag0 = (await api.call("get", "/room_keys/version"))[1]["etag"]
    status, body = await api.call("put", f"/room_keys/keys?version={v}",
                                  {"rooms": {ROOM: {"sessions": {"s1": key(), "s2": key(tag="b")}}}})
    assert status == 200 and body["count"] == 2 and body["etag"] != etag0
    etag1 = body["etag"]
    status, body = await api.call("put", f"/room_keys/keys/{ROOM}?version={v}", {"sessions": {"s3": key()}})
    assert body["count"] == 3 and body["etag"] != etag1
    status, body = await api.call("put", f"/room_keys/keys/!other:hearth.test/s4?version={v}", key())
    assert body["count"] == 4
    info = (await api.call("get", "/room_keys/version"))[1]
    assert info["count"] == 4 and info["etag"] == body["etag"]

    status, body = await api.call("get", f"/room_keys/keys?version={v}")
    assert status == 200
    assert set(body["rooms"]) == {ROOM, "!other:hearth.test"}
    assert body["rooms"][ROOM]["sessions"]["s2"] == key(tag="b")
    assert (await api.call("get", f"/room_keys/keys/{ROOM}?version={v}"))[1]["sessions"].keys() == {"s1", "s2", "s3"}
    assert (await api.call("get", f"/room_keys/keys/{ROOM}/s1?version={v}")) == (200, key())
    assert (await api.call("get", f"/room_keys/keys/!empty:hearth.test?version={v}")) == (200, {"sessions": {}})
    status, body = await api.call("get", f"/room_keys/keys/{ROOM}/missing?version={v}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")

    status, body = await api.call("delete", f"/room_keys/keys/{ROOM}/s1?version={v}")
    assert status == 200 and body["count"] == 3
    status, body = await api.call("delete", f"/room_keys/keys/{ROOM}?version={v}")
    assert body["count"] == 1
    status, body = await api.call("delete", f"/room_keys/keys?version={v}")
    assert body["count"] == 0
    assert (await api.call("get", f"/room_keys/keys?version={v}")) == (200, {"rooms": {}})

    # Deleting a version deletes its keys.
    await api.call("put", f"/room_keys/keys?version={v}", {"rooms": {ROOM: {"sessions": {"s1": key()}}}})
    await api.call("delete", f"/room_keys/version/{v}")
    status, body = await api.call("get", f"/room_keys/keys?version={v}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_only_the_current_version_takes_keys(client):
    api = Api(client, await login(client))
    v1 = (await api.call("post", "/room_keys/version", {"algorithm": ALG, "auth_data": {}}))[1]["version"]
    v2 = (await api.call("post", "/room_keys/version", {"algorithm": ALG, "auth_data": {}}))[1]["version"]
    status, body = await api.call("put", f"/room_keys/keys?version={v1}", {"rooms": {ROOM: {"sessions": {"s": key()}}}})
    assert status == 403
    assert body["errcode"] == "M_WRONG_ROOM_KEYS_VERSION" and body["current_version"] == v2
    status, body = await api.call("put", f"/room_keys/keys/{ROOM}/s", key())
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await api.call("put", f"/room_keys/keys?version={v2}", {"rooms": {ROOM: {"sessions": {"s": {}}}}})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await api.call("put", f"/room_keys/keys?version={v2}", {"rooms": {ROOM: "x"}})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


@pytest.mark.parametrize("old, new, replaced", [
    (key(verified=False, fmi=0), key(verified=True, fmi=5, tag="n"), True),     # verified wins
    (key(verified=True, fmi=5), key(verified=False, fmi=0, tag="n"), False),
    (key(fmi=5, fc=0), key(fmi=3, fc=9, tag="n"), True),                         # lower index wins
    (key(fmi=3, fc=0), key(fmi=5, fc=0, tag="n"), False),
    (key(fmi=3, fc=2), key(fmi=3, fc=1, tag="n"), True),                         # then fewer forwards
    (key(fmi=3, fc=1), key(fmi=3, fc=2, tag="n"), False),
    (key(fmi=3, fc=1), key(fmi=3, fc=1, tag="n"), False),                        # a tie keeps the old
])
async def test_better_key_wins(client, old, new, replaced):
    api = Api(client, await login(client))
    v = (await api.call("post", "/room_keys/version", {"algorithm": ALG, "auth_data": {}}))[1]["version"]
    etag1 = (await api.call("put", f"/room_keys/keys/{ROOM}/s?version={v}", old))[1]["etag"]
    status, body = await api.call("put", f"/room_keys/keys/{ROOM}/s?version={v}", new)
    assert status == 200 and body["count"] == 1
    assert (body["etag"] != etag1) == replaced
    stored = (await api.call("get", f"/room_keys/keys/{ROOM}/s?version={v}"))[1]
    assert stored == (new if replaced else old)
