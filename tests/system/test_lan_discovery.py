"""LAN discovery for real: two network namespaces joined by a veth pair (a private two-host LAN,
10.200.N.1 and 10.200.N.2). Hearth advertises in one; a zeroconf browser in the other finds the
service, resolves it (address, port, TXT) and sees it updated and withdrawn. The host's own
interfaces are never touched."""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from appliance.lan_discovery import Advertiser, hearth_version, instance_name, is_loopback_only, srv_host
from tests.needs import unavailable

ROOT = Path(__file__).resolve().parents[2]

# The browser (run in the second namespace): one JSON line per event, resolved with a fresh query.
BROWSER = r"""
import asyncio, json, sys
from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

def emit(obj):
    print(json.dumps(obj), flush=True)

async def main():
    azc = AsyncZeroconf(interfaces=[sys.argv[1]])
    tasks = set()

    async def resolve(kind, service_type, name):
        info = AsyncServiceInfo(service_type, name)
        ok = await info.async_request(azc.zeroconf, 3000)
        emit({"event": kind, "name": name, "resolved": ok, "port": info.port, "server": info.server,
              "addresses": info.parsed_addresses(),
              "properties": {k.decode(): v.decode() if v is not None else None
                             for k, v in info.properties.items()}})

    def handler(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Removed:
            emit({"event": "Removed", "name": name})
        else:
            task = asyncio.ensure_future(resolve(state_change.name, service_type, name))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    browser = AsyncServiceBrowser(azc.zeroconf, ["_http._tcp.local."], handlers=[handler])
    emit({"event": "browsing"})
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await browser.async_cancel()
    await azc.async_close()

asyncio.run(main())
"""

# An Advertiser driven line by line from stdin ("done" -> update(setup_pending=False), "stop").
ADVERTISER = r"""
import asyncio, sys
from appliance.lan_discovery import Advertiser

async def main():
    adv = Advertiser(sys.argv[1], "0.0.0.0", int(sys.argv[2]))
    if sys.argv[3:] == ["done-while-probing"]:
        starting = asyncio.ensure_future(adv.start(setup_pending=True))
        await asyncio.sleep(0.1)
        assert not adv.advertising
        await adv.update(setup_pending=False)
        assert await starting
    else:
        assert await adv.start(setup_pending=True)
    print("advertising", adv.name, flush=True)
    loop = asyncio.get_running_loop()
    while (line := (await loop.run_in_executor(None, sys.stdin.readline)).strip()) != "stop":
        if line == "done":
            await adv.update(setup_pending=False)
            print("updated", flush=True)
    await adv.stop()
    print("stopped", flush=True)

asyncio.run(main())
"""

HTTP_GET = r"""
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).status)
"""


class Lines:
    """A subprocess whose stdout lines are read on a thread, so tests can wait with a timeout."""

    def __init__(self, args: list[str], log: Path, env: dict | None = None) -> None:
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     cwd=ROOT, env=env, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, predicate, timeout: float = 15.0, what: str = "") -> str:
        deadline = time.monotonic() + timeout
        seen = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            seen.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"no {what or 'matching line'} in {timeout}s; saw {seen}; "
                             f"stderr: {Path(self.log.name).read_text()[-2000:]}")

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def event(kind: str, name: str):
    def match(line: str) -> bool:
        try:
            obj = json.loads(line)
        except ValueError:
            return False
        return obj.get("event") == kind and obj.get("name") == name
    return match


