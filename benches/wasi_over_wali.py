"""Tables for benches/wasi-over-wali.sh: per-call medians, startup, sizes, and the trusted host
code of each build; written to a results file and to the README's marked section.

    python3 wasi_over_wali.py <root> <work> <rounds> <out.md> <README.md>"""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from report import replace_section


def code_lines(paths):
    """Lines that are neither blank nor only a comment."""
    n = 0
    for p in paths:
        for line in open(p):
            s = line.strip()
            if s and not s.startswith("//"):
                n += 1
    return n


def rust_files(folder, skip=("tests.rs",)):
    return sorted(p for p in Path(folder).rglob("*.rs") if p.name not in skip)


def text_bytes(exe, match):
    """Machine-code bytes of the functions in `exe` whose demangled names `match` accepts."""
    out = subprocess.run(["nm", "-S", "-C", "--defined-only", exe], capture_output=True,
                         text=True, check=True).stdout
    total = 0
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[2] in "tT" and match(parts[3]):
            total += int(parts[1], 16)
    return total


def main():
    root, work, rounds, out_path, readme_path = sys.argv[1:6]
    root, work = Path(root), Path(work)
    per = {}
    for line in open(work / "calls.txt"):
        way, op, ns = line.split()
        per.setdefault(op, {}).setdefault(way, []).append(float(ns))
    lines = ["| call | native WASI host | --wasi-over-wali | over-WALI / native |",
             "|---|---:|---:|---:|"]
    for op, ways in per.items():
        a, b = statistics.median(ways["native"]), statistics.median(ways["over-wali"])
        label = "path_open + fd_close" if op == "path_open" else op
        lines.append(f"| {label} | {a:,.0f} ns | {b:,.0f} ns | {b / a:.2f}x |")
    lines.append("")
    lines.append(f"Per call, timed inside the guest; medians of {rounds} interleaved rounds. "
                 "fd_write writes 64 bytes to a file; path_open opens `dir/f` beneath the "
                 "preopen; fd_readdir lists 66 entries from cookie 0.")
    lines.append("")

    results = json.load(open(work / "startup.json"))["results"]
    host = next(r["median"] for r in results if r["command"] == "wafer, native WASI host")
    lines += ["| hello, start to exit | median | x native WASI host |", "|---|---:|---:|"]
    for r in results:
        lines.append(f"| {r['command']} | {r['median'] * 1000:.3f} ms | {r['median'] / host:.2f} |")
    lines.append("")

    kib = lambda p: f"{os.path.getsize(p) / 1024:,.0f} KiB"
    wasi_src = rust_files(root / "rt/src/wasi")
    wali_src = rust_files(root / "rt/src/wali") + [root / "rt/src/wasi_over_wali.rs"]
    module_src = rust_files(root / "rt/wasi-wali/src")
    native_wasi = lambda n: "wafer_rt::wasi::" in n or n.startswith("wafer_wasi_")
    wali = lambda n: ("wafer_rt::wali::" in n or n.startswith("wafer_wali_")
                      or n.startswith("wafer_wow_") or "wafer_rt::wasi_over_wali::" in n)
    module = lambda n: n.startswith("wafer_c0_")
    row = lambda what, f: f"| {what} | {f('native')} | {f('over-wali')} |"
    exe = lambda program, way: work / f"{program}-{way}"
    lines += [
        "| | native WASI host | --wasi-over-wali |",
        "|---|---:|---:|",
        row("hello executable", lambda w: kib(exe("hello", w))),
        row("executable importing all 46 preview1 functions", lambda w: kib(exe("all", w))),
        f"| trusted code handling WASI requests: source lines | {code_lines(wasi_src):,} "
        f"(`rt/src/wasi`) | {code_lines(wali_src):,} (`rt/src/wali`, all of it, and the channel) |",
    ]
    for program in ("hello", "all"):
        label = "hello" if program == "hello" else "all 46 functions"
        lines.append(
            f"| the same, machine code in the {label} executable | "
            f"{text_bytes(exe(program, 'native'), native_wasi):,} bytes WASI "
            f"(+ {text_bytes(exe(program, 'native'), wali):,} WALI linked anyway) | "
            f"{text_bytes(exe(program, 'over-wali'), wali):,} bytes WALI "
            f"(+ {text_bytes(exe(program, 'over-wali'), native_wasi):,} native WASI start-up) |")
    lines += [
        f"| WASI as sandboxed wasm: source lines, machine code | - | "
        f"{code_lines(module_src):,} (`rt/wasi-wali`), "
        f"{text_bytes(exe('all', 'over-wali'), module):,} bytes |",
        "",
        "Source lines leave out blank lines, comments and unit tests. Machine code is the size "
        "of the functions each part contributes to the executable (`nm -S`); the WALI layer is "
        "linked whole, its dispatch table naming every syscall's handler.",
    ]
    table = "\n".join(lines) + "\n"
    open(out_path, "w").write(table)
    replace_section(readme_path, "wasi-over-wali", table)


if __name__ == "__main__":
    main()
