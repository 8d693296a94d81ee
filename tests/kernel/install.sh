#!/usr/bin/env bash
# Installs what the kernel rig needs and unpacks the guest's pieces into $WORK (default
# target/kernel): QEMU's x86_64 system emulator from bookworm-backports (QEMU 10, the first
# with the i2c-echo device), and, unpacked but never installed, a Debian kernel image and
# busybox-static. Safe to run again: it only fetches what is missing.
#
#   bash tests/kernel/install.sh                 # the x86_64 guest (into $WORK)
#   bash tests/kernel/install.sh --arch aarch64  # the aarch64 guest (into $WORK/aarch64)
#   bash tests/kernel/install.sh --arch riscv64  # the riscv64 guest (into $WORK/riscv64)
#
# The aarch64 guest needs qemu-system-arm (backports, like the x86_64 one), Debian's arm64
# kernel and busybox, and i2c-stub, which Debian's arm64 kernel does not build: the rig builds
# it from the same kernel version's source (linux-source) against that kernel's headers with
# the aarch64 cross compiler. The arm64 packages come through a private apt state under
# $WORK/aarch64/apt (its own lists, cache and an empty dpkg status), so the machine's dpkg
# architectures and package lists stay as they are.
#
# The riscv64 guest is the same with qemu-system-misc (backports; its qemu-system-riscv
# brings Debian's opensbi, the firmware `-bios default` loads) and riscv64 packages from
# Debian 13 (trixie, the first release with riscv64 as an official architecture): the private
# apt state under $WORK/riscv64/apt has its own sources list with a trixie line. Its 6.12
# kernel lacks i2c-stub too, so the module is built against trixie's riscv64 headers with
# bookworm's riscv64 cross gcc (12; the kernel was built with trixie's gcc-14, which bookworm
# cannot run) and the build tools of bookworm's linux-kbuild for the same upstream release
# (bookworm-security's linux-kbuild-6.12.N+deb12: trixie's amd64 kbuild needs glibc 2.38).
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
*) echo "usage: install.sh [--arch x86_64|aarch64|riscv64]" >&2 && exit 2 ;;
esac
case "$arch" in
x86_64 | aarch64 | riscv64) ;;
*) echo "kernel rig: unknown --arch '$arch' (x86_64, aarch64 or riscv64)" >&2 && exit 2 ;;
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

# --- the aarch64 and riscv64 guests ----------------------------------------------------------
#
# Each has its own directory ($WORK/<arch>) with a private apt state (its own sources, lists,
# cache and an empty dpkg status) for the guest's packages, so the machine's dpkg
# architectures and package lists stay as they are.
#   aarch64: the machine's own suite (bookworm), read for arm64.
#   riscv64: Debian 13 (trixie), the first release with riscv64 as an official architecture:
#            its own sources line, read for riscv64.

g=$work/$arch
case "$arch" in
aarch64)
    deb_arch=arm64
    gnu=aarch64-linux-gnu
    qemu_bin=qemu-system-aarch64
    qemu_pkg=qemu-system-arm
    g_sources=/dev/null # with the machine's sources.list.d
    ;;
riscv64)
    deb_arch=riscv64
    gnu=riscv64-linux-gnu
    qemu_bin=qemu-system-riscv64
    # In QEMU 10 a metapackage for qemu-system-riscv (and s390x); qemu-system-riscv depends
    # on Debian's opensbi, whose generic fw_dynamic.bin is what `-bios default` loads.
    qemu_pkg=qemu-system-misc
    g_sources=$g/apt/sources.list
    ;;
esac

# The same QEMU release as the x86_64 emulator (they share qemu-system-common).
qemu_guest_ok() {
    command -v "$qemu_bin" >/dev/null 2>&1 &&
        [ "$("$qemu_bin" --version | head -n1)" = "$(qemu-system-x86_64 --version | head -n1)" ]
}
if ! qemu_guest_ok; then
    apt_update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get "${apt_opts[@]}" install -y -qq \
        --no-install-recommends -t "${codename}-backports" "$qemu_pkg" >/dev/null
    qemu_guest_ok || {
        echo "kernel rig: $qemu_bin is missing or not the x86_64 emulator's release" >&2
        exit 1
    }
fi

mkdir -p "$g/debs" "$g/apt/lists/partial" "$g/apt/cache/archives/partial"
[ -f "$g/apt/status" ] || : >"$g/apt/status"
if [ "$arch" = riscv64 ]; then
    echo "deb http://deb.debian.org/debian trixie main" >"$g_sources"
