#!/usr/bin/env bash
# Installs what the kernel rig needs and unpacks the guest's pieces into $WORK (default
# target/kernel): QEMU's x86_64 system emulator from bookworm-backports (QEMU 10, the first
# with the i2c-echo device), and, unpacked but never installed, a Debian kernel image and
# busybox-static. Safe to run again: it only fetches what is missing.
#
#   bash tests/kernel/install.sh                 # the x86_64 guest (into $WORK)
#   bash tests/kernel/install.sh --arch aarch64  # the aarch64 guest (into $WORK/aarch64)
#
# The aarch64 guest needs qemu-system-arm (backports, like the x86_64 one), Debian's arm64
# kernel and busybox, and i2c-stub, which Debian's arm64 kernel does not build: the rig builds
# it from the same kernel version's source (linux-source) against that kernel's headers with
# the aarch64 cross compiler. The arm64 packages come through a private apt state under
# $WORK/aarch64/apt (its own lists, cache and an empty dpkg status), so the machine's dpkg
# architectures and package lists stay as they are.
#
# The backports line lives in a temporary sources list that only this script's apt calls
# read (the machine's own sources stay as they are). The kernel is extracted with dpkg-deb
# into $WORK, so /boot and /lib/modules are never touched.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-$root/target/kernel}
mkdir -p "$work/debs"

