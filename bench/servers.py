"""Start, stop and measure the two servers: Hearth and Synapse, each on a fresh data directory.

Both listen on 127.0.0.1 only, with registration open (no verification) and rate limits
raised far beyond what the load generator can reach. Measurements come from outside the
process: resident memory and bytes written from /proc, database size from SQLite itself
(a separate read-only connection, so the write-ahead log is counted).
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .http import get_status


REPO = Path(__file__).resolve().parent.parent
SYNAPSE_VENV = REPO / "bench" / ".venv-synapse"
SERVER_NAME = "bench.local"
HIGH = 1_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- /proc ------------------------------------------------------------------------------------

def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc/<pid>/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def rss_bytes(pid: int) -> int:
    """Resident memory of the process and its children (VmRSS, summed)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def write_bytes(pid: int) -> int:
    """Bytes the process tree caused to be written to storage (/proc/<pid>/io write_bytes)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/io") as f:
                for line in f:
                    if line.startswith("write_bytes:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process tree so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def sqlite_logical_size(path: Path) -> int:
    """Bytes in use in a SQLite database, write-ahead log included (pages minus free pages)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * page_size
    finally:
        conn.close()


# -- servers ----------------------------------------------------------------------------------

def server_env() -> dict[str, str]:
    """The environment both servers start with: ours, minus what would make them run unlike an
    installed server. PYTHONDONTWRITEBYTECODE (set in some development shells) would make
    Hearth, run from its source tree, compile all of its own modules again at every start
    (~0.25 s of each cold start here), while Synapse's modules were compiled when pip installed
    them; an installed server writes and reuses its bytecode cache, so both do here."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    return env


@dataclass
class Server:
    name: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    budget: Any = None  # a PiBudget (bench/budget.py) the process is moved into as it starts

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return server_env()

    def database_path(self) -> Path:
        raise NotImplementedError

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def version(self) -> str:
        return "?"

    def start(self, timeout: float = 180.0) -> float:
        """Start the process; returns seconds until GET /versions answers 200."""
        self.log_path = self.data_dir.parent / f"{self.name}.log"
        log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), env=self.env(), cwd=str(REPO), stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        if self.budget is not None:
            self.budget.add(self.proc.pid)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            if get_status("127.0.0.1", self.port, "/_matrix/client/versions") == 200:
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{self.name} did not answer /versions within {timeout:.0f} s")
            time.sleep(0.002)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def written(self) -> int:
        return write_bytes(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def db_size(self) -> int:
        return sqlite_logical_size(self.database_path())


class HearthServer(Server):
    python = REPO / ".venv" / "bin" / "python"
    _route_table_cached = False

    def command(self) -> list[str]:
        python = self.python if self.python.exists() else Path(sys.executable)
        return [str(python), "-m", "appliance", "run"]

    def start(self, timeout: float = 180.0) -> float:
        if not HearthServer._route_table_cached:  # as an image build does (appliance/routes.py): the
            # first start after a code change would otherwise time the table's generation too
            subprocess.run([self.command()[0], "-m", "appliance.routes", "--write"], cwd=str(REPO),
                           capture_output=True, timeout=300)
            HearthServer._route_table_cached = True
        return super().start(timeout)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in server_env().items() if not k.startswith("HEARTH_")}
        env.update({
            "HEARTH_SERVER_NAME": SERVER_NAME,
            "HEARTH_DATA_DIR": str(self.data_dir),
            "HEARTH_BIND": f"127.0.0.1:{self.port}",
            "HEARTH_REGISTRATION": "open",
            "HEARTH_LAN_DISCOVERY": "false",
            "HEARTH_RATE_LIMIT_PER_SECOND": str(HIGH),
            "HEARTH_RATE_LIMIT_BURST": str(HIGH),
            "HEARTH_LOGIN_RATE_PER_SECOND": str(HIGH),
            "HEARTH_LOGIN_RATE_BURST": str(HIGH),
            "HEARTH_REGISTRATION_RATE_PER_SECOND": str(HIGH),
            "HEARTH_REGISTRATION_RATE_BURST": str(HIGH),
            "HEARTH_MIN_FREE_MB": "1",
            # Read from loopback without a token: the household scenario counts commits with it.
            "HEARTH_METRICS_ENABLED": "true",
            # The bridge scenarios (bench/bridges.py): the benchmark's own plugin can be found (it
            # is switched on only by those scenarios), and a long backfill is not cut short.
            "HEARTH_BRIDGE_CALL_TIMEOUT_S": "600",
        })
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "bench" / "plugins"), env.get("PYTHONPATH")) if p)
        return env

    def cli(self, *args: str) -> str:
        """A `hearth` operator command on this server's data (the server may be running)."""
        python = self.python if self.python.exists() else Path(sys.executable)
        out = subprocess.run([str(python), "-m", "appliance", *args], env=self.env(), cwd=str(REPO),
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"hearth {' '.join(args)}: {out.stderr[-500:]}")
        return out.stdout

    def database_path(self) -> Path:
        return self.data_dir / "hearth.db"

    def version(self) -> str:
        try:
            rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                 text=True, timeout=10).stdout.strip()
        except OSError:
            rev = ""
        return f"hearth {rev}".strip()


