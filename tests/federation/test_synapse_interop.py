"""Hearth federating with a real Synapse (from PyPI, in bench/.venv-synapse, as `make bench`
installs it), both on loopback with TLS certificates from one test CA that both trust.

One Synapse and one Hearth for the module (Synapse takes seconds to start); the tests run in
order and build on each other: a room created on each side joined from the other, messages
and state both ways, history backfilled by Synapse from Hearth, a remote kick and a ban, an
invite each way.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from appliance.core.protocol.signing import SigningKey, sign_json
from bench.federation import synapse_federation_config
from tests.needs import unavailable
from tests.tls_ca import TestCA

REPO = Path(__file__).resolve().parents[2]
# `make test` installs Synapse where `make bench` has it; HEARTH_SYNAPSE_VENV names another venv.
SYNAPSE_PY = Path(os.environ.get("HEARTH_SYNAPSE_VENV") or REPO / "bench" / ".venv-synapse") / "bin" / "python"
HEARTH_PY = REPO / ".venv" / "bin" / "python"
WAIT_S = 30.0

pytestmark = pytest.mark.timeout(300)

if not SYNAPSE_PY.exists() or subprocess.run([str(SYNAPSE_PY), "-c", "import synapse"], capture_output=True,
                                              timeout=60).returncode != 0:
    unavailable(f"Synapse is not installed in {SYNAPSE_PY.parent.parent} (make bench or make test installs it)")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path, url: str) -> None:
        self.name, self.log, self.url = name, log, url
        self.cmd, self.env = cmd, env
        self.start()

    def start(self) -> None:
        cmd, env, log, url, name = self.cmd, self.env, self.log, self.url, self.name
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, env=env, cwd=str(REPO), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/_matrix/client/versions", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class User:
    def __init__(self, base: str, user_id: str, token: str, device_id: str = "") -> None:
        self.base, self.user_id, self.token, self.device_id = base, user_id, token, device_id
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def call(self, method: str, path: str, body: Any = None, ok: bool = True, **params: Any) -> Any:
        r = self.http.request(method, "/_matrix/client/v3" + path, json=body, params=params or None)
        if ok:
            assert r.status_code == 200, f"{self.user_id} {method} {path}: {r.status_code} {r.text}"
        return r.json() if not ok else r.json()

    def status(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        r = self.http.request(method, "/_matrix/client/v3" + path, json=body)
        return r.status_code, r.json()

    def send(self, room_id: str, text: str) -> str:
        return self.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/{secrets.token_hex(8)}",
                         {"msgtype": "m.text", "body": text})["event_id"]

    def state(self, room_id: str, event_type: str, state_key: str = "") -> tuple[int, Any]:
        return self.status("GET", f"/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}")

    def bodies(self, room_id: str, limit: int = 100) -> list[str]:
        chunk = self.call("GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=limit)["chunk"]
        return [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"]

    def membership(self, room_id: str, user_id: str) -> str | None:
        status, content = self.state(room_id, "m.room.member", user_id)
        return content.get("membership") if status == 200 else None


def history(user: User, room_id: str) -> list[dict]:
    """Every event of the room's timeline the user can page back to, oldest first."""
    events: list[dict] = []
    token = None
    for _ in range(50):
        params: dict[str, Any] = {"dir": "b", "limit": 50}
        if token:
            params["from"] = token
        page = user.call("GET", f"/rooms/{quote(room_id)}/messages", **params)
        events = page["chunk"][::-1] + events
        token = page.get("end")
        if not token or not page["chunk"]:
            break
    return events


def register(base: str, name: str) -> User:
    body = {"username": name, "password": "correct horse battery", "auth": {"type": "m.login.dummy"},
            "inhibit_login": False}
    r = httpx.post(f"{base}/_matrix/client/v3/register", json=body, timeout=60)
    if r.status_code == 401:  # UIA: the session, then the dummy stage
        body["auth"]["session"] = r.json().get("session")
        r = httpx.post(f"{base}/_matrix/client/v3/register", json=body, timeout=60)
    assert r.status_code == 200, r.text
    data = r.json()
    return User(base, data["user_id"], data["access_token"], data["device_id"])


