#!/usr/bin/env bash
# USB benchmarks, side by side in one run (results in benches/results/usb.md and, between the
# markers <!-- bench:usb:begin --> / <!-- bench:usb:end --> when present, the README):
#  1. Cost of one operation through a wafer driver (benches/usb-guest: component:usb through
#     the SDK) vs the same operation called natively from Rust on the same backend
#     (benches/native, usb-native): echo round trips (OUT then IN) on bulk and interrupt
#     endpoints with 4, 16 and 32-byte payloads, and 1 MiB WRITE(10) / READ(10) through the
#     usb-storage example's bulk-only/SCSI code, which both programs compile. Backend: the sim
#     devices (no USB device on this machine). Rounds alternate between the two programs.
#  2. Executable size and peak RSS of a Rust driver without USB (examples/hello-rust) and with
#     it (examples/usb-ping).
#
#   bash benches/usb.sh [iterations] [chunks] [rounds]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
iterations=${1:-100000}
chunks=${2:-64}
rounds=${3:-7}
work="$root/target/bench-usb"
mkdir -p "$work" "$root/benches/results"

bash "$root/scripts/setup.sh"
[ -x /usr/bin/time ] || { apt-get install -y -qq time >/dev/null 2>&1 || sudo apt-get install -y -qq time; }

cargo build --quiet --release -p wafer -p wafer-benches --manifest-path "$root/Cargo.toml"
wafer="$root/target/release/wafer"
wasm_dir="$root/target/examples-rust/wasm32-wasip1/release"
for manifest in benches/usb-guest examples/usb-ping examples/hello-rust; do
    cargo build --quiet --release --target wasm32-wasip1 --manifest-path "$root/$manifest/Cargo.toml" \
        --target-dir "$root/target/examples-rust"
done
"$wafer" build "$wasm_dir/usb-bench.wasm" --usb 2341:8057 --usb 0781:5567 -o "$work/usb-bench"
"$wafer" build "$wasm_dir/usb-ping.wasm" --usb 2341:8057 -o "$work/usb-ping"
"$wafer" build "$wasm_dir/hello-rust.wasm" -o "$work/hello-rust"
native="$root/target/release/usb-native"

rm -f "$work/disk.img"
cat > "$work/sim.conf" <<CONF
device echo
device storage file=disk.img blocks=8192
CONF
export WAFER_USB_BACKEND=sim WAFER_USB_SIM="$work/sim.conf"

# 1. Per-operation cost.
: > "$work/ops.txt"
for round in $(seq "$rounds"); do
    "$work/usb-bench" "$iterations" "$chunks" | sed 's/^/wafer /' >> "$work/ops.txt"
    "$native" "$iterations" "$chunks" | sed 's/^/native /' >> "$work/ops.txt"
done

# 2. Size and peak RSS (kilobytes, from getrusage through GNU time), median of 5 runs each.
: > "$work/rss.txt"
for run in 1 2 3 4 5; do
    /usr/bin/time -f "hello-rust %M" "$work/hello-rust" rss >/dev/null 2>>"$work/rss.txt"
    /usr/bin/time -f "usb-ping %M" "$work/usb-ping" 200 >/dev/null 2>>"$work/rss.txt"
done
sizes="hello-rust $(stat -c %s "$work/hello-rust") usb-ping $(stat -c %s "$work/usb-ping")"

python3 - "$work/ops.txt" "$work/rss.txt" "$sizes" "$root/benches/results/usb.md" "$root/README.md" \
    "$iterations" "$chunks" "$rounds" <<'PY'
import re, statistics, sys
ops_path, rss_path, sizes, out_path, readme_path, iterations, chunks, rounds = sys.argv[1:9]
samples = {}
for line in open(ops_path):
    who, op, *values = line.split()
    if op == "check":  # the programs print what they read, so the work cannot be skipped
        continue
    samples.setdefault((who, op), []).append(float(values[0]))

# Computed, not measured: the least a real round trip (one OUT and one IN transfer) can take
# when each transfer waits for its own (micro)frame: 2 x 1 ms at full speed, 2 x 125 us at
# high speed; and a 1 MiB transfer at typical sustained bulk rates (1.0 MB/s full speed,
# 35 MB/s high speed).
real_rt = {"full": 2e-3, "high": 250e-6}
real_mib = {"full": (1 << 20) / 1.0e6, "high": (1 << 20) / 35e6}

