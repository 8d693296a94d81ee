#!/bin/sh
# /init of the rig's initramfs (tests/kernel/run.sh): loads the kernel modules, runs every
# driver in /drivers/run-list with markers around its output, and powers off. Lines the rig
# reads: `RESULT <key> <value>`, `WAFER-KERNEL end <driver> status=<n>`, `WAFER-KERNEL
# error ...` and `WAFER-KERNEL done`.
export PATH=/bin

# No /dev/console in the archive (making device nodes needs root): open it from devtmpfs.
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
# The firmware leaves terminal escapes on the console's current line.
echo
mount -t proc proc /proc
mount -t sysfs sys /sys

while read -r module params; do
    # shellcheck disable=SC2086 # params are split on purpose
    insmod "/modules/$module" $params || echo "WAFER-KERNEL error insmod $module failed"
done </modules/order

# Modules probe asynchronously; wait for the adapter's character device.
tries=0
while [ ! -e /dev/i2c-0 ] && [ "$tries" -lt 50 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
name=$(cat /sys/class/i2c-dev/i2c-0/name 2>/dev/null)
case "$name" in
"SMBus I801 adapter"*) echo "RESULT kernel.i2c-0 i801" ;;
"SMBus stub driver"*) echo "RESULT kernel.i2c-0 i2c-stub" ;;
*) echo "RESULT kernel.i2c-0 ${name:-missing}" ;;
esac

# The kernel's own view, to tell the sandbox from the bus: an EEPROM (on aarch64 an i2c-stub
# chip) answers at 0x51, which the drivers are not granted; nothing at 0x60.
echo "RESULT kernel.i2cget.0x51 $(i2cget -y 0 0x51 0x00 b 2>/dev/null || echo none)"
echo "RESULT kernel.i2cget.0x60 $(i2cget -y 0 0x60 0x00 b 2>/dev/null || echo none)"

# USB: the xHCI root hubs (USB 2 and 3) and QEMU's keyboard and stick, as usbfs nodes that
# devtmpfs makes under /dev/bus/usb, where libusb opens them (it enumerates through /sys).
tries=0
while [ "$(ls /dev/bus/usb/*/* 2>/dev/null | wc -l)" -lt 4 ] && [ "$tries" -lt 100 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
echo "RESULT kernel.usb.nodes $(ls /dev/bus/usb/*/* 2>/dev/null | wc -l)"

# The stick as the kernel's usb-storage sees it before the sandboxed block driver writes it.
stick() {
    # A driver that just gave the stick back leaves the kernel probing it: retry a while.
    tries=0
    until out=$(dd if=/dev/sda bs=512 skip="$1" count=1 2>/dev/null | od -An -tx1 -N16 | tr -d ' \n') &&
        [ -n "$out" ] || [ "$tries" -ge 50 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    echo "$out"
}
tries=0
while [ ! -e /dev/sda ] && [ "$tries" -lt 100 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
echo "RESULT kernel.usb-stick.before.lba0 $(stick 0)"

# WAFER_TRACE=i2c,usb: the runtime says on stderr why a call was refused.
export WAFER_TRACE=i2c,usb
while read -r driver args; do
    echo "WAFER-KERNEL begin $driver"
    # shellcheck disable=SC2086 # args are split on purpose
    "/drivers/$driver" $args
    echo "WAFER-KERNEL end $driver status=$?"
done </drivers/run-list

# The usb-storage driver gave the interface back: the kernel binds its driver again and must
# read what the sandboxed driver wrote.
tries=0
while [ ! -e /dev/sda ] && [ "$tries" -lt 100 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
echo "RESULT kernel.usb-stick.after.lba0 $(stick 0)"
echo "RESULT kernel.usb-stick.after.lba30720 $(stick 30720)"
# examples/paper-storage's first block; usb-storage's chunks (at LBA 0, 10240, 20480 and
# 30720 on the 16 MiB stick) leave it alone.
echo "RESULT kernel.usb-stick.after.lba8192 $(stick 8192)"

echo "WAFER-KERNEL done"
poweroff -f
