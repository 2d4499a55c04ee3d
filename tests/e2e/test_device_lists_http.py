"""Device-list tracking through a real Hearth process, in raw HTTP (end_to_end_encryption.md
"Tracking the device list for a user", "Extensions to /sync"): a new device (by any sign-in
path) or a deleted one puts its owner in `device_lists.changed` of the next incremental /sync
of everyone sharing a room with them, and of the owner's own other devices; `left` names who
no longer shares a room. Device keys whose self-signature does not verify are accepted."""
from __future__ import annotations

import time

import pytest

from tests.conftest import start_server
from tests.e2e.spec_http import PASSWORD, User, register

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("device-lists") / "data")
    yield srv.base_url
    srv.stop()


def sharing_pair(base_url: str) -> tuple[User, User, str]:
    alice, bob = register(base_url, "alice"), register(base_url, "bob")
    room = alice.create_room(invite=[bob.user_id])
    bob.join(room)
    alice.sync(since=None)
    bob.sync(since=None)
    return alice, bob, room


def device_lists(user: User) -> dict:
    return user.sync()["device_lists"]


def test_password_login_of_a_new_device_is_announced(base_url):
    alice, bob, _ = sharing_pair(base_url)
    loner = register(base_url, "loner")
    loner.sync(since=None)
    tablet = bob.login()  # no keys uploaded yet: the device itself is the change
    assert bob.user_id in device_lists(alice)["changed"]
    assert bob.user_id in device_lists(bob)["changed"]  # the owner learns of it too
    assert bob.user_id not in device_lists(loner)["changed"]  # shares no room with bob
    # Only once: the next incremental sync has nothing more about bob.
    assert bob.user_id not in device_lists(alice)["changed"]

    # Deleting the device (UIA with the password) is announced the same way.
    auth = {"type": "m.login.password", "password": PASSWORD,
            "identifier": {"type": "m.id.user", "user": bob.localpart}}
    bob.call("POST", "/delete_devices", {"devices": [tablet.device_id], "auth": auth})
    assert bob.user_id in device_lists(alice)["changed"]
    assert bob.user_id in device_lists(bob)["changed"]


def test_logout_and_long_poll_wake_up(base_url):
    alice, bob, _ = sharing_pair(base_url)
    tablet = bob.login()
    alice.sync()
    started = time.monotonic()
    tablet.call("POST", "/logout", {})
    # The change wakes a waiting /sync at once instead of at its timeout.
    got = alice.sync(timeout=10_000)
    assert bob.user_id in got["device_lists"]["changed"]
    assert time.monotonic() - started < 8


def test_left_when_no_room_is_shared_any_more(base_url):
    alice, bob, room = sharing_pair(base_url)
    bob.leave(room)
    lists = device_lists(alice)
    assert bob.user_id in lists["left"] and bob.user_id not in lists["changed"]
    # Sharing a room again: changed (alice's copy of bob's devices may be stale).
    alice.call("POST", f"/rooms/{room}/invite", {"user_id": bob.user_id})
    bob.join(room)
    lists = device_lists(alice)
    assert bob.user_id in lists["changed"] and bob.user_id not in lists["left"]


def test_device_keys_with_a_bad_self_signature_are_accepted(base_url):
    """Accepted as Synapse does: the spec asks clients, not the server, to check a device's
    self-signature when they download its keys (/keys/query), and refusing breaks clients that
    upload keys first and sign them later."""
    alice, bob, _ = sharing_pair(base_url)
    keys = {"user_id": bob.user_id, "device_id": bob.device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"curve25519:{bob.device_id}": "Y3VydmUyNTUxOWtleWN1cnZlMjU1MTlrZXljdXJ2ZTI",
                     f"ed25519:{bob.device_id}": "ZWQyNTUxOWtleWVkMjU1MTlrZXllZDI1NTE5a2V5ZWQ"},
            "signatures": {bob.user_id: {f"ed25519:{bob.device_id}": "bm90IGEgc2lnbmF0dXJl"}}}
    bob.call("POST", "/keys/upload", {"device_keys": keys})
    assert bob.user_id in device_lists(alice)["changed"]
    got = alice.call("POST", "/keys/query", {"device_keys": {bob.user_id: []}})
    stored = got["device_keys"][bob.user_id][bob.device_id]
    assert {k: v for k, v in stored.items() if k != "unsigned"} == keys
    # No signature yet at all (an empty map, as Complement's TestDeviceListUpdates uploads).
    bob.call("POST", "/keys/upload", {"device_keys": {**keys, "signatures": {}}})
    # Still refused: keys without `signatures` (required by the spec), or of another device.
    without = {k: v for k, v in keys.items() if k != "signatures"}
    bob.call("POST", "/keys/upload", {"device_keys": without}, status=400)
    bob.call("POST", "/keys/upload", {"device_keys": {**keys, "device_id": "OTHER"}}, status=400)


def test_leaving_a_room_lists_its_members_as_left_and_stops_their_changes(base_url):
    """Complement's TestDeviceListUpdates "when leaving a room with a local user": after the
    syncing user leaves, the other member is in `left`, and a later change of theirs (a new
    device) is not announced to her."""
    alice, bob, room = sharing_pair(base_url)
    alice.leave(room)
    lists = device_lists(alice)
    assert bob.user_id in lists["left"] and bob.user_id not in lists["changed"]
    bob.login()
    assert bob.user_id not in device_lists(alice)["changed"]
    assert bob.user_id in device_lists(bob)["changed"]
