"""make image-test: boot the built image under qemu-system-aarch64 -M virt and check it from the host.

The image's own kernel and initrd are booted directly (build.sh leaves them beside the .img), on a
copy of the image made 1 GiB larger (so the first boot has a partition to grow), with user-mode
networking forwarding a host port to the guest's port 80 (the web UI) and one to 22 (SSH, enabled
by an `ssh` key file put on the boot partition the way a household would). Checks, in order:

1. the wizard answers on port 80 within WIZARD_TIMEOUT_S of power-on;
2. the setup code in hearth-setup-code.txt on the boot partition is accepted by the wizard
   (and a wrong one is refused), the root file system grew to the enlarged disk;
3. `systemd-analyze verify` passes for Hearth's units and `systemd-analyze security hearth.service`
   rates it at most MAX_EXPOSURE;
4. an mDNS query for hearth.local sent on the guest's network interface gets the guest's address;
5. a chat message sent through the Matrix API survives `systemctl restart hearth` and a hard reset
   (QEMU killed with SIGKILL: the power cut), and Hearth comes back by itself after each.
Only the standard library and the host's qemu, mtools, ssh: nothing of the Hearth test extras.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

WIZARD_TIMEOUT_S = int(os.environ.get("WIZARD_TIMEOUT_S", "900"))  # emulated arm64 on 2 shared cores
MAX_EXPOSURE = 2.5
BOOT_OFFSET = 8192 * 512  # build.sh: the boot partition starts at 4 MiB

MDNS_QUERY = r'''
import socket, struct, sys
q = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0) + b"\x06hearth\x05local\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
s.settimeout(5)
s.sendto(q, ("224.0.0.251", 5353))  # a one-shot (legacy) query: the answer comes back unicast
data, peer = s.recvfrom(4096)
print(socket.inet_ntoa(data[-4:]))  # the answer's last record: the A record
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Guest:
    def __init__(self, out: Path, name: str, work: Path):
        self.out, self.name, self.work = out, name, work
        self.disk = work / "disk.img"
        self.web, self.ssh_port = free_port(), free_port()
        self.key = work / "id_ed25519"
        self.proc: subprocess.Popen | None = None
        self.console = work / "console.log"

    def prepare(self) -> None:
        subprocess.run(["cp", "--sparse=always", str(self.out / f"{self.name}.img"), str(self.disk)], check=True)
        with open(self.disk, "r+b") as f:
            f.truncate(self.disk.stat().st_size + (1 << 30))
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True)
        subprocess.run(["mcopy", "-o", "-i", f"{self.disk}@@{BOOT_OFFSET}", f"{self.key}.pub", "::ssh"], check=True)

    def boot(self) -> float:
        cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "max", "-smp", "2", "-m", "1024",
               "-kernel", str(self.out / f"{self.name}.vmlinuz"), "-initrd", str(self.out / f"{self.name}.initrd"),
               "-append", "root=LABEL=RASPIROOT rw console=ttyAMA0 rootwait",
               "-drive", f"file={self.disk},format=raw,if=virtio",
               "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{self.web}-:80,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22",
               "-device", "virtio-net-pci,netdev=n0", "-display", "none",
               "-serial", f"file:{self.console}", "-monitor", "none"]
        self.proc = subprocess.Popen(cmd)
        return time.monotonic()

    def power_cut(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def ssh(self, command: str, check: bool = True) -> str:
        r = subprocess.run(["ssh", "-q", "-i", str(self.key), "-p", str(self.ssh_port),
                            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "ConnectTimeout=20", "root@127.0.0.1", command],
                           capture_output=True, text=True, timeout=600)
        if check and r.returncode != 0:
            raise AssertionError(f"in the guest: {command}\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web}{path}"


def wait_for_wizard(g: Guest, started: float, timeout: float) -> float:
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(g.url("/setup"), timeout=10) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        if g.proc is not None and g.proc.poll() is not None:
            raise AssertionError("QEMU exited")
        time.sleep(5)
    raise AssertionError(f"the wizard did not answer within {timeout:.0f} s; console: {g.console}")


def wait_for_ssh(g: Guest, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = subprocess.run(["ssh", "-q", "-i", str(g.key), "-p", str(g.ssh_port), "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "root@127.0.0.1", "true"])
        if r.returncode == 0:
            return
        time.sleep(5)
    raise AssertionError("SSH with the key from the boot partition did not come up")


def try_code(g: Guest, code: str) -> int:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                         NoRedirect())
    with opener.open(g.url("/setup"), timeout=30) as r:
        page = r.read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    form = {"setup_code": code}
    if token:
        form["csrf_token"] = token.group(1)
    try:
        with opener.open(g.url("/setup"), data=urllib.parse.urlencode(form).encode(), timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 303 is the answer we check
        return None


def api(g: Guest, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    req = urllib.request.Request(g.url(path), method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def login(g: Guest) -> str:
    return api(g, "POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "parent"},
        "password": "a long test password"})["access_token"]


def message_is_there(g: Guest, room: str, body: str) -> None:
    token = login(g)
    page = api(g, "GET", f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/messages?dir=b&limit=20",
               token=token)
    bodies = [e.get("content", {}).get("body") for e in page["chunk"]]
    assert body in bodies, bodies


def step(text: str, t0: float) -> None:
    print(f"[{time.monotonic() - t0:7.1f} s] {text}", flush=True)


def main() -> int:
    out, name = Path(sys.argv[1]), sys.argv[2]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hearth-image-test-") as tmp:
        g = Guest(out, name, Path(tmp))
        g.prepare()
        try:
            started = g.boot()
            took = wait_for_wizard(g, started, WIZARD_TIMEOUT_S)
            step(f"1. the wizard answers on port 80, {took:.0f} s after power-on", t0)
            wait_for_ssh(g)
            code = g.ssh("cat /boot/firmware/hearth-setup-code.txt").strip()
            assert re.fullmatch(r"[A-Za-z0-9-]{6,}", code), code
            assert try_code(g, "WRONG-CODE-0000") == 400
            assert try_code(g, code) == 303, "the setup code from the boot partition was refused"
            size = int(g.ssh("findmnt -bno SIZE /").strip())
            assert size > (1 << 30) * 1.5, f"root file system not grown: {size}"
            step("2. the setup code on the boot partition is accepted; the root file system grew", t0)
            g.ssh("systemd-analyze verify /etc/systemd/system/hearth.service "
                  "/etc/systemd/system/hearth-firstboot.service /etc/systemd/system/hearth-ssh-keys.service "
                  "/etc/systemd/system/hearth-setup-code.service")
            sec = g.ssh("systemd-analyze security --no-pager hearth.service", check=False)
            level = float(re.search(r"Overall exposure level for hearth.service: ([0-9.]+)", sec).group(1))
            assert level <= MAX_EXPOSURE, sec
            step(f"3. systemd-analyze verify passes; security exposure {level}", t0)
            addr = g.ssh("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1").strip()
            answer = g.ssh(f"python3 -c '{MDNS_QUERY}' {addr}").strip()
            assert answer == addr, (answer, addr)
            step(f"4. mDNS: hearth.local answers {answer} on the guest's network", t0)
            g.ssh("systemd-run --wait --pipe -q -p User=hearth -p DynamicUser=yes -p StateDirectory=hearth "
                  "-p Environment=HEARTH_DATA_DIR=/var/lib/hearth -p WorkingDirectory=/var/lib/hearth "
                  "/opt/hearth/.venv/bin/hearth create-user parent --admin --password 'a long test password'")
            token = login(g)
            room = api(g, "POST", "/_matrix/client/v3/createRoom", {"name": "Kitchen"}, token)["room_id"]
            body = "Dinner at seven"
            api(g, "PUT", f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/send/m.room.message/t1",
                {"msgtype": "m.text", "body": body}, token)
            g.ssh("systemctl restart hearth.service")
            wait_for_wizard_or_api(g)
            message_is_there(g, room, body)
            step("5a. the message is there after systemctl restart hearth", t0)
            g.power_cut()
            started = g.boot()
            wait_for_wizard_or_api(g, started)
            message_is_there(g, room, body)
            step(f"5b. ... and after a hard reset ({time.monotonic() - started:.0f} s to come back)", t0)
        finally:
            if g.proc is not None and g.proc.poll() is None:
                g.power_cut()
    print(f"make image-test: all checks passed in {time.monotonic() - t0:.0f} s")
    return 0


def wait_for_wizard_or_api(g: Guest, started: float | None = None, timeout: float = WIZARD_TIMEOUT_S) -> None:
    started = time.monotonic() if started is None else started
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(g.url("/_matrix/client/versions"), timeout=10):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(5)
    raise AssertionError("Hearth did not come back")


if __name__ == "__main__":
    sys.exit(main())