def synapse_rate(per_second: float = HIGH, burst: int = HIGH) -> dict:
    return {"per_second": per_second, "burst_count": burst}


class SynapseServer(Server):
    python = SYNAPSE_VENV / "bin" / "python"
    appservice = {"id": "bench", "url": None, "as_token": "bench-as-" + secrets.token_hex(16),
                  "hs_token": "bench-hs-" + secrets.token_hex(16), "sender_localpart": "benchbot",
                  "rate_limited": False,
                  "namespaces": {"users": [{"regex": "@bench_.*", "exclusive": True}], "aliases": [], "rooms": []}}

    def appservice_path(self) -> Path:
        return self.data_dir / "bench-appservice.yaml"

    def config_path(self) -> Path:
        return self.data_dir / "homeserver.yaml"

    def database_path(self) -> Path:
        return self.data_dir / "homeserver.db"

    def prepare(self) -> None:
        super().prepare()
        if not self.python.exists():
            raise RuntimeError(f"{self.python} is missing: run `make bench` (it installs matrix-synapse there)")
        key_path = self.data_dir / f"{SERVER_NAME}.signing.key"
        if not key_path.exists():  # Synapse's format: "ed25519 <key id> <unpadded base64 seed>"
            seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
            key_path.write_text(f"ed25519 a_bench {seed}\n")
        log_config = self.data_dir / "log.yaml"
        # Same as Hearth's default: INFO lines (one per request) on stderr, captured to a file.
        log_config.write_text(json.dumps({
            "version": 1,
            "formatters": {"precise": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "precise"}},
            "root": {"level": "INFO", "handlers": ["console"]},
            "disable_existing_loggers": False,
        }))
        rate = synapse_rate()
        config = {
            "server_name": SERVER_NAME,
            "pid_file": str(self.data_dir / "homeserver.pid"),
            "listeners": [{
                "port": self.port, "tls": False, "type": "http", "x_forwarded": False,
                "bind_addresses": ["127.0.0.1"],
                "resources": [{"names": ["client"], "compress": False}],
            }],
            "database": {"name": "sqlite3", "args": {"database": str(self.database_path())}},
            "log_config": str(log_config),
            "media_store_path": str(self.data_dir / "media_store"),
            "signing_key_path": str(key_path),
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "macaroon_secret_key": secrets.token_urlsafe(32),
            "form_secret": secrets.token_urlsafe(32),
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "url_preview_enabled": False,
            "enable_metrics": False,
            "rc_message": rate,
            "rc_registration": rate,
            "rc_registration_token_validity": rate,
            "rc_login": {"address": rate, "account": rate, "failed_attempts": rate},
            "rc_admin_redaction": rate,
            "rc_joins": {"local": rate, "remote": rate},
            "rc_joins_per_room": rate,
            "rc_3pid_validation": rate,
            "rc_invites": {"per_room": rate, "per_user": rate, "per_issuer": rate},
            "rc_third_party_invite": rate,
            "rc_media_create": rate,
            "rc_federation": {"window_size": 1000, "sleep_limit": HIGH, "sleep_delay": 1,
                              "reject_limit": HIGH, "concurrent": HIGH},
            "rc_presence": {"per_user": rate},
            "rc_delayed_event_mgmt": rate,
            "rc_room_creation": rate,
            "rc_reports": rate,
            # The bridge scenarios (bench/bridges.py): an appservice whose ghosts send with their
            # remote timestamps, as a bridge would (no URL: Synapse sends it nothing).
            "app_service_config_files": [str(self.appservice_path())],
        }
        self.appservice_path().write_text(json.dumps(self.appservice))
        # JSON is YAML: no extra dependency to write the config.
        self.config_path().write_text(json.dumps(config, indent=1))

    def command(self) -> list[str]:
        return [str(self.python), "-m", "synapse.app.homeserver", "-c", str(self.config_path())]

    def env(self) -> dict[str, str]:
        env = server_env()
        env.pop("PYTHONPATH", None)
        return env

    def version(self) -> str:
        try:
            out = subprocess.run([str(self.python), "-c", "import synapse; print(synapse.__version__)"],
                                 capture_output=True, text=True, timeout=60).stdout.strip()
        except OSError:
            out = "?"
        return f"synapse {out.split()[0] if out else '?'}"


SERVERS = {"hearth": HearthServer, "synapse": SynapseServer}
