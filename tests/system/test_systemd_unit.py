"""systemd/hearth.service: `systemd-analyze verify` must print nothing, and the offline security
review must rate the sandbox at or below EXPOSURE_THRESHOLD (0 = locked down, 10 = unprotected)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.needs import unavailable

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "hearth.service"
EXPOSURE_THRESHOLD = 2.0
SYSTEM_UNITS = Path("/usr/lib/systemd/system")

if shutil.which("systemd-analyze") is None:
    unavailable("systemd-analyze is not installed (`make test` installs the Debian package systemd as root)")


def unit_value(key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(key + "=")]


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    """A file system root shaped like the image: the unit installed, ExecStart's program present,
    systemd's own units (sysinit.target, network-online.target, ...) next to it."""
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system/hearth.service")
    program = Path(unit_value("ExecStart")[0].split()[0])
    target = root / program.relative_to("/")
    target.parent.mkdir(parents=True)
    target.write_text("#!/bin/sh\n")
    target.chmod(0o755)
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    return root


def verify(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", "hearth.service"],
                          capture_output=True, text=True, timeout=60)


def test_verify_prints_nothing(image_root: Path):
    out = verify(image_root)
    assert (out.returncode, out.stdout + out.stderr) == (0, "")


def test_verify_catches_mistakes(image_root: Path):
    """The check above can fail: a bad value and a missing program are reported."""
    unit = image_root / "etc/systemd/system/hearth.service"
    unit.write_text(unit.read_text().replace("WatchdogSec=30", "WatchdogSec=thirty"))
    out = verify(image_root)
    assert "WatchdogSec" in out.stdout + out.stderr or "thirty" in out.stdout + out.stderr
    unit.write_text(UNIT.read_text())
    (image_root / unit_value("ExecStart")[0].split()[0].lstrip("/")).unlink()
    out = verify(image_root)
    assert out.returncode != 0 and "is not executable" in out.stderr


def test_security_exposure_below_threshold():
    out = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--threshold={EXPOSURE_THRESHOLD * 10:g}",
                          "--no-pager", str(UNIT)], capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for hearth\.service: (\d+\.\d)", out.stdout)
    assert match, out.stdout + out.stderr
    assert float(match.group(1)) <= EXPOSURE_THRESHOLD, out.stdout
    assert out.returncode == 0, out.stdout + out.stderr


def test_unit_has_what_the_appliance_needs():
    text = UNIT.read_text()
    for line in ("Type=notify", "Restart=on-failure", "DynamicUser=yes", "StateDirectory=hearth",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
                 "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "UMask=0077",
                 "Environment=HEARTH_DATA_DIR=/var/lib/hearth"):
        assert line in text.splitlines(), line
    assert int(unit_value("WatchdogSec")[0]) > 0
    assert "AF_NETLINK" in unit_value("RestrictAddressFamilies")[0].split()  # zeroconf lists interfaces
