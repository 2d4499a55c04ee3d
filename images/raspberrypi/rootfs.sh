#!/bin/sh
# Stage 1 of the image: Debian's root file system for arm64 (mmdebstrap; the arm64 maintainer
# scripts run under qemu-user-static through binfmt_misc). Slow (emulated), so it is cached in
# $CACHE keyed by the package list's checksum: later stages iterate on a copy of it.
# Usage: rootfs.sh OUT_DIR   (run as root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$1
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
pkgs=$(grep -v '^#' "$here/packages.txt" | grep . | tr '\n' ',' | sed 's/,$//')
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
# raspi-firmware's kernel hook writes into /boot/firmware (the boot partition later); the
# image's root is LABEL=RASPIROOT, as in Debian's Raspberry Pi images.
# Our /etc/default/raspi-firmware is there before the package: keep it (no conffile prompt).
mmdebstrap --architectures=arm64 --variant=minbase --format=directory \
  --dpkgopt=force-confdef --dpkgopt=force-confold \
  --components=main,contrib,non-free-firmware \
  --include="$pkgs" \
  --setup-hook='mkdir -p "$1/boot/firmware" "$1/etc/default"' \
  --setup-hook='printf "ROOTPART=LABEL=RASPIROOT\nCONSOLES=\"ttyS1,115200 tty0\"\n" > "$1/etc/default/raspi-firmware"' \
  --customize-hook='chroot "$1" apt-get clean' \
  "$suite" "$out" \
  "deb $mirror $suite main contrib non-free-firmware" \
  "deb $mirror $suite-updates main contrib non-free-firmware" \
  "deb http://security.debian.org/debian-security $suite-security main contrib non-free-firmware"