arch=x86_64
case "${1:-}" in
"") ;;
--arch) arch=${2:-} ;;
*) echo "usage: install.sh [--arch x86_64|aarch64]" >&2 && exit 2 ;;
esac
case "$arch" in
x86_64 | aarch64) ;;
*) echo "kernel rig: unknown --arch '$arch' (x86_64 or aarch64)" >&2 && exit 2 ;;
esac

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
# The same QEMU release as the x86_64 emulator (they share qemu-system-common).
qemu_arm_ok() {
    command -v qemu-system-aarch64 >/dev/null 2>&1 &&
        [ "$(qemu-system-aarch64 --version | head -n1)" = "$(qemu-system-x86_64 --version | head -n1)" ]
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
if [ "$arch" = x86_64 ]; then
    echo "kernel rig: qemu $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}'), $kernel_pkg"
    exit 0
fi

# --- the aarch64 guest -------------------------------------------------------------------------

if ! qemu_arm_ok; then
    apt_update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get "${apt_opts[@]}" install -y -qq \
        --no-install-recommends -t "${codename}-backports" qemu-system-arm >/dev/null
    qemu_arm_ok || {
        echo "kernel rig: qemu-system-aarch64 is missing or not the x86_64 emulator's release" >&2
        exit 1
    }
fi

a64=$work/aarch64
mkdir -p "$a64/debs" "$a64/apt/lists/partial" "$a64/apt/cache/archives/partial"
[ -f "$a64/apt/status" ] || : >"$a64/apt/status"
# The machine's sources, read for arm64 into state of its own.
arm_opts=(-o "Dir::State::Lists=$a64/apt/lists" -o "Dir::Cache=$a64/apt/cache"
    -o "Dir::State::status=$a64/apt/status" -o "APT::Architecture=arm64"
    -o "APT::Architectures::=arm64" -o "Dir::Etc::SourceList=/dev/null")
arm_updated=0
arm_update() {
    if [ "$arm_updated" -eq 0 ]; then
        apt-get "${arm_opts[@]}" update -qq
        arm_updated=1
    fi
}
[ -n "$(ls "$a64/apt/lists" 2>/dev/null | grep -v partial)" ] || arm_update

# One arm64 (or arch: all) package at VERSION (optional), fetched into $a64/debs.
fetch_arm_deb() {
    local pkg=$1 version=${2:-} spec=$1
    [ -z "$version" ] || spec="$pkg=$version"
    if ! ls "$a64/debs/${pkg}_"*.deb >/dev/null 2>&1; then
        # apt's download sandbox user cannot write under a root-owned target/: that warning
        # is noise here.
        (cd "$a64/debs" && apt-get "${arm_opts[@]}" download -qq "$spec" 2>/dev/null) || {
            arm_update
            (cd "$a64/debs" && apt-get "${arm_opts[@]}" download -qq "$spec" 2>&1 |
                grep -v 'unsandboxed' >&2 || true)
        }
    fi
    ls "$a64/debs/${pkg}_"*.deb 2>/dev/null | head -n1 | grep . || {
        echo "kernel rig: cannot fetch $spec for arm64" >&2
        exit 1
    }
}

arm_kernel_pkg=$(apt-cache "${arm_opts[@]}" depends linux-image-arm64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-arm64\)$/\1/p' | head -n1)
[ -n "$arm_kernel_pkg" ] || {
    echo "kernel rig: cannot resolve linux-image-arm64 to a kernel package" >&2
    exit 1
}
arm_kver=${arm_kernel_pkg#linux-image-}
# The source version of the kernel package, which the headers, kbuild and source share.
arm_version=$(apt-cache "${arm_opts[@]}" show "$arm_kernel_pkg" | sed -n 's/^Version: //p' | head -n1)

if [ ! -f "$a64/kernel/.done-$arm_kernel_pkg" ]; then
    deb=$(fetch_arm_deb "$arm_kernel_pkg" "$arm_version")
    rm -rf "$a64/kernel"
    mkdir -p "$a64/kernel"
    dpkg-deb -x "$deb" "$a64/kernel"
    touch "$a64/kernel/.done-$arm_kernel_pkg"
fi
if [ ! -x "$a64/busybox/bin/busybox" ]; then
    deb=$(fetch_arm_deb busybox-static)
    rm -rf "$a64/busybox"
    mkdir -p "$a64/busybox"
    dpkg-deb -x "$deb" "$a64/busybox"
fi

# i2c-stub, built out of tree for exactly this kernel (same vermagic and symbol versions).
stub=$a64/i2c-stub/i2c-stub.ko
if [ ! -f "$a64/i2c-stub/.done-$arm_kernel_pkg" ]; then
    command -v aarch64-linux-gnu-gcc-12 >/dev/null 2>&1 || {
        apt_update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get "${apt_opts[@]}" install -y -qq \
            --no-install-recommends gcc-12-aarch64-linux-gnu >/dev/null
    }
    major=$(sed 's/^\([0-9]*\.[0-9]*\).*/\1/' <<<"$arm_version")
    kbuild_root=$a64/kbuild
    rm -rf "$kbuild_root" "$a64/i2c-stub"
    mkdir -p "$kbuild_root" "$a64/i2c-stub"
    for pkg in "linux-headers-$arm_kver" "linux-headers-${arm_kver%-arm64}-common" \
        "linux-source-$major"; do
        dpkg-deb -x "$(fetch_arm_deb "$pkg" "$arm_version")" "$kbuild_root"
    done
    # The build tools (fixdep, modpost) run here: the machine's architecture.
    if ! ls "$a64/debs/linux-kbuild-${major}_"*.deb >/dev/null 2>&1; then
        apt_update
        (cd "$a64/debs" && apt-get "${apt_opts[@]}" download -qq "linux-kbuild-$major=$arm_version" \
            2>&1 | grep -v 'unsandboxed' >&2 || true)
    fi
    dpkg-deb -x "$(ls "$a64/debs/linux-kbuild-${major}_"*.deb | head -n1)" "$kbuild_root"
    headers=$kbuild_root/usr/src/linux-headers-$arm_kver
    # The headers' Makefile includes the common tree by its installed path.
    sed -i "s|^include /usr/src/|include $kbuild_root/usr/src/|" "$headers/Makefile"
    # One file of the source tarball.
    tar -xOf "$kbuild_root/usr/src/linux-source-$major.tar.xz" \
        "linux-source-$major/drivers/i2c/i2c-stub.c" >"$a64/i2c-stub/i2c-stub.c"
    rm -f "$kbuild_root/usr/src/linux-source-$major.tar.xz"
    echo 'obj-m := i2c-stub.o' >"$a64/i2c-stub/Kbuild"
    make -s -C "$headers" M="$a64/i2c-stub" DEB_BUILD_ARCH="$(dpkg --print-architecture)" \
        DEB_HOST_ARCH=arm64 \
        DEB_HOST_GNU_TYPE=aarch64-linux-gnu modules 2>&1 | grep -v 'Skipping BTF' >&2 || true
    [ -f "$stub" ] || {
        echo "kernel rig: building i2c-stub for $arm_kver failed" >&2
        exit 1
    }
    # The module is all the rig keeps: the headers and the 140 MB source package go.
    rm -rf "$kbuild_root" "$a64/debs/linux-source-"*.deb "$a64/debs/linux-headers-"*.deb
    touch "$a64/i2c-stub/.done-$arm_kernel_pkg"
fi
echo "kernel rig: qemu $(qemu-system-aarch64 --version | head -n1 | awk '{print $4}'), $arm_kernel_pkg, i2c-stub for $arm_kver"
