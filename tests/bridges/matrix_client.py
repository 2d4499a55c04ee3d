"""A small Matrix client for the bridge tests (httpx, as a person's app would call the API)."""
from __future__ import annotations

import time
from urllib.parse import quote

import httpx

V3 = "/_matrix/client/v3"


class Client:
    def __init__(self, base: str, localpart: str):
        self.http = httpx.Client(base_url=base, timeout=30)
        r = self.http.post(V3 + "/register", json={"username": localpart, "password": "a long password 1",
                                                   "auth": {"type": "m.login.dummy"}})
        assert r.status_code == 200, r.text
        self.user_id = r.json()["user_id"]
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        self.since = self.http.get(V3 + "/sync", params={"timeout": 0}).json()["next_batch"]
        self.txn = 0

    def send(self, room_id: str, body: str) -> str:
        self.txn += 1
        r = self.http.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/t{self.txn}.{time.time_ns()}",
                          json={"msgtype": "m.text", "body": body})
        assert r.status_code == 200, r.text
        return r.json()["event_id"]

    def messages(self, room_id: str) -> list[dict]:
        r = self.http.get(f"{V3}/rooms/{quote(room_id)}/messages", params={"dir": "b", "limit": 500})
        assert r.status_code == 200, r.text
        return [e for e in reversed(r.json()["chunk"]) if e["type"] == "m.room.message"]

    def wait_for(self, room_id: str, predicate, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages(room_id)
            if predicate(msgs):
                return msgs
            if time.monotonic() > deadline:
                raise AssertionError(f"not seen in time; the room has {[m['content'].get('body') for m in msgs]}")
            time.sleep(0.2)

    def invited_rooms(self) -> list[str]:
        r = self.http.get(V3 + "/sync", params={"timeout": 0, "since": self.since})
        return list(r.json().get("rooms", {}).get("invite", {}))



    def join(self, room_or_alias: str) -> str:
        r = self.http.post(f"{V3}/join/{quote(room_or_alias)}", json={})
        assert r.status_code == 200, r.text
        return r.json()["room_id"]

    def state(self, room_id: str, event_type: str, state_key: str = "") -> dict:
        r = self.http.get(f"{V3}/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}")
        assert r.status_code == 200, r.text
        return r.json()

    def wait_invite(self, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            rooms = self.invited_rooms()
            if rooms:
                return rooms
            assert time.monotonic() < deadline, "no invite arrived"
            time.sleep(0.2)


def bodies(msgs: list[dict]) -> list[str]:
    return [m["content"].get("body") for m in msgs]
