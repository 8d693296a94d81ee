#!/usr/bin/env bash
# Installs what the kernel rig needs and unpacks the guest's pieces into $WORK (default
# target/kernel): QEMU's x86_64 system emulator from bookworm-backports (QEMU 10, the first
# with the i2c-echo device), and, unpacked but never installed, a Debian kernel image and
# busybox-static. Safe to run again: it only fetches what is missing.
#
# The backports line lives in a temporary sources list that only this script's apt calls
# read (the machine's own sources stay as they are). The kernel is extracted with dpkg-deb
# into $WORK, so /boot and /lib/modules are never touched.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-$root/target/kernel}
mkdir -p "$work/debs"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# Debian's suite for the backports line: the one this machine runs.
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
backports_list=$(mktemp)
trap 'rm -f "$backports_list"' EXIT
echo "deb http://deb.debian.org/debian ${codename}-backports main" >"$backports_list"
# Keep the machine's own sources (sources.list.d) and add backports for these calls only.
apt_opts=(-o "Dir::Etc::SourceList=$backports_list")

qemu_ok() {
    command -v qemu-system-x86_64 >/dev/null 2>&1 &&
        qemu-system-x86_64 -device help 2>/dev/null | grep -q '"i2c-echo"'
}

updated=0
apt_update() {
    if [ "$updated" -eq 0 ]; then
        $sudo apt-get "${apt_opts[@]}" update -qq
        updated=1
    fi
}

if ! qemu_ok; then
    apt_update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get "${apt_opts[@]}" install -y -qq \
        --no-install-recommends -t "${codename}-backports" qemu-system-x86 >/dev/null
    qemu_ok || {
        echo "kernel rig: qemu-system-x86_64 has no i2c-echo device (QEMU 10 needed)" >&2
        exit 1
    }
fi

# One .deb, fetched into $work/debs unless a matching one is already there.
fetch_deb() {
    local pkg=$1
    if ! ls "$work/debs/${pkg}"_*.deb >/dev/null 2>&1; then
        (cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq "$pkg" 2>/dev/null) || {
            apt_update
            (cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq "$pkg")
        }
    fi
    ls "$work/debs/${pkg}"_*.deb | head -n1
}

# The kernel image package the metapackage points at (linux-image-6.1.0-N-amd64).
kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
if [ -z "$kernel_pkg" ]; then
    echo "kernel rig: cannot resolve linux-image-amd64 to a kernel package" >&2
    exit 1
fi

if [ ! -f "$work/kernel/.done-$kernel_pkg" ]; then
    deb=$(fetch_deb "$kernel_pkg")
    rm -rf "$work/kernel"
    mkdir -p "$work/kernel"
    dpkg-deb -x "$deb" "$work/kernel"
    touch "$work/kernel/.done-$kernel_pkg"
fi
if [ ! -x "$work/busybox/bin/busybox" ]; then
    deb=$(fetch_deb busybox-static)
    rm -rf "$work/busybox"
    mkdir -p "$work/busybox"
    dpkg-deb -x "$deb" "$work/busybox"
fi
echo "kernel rig: qemu $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}'), $kernel_pkg"
