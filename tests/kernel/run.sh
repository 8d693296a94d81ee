#!/usr/bin/env bash
# Drivers on a real Linux kernel: boots a Debian kernel in a QEMU q35 system guest (TCG, no
# KVM needed) with an I2C echo device on the board's SMBus, runs wafer-built drivers on the
# guest's /dev/i2c-0 from a small initramfs, and compares what they saw with
# tests/kernel/expect/*.txt. Exits non-zero on any mismatch, missing result, failed driver
# or a guest that never finished.
#
#   bash tests/kernel/run.sh                       # install (once), build, boot, check
#   bash tests/kernel/run.sh --check CONSOLE_LOG   # only compare an earlier boot's console
#   bash tests/kernel/run.sh --arch aarch64 [--check CONSOLE_LOG]
#   bash tests/kernel/run.sh --arch riscv64 [--check CONSOLE_LOG]
#
# --arch aarch64 boots Debian's arm64 kernel in qemu-system-aarch64 -M virt (cortex-a72,
# TCG) with the same xHCI keyboard and stick, and drivers built with --target aarch64. virt
# has no I2C bus, so the I2C drivers run on i2c-stub's register chips (built by install.sh);
# its results are checked against tests/kernel/expect/aarch64/ and its files live in
# $WORK/aarch64.
#
# --arch riscv64 does the same with Debian 13's riscv64 kernel (6.12) in qemu-system-riscv64
# -M virt -bios default (OpenSBI, TCG), drivers built with --target riscv64 and i2c-stub
# again; expectations in tests/kernel/expect/riscv64/, files in $WORK/riscv64. It differs
# from aarch64 in the xHCI's PCI slot (in the USB serial numbers) and the Landlock ABI.
#
# Environment:
#   WAFER                      the wafer executable (default: target/release/wafer, built here)
#   WORK                       work directory (default: target/kernel)
#   WAFER_KERNEL_EXPECT_WRONG=1  flip one expectation on purpose: the run must then fail
#   WAFER_KERNEL_ACCEL         QEMU accelerator (default tcg; kvm where /dev/kvm is usable)
#   WAFER_KERNEL_TIMEOUT       seconds before the guest is killed (default 300)
#
# Adding a driver: build it in build_drivers with wafer_build and add_driver, and write its
# results into tests/kernel/expect/<name>.txt and tests/kernel/expect/{aarch64,riscv64}/
# <name>.txt. All three QEMU commands have an xHCI controller with a USB keyboard and a USB
# storage stick, and the initramfs loads their kernel modules.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export WORK=${WORK:-$root/target/kernel}

arch=x86_64
check_log=""
while [ $# -gt 0 ]; do
    case "$1" in
    --arch) arch=${2:-} && shift 2 ;;
    --check) check_log=${2:-} && check_only=1 && shift 2 ;;
    *) echo "kernel rig: unknown argument '$1'" >&2 && exit 2 ;;
    esac
done
case "$arch" in
x86_64)
    work=$WORK
    expect_dir=$here/expect
    ;;
aarch64 | riscv64)
    work=$WORK/$arch
    expect_dir=$here/expect/$arch
    ;;
*) echo "kernel rig: unknown --arch '$arch' (x86_64, aarch64 or riscv64)" >&2 && exit 2 ;;
esac
console=$work/console.log