def us(ns):
    return f"{ns / 1000:.2f} us" if ns < 1e6 else f"{ns / 1e6:.3f} ms"

rows = ["| operation | native Rust | through wafer | overhead per op | ratio | share of a real full-speed / high-speed operation (computed) |",
        "|---|---:|---:|---:|---:|---:|"]
for kind in ("bulk", "interrupt"):
    for size in (4, 16, 32):
        op = f"{kind}_rt_{size}"
        n = statistics.median(samples[("native", op)])
        w = statistics.median(samples[("wafer", op)])
        extra = w - n
        share = " / ".join(f"{100 * extra * 1e-9 / real_rt[s]:.4f} %" for s in ("full", "high"))
        rows.append(f"| {kind} round trip, {size} bytes | {n:.0f} ns | {w:.0f} ns | {extra:.0f} ns | {w / n:.2f}x | {share} |")
for op, name in (("write_1m", "WRITE(10) 1 MiB"), ("read_1m", "READ(10) 1 MiB")):
    n = statistics.median(samples[("native", op)])
    w = statistics.median(samples[("wafer", op)])
    extra = w - n
    share = " / ".join(f"{100 * extra * 1e-9 / real_mib[s]:.3f} %" for s in ("full", "high"))
    mbs = lambda ns: (1 << 20) / 1e6 / (ns * 1e-9)
    rows.append(f"| {name} | {us(n)} ({mbs(n):.0f} MB/s) | {us(w)} ({mbs(w):.0f} MB/s) | {us(extra)} | {w / n:.2f}x | {share} |")

rss = {}
for line in open(rss_path):
    parts = line.split()
    if len(parts) == 2 and parts[1].isdigit():
        rss.setdefault(parts[0], []).append(int(parts[1]))
size = dict(zip(sizes.split()[::2], map(int, sizes.split()[1::2])))
rows2 = ["| driver | executable | peak RSS |", "|---|---:|---:|"]
for name, what in (("hello-rust", "examples/hello-rust (no USB)"), ("usb-ping", "examples/usb-ping (WASI-USB, 200 round trips x 6)")):
    rows2.append(f"| {what} | {size[name] / 1024:.0f} KiB | {statistics.median(rss[name]) / 1024:.1f} MiB |")
rows2.append(f"| difference | {(size['usb-ping'] - size['hello-rust']) / 1024:+.0f} KiB | "
             f"{(statistics.median(rss['usb-ping']) - statistics.median(rss['hello-rust'])) / 1024:+.1f} MiB |")

text = ("Per operation (sim backend, medians of " + rounds + " alternating rounds; " + iterations +
        " round trips per payload, " + chunks + " chunks of 1 MiB each way per round):\n\n" + "\n".join(rows) +
        "\n\nThe simulated devices answer in nanoseconds, so the ratio shows wafer's whole per-call "
        "cost (wasm code, canonical ABI, grant checks, handle table, copies across the sandbox); "
        "a round trip is six host calls (new-transfer, submit-transfer, await-transfer, twice). "
        "The last column is that overhead as a share of the same operation on real hardware, "
        "computed from assumed figures, not measured: a round trip of two transfers each waiting "
        "for its own frame (2 ms full speed, 250 us high speed) and 1 MiB at 1.0 MB/s (full "
        "speed) or 35 MB/s (high speed). The storage rows run the usb-storage example's own "
        "bulk-only/SCSI code on both sides. The WRITE(10) row is unresolved: the native side is "
        "reproducibly about 10 % slower than the guest, which no difference in the work explains "
        "yet (both copy the chunk once into the request); read it as 'no measurable cost', not "
        "as a speed-up.\n\n"
        "Size and peak RSS (x86_64, median of 5 runs):\n\n" + "\n".join(rows2) + "\n")
open(out_path, "w").write(text)
readme = open(readme_path).read()
begin, end = "<!-- bench:usb:begin -->", "<!-- bench:usb:end -->"
if begin in readme and end in readme:
    readme = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + "\n" + text + end, readme, flags=re.S)
    open(readme_path, "w").write(readme)
else:
    print(f"README.md has no {begin} / {end} markers: results only in {out_path}", file=sys.stderr)
print(text)
PY