def eventually(check, what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (AssertionError, httpx.HTTPError, KeyError) as e:
            last = e
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class Pair:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        ca = TestCA(tmp / "ca")
        cert, key = ca.issue("localhost", "127.0.0.1")
        self.h_port, self.h_fed, self.s_port, self.s_fed = _port(), _port(), _port(), _port()
        self.hearth_name = f"localhost:{self.h_fed}"
        self.synapse_name = f"127.0.0.1:{self.s_fed}"
        self.synapse = self._synapse(tmp / "synapse", ca.ca_path, cert, key)
        try:
            self.hearth = self._hearth(tmp / "hearth", ca.ca_path, cert, key)
        except BaseException:
            self.synapse.stop()
            raise

    def _synapse(self, d: Path, ca: Path, cert: Path, key: Path) -> Proc:
        d.mkdir(parents=True)
        config = synapse_federation_config(d, self.s_port, self.s_fed, ca, cert, key, server_name=self.synapse_name,
                                           rate=1000, presence=True, log_level="INFO")
        config["caches"] = {"sync_response_cache_duration": 0}  # a repeated /sync sees what is new
        (d / "homeserver.yaml").write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
        return Proc("synapse", [str(SYNAPSE_PY), "-m", "synapse.app.homeserver", "-c", str(d / "homeserver.yaml")],
                    env, self.tmp / "synapse.log", f"http://127.0.0.1:{self.s_port}")

    def _hearth(self, d: Path, ca: Path, cert: Path, key: Path) -> Proc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
        env.update({
            "HEARTH_SERVER_NAME": self.hearth_name, "HEARTH_DATA_DIR": str(d),
            "HEARTH_BIND": f"127.0.0.1:{self.h_port}", "HEARTH_REGISTRATION": "open",
            "HEARTH_LAN_DISCOVERY": "false", "HEARTH_MIN_FREE_MB": "1",
            "HEARTH_RATE_LIMIT_PER_SECOND": "1000", "HEARTH_RATE_LIMIT_BURST": "1000",
            "HEARTH_REGISTRATION_RATE_PER_SECOND": "1000", "HEARTH_REGISTRATION_RATE_BURST": "1000",
            "HEARTH_FEDERATION_ENABLED": "true", "HEARTH_FEDERATION_BIND": f"127.0.0.1:{self.h_fed}",
            "HEARTH_FEDERATION_TLS_CERT": str(cert), "HEARTH_FEDERATION_TLS_KEY": str(key),
            "HEARTH_FEDERATION_CA_BUNDLE": str(ca), "HEARTH_FEDERATION_ALLOW_PRIVATE_PEERS": "true",
            "HEARTH_FEDERATION_PRESENCE": "true",  # test_presence_both_ways_when_shared
        })
        python = HEARTH_PY if HEARTH_PY.exists() else Path(sys.executable)
        return Proc("hearth", [str(python), "-m", "appliance", "run"], env, self.tmp / "hearth.log",
                    f"http://127.0.0.1:{self.h_port}")

    def stop(self) -> None:
        self.hearth.stop()
        self.synapse.stop()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    started = time.monotonic()
    p = Pair(tmp_path_factory.mktemp("interop"))
    p.started_s = time.monotonic() - started
    p.ctx = {}
    p.alice = register(p.hearth.url, "alice")        # on Hearth
    p.carol = register(p.hearth.url, "carol")        # on Hearth
    p.bob = register(p.synapse.url, "bob")           # on Synapse
    p.dave = register(p.synapse.url, "dave")         # on Synapse
    yield p
    p.stop()


def test_synapse_joins_a_hearth_room_and_history_is_backfilled(pair):
    alice, bob = pair.alice, pair.bob
    room = alice.call("POST", "/createRoom", {"preset": "public_chat", "name": "Hearth room"})["room_id"]
    pair.ctx["hearth_room"] = room
    before = [f"before join {i}" for i in range(5)]
    for text in before:
        alice.send(room, text)
    bob.call("POST", f"/join/{quote(room)}", {}, server_name=pair.hearth_name)
    eventually(lambda: alice.membership(room, bob.user_id) == "join", "bob's join on Hearth")
    # Synapse's joined with the state only: paginating backwards backfills from Hearth.
    eventually(lambda: set(before) <= set(bob.bodies(room)), "history backfilled by Synapse")
    assert bob.state(room, "m.room.name")[1].get("name") == "Hearth room"


def test_messages_and_state_both_ways_in_the_hearth_room(pair):
    alice, bob, room = pair.alice, pair.bob, pair.ctx["hearth_room"]
    bob.send(room, "hello from synapse")
    eventually(lambda: "hello from synapse" in alice.bodies(room), "Synapse's message on Hearth")
    alice.send(room, "hello from hearth")
    eventually(lambda: "hello from hearth" in bob.bodies(room), "Hearth's message on Synapse")
    status, levels = alice.state(room, "m.room.power_levels")
    levels["users"][bob.user_id] = 50
    alice.call("PUT", f"/rooms/{quote(room)}/state/m.room.power_levels/", levels)
    eventually(lambda: bob.state(room, "m.room.power_levels")[1]["users"].get(bob.user_id) == 50,
               "power levels on Synapse")
    bob.call("PUT", f"/rooms/{quote(room)}/state/m.room.topic/", {"topic": "set on synapse"})
    eventually(lambda: alice.state(room, "m.room.topic")[1].get("topic") == "set on synapse", "topic on Hearth")


def test_hearth_joins_a_synapse_room(pair):
    alice, bob = pair.alice, pair.bob
    room = bob.call("POST", "/createRoom", {"preset": "public_chat", "name": "Synapse room"})["room_id"]
    pair.ctx["synapse_room"] = room
    bob.send(room, "before alice")
    alice.call("POST", f"/join/{quote(room)}", {}, server_name=pair.synapse_name)
    assert alice.membership(room, alice.user_id) == "join"
    # History from before the join, backfilled from Synapse back to the room's creation.
    past = history(alice, room)
    assert past[0]["type"] == "m.room.create", [e["type"] for e in past]
    assert [e["content"].get("body") for e in past if e["type"] == "m.room.message"] == ["before alice"]
    assert past[-1]["type"] == "m.room.member" and past[-1]["state_key"] == alice.user_id
    assert alice.state(room, "m.room.name")[1].get("name") == "Synapse room"
    eventually(lambda: bob.membership(room, alice.user_id) == "join", "alice's join on Synapse")
    alice.send(room, "alice in synapse room")
    eventually(lambda: "alice in synapse room" in bob.bodies(room), "Hearth's message in Synapse's room")
    bob.send(room, "bob answers")
    eventually(lambda: "bob answers" in alice.bodies(room), "Synapse's message in its room on Hearth")
    bob.call("PUT", f"/rooms/{quote(room)}/state/m.room.topic/", {"topic": "synapse topic"})
    eventually(lambda: alice.state(room, "m.room.topic")[1].get("topic") == "synapse topic", "state on Hearth")


def test_concurrent_state_changes_converge(pair):
    """Both sides change the same state at once (a fork of the DAG): state resolution must give
    both servers the same current state."""
    import threading

    alice, bob, room = pair.alice, pair.bob, pair.ctx["synapse_room"]
    status, levels = bob.state(room, "m.room.power_levels")
    levels["users"][alice.user_id] = 50
    bob.call("PUT", f"/rooms/{quote(room)}/state/m.room.power_levels/", levels)
    eventually(lambda: alice.state(room, "m.room.power_levels")[1]["users"].get(alice.user_id) == 50,
               "alice's power on Hearth")
    for round_ in range(3):
        barrier = threading.Barrier(2)

        def change(user: User, who: str) -> None:
            barrier.wait()
            user.call("PUT", f"/rooms/{quote(room)}/state/m.room.topic/", {"topic": f"{who} {round_}"})
            user.call("PUT", f"/rooms/{quote(room)}/state/m.room.name/", {"name": f"{who} {round_}"})

        threads = [threading.Thread(target=change, args=(alice, "alice")),
                   threading.Thread(target=change, args=(bob, "bob"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def same() -> bool:
        ours = (alice.state(room, "m.room.topic")[1].get("topic"), alice.state(room, "m.room.name")[1].get("name"))
        theirs = (bob.state(room, "m.room.topic")[1].get("topic"), bob.state(room, "m.room.name")[1].get("name"))
        assert ours == theirs and ours[0].endswith(" 2"), (ours, theirs)
        return True

    eventually(same, "the same topic and name on both servers")


def test_restricted_join_into_a_synapse_room(pair):
    """A room open to the members of another room (join rule restricted, room version 10): the
    resident server names one of its users as the authoriser and signs the join."""
    alice, bob = pair.alice, pair.bob
    space = pair.ctx["synapse_room"]  # alice is joined there
    room = bob.call("POST", "/createRoom", {
        "preset": "private_chat", "room_version": "10", "name": "Members only",
        "initial_state": [{"type": "m.room.join_rules", "state_key": "",
                           "content": {"join_rule": "restricted",
                                       "allow": [{"type": "m.room_membership", "room_id": space}]}}]})["room_id"]
    alice.call("POST", f"/join/{quote(room)}", {}, server_name=pair.synapse_name)
    status, member = alice.state(room, "m.room.member", alice.user_id)
    assert status == 200 and member["membership"] == "join"
    assert member.get("join_authorised_via_users_server") == bob.user_id
    eventually(lambda: bob.membership(room, alice.user_id) == "join", "alice's restricted join on Synapse")


def test_remote_kick_and_ban(pair):
    alice, bob = pair.alice, pair.bob
    synapse_room, hearth_room = pair.ctx["synapse_room"], pair.ctx["hearth_room"]
    bob.call("POST", f"/rooms/{quote(synapse_room)}/kick", {"user_id": alice.user_id, "reason": "out"})
    eventually(lambda: alice.call("GET", "/joined_rooms")["joined_rooms"].count(synapse_room) == 0,
               "alice kicked on Hearth")
    alice.call("POST", f"/rooms/{quote(hearth_room)}/ban", {"user_id": bob.user_id, "reason": "gone"})
    eventually(lambda: bob.call("GET", "/joined_rooms")["joined_rooms"].count(hearth_room) == 0,
               "bob banned on Synapse")
    status, _ = bob.status("POST", f"/join/{quote(hearth_room)}?server_name={quote(pair.hearth_name)}", {})
    assert status == 403  # banned: Hearth's make_join refuses


def test_invites_both_ways(pair):
    alice, carol, bob, dave = pair.alice, pair.carol, pair.bob, pair.dave
    # Synapse invites a Hearth user, who accepts.
    room = bob.call("POST", "/createRoom", {"preset": "private_chat", "name": "Private on Synapse",
                                           "invite": [carol.user_id]})["room_id"]

    def invited() -> bool:
        return room in carol.call("GET", "/sync", timeout=0)["rooms"].get("invite", {})

    eventually(invited, "the invite on Hearth")
    carol.call("POST", f"/rooms/{quote(room)}/join", {})
    eventually(lambda: bob.membership(room, carol.user_id) == "join", "carol's join on Synapse")
    # Hearth invites a Synapse user, who accepts.
    room2 = alice.call("POST", "/createRoom", {"preset": "private_chat", "name": "Private on Hearth"})["room_id"]
    pair.ctx["hearth_private"] = room2
    alice.call("POST", f"/rooms/{quote(room2)}/invite", {"user_id": dave.user_id})
    eventually(lambda: room2 in dave.call("GET", "/sync", timeout=0)["rooms"].get("invite", {}),
               "the invite on Synapse")
    dave.call("POST", f"/rooms/{quote(room2)}/join", {})
    eventually(lambda: alice.membership(room2, dave.user_id) == "join", "dave's join on Hearth")
    dave.send(room2, "thanks for the invite")
    eventually(lambda: "thanks for the invite" in alice.bodies(room2), "dave's message on Hearth")


def test_knocks_both_ways(pair):
    alice, carol, bob, dave = pair.alice, pair.carol, pair.bob, pair.dave
    # A Hearth user knocks on a Synapse room and is let in.
    room = bob.call("POST", "/createRoom", {"preset": "private_chat", "name": "Knock on Synapse",
                                           "initial_state": [{"type": "m.room.join_rules", "state_key": "",
                                                              "content": {"join_rule": "knock"}}]})["room_id"]
    carol.call("POST", f"/knock/{quote(room)}", {"reason": "it's carol"}, server_name=pair.synapse_name)
    eventually(lambda: bob.membership(room, carol.user_id) == "knock", "carol's knock on Synapse")
    eventually(lambda: room in carol.call("GET", "/sync", timeout=0)["rooms"].get("knock", {}), "the knock in carol's sync")
    bob.call("POST", f"/rooms/{quote(room)}/invite", {"user_id": carol.user_id})
    eventually(lambda: room in carol.call("GET", "/sync", timeout=0)["rooms"].get("invite", {}), "carol let in")
    carol.call("POST", f"/rooms/{quote(room)}/join", {})
    eventually(lambda: bob.membership(room, carol.user_id) == "join", "carol's join on Synapse")
    # A Synapse user knocks on a Hearth room and is let in.
    room2 = alice.call("POST", "/createRoom", {"preset": "private_chat", "name": "Knock on Hearth",
                                              "initial_state": [{"type": "m.room.join_rules", "state_key": "",
                                                                 "content": {"join_rule": "knock"}}]})["room_id"]
    dave.call("POST", f"/knock/{quote(room2)}", {}, server_name=pair.hearth_name)
    eventually(lambda: alice.membership(room2, dave.user_id) == "knock", "dave's knock on Hearth")
    alice.call("POST", f"/rooms/{quote(room2)}/invite", {"user_id": dave.user_id})
    eventually(lambda: room2 in dave.call("GET", "/sync", timeout=0)["rooms"].get("invite", {}), "dave let in")
    dave.call("POST", f"/rooms/{quote(room2)}/join", {})
    eventually(lambda: alice.membership(room2, dave.user_id) == "join", "dave's join on Hearth")


def test_profile_and_directory_lookups_both_ways(pair):
    alice, carol, dave = pair.alice, pair.carol, pair.dave
    alice.call("PUT", f"/profile/{quote(alice.user_id)}/displayname", {"displayname": "Alice at home"})
    dave.call("PUT", f"/profile/{quote(dave.user_id)}/displayname", {"displayname": "Dave elsewhere"})
    assert alice.call("GET", f"/profile/{quote(dave.user_id)}")["displayname"] == "Dave elsewhere"
    assert alice.call("GET", f"/profile/{quote(dave.user_id)}/displayname") == {"displayname": "Dave elsewhere"}
    assert dave.call("GET", f"/profile/{quote(alice.user_id)}")["displayname"] == "Alice at home"
    status, body = alice.status("GET", f"/profile/{quote('@nobody:' + pair.synapse_name)}")
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    # Aliases: each side resolves the other's, and a Hearth user joins a Synapse room by alias.
    synapse_room = dave.call("POST", "/createRoom", {"preset": "public_chat", "name": "By alias",
                                                    "room_alias_name": "family"})["room_id"]
    alias = f"#family:{pair.synapse_name}"
    assert alice.call("GET", f"/directory/room/{quote(alias)}")["room_id"] == synapse_room
    assert carol.call("POST", f"/join/{quote(alias)}", {})["room_id"] == synapse_room
    eventually(lambda: dave.membership(synapse_room, carol.user_id) == "join", "carol's join by alias on Synapse")
    hearth_room = alice.call("POST", "/createRoom", {"preset": "public_chat", "room_alias_name": "home"})["room_id"]
    assert dave.call("GET", f"/directory/room/{quote('#home:' + pair.hearth_name)}")["room_id"] == hearth_room
    status, body = alice.status("GET", f"/directory/room/{quote('#nothing:' + pair.synapse_name)}")
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"


def _upload_keys(user: User) -> str:
    """Signed device keys and two one-time keys (real ed25519 signatures, made-up curve keys)."""
    key = SigningKey.generate(user.device_id)
    device = {"user_id": user.user_id, "device_id": user.device_id,
              "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
              "keys": {f"ed25519:{user.device_id}": key.verify_key_base64,
                       f"curve25519:{user.device_id}": base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")}}
    device = sign_json(device, user.user_id, key)
    otks = {f"signed_curve25519:AAAA{i}": sign_json(
        {"key": base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")}, user.user_id, key) for i in range(2)}
    user.call("POST", "/keys/upload", {"device_keys": device, "one_time_keys": otks})
    return key.verify_key_base64


def _sync_has(user: User, check) -> bool:
    since = getattr(user, "since", None)
    body = user.call("GET", "/sync", timeout=0, **({"since": since} if since else {}))
    user.seen = [*getattr(user, "seen", []), body]
    user.since = body["next_batch"]
    return any(check(b) for b in user.seen)


def test_keys_to_device_typing_and_receipts_across(pair):
    alice, dave, room = pair.alice, pair.dave, pair.ctx["hearth_private"]
    alice_key, dave_key = _upload_keys(alice), _upload_keys(dave)
    # Keys of the other server's user, through federation, both ways.
    got = eventually(lambda: alice.call("POST", "/keys/query", {"device_keys": {dave.user_id: []}})[
        "device_keys"].get(dave.user_id), "dave's keys on Hearth")
    assert got[dave.device_id]["keys"][f"ed25519:{dave.device_id}"] == dave_key
    got = eventually(lambda: dave.call("POST", "/keys/query", {"device_keys": {alice.user_id: []}})[
        "device_keys"].get(alice.user_id), "alice's keys on Synapse")
    assert got[alice.device_id]["keys"][f"ed25519:{alice.device_id}"] == alice_key
    claimed = alice.call("POST", "/keys/claim", {"one_time_keys": {dave.user_id: {dave.device_id: "signed_curve25519"}}})
    assert list(claimed["one_time_keys"][dave.user_id][dave.device_id])[0].startswith("signed_curve25519:")
    claimed = dave.call("POST", "/keys/claim", {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}})
    assert list(claimed["one_time_keys"][alice.user_id][alice.device_id])[0].startswith("signed_curve25519:")
    # To-device messages both ways.
    alice.call("PUT", f"/sendToDevice/m.test/{secrets.token_hex(4)}",
               {"messages": {dave.user_id: {dave.device_id: {"hello": "from hearth"}}}})
    eventually(lambda: _sync_has(dave, lambda b: any(e["content"].get("hello") == "from hearth"
                                                    for e in b.get("to_device", {}).get("events", []))),
               "alice's to-device message on Synapse")
    dave.call("PUT", f"/sendToDevice/m.test/{secrets.token_hex(4)}",
              {"messages": {alice.user_id: {alice.device_id: {"hello": "from synapse"}}}})
    eventually(lambda: _sync_has(alice, lambda b: any(e["content"].get("hello") == "from synapse"
                                                     for e in b.get("to_device", {}).get("events", []))),
               "dave's to-device message on Hearth")

    def ephemeral(user: User, kind: str, check) -> Any:
        return lambda: _sync_has(user, lambda b: any(
            e["type"] == kind and check(e["content"])
            for e in b.get("rooms", {}).get("join", {}).get(room, {}).get("ephemeral", {}).get("events", [])))

    # Typing and read receipts both ways.
    alice.call("PUT", f"/rooms/{quote(room)}/typing/{quote(alice.user_id)}", {"typing": True, "timeout": 20000})
    eventually(ephemeral(dave, "m.typing", lambda c: alice.user_id in c.get("user_ids", [])), "alice typing on Synapse")
    dave.call("PUT", f"/rooms/{quote(room)}/typing/{quote(dave.user_id)}", {"typing": True, "timeout": 20000})
    eventually(ephemeral(alice, "m.typing", lambda c: dave.user_id in c.get("user_ids", [])), "dave typing on Hearth")
    last = alice.send(room, "read me")
    eventually(lambda: "read me" in dave.bodies(room), "the message on Synapse")
    dave.call("POST", f"/rooms/{quote(room)}/receipt/m.read/{quote(last)}", {})
    eventually(ephemeral(alice, "m.receipt", lambda c: dave.user_id in c.get(last, {}).get("m.read", {})),
               "dave's receipt on Hearth")
    mine = dave.send(room, "read me too")
    eventually(lambda: "read me too" in alice.bodies(room), "dave's message on Hearth")
    alice.call("POST", f"/rooms/{quote(room)}/receipt/m.read/{quote(mine)}", {})
    eventually(ephemeral(dave, "m.receipt", lambda c: alice.user_id in c.get(mine, {}).get("m.read", {})),
               "alice's receipt on Synapse")


def test_presence_both_ways_when_shared(pair):
    """With presence shared with other servers (HEARTH_FEDERATION_PRESENCE, off by default),
    each side sees the other's status through m.presence EDUs."""
    alice, bob = pair.alice, pair.bob  # they share the Hearth room
    alice.call("PUT", f"/presence/{quote(alice.user_id)}/status", {"presence": "online", "status_msg": "baking"})
    eventually(lambda: bob.call("GET", f"/presence/{quote(alice.user_id)}/status").get("status_msg") == "baking",
               "alice's status on Synapse")
    bob.call("PUT", f"/presence/{quote(bob.user_id)}/status", {"presence": "unavailable", "status_msg": "gardening"})

    def bobs() -> bool:
        got = alice.call("GET", f"/presence/{quote(bob.user_id)}/status")
        return got.get("presence") == "unavailable" and got.get("status_msg") == "gardening"
    eventually(bobs, "bob's status on Hearth")


def test_media_across(pair):
    alice, dave = pair.alice, pair.dave
    ours = secrets.token_bytes(3000)
    theirs = secrets.token_bytes(5000)

    def upload(user: User, data: bytes) -> str:
        r = user.http.post("/_matrix/media/v3/upload", content=data, params={"filename": "photo.bin"},
                           headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        return r.json()["content_uri"]

    def download(user: User, mxc: str) -> httpx.Response:
        server, media_id = mxc.removeprefix("mxc://").split("/", 1)
        return user.http.get(f"/_matrix/client/v1/media/download/{quote(server)}/{media_id}")

    mxc_ours, mxc_theirs = upload(alice, ours), upload(dave, theirs)
    got = download(dave, mxc_ours)  # Synapse fetches it from Hearth
    assert got.status_code == 200 and got.content == ours, got.text[:300]
    got = download(alice, mxc_theirs)  # Hearth fetches it from Synapse
    assert got.status_code == 200 and got.content == theirs, got.text[:300]
    assert download(alice, mxc_theirs).content == theirs  # the second time from Hearth's cache
    missing = download(alice, f"mxc://{pair.synapse_name}/nosuchmedia")
    assert missing.status_code == 404 and missing.json()["errcode"] == "M_NOT_FOUND"


def test_restricted_join_into_a_hearth_room(pair):
    alice, dave = pair.alice, pair.dave
    members_of = pair.ctx["hearth_private"]  # dave is joined there
    room = alice.call("POST", "/createRoom", {
        "preset": "private_chat", "room_version": "10", "name": "Hearth members only",
        "initial_state": [{"type": "m.room.join_rules", "state_key": "",
                           "content": {"join_rule": "restricted",
                                       "allow": [{"type": "m.room_membership", "room_id": members_of}]}}]})["room_id"]
    dave.call("POST", f"/join/{quote(room)}", {}, server_name=pair.hearth_name)
    status, member = alice.state(room, "m.room.member", dave.user_id)
    assert status == 200 and member["membership"] == "join"
    assert member.get("join_authorised_via_users_server") == alice.user_id


@pytest.mark.parametrize("upgrader", ["hearth", "synapse"])
def test_room_upgrade_followed_across(pair, upgrader):
    """A room on one server, with someone from the other in it, is upgraded (v10 → v11): the
    tombstone reaches the other server, whose user follows it into the new room through the
    upgrading server; the new room names its predecessor and carries the old name and power
    levels; messages go both ways in it."""
    if upgrader == "hearth":
        owner, guest, owner_server = pair.alice, pair.dave, pair.hearth_name
    else:
        owner, guest, owner_server = pair.dave, pair.carol, pair.synapse_name
    old = owner.call("POST", "/createRoom", {"preset": "public_chat", "name": f"Before the upgrade ({upgrader})",
                                             "room_version": "10"})["room_id"]
    guest.call("POST", f"/join/{quote(old)}", {}, server_name=owner_server)
    eventually(lambda: owner.membership(old, guest.user_id) == "join", "the guest's join")
    new = owner.call("POST", f"/rooms/{quote(old)}/upgrade", {"new_version": "11"})["replacement_room"]
    tombstone = eventually(lambda: guest.state(old, "m.room.tombstone")[1].get("replacement_room"),
                           "the tombstone on the guest's server")
    assert tombstone == new
    guest.call("POST", f"/join/{quote(new)}", {}, server_name=owner_server)
    eventually(lambda: owner.membership(new, guest.user_id) == "join", "the guest in the new room")
    create = guest.state(new, "m.room.create")[1]
    assert create["predecessor"]["room_id"] == old and create["room_version"] == "11"
    assert guest.state(new, "m.room.name")[1].get("name") == f"Before the upgrade ({upgrader})"
    guest.send(new, f"followed the upgrade ({upgrader})")
    eventually(lambda: f"followed the upgrade ({upgrader})" in owner.bodies(new), "the guest's message")
    owner.send(new, f"welcome back ({upgrader})")
    eventually(lambda: f"welcome back ({upgrader})" in guest.bodies(new), "the owner's message")


async def test_encrypted_chat_across_with_matrix_nio(pair, tmp_path):
    """matrix-nio (vodozemac) on each server: an encrypted room made on Hearth and joined from
    Synapse; each side decrypts the other's message (keys queried and one-time keys claimed
    across, room keys sent to-device across); a new device on Synapse reaches Hearth's device
    list and gets the keys of the next message."""
    from nio import AsyncClient, AsyncClientConfig, JoinResponse, KeysQueryResponse, LoginResponse, MegolmEvent
    from nio import RegisterResponse
    from nio import RoomCreateResponse, RoomMessageText, RoomSendResponse, SyncResponse
    from nio.api import RoomPreset

    password = "correct horse battery staple"

    def client(base: str, name: str, device: str) -> AsyncClient:
        store = tmp_path / device
        store.mkdir()
        return AsyncClient(base, name, store_path=str(store),
                           config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True))

    async def settle(c: AsyncClient) -> SyncResponse:
        resp = await c.sync(timeout=500)
        assert isinstance(resp, SyncResponse), resp
        if c.should_upload_keys:
            await c.keys_upload()
        if c.should_query_keys:
            assert isinstance(await c.keys_query(), KeysQueryResponse)
        return resp

    async def until(c: AsyncClient, check, what: str, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(await settle(c)):
                return
        raise AssertionError(f"timed out waiting for {what}")

    def got_text(room_id: str, body: str):
        def check(resp: SyncResponse) -> bool:
            joined = resp.rooms.join.get(room_id)
            events = joined.timeline.events if joined else []
            assert not [e for e in events if isinstance(e, MegolmEvent)], "a message that could not be decrypted"
            return any(isinstance(e, RoomMessageText) and e.body == body for e in events)
        return check

    async def send(c: AsyncClient, room_id: str, body: str) -> None:
        resp = await c.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                                 tx_id=secrets.token_hex(8), ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), resp

    nina = client(pair.hearth.url, "nina", "nina")  # on Hearth
    ed = client(pair.synapse.url, "ed", "ed")       # on Synapse
    ed2 = client(pair.synapse.url, "ed", "ed2")     # Ed's second device, later
    try:
        for c, name in ((nina, "nina"), (ed, "ed")):
            assert isinstance(await c.register(name, password), RegisterResponse)
            await settle(c)
        created = await nina.room_create(name="Across", invite=[ed.user_id], preset=RoomPreset.private_chat,
                                         initial_state=[{"type": "m.room.encryption", "state_key": "",
                                                         "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        await until(ed, lambda r: room_id in r.rooms.invite, "the invite on Synapse")
        assert isinstance(await ed.join(room_id), JoinResponse)
        await until(ed, lambda r: room_id in r.rooms.join, "Ed joined")
        await until(nina, lambda r: room_id in nina.rooms and ed.user_id in nina.rooms[room_id].users,
                    "Ed's join on Hearth")
        await until(nina, lambda r: ed.device_id in {d.id for d in nina.device_store.active_user_devices(ed.user_id)},
                    "Ed's device keys on Hearth")

        await send(nina, room_id, "hello from the family server")
        await until(ed, got_text(room_id, "hello from the family server"), "Nina's message decrypted on Synapse")
        await send(ed, room_id, "hello from the cousin's server")
        await until(nina, got_text(room_id, "hello from the cousin's server"), "Ed's message decrypted on Hearth")

        assert isinstance(await ed2.login(password, device_name="ed's laptop"), LoginResponse)
        await settle(ed2)
        await until(nina, lambda r: ed2.device_id in {d.id for d in nina.device_store.active_user_devices(ed.user_id)},
                    "Ed's new device in Hearth's device list")
        await send(nina, room_id, "hello laptop")
        await until(ed2, got_text(room_id, "hello laptop"), "the message decrypted on Ed's new device")
    finally:
        for c in (nina, ed, ed2):
            await c.close()


def test_synapse_away_for_a_while_misses_nothing(pair):
    """Hearth's queue for a peer that is down waits on disk, across a restart of Hearth; when the
    peer talks again, the backoff is reset and the queue is sent (catch-up without loss)."""
    alice, dave, room = pair.alice, pair.dave, pair.ctx["hearth_private"]
    pair.synapse.stop()
    sent = [f"while synapse was away {i}" for i in range(3)]
    for text in sent:
        alice.send(room, text)
    time.sleep(3)  # a few failed attempts: the backoff grows
    pair.hearth.stop()  # and Hearth restarts meanwhile: its queue for Synapse is on disk
    pair.hearth.start()
    pair.synapse.start()
    dave.send(room, "synapse is back")  # Synapse talks to Hearth: Hearth retries at once
    eventually(lambda: "synapse is back" in alice.bodies(room), "Synapse's message after its restart")
    eventually(lambda: set(sent) <= set(dave.bodies(room)), "what Synapse missed, caught up", timeout=20)
