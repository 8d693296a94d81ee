#!/usr/bin/env bash
# Soak runs for long-lived drivers on the simulated devices (results in benches/results/soak.md
# and the README): the I2C logger's register read 10 million times, the USB echo round trip
# 1 million times, a file opened, read and closed 1 million times. Each guest (benches/soak-guest)
# pauses after a warm-up tenth and at the end; the harness reads the process's resident set
# (VmRSS), its peak (VmHWM) and its open descriptors (/proc/PID/fd) at both points. No leak:
# equal figures at start and end.
#
#   bash benches/soak.sh [scale]      # scale divides the counts (e.g. 100 for a quick check)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scale=${1:-1}
work="$root/target/bench-soak"
rm -rf "$work" && mkdir -p "$work/files" "$root/benches/results"

bash "$root/scripts/setup.sh"
cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"
cargo build --quiet --release --target wasm32-wasip1 --manifest-path "$root/benches/soak-guest/Cargo.toml" \
    --target-dir "$root/target/examples-rust"
wafer="$root/target/release/wafer"
wasm="$root/target/examples-rust/wasm32-wasip1/release/soak.wasm"
"$wafer" build "$wasm" --i2c soak=/dev/i2c-1:0x48 --usb 2341:8057 --dir "$work/files::/work" -o "$work/soak"

cat > "$work/i2c.conf" <<CONF
bus soak
device lm75 0x48 temperature=21.5
CONF
echo "device echo serial=S1" > "$work/usb.conf"
export WAFER_I2C_BACKEND=sim WAFER_I2C_SIM="$work/i2c.conf" WAFER_USB_BACKEND=sim WAFER_USB_SIM="$work/usb.conf"

python3 - "$work/soak" "$scale" "$root/benches/results/soak.md" "$root/README.md" <<'PY'
import os, re, subprocess, sys, time
exe, scale, out_path, readme_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
runs = [("i2c", 10_000_000, "I2C register read (write-read, LM75)"),
        ("usb", 1_000_000, "USB echo bulk round trip (16 bytes)"),
        ("files", 1_000_000, "file open + read + close (WASI)")]

def sample(pid):
    status = open(f"/proc/{pid}/status").read()
    kib = lambda k: int(re.search(rf"^{k}:\s+(\d+) kB", status, re.M).group(1))
    return kib("VmRSS"), kib("VmHWM"), len(os.listdir(f"/proc/{pid}/fd"))

rows = []
for mode, count, what in runs:
    n = max(count // scale, 10)
    start = time.monotonic()
    p = subprocess.Popen([exe, mode, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    marks = {}
    for line in p.stdout:
        if line.startswith("mark "):
            marks[line.split()[1]] = sample(p.pid)
            p.stdin.write("\n"); p.stdin.flush()
    p.stdin.close()
    status = p.wait()
    seconds = time.monotonic() - start
    if status != 0 or set(marks) != {"ready", "start", "end"}:
        sys.exit(f"soak {mode}: exited {status} with marks {sorted(marks)}")
    (r0, h0, f0), (r1, h1, f1) = marks["start"], marks["end"]
    leak = r1 != r0 or h1 != h0 or f1 != f0
    rows.append(f"| {what} | {n:,} | {seconds:.1f} s | {r0:,} / {r1:,} | {h0:,} / {h1:,} | {f0} / {f1} | {'GROWTH' if leak else 'none'} |")
    print(rows[-1], flush=True)

table = "\n".join([
    "| soak (sim backends) | operations | wall time | RSS KiB start / end | peak RSS KiB start / end | open fds start / end | growth |",
    "|---|---:|---:|---:|---:|---:|---|", *rows])
open(out_path, "w").write("# Soak runs (bash benches/soak.sh)\n\n" + table + "\n")
if scale == 1:
    readme = open(readme_path).read()
    begin, end = "<!-- soak:begin -->", "<!-- soak:end -->"
    if begin in readme:
        head, rest = readme.split(begin, 1)
        readme = head + begin + "\n" + table + "\n" + end + rest.split(end, 1)[1]
        open(readme_path, "w").write(readme)
if any("GROWTH" in r for r in rows):
    sys.exit("soak: resident memory or descriptors grew")
PY
