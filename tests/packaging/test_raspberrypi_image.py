"""The Raspberry Pi image's pieces, checked without building it (make image-test boots the image).

The shell scripts parse, the image's units pass `systemd-analyze verify` with their helper
scripts in place, and the image ships no secret: no SSH host key, no Hearth state, no machine id.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "images" / "raspberrypi"
OVERLAY = IMAGE / "overlay"


@pytest.mark.parametrize("script", ["build.sh", "rootfs.sh", "overlay/usr/local/sbin/hearth-firstboot",
                                    "overlay/usr/local/sbin/hearth-ssh-keys",
                                    "overlay/usr/local/sbin/hearth-show-setup-code"])
def test_the_image_scripts_parse(script):
    subprocess.run(["sh", "-n", str(IMAGE / script)], check=True)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_the_image_units_pass_systemd_analyze_verify(tmp_path):
    # verify wants the ExecStart programs to exist: point the units at copies of the scripts.
    units = []
    for unit in sorted((OVERLAY / "etc/systemd/system").glob("*.service")):
        text = unit.read_text().replace("/usr/local/sbin/", f"{tmp_path}/sbin/")
        (tmp_path / unit.name).write_text(text)
        units.append(str(tmp_path / unit.name))
    shutil.copytree(OVERLAY / "usr/local/sbin", tmp_path / "sbin")
    r = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if "ssh.service" not in line and "boot-firmware.mount" not in line and line.strip()]
    assert r.returncode == 0 and not problems, r.stdout + r.stderr


def test_the_image_ships_no_secret():
    shipped = [p.relative_to(OVERLAY).as_posix() for p in OVERLAY.rglob("*") if p.is_file()]
    assert not [p for p in shipped if "ssh_host_" in p or p.startswith("var/lib/") or p == "etc/machine-id"]
    build = (IMAGE / "build.sh").read_text()
    assert 'rm -f "$root"/etc/ssh/ssh_host_*' in build  # Debian's package made some: removed
    assert 'rm -rf "$root/var/lib/hearth"' in build


def test_the_image_installs_the_hardened_unit_of_systemd_folder():
    assert '"$repo/systemd/hearth.service"' in (IMAGE / "build.sh").read_text()
    assert "/opt/hearth/.venv/bin/hearth run" in (ROOT / "systemd/hearth.service").read_text()


def test_make_image_test_runs_the_boot_checks():
    r = subprocess.run(["make", "-n", "-C", str(ROOT), "image-test", "image"], capture_output=True, text=True)
    assert "images/raspberrypi/image_test.py" in r.stdout and "images/raspberrypi/build.sh" in r.stdout
