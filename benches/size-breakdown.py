#!/usr/bin/env python3
"""Where an executable's bytes go: `nm --size-sort -S -C` summed by origin (wasm code, the
runtime's modules, std's backtrace machinery, libunwind, the C library, ...), largest first.

    python3 benches/size-breakdown.py EXE [NM]

NM defaults to `nm` (binutils' nm reads every target's ELF). Symbols only: section padding,
.eh_frame and the symbol table itself are not counted.
"""
import collections
import re
import subprocess
import sys
exe = sys.argv[1]
nm = sys.argv[2] if len(sys.argv) > 2 else "nm"
out = subprocess.run([nm, "--size-sort", "-S", "-C", exe], capture_output=True, text=True).stdout
cats = collections.Counter()
rules = [
 ("backtrace (gimli/addr2line/miniz/demangle)", r"gimli|addr2line|miniz_oxide|rustc_demangle|backtrace|symbolize|object::read"),
 ("libunwind", r"libunwind|_Unwind|unw_"),
 ("wasm code (wafer_f*)", r"^wafer_f\d+$|^m\d+_|^wafer_entry"),
 ("wafer_rt component/invoke/wave", r"wafer_rt::(component|invoke|canon)"),
 ("wafer_rt wali", r"wafer_rt::wali"),
 ("wafer_rt spec", r"wafer_rt::spec"),
 ("wafer_rt wasi_p2", r"wafer_rt::wasi_p2"),
 ("wafer_rt other", r"wafer_rt"),
 ("wafer_devices (incl. usb)", r"wafer_devices|rusb"),
 ("libusb (C)", r"^libusb|^usbi_|^linux_|^op_|^usbfs|^netlink"),
 ("wafer_abi", r"wafer_abi"),
 ("core fmt/num", r"core::fmt|core::num|dec2flt|flt2dec|fmt::"),
 ("std", r"^std::|<std::|std::"),
 ("core other", r"core::|<core"),
 ("alloc", r"alloc::"),
]
for line in out.splitlines():
    parts = line.split(None, 3)
    if len(parts) < 4: continue
    size = int(parts[1], 16); name = parts[3]
    for cat, pat in rules:
        if re.search(pat, name):
            cats[cat] += size; break
    else:
        cats["C library and other C" if re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", name) else "other"] += size
tot = sum(cats.values())
for k, v in cats.most_common():
    print(f"{v/1024:8.1f} KiB  {k}")
print(f"{tot/1024:8.1f} KiB  total in symbols")
