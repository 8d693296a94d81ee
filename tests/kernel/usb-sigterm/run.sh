#!/bin/sh
# SIGTERM in the middle of a USB transfer on a real kernel: `run.sh EXECUTABLE` runs the
# paper-storage driver (which detaches usb-storage from the stick when it opens it), waits
# until the driver has the device and is moving data, sends SIGTERM, and reports how the
# driver ended and whether the kernel's usb-storage driver is bound to the stick again.
exe=$1
"$exe" 8 >/sigterm.out 2>/sigterm.err &
pid=$!
tries=0
while ! grep -q 'kernel driver detached' /sigterm.err 2>/dev/null && [ "$tries" -lt 1500 ]; do
    sleep 0.02
    tries=$((tries + 1))
done
echo "RESULT kernel.usb-sigterm.detached $(grep -c 'open: kernel driver detached from interface 0' /sigterm.err)"
# Into its 8 MiB of writes (many bulk transfers; about 0.3 s on x86_64 with KVM).
sleep 0.1
kill -TERM "$pid"
wait "$pid"
echo "RESULT kernel.usb-sigterm.status $?"
grep -c 'exit: attaching the kernel driver of interface 0: Ok(())' /sigterm.err |
    sed 's/^/RESULT kernel.usb-sigterm.reattached /'
tries=0
while ! ls /sys/bus/usb/drivers/usb-storage/ 2>/dev/null | grep -q ':1.0$' && [ "$tries" -lt 100 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
if ls /sys/bus/usb/drivers/usb-storage/ | grep -q ':1.0$'; then bound=yes; else bound=no; fi
echo "RESULT kernel.usb-sigterm.usb-storage-bound $bound"
# The kernel's driver reads the stick again (and has finished probing it, so the next driver
# does not take the interface in the middle of one of its commands).
tries=0
until dd if=/dev/sda of=/dev/null bs=512 count=1 2>/dev/null && [ "$tries" -gt 0 ]; do
    [ "$tries" -lt 200 ] || break
    sleep 0.1
    tries=$((tries + 1))
done
if dd if=/dev/sda of=/dev/null bs=512 count=1 2>/dev/null; then readable=yes; else readable=no; fi
echo "RESULT kernel.usb-sigterm.stick-readable $readable"
grep -e 'signal 15' -e 'exit: ' /sigterm.err
exit 0
