#!/bin/sh
# make image: the Hearth Raspberry Pi image (Pi 3, 4, 5, Zero 2 W; Debian stable arm64).
# Runs as root, without a loop device or a privileged container:
#   1. rootfs.sh: Debian's root file system (mmdebstrap, cached in $CACHE per package list);
#   2. a copy of it gets Hearth (runtime only, its own virtualenv in /opt/hearth), the units of
#      systemd/ and the first-boot pieces of overlay/;
#   3. mkfs.vfat + mcopy (boot), mkfs.ext4 -d (root), sfdisk (table), dd: one .img, then .img.xz
#      and its SHA-256 in $OUT.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE=${CACHE:-/var/cache/hearth-image}
OUT=${OUT:-$repo/images/out}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml")
name=hearth-$version-raspberrypi-arm64
mkdir -p "$CACHE" "$OUT"
log() { echo "== $(date -u +%H:%M:%S) $*"; }

# -- 1. the Debian root file system (cached) --------------------------------------------------
key=$(cat "$here/packages.txt" "$here/rootfs.sh" | sha256sum | cut -c1-12)
base=$CACHE/rootfs-$key
if [ ! -d "$base" ]; then
    log "mmdebstrap (emulated, slow; cached as $base)"
    # A build killed mid-way leaves /proc, /sys and /dev mounted inside: unmount them before the
    # removal, which must never reach the host's /dev/shm or /sys through a bind mount.
    findmnt -rn -o TARGET | grep -F "$base.part/" | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf --one-file-system "$base.part"
    "$here/rootfs.sh" "$base.part"
    mv "$base.part" "$base"
fi

# -- 2. Hearth and its configuration -----------------------------------------------------------
work=$CACHE/work
root=$work/root
rm -rf "$work"; mkdir -p "$work"
log "copy of the cached root file system"
cp -a "$base" "$root"
cleanup() {
    for m in proc dev/pts dev sys; do mountpoint -q "$root/$m" 2>/dev/null && umount "$root/$m"; done
    true
}
trap cleanup EXIT
mount -t proc proc "$root/proc"; mount --bind /dev "$root/dev"; mount --bind /dev/pts "$root/dev/pts"
rm -f "$root/etc/resolv.conf"; cp /etc/resolv.conf "$root/etc/resolv.conf"

# The wheelhouse is made on the build machine, natively: Hearth's own wheel (runtime only: no
# test extras) and the arm64 wheels of its dependencies for the image's Python. The emulated pip
# in the image then installs offline: no network or TLS inside the chroot (a TLS-intercepting
# proxy's CA is the build machine's business), and no emulated dependency resolution.
pyver=$(basename "$(ls -d "$root"/usr/lib/python3.[0-9]* | sort -V | tail -1)" | sed 's/^python//')
log "wheelhouse for Python $pyver on arm64 (runtime only: no test extras)"
wheels=$work/wheelhouse
python3 -m pip wheel --quiet --no-deps --no-build-isolation -w "$wheels" "$repo" 2>/dev/null \
  || python3 -m pip wheel --quiet --no-deps -w "$wheels" "$repo"
# manylinux up to the image's glibc (Debian 12: 2.36). Every dependency has such wheels today; one
# that ships only an sdist fails here, by name (build it with `pip wheel` into the wheelhouse).
env -u PIP_FIND_LINKS python3 -m pip download --quiet --dest "$wheels" --only-binary=:all: \
    --implementation cp --python-version "$pyver" --abi "cp$(echo "$pyver" | tr -d .)" \
    --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 \
    --platform manylinux_2_34_aarch64 --platform linux_aarch64 \
    "$wheels"/hearth-*.whl
mkdir -p "$root/opt/hearth"; cp -r "$wheels" "$root/tmp/wheelhouse"
log "virtualenv /opt/hearth/.venv from the wheelhouse (emulated pip, offline)"
# A failed install fails the build (it once went on and shipped an image without Hearth).
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 sh -c 'set -e
  python3 -m venv /opt/hearth/.venv
  /opt/hearth/.venv/bin/pip install --quiet --no-cache-dir --disable-pip-version-check \
      --no-index --find-links /tmp/wheelhouse hearth
  /opt/hearth/.venv/bin/pip freeze --all > /opt/hearth/requirements.lock
  /opt/hearth/.venv/bin/python -m compileall -q /opt/hearth/.venv >/dev/null
  /opt/hearth/.venv/bin/python -m appliance.routes --write >/dev/null'