fi
g_opts=(-o "Dir::State::Lists=$g/apt/lists" -o "Dir::Cache=$g/apt/cache"
    -o "Dir::State::status=$g/apt/status" -o "APT::Architecture=$deb_arch"
    -o "APT::Architectures::=$deb_arch" -o "Dir::Etc::SourceList=$g_sources")
# trixie's sources line is the only one: the machine's sources.list.d stays out.
[ "$arch" = aarch64 ] || g_opts+=(-o "Dir::Etc::SourceParts=/dev/null")
g_updated=0
g_update() {
    if [ "$g_updated" -eq 0 ]; then
        # apt warns that it cannot drop to its sandbox user under a private directory.
        apt-get "${g_opts[@]}" update -qq 2>&1 | sed '/unsandboxed/d' >&2
        g_updated=1
    fi
}
[ -n "$(ls "$g/apt/lists" 2>/dev/null | grep -v -e partial -e auxfiles)" ] || g_update

# download_into DIR SPEC OPTS...: apt-get download, quietly. apt's download sandbox user
# cannot write under a root-owned target/: that warning is noise here.
download_into() {
    local dir=$1 spec=$2
    shift 2
    (cd "$dir" && apt-get "$@" download -qq "$spec" 2>&1 | grep -v 'unsandboxed' >&2 || true)
}

# One guest-architecture (or arch: all) package at VERSION (optional), fetched into $g/debs.
fetch_guest_deb() {
    local pkg=$1 version=${2:-} spec=$1
    [ -z "$version" ] || spec="$pkg=$version"
    if ! ls "$g/debs/${pkg}_"*.deb >/dev/null 2>&1; then
        (cd "$g/debs" && apt-get "${g_opts[@]}" download -qq "$spec" 2>/dev/null) || {
            g_update
            download_into "$g/debs" "$spec" "${g_opts[@]}"
        }
    fi
    ls "$g/debs/${pkg}_"*.deb 2>/dev/null | head -n1 | grep . || {
        echo "kernel rig: cannot fetch $spec for $deb_arch" >&2
        exit 1
    }
}

g_kernel_pkg=$(apt-cache "${g_opts[@]}" depends "linux-image-$deb_arch" 2>/dev/null |
    sed -n "s/^ *Depends: \(linux-image-[0-9][^ ]*-$deb_arch\)\$/\1/p" | head -n1)
