"""Federation beside Synapse (`--only federation`; issue 18): three servers on loopback with TLS
from one throwaway CA that all of them trust. Synapse "A" holds the rooms; Hearth and a second
Synapse "B" are the servers being compared, each doing the same thing against A at the same
moment, so the Hearth column is Hearth's figure and the Synapse column is B's.

- Joining a remote room with `--fed-state` (2,000) state events: a fresh room on A per
  repetition, joined through A by a user of Hearth and a user of B (who goes first alternates).
- Federated delivery, both ways, `--delivery-samples` probes each: A's user sends and the time
  until the message reaches a client of Hearth and a client of B, both long-polling /sync
  (inbound: the receiving server's /send handling and its wake-up of /sync); then Hearth's user
  and B's user each send and the time until A's client sees it (outbound: the sending server's
  queue and transaction to A).

The throwaway CA is the tests' (`tests/tls_ca.py`, as bench/bridges.py takes their IRC server);
`synapse_federation_config` is shared the other way: the Synapse interop test uses it.
"""
from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import subprocess
import time
from pathlib import Path

from tests.tls_ca import TestCA

from .client import Api, User, q
from .scenarios import bounded, percentile
from .servers import HIGH, REPO, SYNAPSE_VENV, server_env

SYNAPSE_PY = SYNAPSE_VENV / "bin" / "python"

STATE_TYPE = "org.hearth.bench.state"
QUIET_FILTER = json.dumps({"room": {"state": {"types": []}, "timeline": {"limit": 1}},
                           "presence": {"types": []}, "account_data": {"types": []}})


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Peer:
    """One server process of the trio: its client URL, its server name, its log."""

    def __init__(self, label: str, cmd: list[str], env: dict[str, str], log: Path, port: int, server_name: str):
        self.label, self.cmd, self.env, self.log = label, cmd, env, log
        self.base_url = f"http://127.0.0.1:{port}"
        self.server_name = server_name
        self.proc: subprocess.Popen | None = None

    async def start(self, timeout: float = 180.0) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=str(REPO), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        api = Api(self.base_url)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.label} exited: {self.log.read_text()[-2000:]}")
                try:
                    r = await api.http.request("GET", "/_matrix/client/versions", b"")
                    if r.status == 200:
                        return
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.label} did not start in {timeout:.0f} s")
                await asyncio.sleep(0.1)
        finally:
            await api.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def synapse_federation_config(d: Path, client_port: int, fed_port: int, ca: Path, cert: Path, key: Path, *,
                              server_name: str | None = None, rate: int = HIGH, presence: bool = False,
                              log_level: str = "WARNING") -> dict:
    """A Synapse on loopback that federates with TLS from a test CA: its homeserver.yaml as a dict
    (its signing key and log configuration are written into `d`). Named `localhost:<port>` unless
    told: a Synapse contacting another Synapse refuses an IP-literal name in its blocklist, allow
    list or not."""
    seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    (d / "signing.key").write_text(f"ed25519 a_test {seed}\n")
    (d / "log.yaml").write_text(json.dumps({
        "version": 1, "formatters": {"f": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"c": {"class": "logging.StreamHandler", "formatter": "f"}},
        "root": {"level": log_level, "handlers": ["c"]}, "disable_existing_loggers": False}))
    high = {"per_second": rate, "burst_count": rate}
    return {
        "server_name": server_name or f"localhost:{fed_port}", "pid_file": str(d / "pid"),
        "listeners": [
            {"port": client_port, "tls": False, "type": "http", "bind_addresses": ["127.0.0.1"],
             "resources": [{"names": ["client"], "compress": False}]},
            {"port": fed_port, "tls": True, "type": "http", "bind_addresses": ["127.0.0.1"],
             "resources": [{"names": ["federation", "keys"], "compress": False}]},
        ],
        "tls_certificate_path": str(cert), "tls_private_key_path": str(key),
        "federation_verify_certificates": True, "federation_custom_ca_list": [str(ca)],
        "ip_range_whitelist": ["127.0.0.1/8", "::1/128"],
        "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
        "log_config": str(d / "log.yaml"), "media_store_path": str(d / "media"),
        "signing_key_path": str(d / "signing.key"), "report_stats": False,
        "trusted_key_servers": [], "suppress_key_server_warning": True,
        "macaroon_secret_key": secrets.token_urlsafe(32), "form_secret": secrets.token_urlsafe(32),
        "enable_registration": True, "enable_registration_without_verification": True,
        "rc_message": high, "rc_registration": high, "rc_joins": {"local": high, "remote": high},
        "rc_joins_per_room": high, "rc_invites": {"per_room": high, "per_user": high, "per_issuer": high},
        "rc_login": {"address": high, "account": high, "failed_attempts": high},
        "rc_federation": {"window_size": 1000, "sleep_limit": rate, "sleep_delay": 1, "reject_limit": rate,
                          "concurrent": rate},
        "presence": {"enabled": presence}, "url_preview_enabled": False, "enable_metrics": False,
    }