rm -rf "$root/tmp/wheelhouse"
test -x "$root/opt/hearth/.venv/bin/hearth" || { echo "Hearth is not installed in the image" >&2; exit 1; }

# raspi-firmware's hook copies the kernel, initrd, device trees and the Pi firmware into
# /boot/firmware and writes config.txt and cmdline.txt; run it again in case the kernel was
# configured before raspi-firmware.
[ -e "$root/boot/firmware/config.txt" ] && ls "$root"/boot/firmware/vmlinuz-* >/dev/null 2>&1 || \
    chroot "$root" /etc/kernel/postinst.d/z50-raspi-firmware "$(ls "$root"/boot/vmlinuz-* | sed 's|.*/vmlinuz-||')"
log "configuration and units"
cp -a "$here/overlay/." "$root/"
install -m 0644 "$repo/systemd/hearth.service" "$root/etc/systemd/system/hearth.service"
# Nothing secret and nothing machine-specific in the image: made on first boot.
rm -f "$root"/etc/ssh/ssh_host_* "$root/var/lib/dbus/machine-id"
: > "$root/etc/machine-id"
rm -rf "$root/var/lib/hearth" "$root/var/lib/private/hearth"
chroot "$root" sh -c 'systemctl enable hearth.service hearth-firstboot.service hearth-ssh-keys.service \
    hearth-setup-code.service systemd-networkd.service systemd-resolved.service systemd-timesyncd.service \
    avahi-daemon.service nftables.service unattended-upgrades.service >/dev/null 2>&1 &&
  systemctl disable ssh.service ssh.socket >/dev/null 2>&1; systemctl mask ssh.socket >/dev/null 2>&1; true'
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
cleanup; trap - EXIT
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root/tmp/"*

# -- 3. partitions and the disk ----------------------------------------------------------------
log "partitions"
boot_mb=256
root_mb=$(( $(du -sm "$root" | cut -f1) * 13 / 10 + 200 ))
mv "$root/boot/firmware" "$work/firmware"; mkdir "$root/boot/firmware"
rm -f "$work/boot.vfat" "$work/root.ext4"
mkfs.vfat -n RASPIFIRM -F 32 -C "$work/boot.vfat" $((boot_mb * 1024)) >/dev/null
mcopy -s -i "$work/boot.vfat" "$work/firmware/"* ::
mkfs.ext4 -q -L RASPIROOT -E root_owner=0:0 -d "$root" "$work/root.ext4" "${root_mb}M"
img=$OUT/$name.img
start=8192   # 4 MiB: aligned for SD cards
boot_s=$((boot_mb * 2048)); root_s=$((root_mb * 2048))
rm -f "$img"; truncate -s $(( (start + boot_s + root_s) * 512 )) "$img"
printf 'label: dos\nunit: sectors\n\nstart=%s, size=%s, type=c, bootable\nstart=%s, size=%s, type=83\n' \
    $start $boot_s $((start + boot_s)) $root_s | sfdisk -q "$img"
dd if="$work/boot.vfat" of="$img" bs=512 seek=$start conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$img" bs=512 seek=$((start + boot_s)) conv=notrunc,sparse status=none
# The kernel and initrd beside the image: make image-test boots them directly under QEMU.
cp "$root"/boot/vmlinuz-* "$OUT/$name.vmlinuz"; cp "$root"/boot/initrd.img-* "$OUT/$name.initrd"
# What is in the image's virtualenv, version by version.
cp "$root/opt/hearth/requirements.lock" "$OUT/$name.requirements.lock"
rm -rf "$work"
log "xz"
xz -T2 -6 -k -f "$img"
(cd "$OUT" && sha256sum "$name.img.xz" > "$name.img.xz.sha256")
log "done: $img.xz ($(du -h "$img.xz" | cut -f1)), $(cat "$OUT/$name.img.xz.sha256")"
