"""sd_notify against a real unix datagram socket, as systemd would hold it: the Notifier on its
own, then a real `hearth run` process started with NOTIFY_SOCKET and WATCHDOG_USEC."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from appliance.sd_notify import Notifier, socket_address

ROOT = Path(__file__).resolve().parents[2]


class NotifySocket:
    """The receiving end (systemd's side): a thread collects every datagram with its arrival time."""

    def __init__(self, address: str) -> None:
        self.env_value = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(socket_address(address))
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, OSError):
                continue
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
            with self._changed:
                self.messages.append((time.monotonic(), fields))
                self._changed.notify_all()

    def received(self) -> list[dict[str, str]]:
        with self._changed:
            return [m for _, m in self.messages]

    def receive(self, until, timeout: float = 10.0) -> list[dict[str, str]]:
        """Wait until `until(messages)` holds; fail after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: until([m for _, m in self.messages]), timeout):
                raise AssertionError(f"sd_notify messages so far: {[m for _, m in self.messages]}")
            return [m for _, m in self.messages]

    def close(self) -> None:
        self._closed = True
        self._thread.join()
        self.sock.close()


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request, tmp_path: Path):
    address = str(tmp_path / "notify") if request.param == "path" else f"@hearth-test-{uuid.uuid4().hex}"
    ns = NotifySocket(address)
    yield ns
    ns.close()


def count(messages: list[dict[str, str]], key: str) -> int:
    return sum(1 for m in messages if key in m)


async def test_ready_status_watchdog_stopping(notify_socket: NotifySocket):
    notifier = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.env_value, "WATCHDOG_USEC": "200000"})
    assert notifier.enabled and notifier.watchdog_interval == pytest.approx(0.1)
    assert await notifier.ready("Serving hearth.test\non port 8008")
    assert await notifier.status("setup pending")
    notifier.start_watchdog()
    await asyncio.sleep(0.55)
    await notifier.stopping()
    await notifier.close()
    messages = await asyncio.to_thread(notify_socket.receive, lambda ms: count(ms, "STOPPING") == 1)
    assert messages[0] == {"READY": "1", "STATUS": "Serving hearth.test on port 8008"}
    assert messages[1] == {"STATUS": "setup pending"}
    assert messages[-1] == {"STOPPING": "1", "STATUS": "Stopping"}
    pings = [t for t, m in notify_socket.messages if m == {"WATCHDOG": "1"}]
    # One at once, then one per half period: 0, 0.1, ..., 0.5 s.
    assert 5 <= len(pings) <= 7
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert all(0.05 < g < 0.3 for g in gaps), gaps


async def test_watchdog_stops_when_closed(notify_socket: NotifySocket):
    notifier = Notifier(notify_socket.env_value, watchdog_usec=100_000)
    notifier.start_watchdog()
    await asyncio.to_thread(notify_socket.receive, lambda ms: count(ms, "WATCHDOG") >= 2)
    await notifier.close()
    await asyncio.sleep(0.05)
    before = len(notify_socket.received())
    await asyncio.sleep(0.2)  # four periods
    assert len(notify_socket.received()) == before


async def test_no_socket_is_a_noop():
    notifier = Notifier.from_env({"WATCHDOG_USEC": "100000"})
    assert not notifier.enabled
    assert await notifier.ready("x") is False
    notifier.start_watchdog()
    await notifier.close()


def test_watchdog_for_another_process_is_ignored(tmp_path: Path):
    env = {"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "100000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier.from_env(env).watchdog_interval is None
    env["WATCHDOG_PID"] = str(os.getpid())
    assert Notifier.from_env(env).watchdog_interval == pytest.approx(0.05)
    assert Notifier.from_env({"NOTIFY_SOCKET": "relative/path"}).enabled is False


async def test_vanished_socket_is_reported_not_raised(tmp_path: Path):
    notifier = Notifier(str(tmp_path / "missing"))
    assert await notifier.ready() is False


def test_server_notifies_systemd(tmp_path: Path):
    """`hearth run` under Type=notify: READY once it answers, watchdog pings, STOPPING on SIGTERM."""
    ns = NotifySocket(str(tmp_path / "notify"))
    data = tmp_path / "data"
    env = dict(os.environ, HEARTH_DATA_DIR=str(data), HEARTH_BIND="127.0.0.1:0", HEARTH_SERVER_NAME="hearth.test",
               NOTIFY_SOCKET=ns.env_value, WATCHDOG_USEC="400000")
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "run"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            messages = ns.receive(lambda ms: count(ms, "READY") == 1, timeout=30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; server log:\n{(tmp_path / 'server.log').read_text()[-3000:]}") from None
        ready = next(m for m in messages if "READY" in m)
        assert ready["STATUS"].startswith("Serving hearth.test on port ")
        assert ready["STATUS"].endswith("; setup pending")  # no admin yet
        port = int(ready["STATUS"].split("port ")[1].split(";")[0])
        # READY means accepting: the very next request succeeds.
        import httpx

        assert httpx.get(f"http://127.0.0.1:{port}/_matrix/client/versions", timeout=5).status_code == 200
        ns.receive(lambda ms: count(ms, "WATCHDOG") >= 3, timeout=5)
        proc.terminate()
        ns.receive(lambda ms: count(ms, "STOPPING") == 1, timeout=10)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ns.close()
        log.close()