def synapse_peer(label: str, d: Path, ca: Path, cert: Path, key: Path) -> Peer:
    d.mkdir(parents=True)
    client, fed = _port(), _port()
    config = synapse_federation_config(d, client, fed, ca, cert, key)
    (d / "homeserver.yaml").write_text(json.dumps(config))
    return Peer(label, [str(SYNAPSE_PY), "-m", "synapse.app.homeserver", "-c", str(d / "homeserver.yaml")],
                server_env(), d / "server.log", client, config["server_name"])


def hearth_peer(d: Path, ca: Path, cert: Path, key: Path) -> Peer:
    d.mkdir(parents=True)
    client, fed = _port(), _port()
    server_name = f"localhost:{fed}"
    env = {k: v for k, v in server_env().items() if not k.startswith("HEARTH_")}
    env.update({
        "HEARTH_SERVER_NAME": server_name, "HEARTH_DATA_DIR": str(d / "data"),
        "HEARTH_BIND": f"127.0.0.1:{client}", "HEARTH_REGISTRATION": "open", "HEARTH_LAN_DISCOVERY": "false",
        "HEARTH_MIN_FREE_MB": "1",
        "HEARTH_RATE_LIMIT_PER_SECOND": str(HIGH), "HEARTH_RATE_LIMIT_BURST": str(HIGH),
        "HEARTH_REGISTRATION_RATE_PER_SECOND": str(HIGH), "HEARTH_REGISTRATION_RATE_BURST": str(HIGH),
        "HEARTH_FEDERATION_ENABLED": "true", "HEARTH_FEDERATION_BIND": f"127.0.0.1:{fed}",
        "HEARTH_FEDERATION_TLS_CERT": str(cert), "HEARTH_FEDERATION_TLS_KEY": str(key),
        "HEARTH_FEDERATION_CA_BUNDLE": str(ca), "HEARTH_FEDERATION_ALLOW_PRIVATE_PEERS": "true",
    })
    python = REPO / ".venv" / "bin" / "python"
    return Peer("hearth", [str(python if python.exists() else "python3"), "-m", "appliance", "run"], env,
                d / "server.log", client, server_name)


class Receiver:
    """A client long-polling /sync, waiting for a given message in a given room."""

    def __init__(self, api: Api, user: User):
        self.api, self.user = api, user
        self.since: str | None = None

    async def start(self) -> None:
        self.since = (await self.api.sync(self.user, filter_=QUIET_FILTER))["next_batch"]

    async def wait_for(self, room_id: str, body: str, timeout: float = 60.0) -> float:
        """perf_counter() at the response that held `body`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = await self.api.sync(self.user, self.since, timeout_ms=30_000, filter_=QUIET_FILTER)
            self.since = got["next_batch"]
            events = got.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])
            if any(e.get("content", {}).get("body") == body for e in events):
                return time.perf_counter()
        raise RuntimeError(f"{body!r} did not arrive in {timeout:.0f} s")


async def _delivery(sender_api: Api, sender: User, room_id: str, receivers: dict[str, Receiver],
                    marker: str) -> dict[str, float]:
    """Send `marker` once; seconds until each receiver's /sync held it."""
    waits = {k: asyncio.create_task(r.wait_for(room_id, marker)) for k, r in receivers.items()}
    await asyncio.sleep(0.05)  # the long-polls are parked
    t0 = time.perf_counter()
    await sender_api.send(sender, room_id, marker)
    return {k: (await t) - t0 for k, t in waits.items()}