[ -n "$g_kernel_pkg" ] || {
    echo "kernel rig: cannot resolve linux-image-$deb_arch to a kernel package" >&2
    exit 1
}
g_kver=${g_kernel_pkg#linux-image-}
# The source version of the kernel package, which the headers, kbuild and source share.
g_version=$(apt-cache "${g_opts[@]}" show "$g_kernel_pkg" | sed -n 's/^Version: //p' | head -n1)

if [ ! -f "$g/kernel/.done-$g_kernel_pkg" ]; then
    deb=$(fetch_guest_deb "$g_kernel_pkg" "$g_version")
    rm -rf "$g/kernel"
    mkdir -p "$g/kernel"
    dpkg-deb -x "$deb" "$g/kernel"
    # trixie's packages install under /usr only (merged /usr): run.sh (and busybox depmod)
    # look for lib/modules.
    [ -e "$g/kernel/lib" ] || ln -s usr/lib "$g/kernel/lib"
    touch "$g/kernel/.done-$g_kernel_pkg"
fi
if [ ! -x "$g/busybox/bin/busybox" ]; then
    deb=$(fetch_guest_deb busybox-static)
    rm -rf "$g/busybox"
    mkdir -p "$g/busybox"
    dpkg-deb -x "$deb" "$g/busybox"
    # trixie's is /usr/bin/busybox (merged /usr).
    [ -e "$g/busybox/bin" ] || ln -s usr/bin "$g/busybox/bin"
fi

# i2c-stub, built out of tree for exactly this kernel (same vermagic and symbol versions):
# Debian builds it for amd64 only.
stub=$g/i2c-stub/i2c-stub.ko
if [ ! -f "$g/i2c-stub/.done-$g_kernel_pkg" ]; then
    # bookworm's cross gcc. The riscv64 kernel was built with trixie's gcc-14, which has no
    # build for bookworm; what the module's code generation depends on is in the kernel's
    # .config and flags, and the vermagic and symbol CRCs come from the headers.
    cc=$gnu-gcc-12
    command -v "$cc" >/dev/null 2>&1 || {
        apt_update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get "${apt_opts[@]}" install -y -qq \
            --no-install-recommends "gcc-12-$gnu" >/dev/null
    }
    major=$(sed 's/^\([0-9]*\.[0-9]*\).*/\1/' <<<"$g_version")
    upstream=${g_version%%-*}
    kbuild_root=$g/kbuild
    rm -rf "$kbuild_root" "$g/i2c-stub"
    mkdir -p "$kbuild_root" "$g/i2c-stub"
    for pkg in "linux-headers-$g_kver" "linux-headers-${g_kver%-"$deb_arch"}-common" \
        "linux-source-$major"; do
        dpkg-deb -x "$(fetch_guest_deb "$pkg" "$g_version")" "$kbuild_root"
    done
    # The build tools (fixdep, modpost) run here: the machine's architecture and C library.
    # For arm64 that is bookworm's linux-kbuild-6.1 of the kernel's very version. trixie's
    # amd64 kbuild needs glibc 2.38 (modpost calls __isoc23_strtoul), so for riscv64 it is
    # bookworm's build of the same upstream release (bookworm-security carries 6.12 as
    # linux-kbuild-6.12.N+deb12).
    if [ "$arch" = aarch64 ]; then
        kbuild_pkg=linux-kbuild-$major
        kbuild_spec=$kbuild_pkg=$g_version
    else
        kbuild_pkg=$(apt-cache "${apt_opts[@]}" pkgnames "linux-kbuild-$upstream" 2>/dev/null |
            grep -E "^linux-kbuild-${upstream//./\\.}\+" | sort | tail -n1)
        [ -n "$kbuild_pkg" ] || {
            apt_update
            kbuild_pkg=$(apt-cache "${apt_opts[@]}" pkgnames "linux-kbuild-$upstream" |
                grep -E "^linux-kbuild-${upstream//./\\.}\+" | sort | tail -n1)
        }
        [ -n "$kbuild_pkg" ] || {
            echo "kernel rig: no linux-kbuild for Linux $upstream in ${codename}'s sources" \
                "(the riscv64 kernel is $g_version)" >&2
            exit 1
        }
        kbuild_spec=$kbuild_pkg
    fi
    if ! ls "$g/debs/${kbuild_pkg}_"*.deb >/dev/null 2>&1; then
        apt_update
        download_into "$g/debs" "$kbuild_spec" "${apt_opts[@]}"
    fi
    dpkg-deb -x "$(ls "$g/debs/${kbuild_pkg}_"*.deb | head -n1)" "$kbuild_root"
    headers=$kbuild_root/usr/src/linux-headers-$g_kver
    # The headers' Makefile includes the common tree by its installed path.
    sed -i "s|^include /usr/src/|include $kbuild_root/usr/src/|" "$headers/Makefile"
    # Their scripts and tools links name the kernel's own kbuild package: point them at the
    # one unpacked here (the same for arm64).
    for dir in "$headers" "$kbuild_root/usr/src/linux-headers-${g_kver%-"$deb_arch"}-common"; do
        for link in scripts tools; do
            ln -sfn "$kbuild_root/usr/lib/${kbuild_pkg}/$link" "$dir/$link"
        done
    done
    # One file of the source tarball.
    tar -xOf "$kbuild_root/usr/src/linux-source-$major.tar.xz" \
        "linux-source-$major/drivers/i2c/i2c-stub.c" >"$g/i2c-stub/i2c-stub.c"
    rm -f "$kbuild_root/usr/src/linux-source-$major.tar.xz"
    echo 'obj-m := i2c-stub.o' >"$g/i2c-stub/Kbuild"
    # No BTF for the module: 6.12's headers ship vmlinux, which makes kbuild run pahole
    # (not installed); a module without BTF loads the same.
    make -s -C "$headers" M="$g/i2c-stub" DEB_BUILD_ARCH="$(dpkg --print-architecture)" \
        DEB_HOST_ARCH="$deb_arch" DEB_HOST_GNU_TYPE="$gnu" CROSS_COMPILE="$gnu-" CC="$cc" \
        CONFIG_DEBUG_INFO_BTF_MODULES= modules 2>&1 | grep -v 'Skipping BTF' >&2 || true
    [ -f "$stub" ] || {
        echo "kernel rig: building i2c-stub for $g_kver failed" >&2
        exit 1
    }
    # The module is all the rig keeps: the headers and the source package go.
    rm -rf "$kbuild_root" "$g/debs/linux-source-"*.deb "$g/debs/linux-headers-"*.deb
    touch "$g/i2c-stub/.done-$g_kernel_pkg"
fi
echo "kernel rig: qemu $("$qemu_bin" --version | head -n1 | awk '{print $4}'), $g_kernel_pkg," \
    "i2c-stub for $g_kver"