class TwoHostLan:
    """ns "a" (10.200.N.1) and ns "b" (10.200.N.2) joined by a veth pair; removed on exit."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.a, self.b = f"hearth-{tag}-a", f"hearth-{tag}-b"
        self.net = int(tag, 16) % 250 + 1
        self.addr_a, self.addr_b = f"10.200.{self.net}.1", f"10.200.{self.net}.2"
        self.created: list[str] = []

    def _ip(self, *args: str) -> None:
        out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip()}")

    def __enter__(self) -> TwoHostLan:
        try:
            for ns in (self.a, self.b):
                self._ip("netns", "add", ns)
                self.created.append(ns)
            tag = self.a.split("-")[1]
            self._ip("link", "add", f"hv{tag}a", "netns", self.a, "type", "veth", "peer", "name", f"hv{tag}b",
                     "netns", self.b)
            for ns, dev, addr in ((self.a, f"hv{tag}a", self.addr_a), (self.b, f"hv{tag}b", self.addr_b)):
                self._ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                self._ip("-n", ns, "link", "set", dev, "up")
                self._ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for ns in self.created:  # deleting a namespace deletes its end of the veth, and so the pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self.created.clear()

    def run(self, ns: str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *args]


def _namespaces_unavailable() -> str | None:
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"hearth-probe-{os.getpid()}"
    out = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return f"cannot create a network namespace here: {out.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=30)
    return None


@pytest.fixture(scope="module")
def netns_reason() -> str | None:
    return _namespaces_unavailable()


@pytest.fixture
def lan(netns_reason):
    if netns_reason:
        unavailable(netns_reason)
    with TwoHostLan() as lan:
        yield lan


def test_advertise_update_withdraw_across_namespaces(lan: TwoHostLan, tmp_path: Path):
    browser = Lines(lan.run(lan.b, sys.executable, "-c", BROWSER, lan.addr_b), tmp_path / "browser.log")
    advertiser = None
    try:
        browser.expect(lambda line: '"browsing"' in line, what="browser start")
        advertiser = Lines(lan.run(lan.a, sys.executable, "-c", ADVERTISER, "hearth.test", "8448"),
                           tmp_path / "advertiser.log")
        name = advertiser.expect(lambda line: line.startswith("advertising "), what="advertising").split(" ", 1)[1]
        assert name == "Hearth (hearth.test)._http._tcp.local."

        found = json.loads(browser.expect(event("Added", name), what="Added"))
        assert found["resolved"] is True
        assert found["addresses"] == [lan.addr_a]
        assert found["port"] == 8448
        assert found["server"] == srv_host("hearth.test")
        assert found["properties"] == {"version": hearth_version(), "setup": "pending", "path": "/"}

        advertiser.send("done")
        advertiser.expect(lambda line: line == "updated", what="updated")
        updated = json.loads(browser.expect(
            lambda line: event("Updated", name)(line) and json.loads(line)["properties"].get("setup") == "done",
            what="Updated with setup=done"))
        assert updated["properties"] == {"version": hearth_version(), "setup": "done", "path": "/"}

        advertiser.send("stop")
        advertiser.expect(lambda line: line == "stopped", what="stopped")
        browser.expect(event("Removed", name), what="Removed")  # the goodbye, long before the TTL
    finally:
        if advertiser is not None:
            advertiser.close()
        browser.close()


def test_update_while_probing_is_not_lost(lan: TwoHostLan, tmp_path: Path):
    browser = Lines(lan.run(lan.b, sys.executable, "-c", BROWSER, lan.addr_b), tmp_path / "browser.log")
    advertiser = None
    try:
        browser.expect(lambda line: '"browsing"' in line, what="browser start")
        advertiser = Lines(lan.run(lan.a, sys.executable, "-c", ADVERTISER, "hearth.test", "8448",
                                   "done-while-probing"), tmp_path / "advertiser.log")
        name = advertiser.expect(lambda line: line.startswith("advertising "), what="advertising").split(" ", 1)[1]
        browser.expect(lambda line: (event("Added", name)(line) or event("Updated", name)(line))
                       and json.loads(line)["properties"].get("setup") == "done", what="setup=done")
        advertiser.send("stop")
        advertiser.expect(lambda line: line == "stopped", what="stopped")
    finally:
        if advertiser is not None:
            advertiser.close()
        browser.close()


def test_server_is_found_and_reached_from_the_other_host(lan: TwoHostLan, tmp_path: Path):
    """The real `hearth run` in namespace a: found, resolved and fetched from namespace b, with
    setup=done because an admin exists; withdrawn on SIGTERM."""
    data = tmp_path / "data"
    env = dict(os.environ, HEARTH_DATA_DIR=str(data), HEARTH_SERVER_NAME="family.example",
               HEARTH_BIND="0.0.0.0:8008")
    env.pop("HEARTH_LAN_DISCOVERY", None)
    made = subprocess.run([sys.executable, "-m", "appliance", "create-user", "mum", "--admin", "--password", "pw"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    browser = Lines(lan.run(lan.b, sys.executable, "-c", BROWSER, lan.addr_b), tmp_path / "browser.log")
    server = None
    try:
        browser.expect(lambda line: '"browsing"' in line, what="browser start")
        server = Lines(lan.run(lan.a, sys.executable, "-m", "appliance", "run"), tmp_path / "server.log", env=env)
        name = "Hearth (family.example)._http._tcp.local."
        found = json.loads(browser.expect(event("Added", name), timeout=30, what="Added"))
        assert found["addresses"] == [lan.addr_a] and found["port"] == 8008
        assert found["properties"] == {"version": hearth_version(), "setup": "done", "path": "/"}

        url = f"http://{found['addresses'][0]}:{found['port']}/_matrix/client/versions"
        got = subprocess.run(lan.run(lan.b, sys.executable, "-c", HTTP_GET, url),
                             capture_output=True, text=True, timeout=30)
        assert got.stdout.strip() == "200", got.stderr

        server.proc.send_signal(signal.SIGTERM)
        browser.expect(event("Removed", name), what="Removed")
        assert server.proc.wait(15) == 0
    finally:
        if server is not None:
            server.close()
        browser.close()


def test_admin_made_from_another_process_switches_to_setup_done(lan: TwoHostLan, tmp_path: Path):
    """A fresh `hearth run` advertises setup=pending; `hearth create-user --admin`, run beside it,
    ends setup, and the running server notices without a restart: setup=done on the LAN."""
    data = tmp_path / "data"
    env = dict(os.environ, HEARTH_DATA_DIR=str(data), HEARTH_SERVER_NAME="fresh.example",
               HEARTH_BIND="0.0.0.0:8008")
    env.pop("HEARTH_LAN_DISCOVERY", None)
    browser = Lines(lan.run(lan.b, sys.executable, "-c", BROWSER, lan.addr_b), tmp_path / "browser.log")
    server = None
    try:
        browser.expect(lambda line: '"browsing"' in line, what="browser start")
        server = Lines(lan.run(lan.a, sys.executable, "-m", "appliance", "run"), tmp_path / "server.log", env=env)
        name = "Hearth (fresh.example)._http._tcp.local."
        found = json.loads(browser.expect(event("Added", name), timeout=30, what="Added"))
        assert found["properties"]["setup"] == "pending"
        made = subprocess.run([sys.executable, "-m", "appliance", "create-user", "mum", "--admin", "--password", "pw"],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        updated = json.loads(browser.expect(
            lambda line: event("Updated", name)(line) and json.loads(line)["properties"].get("setup") == "done",
            timeout=20, what="Updated with setup=done"))
        assert updated["properties"] == {"version": hearth_version(), "setup": "done", "path": "/"}
        assert server.proc.poll() is None  # the same process: no restart
        server.proc.send_signal(signal.SIGTERM)
        browser.expect(event("Removed", name), what="Removed")
        assert server.proc.wait(15) == 0
    finally:
        if server is not None:
            server.close()
        browser.close()


def test_setting_turns_it_off(lan: TwoHostLan, tmp_path: Path):
    env = dict(os.environ, HEARTH_DATA_DIR=str(tmp_path / "data"), HEARTH_SERVER_NAME="quiet.example",
               HEARTH_BIND="0.0.0.0:8008", HEARTH_LAN_DISCOVERY="false")
    browser = Lines(lan.run(lan.b, sys.executable, "-c", BROWSER, lan.addr_b), tmp_path / "browser.log")
    server = None
    try:
        browser.expect(lambda line: '"browsing"' in line, what="browser start")
        server = Lines(lan.run(lan.a, sys.executable, "-m", "appliance", "run"), tmp_path / "server.log", env=env)
        url = f"http://{lan.addr_a}:8008/_matrix/client/versions"
        deadline = time.monotonic() + 30
        while True:  # wait for the server to answer from the other host
            got = subprocess.run(lan.run(lan.b, sys.executable, "-c", HTTP_GET, url),
                                 capture_output=True, text=True, timeout=30)
            if got.stdout.strip() == "200" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert got.stdout.strip() == "200", got.stderr
        time.sleep(2)  # longer than probing + announcing takes
        assert browser.lines.empty(), list(browser.lines.queue)
    finally:
        if server is not None:
            server.proc.send_signal(signal.SIGTERM)
            server.close()
        browser.close()


async def test_loopback_bind_is_not_advertised():
    for host in ("127.0.0.1", "::1", "localhost"):
        advertiser = Advertiser("hearth.test", host, 8008)
        assert await advertiser.start(setup_pending=True) is False
        assert not advertiser.advertising
        await advertiser.update(setup_pending=False)  # harmless when not advertising
        await advertiser.stop()
    assert not is_loopback_only("0.0.0.0") and not is_loopback_only("192.168.1.2")


def test_instance_name_fits_a_dns_label():
    assert instance_name("hearth.local") == "Hearth (hearth.local)"
    long = instance_name("a" * 80 + ".example")
    assert len(long.encode()) <= 63 and long.startswith("Hearth (aaa") and long.endswith("…)")
    assert srv_host("hearth.local") == srv_host("hearth.local") != srv_host("other.local")
    assert srv_host("hearth.local") != "hearth.local."  # the OS mDNS daemon owns the host name