async def run_federation(args, progress, work: Path) -> dict[str, dict[str, list[float]]]:
    raw: dict[str, dict[str, list[float]]] = {"hearth": {}, "synapse": {}}

    def add(column: str, key: str, value: float) -> None:
        raw[column].setdefault(key, []).append(value)

    root = work / "federation"
    test_ca = TestCA(root / "ca")
    ca = test_ca.ca_path
    cert, key = test_ca.issue("localhost", "127.0.0.1")
    a = synapse_peer("synapse A (holds the rooms)", root / "a", ca, cert, key)
    b = synapse_peer("synapse B", root / "b", ca, cert, key)
    h = hearth_peer(root / "hearth", ca, cert, key)
    peers = (a, b, h)
    apis: list[Api] = []
    try:
        for p in peers:
            progress(f"federation: starting {p.label}")
            await p.start()
        api_a, api_b, api_h = (Api(p.base_url) for p in peers)
        apis += [api_a, api_b, api_h]
        host = await api_a.register("host")
        joiners = {"hearth": (api_h, await api_h.register("joiner")), "synapse": (api_b, await api_b.register("joiner"))}
        room = ""
        for rep in range(args.reps):
            progress(f"federation: a room with {args.fed_state} state events on A ({rep + 1}/{args.reps})")
            room = await api_a.create_room(host, preset="public_chat", room_version="10")
            await bounded(8, [lambda i=i: api_a.set_state(host, room, STATE_TYPE, f"k{i}", {"i": i})
                              for i in range(args.fed_state)])
            order = ["hearth", "synapse"] if rep % 2 == 0 else ["synapse", "hearth"]
            for column in order:
                api, user = joiners[column]
                progress(f"federation: {column} joins through A ({rep + 1}/{args.reps})")
                t0 = time.perf_counter()
                await api.call("POST", f"/join/{q(room)}", user, {}, params={"server_name": a.server_name})
                add(column, "fed_join_s", time.perf_counter() - t0)

        # Delivery, in the last room (all three servers in it).
        receivers = {c: Receiver(api, user) for c, (api, user) in joiners.items()}
        at_a = Receiver(api_a, host)
        for r in (*receivers.values(), at_a):
            await r.start()
        for i in range(args.delivery_samples):
            progress(f"federation: delivery probe {i + 1}/{args.delivery_samples}")
            for column, seconds in (await _delivery(api_a, host, room, receivers, f"in {i}")).items():
                add(column, "fed_in_ms", seconds * 1000)
            for column in (["hearth", "synapse"] if i % 2 == 0 else ["synapse", "hearth"]):
                api, user = joiners[column]
                seconds = (await _delivery(api, user, room, {"a": at_a}, f"out {column} {i}"))["a"]
                add(column, "fed_out_ms", seconds * 1000)
    finally:
        for api in apis:
            await api.close()
        for p in peers:
            p.stop()
    out: dict[str, dict[str, list[float]]] = {}
    for column, figures in raw.items():
        out[column] = {k: v for k, v in figures.items() if k == "fed_join_s"}
        for key in ("fed_in_ms", "fed_out_ms"):
            samples = figures.get(key, [])
            out[column][key.replace("_ms", "_p50_ms")] = [percentile(samples, 50)]
            out[column][key.replace("_ms", "_p99_ms")] = [percentile(samples, 99)]
    return out
