"""make image-test: boot the built image under qemu-system-aarch64 -M virt and check it from the host.

The image's own kernel and initrd are booted directly (build.sh leaves them beside the .img), on a
copy of the image made 1 GiB larger (so the first boot has a partition to grow), with user-mode
networking forwarding a host port to the guest's port 80 (the web UI) and one to 22 (SSH, enabled
by an `ssh` key file put on the boot partition the way a household would). Checks, in order:

1. the wizard answers on port 80 within WIZARD_TIMEOUT_S of power-on (emulated: the figure for a
   real Pi is a fraction of it), and the setup code is shown on the serial console;
2. the setup code in hearth-setup-code.txt on the boot partition is accepted by the wizard
   (and a wrong one is refused); the root file system grew to the enlarged disk, host name hearth;
3. `systemd-analyze verify` prints nothing for Hearth's units and `systemd-analyze security
   hearth.service` rates the running service at most MAX_EXPOSURE (tests/system/test_systemd_unit.py);
4. an mDNS query for hearth.local sent on the guest's network interface gets the guest's address
   (QEMU's user-mode network carries no multicast to the host, so the query is sent in the guest);
5. a chat message sent through the Matrix API survives `systemctl restart hearth` and a hard reset
   (QEMU killed with SIGKILL: the power cut), and Hearth comes back by itself after each.
Only the standard library and the host's qemu, mtools, ssh: nothing of the Hearth test extras.
The guest's serial console is kept in images/out/<image>.console.log.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
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
MAX_EXPOSURE = 2.0
BOOT_OFFSET = 8192 * 512  # build.sh: the boot partition starts at 4 MiB
PASSWORD = "a long test password"

# Runs in the guest: a one-shot (legacy unicast) mDNS query for hearth.local's A record, sent
# out of the interface holding sys.argv[1]; prints the addresses of the A records answered.
MDNS_QUERY = r'''
import socket, struct, sys
q = struct.pack(">6H", 0x4854, 0, 1, 0, 0, 0) + b"\x06hearth\x05local\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
s.settimeout(5)
s.sendto(q, ("224.0.0.251", 5353))
data, peer = s.recvfrom(9000)
def skip_name(i):
    while data[i]:
        if data[i] & 0xC0 == 0xC0:
            return i + 2
        i += data[i] + 1
    return i + 1
qd, an = struct.unpack(">HH", data[4:8])
i = 12
for _ in range(qd):
    i = skip_name(i) + 4
for _ in range(an):
    i = skip_name(i)
    rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", data[i:i + 10])
    i += 10
    if rtype == 1 and rdlen == 4:
        print(socket.inet_ntoa(data[i:i + 4]))
    i += rdlen
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Guest:
    """The image booted under QEMU: a copy of the disk, the forwarded ports, the console log."""

    def __init__(self, out: Path, name: str, work: Path):
        self.out, self.name, self.work = out, name, work
        self.disk = work / "disk.img"
        self.web, self.ssh_port = free_port(), free_port()
        self.key = work / "id_ed25519"
        self.proc: subprocess.Popen | None = None
        self.console = out / f"{name}.console.log"

    def prepare(self) -> None:
        subprocess.run(["cp", "--sparse=always", str(self.out / f"{self.name}.img"), str(self.disk)], check=True)
        with open(self.disk, "r+b") as f:
            f.truncate(self.disk.stat().st_size + (1 << 30))
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True)
        subprocess.run(["mcopy", "-o", "-i", f"{self.disk}@@{BOOT_OFFSET}", f"{self.key}.pub", "::ssh"], check=True)
        self.console.unlink(missing_ok=True)

    def boot(self) -> float:
        # cortex-a72: the Pi 4's core, and cheaper to emulate than -cpu max (no pointer
        # authentication or SVE). The console is appended to across the two boots.
        cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "1024",
               "-kernel", str(self.out / f"{self.name}.vmlinuz"), "-initrd", str(self.out / f"{self.name}.initrd"),
               "-append", "root=LABEL=RASPIROOT rw console=ttyAMA0 rootwait",
               "-drive", f"file={self.disk},format=raw,if=virtio",
               "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{self.web}-:80,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22",
               "-device", "virtio-net-pci,netdev=n0", "-display", "none",
               "-chardev", f"file,id=c0,path={self.console},append=on", "-serial", "chardev:c0",
               "-monitor", "none", "-nodefaults"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        return time.monotonic()

    def power_cut(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def ssh(self, command: str, check: bool = True, timeout: float = 600) -> str:
        r = subprocess.run(["ssh", "-q", "-i", str(self.key), "-p", str(self.ssh_port),
                            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "ConnectTimeout=20", "-o", "BatchMode=yes", "root@127.0.0.1", command],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"in the guest: {command}\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web}{path}"

    def console_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.console.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no console log)"


def wait_for(g: Guest, path: str, started: float, timeout: float, what: str) -> float:
    """Seconds from `started` until GET path answers 200."""
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(g.url(path), timeout=10) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        if g.proc is not None and g.proc.poll() is not None:
            raise AssertionError(f"QEMU exited ({g.proc.returncode})")
        time.sleep(3)
    raise AssertionError(f"{what} did not answer within {timeout:.0f} s")


def wait_for_ssh(g: Guest, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            g.ssh("true", timeout=60)
            return
        except (AssertionError, subprocess.TimeoutExpired):
            time.sleep(5)
    raise AssertionError("SSH with the key from the boot partition did not come up")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 303 is the answer we check
        return None


def try_code(g: Guest, code: str) -> int:
    """The wizard's first page, then the setup code posted the way the browser does: the status."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                         NoRedirect())
    with opener.open(g.url("/setup"), timeout=60) as r:
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
        "password": PASSWORD})["access_token"]


