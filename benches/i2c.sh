#!/usr/bin/env bash
# I2C benchmarks, side by side in one run (results in benches/results/i2c.md and the README):
#  1. Cost of one operation through a wafer driver (benches/i2c-guest: wasi:i2c through the
#     SDK's embedded-hal implementation) vs the same operation called natively from Rust on the
#     same backend (benches/native, i2c-native), for a 2-byte register read (write-read) and a
#     32-byte read. Backend: the sim devices, the only bus this machine has.
#  2. Time from exec to the first completed transaction: the same two programs with one
#     iteration, and the guest under wasmtime, which has no wasi:i2c: it is measured up to its
#     first I2C call (which traps), a lower bound of its time to a first transaction.
#
#   bash benches/i2c.sh [iterations] [rounds]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
iterations=${1:-200000}
rounds=${2:-7}
work="$root/target/bench-i2c"
mkdir -p "$work" "$root/benches/results"

bash "$root/scripts/setup.sh"
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null 2>&1 || sudo apt-get install -y -qq hyperfine; }
wasmtime=$(python3 -c "import wasmtime_cli, os; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), 'wasmtime'))")
chmod +x "$wasmtime"

cargo build --quiet --release -p wafer -p wafer-benches --manifest-path "$root/Cargo.toml"
cargo build --quiet --release --target wasm32-wasip1 --manifest-path "$root/benches/i2c-guest/Cargo.toml" \
    --target-dir "$root/target/examples-rust"
wasm="$root/target/examples-rust/wasm32-wasip1/release/i2c-bench.wasm"
"$root/target/release/wafer" build "$wasm" --i2c bench=/dev/i2c-1:0x48,0x50 -o "$work/i2c-bench"
native="$root/target/release/i2c-native"

cat > "$work/sim.conf" <<CONF
bus bench
device lm75 0x48 temperature=21.5
device 24c32 0x50
CONF
export WAFER_I2C_BACKEND=sim WAFER_I2C_SIM="$work/sim.conf"

# 1. Per-operation cost: rounds alternate between the two programs so drift hits both alike.
: > "$work/ops.txt"
for round in $(seq "$rounds"); do
    "$work/i2c-bench" "$iterations" | sed 's/^/wafer /' >> "$work/ops.txt"
    "$native" "$iterations" | sed 's/^/native /' >> "$work/ops.txt"
done

# 2. Exec to first completed transaction.
cd "$work"
RUST_BACKTRACE=0 WASMTIME_BACKTRACE_DETAILS=0 hyperfine -N -i --warmup 10 --runs 200 \
    --export-json "$work/first.json" \
    -n "native Rust (i2c-native)" "$native 1" \
    -n "wafer executable" "./i2c-bench 1" \
    -n "wasmtime run (to its first I2C call)" "$wasmtime run -W unknown-imports-trap=y $wasm 1" >/dev/null

python3 - "$work/ops.txt" "$work/first.json" "$root/benches/results/i2c.md" "$root/README.md" "$iterations" "$rounds" <<'PY'
import json, re, statistics, sys
ops_path, first_path, out_path, readme_path, iterations, rounds = sys.argv[1:7]
samples = {}
for line in open(ops_path):
    who, op, *values = line.split()
    if op == "check":  # the programs print what they read, so the work cannot be skipped
        continue
    samples.setdefault((who, op), []).append(float(values[0]))
rows = ["| operation | native Rust | through wafer | overhead per op | ratio | share of a real 100 kHz / 400 kHz transfer |",
        "|---|---:|---:|---:|---:|---:|"]
# Bit times on the wire: start + address byte, register byte, repeated start + address byte,
# data bytes, stop; 9 bits per byte with its acknowledge.
wire_bits = {"write_read_2": 1 + 9 + 9 + 1 + 9 + 2 * 9 + 1, "read_32": 1 + 9 + 32 * 9 + 1}
names = {"write_read_2": "2-byte register read (write-read)", "read_32": "32-byte read"}
for op in ("write_read_2", "read_32"):
    n = statistics.median(samples[("native", op)])
    w = statistics.median(samples[("wafer", op)])
    extra = w - n
    share = " / ".join(f"{100 * extra * 1e-9 / (wire_bits[op] / hz):.3f} %" for hz in (100e3, 400e3))
    rows.append(f"| {names[op]} | {n:.0f} ns | {w:.0f} ns | {extra:.0f} ns | {w / n:.2f}x | {share} |")
first = json.load(open(first_path))["results"]
rows2 = ["| program | median | x native |", "|---|---:|---:|"]
base = first[0]["median"]
for r in first:
    rows2.append(f"| {r['command']} | {r['median'] * 1000:.3f} ms | {r['median'] / base:.2f} |")
text = ("Per operation (sim backend, medians of " + rounds + " rounds of " + iterations +
        " operations each):\n\n" + "\n".join(rows) +
        "\n\nThe sim backend answers in nanoseconds, so the ratio shows wafer's whole per-call cost "
        "(wasm code, canonical ABI, grant check, handle table, the list handed back through "
        "cabi_realloc); on a real bus the same overhead is the last column's share of the wire "
        "time alone (computed from the bit count, not measured).\n\n"
        "Exec to the first completed transaction (hyperfine, 200 runs):\n\n" + "\n".join(rows2) + "\n")
open(out_path, "w").write(text)
readme = open(readme_path).read()
begin, end = "<!-- bench:i2c:begin -->", "<!-- bench:i2c:end -->"
if begin in readme:
    readme = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + "\n" + text + end, readme, flags=re.S)
    open(readme_path, "w").write(readme)
print(text)
PY