say() { echo "kernel rig: $*" >&2; }
die() {
    say "FAIL: $*"
    exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- expectations --------------------------------------------------------------------------

# Compares the RESULT lines of a console log with every tests/kernel/expect/*.txt file:
# each expected key must be reported with exactly that value, and nothing unexpected may be
# reported. Also checks every driver exited 0 and the guest reached its end.
check() {
    local log=$1
    local expected actual
    expected=$(mktemp)
    actual=$(mktemp)
    # shellcheck disable=SC2064
    trap "rm -f '$expected' '$actual'" RETURN
    cat "$expect_dir"/*.txt | sed -e 's/[[:space:]]*#.*$//' -e '/^[[:space:]]*$/d' |
        sort >"$expected"
    if [ "${WAFER_KERNEL_EXPECT_WRONG:-0}" = 1 ]; then
        # The first expectation gets a value no driver prints.
        sed -i '1s/^\([^ ]*\) .*/\1 deliberately-wrong-expectation/' "$expected"
        say "WAFER_KERNEL_EXPECT_WRONG=1: expecting '$(head -n1 "$expected")'"
    fi
    tr -d '\r' <"$log" | sed -n 's/^.*RESULT //p' | sort >"$actual"

    echo "--- what the drivers saw ---"
    cat "$actual"
    echo "----------------------------"

    local bad=0
    if ! grep -q 'WAFER-KERNEL done' <(tr -d '\r' <"$log"); then
        say "the guest never reached its end (see $log)"
        bad=1
    fi
    while read -r line; do
        say "driver failed: $line"
        bad=1
    done < <(tr -d '\r' <"$log" | grep -o 'WAFER-KERNEL end .*' | grep -v ' status=0$' || true)
    while read -r line; do
        say "$line"
        bad=1
    done < <(tr -d '\r' <"$log" | grep -o 'WAFER-KERNEL error .*' || true)
    # Lines only one side has: a wrong value shows up as one of each.
    while read -r line; do
        say "expected, not seen: $line"
        bad=1
    done < <(comm -23 "$expected" "$actual")
    while read -r line; do
        say "seen, not expected: $line"
        bad=1
    done < <(comm -13 "$expected" "$actual")
    if [ "$bad" -ne 0 ]; then
        say "FAIL: the drivers did not see what ${expect_dir#"$root"/} says (console: $log)"
        return 1
    fi
    say "ok: $(wc -l <"$expected") results as expected"
}

if [ "${check_only:-0}" = 1 ]; then
    [ -f "$check_log" ] || die "--check needs a console log"
    check "$check_log"
    exit
fi

# --- install ---------------------------------------------------------------------------------

t_total=$(now)
t=$(now)
say "installing what the $arch guest needs (install.sh --arch $arch)"
bash "$here/install.sh" --arch "$arch"
t_install=$(elapsed "$t")

kver=$(ls "$work/kernel/lib/modules")
moddir=$work/kernel/lib/modules/$kver
busybox=$work/busybox/bin/busybox
# busybox for this machine (depmod, cpio): the x86_64 guest's.
host_busybox=$WORK/busybox/bin/busybox
# Debian's riscv64 image is an uncompressed Image (EFI stub): vmlinux-<kver>.
vmlinuz=$work/kernel/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || vmlinuz=$work/kernel/boot/vmlinux-$kver
[ -f "$vmlinuz" ] || die "no kernel image in $work/kernel/boot"

# --- drivers ---------------------------------------------------------------------------------

t=$(now)
wafer=${WAFER:-}
if [ -z "$wafer" ]; then
    say "building wafer (cargo build --release -p wafer)"
    (cd "$root" && cargo build --quiet --release -p wafer)
    wafer=$root/target/release/wafer
fi

initrd_dir=$work/initramfs
rm -rf "$initrd_dir"
mkdir -p "$initrd_dir"/{bin,dev,proc,sys,drivers,modules}
run_list=$initrd_dir/drivers/run-list
: >"$run_list"

# add_driver NAME EXECUTABLE [ARGS...]: copy a built driver into the initramfs, to run in
# the order added.
add_driver() {
    local name=$1 exe=$2
    shift 2
    cp "$exe" "$initrd_dir/drivers/$name"
    echo "$name $*" >>"$run_list"
}

# A Rust guest crate under tests/kernel, built for wasm32-wasip1; prints the .wasm path.
build_guest() {
    local crate=$1 name=$2 t0
    t0=$(now)
    cargo build --quiet --release --target wasm32-wasip1 \
        --manifest-path "$here/$crate/Cargo.toml" --target-dir "$WORK/cargo" >&2 ||
        die "building $crate failed (scripts/setup.sh adds the wasm32-wasip1 target)"
    say "  built $name.wasm ($(elapsed "$t0") s)"
    echo "$WORK/cargo/wasm32-wasip1/release/$name.wasm"
}

# wafer_build INPUT -o OUTPUT ARGS...: wafer build for the guest's architecture.
wafer_build() {
    local t0
    t0=$(now)
    "$wafer" build --target "$arch" "$@" || die "wafer build --target $arch $* failed"
    say "  built $(basename "$3") from $(basename "$1") ($(elapsed "$t0") s)"
}

build_drivers() {
    local wasm
    wasm=$(build_guest i2c-driver kernel-i2c)
    # The q35 SMBus (on aarch64 and riscv64 i2c-stub, with chips at the same addresses) is
    # the guest's first and only I2C adapter. 0x51 stays out of the grant although a device
    # answers there; nothing answers at 0x60.
    wafer_build "$wasm" -o "$work/kernel-i2c" \
        --i2c smbus=/dev/i2c-0:0x42,0x50,0x52,0x53,0x54,0x55,0x56,0x57,0x60
    add_driver i2c "$work/kernel-i2c" full
    # The same module, granted only 0x50: the echo device must stay out of reach.
    wafer_build "$wasm" -o "$work/kernel-i2c-restricted" --i2c smbus=/dev/i2c-0:0x50
    add_driver i2c-restricted "$work/kernel-i2c-restricted" restricted

    # USB through the Linux backend (libusb, usbfs). QEMU's usb-kbd is 0627:0001, its
    # usb-storage 46f4:0001; each build is granted one, and must see only that one.
    wasm=$(build_guest usb-driver kernel-usb)
    wafer_build "$wasm" -o "$work/kernel-usb-kbd" --usb 0627:0001
    add_driver usb-kbd "$work/kernel-usb-kbd" kbd
    wafer_build "$wasm" -o "$work/kernel-usb-storage" --usb 46f4:0001
    add_driver usb-storage-list "$work/kernel-usb-storage" storage
    # The examples, unchanged: lsusb (its listing lands in the console log) and the
    # bulk-only/SCSI block drivers, which detach the kernel's usb-storage, write, read back
    # and verify, and exit non-zero on any difference: paper-storage (the 2024 prototype's
    # API, wadu436:usb@0.0.1) first, 4 MiB from LBA 8192, attaching the kernel's driver again
    # when it closes the device; then usb-storage over the first and last chunk and between.
    local example t0
    for example in lsusb usb-storage paper-storage; do
        t0=$(now)
        cargo build --quiet --release --target wasm32-wasip1 \
            --manifest-path "$root/examples/$example/Cargo.toml" --target-dir "$WORK/cargo" >&2 ||
            die "building examples/$example failed"
        say "  built $example.wasm ($(elapsed "$t0") s)"
    done
    wafer_build "$WORK/cargo/wasm32-wasip1/release/lsusb.wasm" -o "$work/lsusb-kbd" --usb 0627:0001
    add_driver lsusb-kbd "$work/lsusb-kbd"
    wafer_build "$WORK/cargo/wasm32-wasip1/release/paper-storage.wasm" -o "$work/paper-storage" \
        --usb 46f4:0001
    add_driver paper-storage "$work/paper-storage" 4
    # SIGTERM while paper-storage writes: the transfer is cancelled, usb-storage attached
    # again (usb-sigterm/run.sh), and the later checks of the stick see the kernel's driver.
    cp "$work/paper-storage" "$initrd_dir/drivers/paper-storage-term"
    add_driver usb-sigterm "$here/usb-sigterm/run.sh" /drivers/paper-storage-term
    wafer_build "$WORK/cargo/wasm32-wasip1/release/usb-storage.wasm" -o "$work/usb-storage" \
        --usb 46f4:0001
    add_driver usb-storage "$work/usb-storage"

    # WALI's kernel sandbox on this kernel: the same program granted /modules read-only, and
    # unrestricted. wali-sandbox/run.sh runs each and reports what the runtime entered.
    wafer_build "$here/wali-sandbox/sandbox.wat" -o "$work/wali-sandboxed" --ro-dir /modules
    wafer_build "$here/wali-sandbox/sandbox.wat" -o "$work/wali-unrestricted" --wali-unrestricted
    cp "$work/wali-sandboxed" "$work/wali-unrestricted" "$initrd_dir/drivers/"
    add_driver wali-run "$here/wali-sandbox/run.sh" wali.sandboxed /drivers/wali-sandboxed
    add_driver wali-run "$here/wali-sandbox/run.sh" wali.unrestricted /drivers/wali-unrestricted
}
say "building the guest wasm and the drivers (wafer build --target $arch)"
build_drivers
t_build=$(elapsed "$t")

# --- initramfs -------------------------------------------------------------------------------

t=$(now)
say "making the initramfs (busybox, kernel modules, drivers)"
cp "$busybox" "$initrd_dir/bin/busybox"
for applet in sh mount insmod cat sleep poweroff echo ls i2cget dmesg grep wc dd od tr sed; do
    ln -sf busybox "$initrd_dir/bin/$applet"
done

# Kernel modules and their dependencies (modules.dep, made by busybox depmod since the
# package ships none), dependencies first, each once.
if [ ! -f "$moddir/modules.dep" ]; then
    say "  first use of $kver: making its modules.dep (busybox depmod)"
    "$host_busybox" depmod -b "$work/kernel" "$kver"
fi
# Module parameters, by module name (e.g. [i2c-i801]="disable_features=..").
declare -A module_params=()
if [ "$arch" != x86_64 ]; then
    wanted=(i2c-dev xhci-pci usb-storage sd_mod usbhid hid-generic)
    # Register chips where the x86_64 guest has its devices, 0x51 included.
    module_params[i2c-stub]="chip_addr=0x42,0x50,0x51,0x52,0x53,0x54,0x55,0x56,0x57"
else
    wanted=(i2c-dev i2c-i801 xhci-pci usb-storage sd_mod usbhid hid-generic)
fi
declare -A loaded=()
order=()
module_path() {
    # modules.dep names files with '-' or '_' as the kernel build left them.
    local name=$1 alt
    alt=$(tr '_-' '-_' <<<"$name")
    grep -m1 -E "(^|/)($name|$alt)\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" | cut -d: -f1
}
add_module() {
    local rel=$1 deps dep
    [ -n "${loaded[$rel]:-}" ] && return
    loaded[$rel]=1
    deps=$(grep -m1 "^$rel:" "$moddir/modules.dep" | cut -d: -f2)
    for dep in $deps; do add_module "$dep"; done
    order+=("$rel")
}
for m in "${wanted[@]}"; do
    rel=$(module_path "$m")
    [ -n "$rel" ] || die "kernel $kver has no module $m (is it built in? see its config)"
    add_module "$rel"
done
: >"$initrd_dir/modules/order"
for rel in "${order[@]}"; do
    base=$(basename "$rel")
    # busybox insmod loads plain ELF modules only.
    case "$base" in
    *.ko.xz) xz -dc "$moddir/$rel" >"$initrd_dir/modules/${base%.xz}" ;;
    *.ko.zst) zstd -qdc "$moddir/$rel" >"$initrd_dir/modules/${base%.zst}" ;;
    *.ko.gz) gzip -dc "$moddir/$rel" >"$initrd_dir/modules/${base%.gz}" ;;
    *) cp "$moddir/$rel" "$initrd_dir/modules/$base" ;;
    esac
    echo "${base%.ko*}.ko ${module_params[${base%.ko*}]:-}" >>"$initrd_dir/modules/order"