def message_is_there(g: Guest, room: str, body: str) -> None:
    token = login(g)
    page = api(g, "GET", f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/messages?dir=b&limit=20",
               token=token)
    bodies = [e.get("content", {}).get("body") for e in page["chunk"]]
    assert body in bodies, bodies


class Report:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def step(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:7.1f} s] {text}", flush=True)


def first_boot(g: Guest, r: Report) -> None:
    started = g.boot()
    took = wait_for(g, "/setup", started, WIZARD_TIMEOUT_S, "the wizard")
    r.step(f"1. the wizard answers on port 80 {took:.0f} s after power-on (limit {WIZARD_TIMEOUT_S} s)")
    wait_for_ssh(g)
    code = g.ssh("cat /boot/firmware/hearth-setup-code.txt").strip()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){2}", code), code
    assert code in g.console.read_text(errors="replace"), "the setup code is not on the serial console"
    assert try_code(g, "WRNG-CODE-0000") == 400, "a wrong setup code was not refused"
    assert try_code(g, code) == 303, "the setup code from the boot partition was refused"
    size = int(g.ssh("findmnt -bno SIZE /").strip())
    assert size > 1.5 * (1 << 30), f"the root file system did not grow: {size} bytes"
    assert g.ssh("hostname").strip() == "hearth"
    r.step(f"2. the setup code on the boot partition and the console ({code}) is accepted, a wrong one "
           f"refused; the root file system grew to {size / (1 << 30):.1f} GiB; host name hearth")


def units(g: Guest, r: Report) -> None:
    out = g.ssh("cd /etc/systemd/system && systemd-analyze verify --man=no hearth.service "
                "hearth-firstboot.service hearth-ssh-keys.service hearth-setup-code.service 2>&1")
    assert out.strip() == "", out
    sec = g.ssh("systemd-analyze security --no-pager hearth.service", check=False)
    found = re.search(r"Overall exposure level for hearth.service: ([0-9.]+)", sec)
    assert found, sec
    level = float(found.group(1))
    assert level <= MAX_EXPOSURE, sec
    r.step(f"3. systemd-analyze verify prints nothing for the four units; security exposure {level} "
           f"(at most {MAX_EXPOSURE})")


def mdns(g: Guest, r: Report) -> None:
    addr = g.ssh("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1").strip()
    assert addr, "the guest has no IPv4 address"
    answers = g.ssh(f"python3 -c '{MDNS_QUERY}' {addr}").split()
    assert addr in answers, (answers, addr)
    r.step(f"4. mDNS: hearth.local answers {addr} on the guest's network")


def survives(g: Guest, r: Report) -> None:
    # The account is made the way an operator would, with Hearth's own command in the image.
    g.ssh("systemd-run --wait --pipe --quiet -p DynamicUser=yes -p User=hearth -p StateDirectory=hearth "
          "-p WorkingDirectory=/var/lib/hearth -p Environment=HEARTH_DATA_DIR=/var/lib/hearth "
          f"/opt/hearth/.venv/bin/hearth create-user parent --admin --password '{PASSWORD}'")
    token = login(g)
    room = api(g, "POST", "/_matrix/client/v3/createRoom", {"name": "Kitchen"}, token)["room_id"]
    body = "Dinner at seven"
    api(g, "PUT", f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/send/m.room.message/t1",
        {"msgtype": "m.text", "body": body}, token)
    started = time.monotonic()
    g.ssh("systemctl restart hearth.service")
    took = wait_for(g, "/_matrix/client/versions", started, 300, "Hearth after a restart")
    message_is_there(g, room, body)
    r.step(f"5a. the message is there after systemctl restart hearth ({took:.0f} s)")
    g.power_cut()
    started = g.boot()
    took = wait_for(g, "/_matrix/client/versions", started, WIZARD_TIMEOUT_S, "Hearth after a hard reset")
    message_is_there(g, room, body)
    r.step(f"5b. ... and after a hard reset: back by itself {took:.0f} s after power-on")


def main() -> int:
    out, name = Path(sys.argv[1]).resolve(), sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally below stops QEMU
    r = Report()
    with tempfile.TemporaryDirectory(prefix="hearth-image-test-") as tmp:
        g = Guest(out, name, Path(tmp))
        g.prepare()
        try:
            first_boot(g, r)
            units(g, r)
            mdns(g, r)
            survives(g, r)
        except BaseException:
            print(f"--- the guest's console, last lines ({g.console}):\n{g.console_tail()}", file=sys.stderr)
            raise
        finally:
            g.power_cut()
    print(f"make image-test: all checks passed in {time.monotonic() - r.t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
