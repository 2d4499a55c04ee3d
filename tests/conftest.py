"""Shared fixtures: settings on a temporary data directory, the app in-process, a real server."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from appliance.app import create_app
from appliance.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def test_settings(data_dir: Path, **overrides) -> Settings:
    values = dict(
        server_name="hearth.test",
        data_dir=data_dir,
        bind="127.0.0.1:0",
        registration="open",
        rate_limit_per_second=1000.0,
        rate_limit_burst=10000,
        login_rate_per_second=1000.0,
        login_rate_burst=10000,
        registration_rate_per_second=1000.0,
        registration_rate_burst=10000,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path / "data")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator:
    """Quart's test client with the lifespan running (so Hearth is built)."""
    app = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    base_url: str
    data_dir: Path
    process: subprocess.Popen
    env: dict

    def stop(self, sig_kill: bool = False) -> None:
        if self.process.poll() is None:
            if sig_kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def hearth_cli(self, *args: str) -> str:
        """Run a `hearth` operator command against this server's data directory."""
        out = subprocess.run([sys.executable, "-m", "appliance", *args], env=self.env,
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return out.stdout.strip()


def start_server(data_dir: Path, port: int | None = None, **env_overrides: str | None) -> RunningServer:
    port = port or free_port()
    env = dict(os.environ)
    env.update({
        "HEARTH_SERVER_NAME": "hearth.test",
        "HEARTH_DATA_DIR": str(data_dir),
        "HEARTH_BIND": f"127.0.0.1:{port}",
        "HEARTH_REGISTRATION": "open",
        "HEARTH_RATE_LIMIT_PER_SECOND": "1000",
        "HEARTH_RATE_LIMIT_BURST": "10000",
        "HEARTH_LOGIN_RATE_PER_SECOND": "1000",
        "HEARTH_LOGIN_RATE_BURST": "10000",
        "HEARTH_REGISTRATION_RATE_PER_SECOND": "1000",
        "HEARTH_REGISTRATION_RATE_BURST": "10000",
    })
    env.update({k: v for k, v in env_overrides.items() if v is not None})
    for k in [k for k, v in env_overrides.items() if v is None]:  # None: leave it unset (a fresh box)
        env.pop(k, None)
    log = open(data_dir.parent / f"server-{port}.log", "ab")
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "run"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log.name}")
        try:
            if httpx.get(base + "/_matrix/client/versions", timeout=1).status_code == 200:
                return RunningServer(base, data_dir, proc, env)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start in 30 s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A real Hearth process on a loopback port, with open registration."""
    srv = start_server(tmp_path / "data")
    yield srv
    srv.stop()