done

# i2c-stub (built by install.sh, outside the kernel package) last: it needs only i2c-core.
if [ "$arch" != x86_64 ]; then
    cp "$work/i2c-stub/i2c-stub.ko" "$initrd_dir/modules/"
    echo "i2c-stub.ko ${module_params[i2c-stub]}" >>"$initrd_dir/modules/order"
fi

cp "$here/init.sh" "$initrd_dir/init"
chmod +x "$initrd_dir/init"
(cd "$initrd_dir" && find . | "$host_busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initramfs.cpio.gz"

# A blank stick for the USB storage device, new for every boot so that what the kernel reads
# back can only come from this run's driver.
rm -f "$work/usb-stick.img"
truncate -s 16M "$work/usb-stick.img"
t_initrd=$(elapsed "$t")

# --- boot ------------------------------------------------------------------------------------

t=$(now)
accel=${WAFER_KERNEL_ACCEL:-tcg}
say "booting $kver on $arch ($accel), console in $console"
status=0
if [ "$arch" = aarch64 ]; then
    # virt's PCI host carries the xHCI controller; its PL011 is the console.
    qemu=(qemu-system-aarch64 -accel "$accel" -M virt -cpu cortex-a72 -m 512 -smp 1
        -nographic -no-reboot -kernel "$vmlinuz" -initrd "$work/initramfs.cpio.gz"
        -append "console=ttyAMA0 panic=-1 quiet loglevel=4")
elif [ "$arch" = riscv64 ]; then
    # OpenSBI (-bios default: QEMU's link to Debian's opensbi generic fw_dynamic.bin) starts
    # the kernel in S-mode; virt's PCIe host carries the xHCI controller, its 16550 UART is
    # the console.
    qemu=(qemu-system-riscv64 -accel "$accel" -M virt -bios default -m 512 -smp 1
        -nographic -no-reboot -kernel "$vmlinuz" -initrd "$work/initramfs.cpio.gz"
        -append "console=ttyS0 panic=-1 quiet loglevel=4")
else
    qemu=(qemu-system-x86_64 -accel "$accel" -M q35 -m 512 -smp 1 -nographic -no-reboot
        -kernel "$vmlinuz" -initrd "$work/initramfs.cpio.gz"
        -append "console=ttyS0 panic=-1 quiet loglevel=4"
        -device i2c-echo,address=0x42)
fi
timeout --foreground -k 5 "${WAFER_KERNEL_TIMEOUT:-300}" \
    "${qemu[@]}" \
    -device qemu-xhci,id=xhci \
    -device usb-kbd,bus=xhci.0 \
    -drive if=none,id=stick,format=raw,file="$work/usb-stick.img" \
    -device usb-storage,bus=xhci.0,drive=stick \
    </dev/null >"$console" 2>&1 || status=$?
t_boot=$(elapsed "$t")
[ "$status" -eq 124 ] && say "the guest did not power off within ${WAFER_KERNEL_TIMEOUT:-300} s"
[ "$status" -eq 0 ] || say "qemu exited with status $status"

result=0
check "$console" || result=1
say "timings: install ${t_install}s, build ${t_build}s, initramfs ${t_initrd}s, boot ${t_boot}s, total $(elapsed "$t_total")s"
exit $result
