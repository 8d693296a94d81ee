#!/usr/bin/env bash
# Threads benchmark, side by side in one run (results in benches/results/threads.md):
#  1. Two programs from tests/guests/threads-rust at 1, 2 and 4 threads, as wafer executables
#     (built for wasm32-wasip1-threads) and as the same Rust compiled natively (static, like
#     wafer's executables): parallel-sum, CPU-bound work on a shared read-only array small
#     enough for the cache, and mutex-counter, one lock contended by every thread (futex waits:
#     memory.atomic.wait32 and notify under wafer). The total work is the same at every thread
#     count. Medians of hyperfine runs, the speed-up over one thread, and wafer over native.
#  2. Single-threaded startup: examples/hello as a wafer executable and as static native C,
#     measured as benches/startup.sh does (which also compares wasmtime).
#
#   bash benches/threads.sh [runs] [sum elements] [sum rounds] [lock increments in total]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
elements=${2:-200000}
rounds=${3:-2000}
increments=${4:-4000000}
work="$root/target/bench-threads"
mkdir -p "$work" "$root/benches/results"

bash "$root/scripts/setup.sh"
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null 2>&1 || sudo apt-get install -y -qq hyperfine; }

# The guests, for wasm and natively, in the target directory cli/tests/threads.rs uses.
host=$(rustc -vV | sed -n 's/^host: //p')
guests="$root/target/guests-threads-rust"
manifest="$root/tests/guests/threads-rust/Cargo.toml"
cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"
cargo build --quiet --release --bins --target wasm32-wasip1-threads --manifest-path "$manifest" \
    --target-dir "$guests"
env "CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$host")_RUSTFLAGS=-C target-feature=+crt-static" \
    cargo build --quiet --release --bins --target "$host" --manifest-path "$manifest" \
    --target-dir "$guests"
for program in parallel-sum mutex-counter; do
    "$root/target/release/wafer" build "$guests/wasm32-wasip1-threads/release/$program.wasm" \
        -o "$work/$program-wafer"
    cp "$guests/$host/release/$program" "$work/$program-native"
done

# 1. One hyperfine run over every command, so drift hits all alike. Each pair must print the
#    same before its times mean anything.
commands=()
for threads in 1 2 4; do
    for program in parallel-sum mutex-counter; do
        if [ "$program" = parallel-sum ]; then
            args="$threads $elements $rounds"
        else
            args="$((increments / threads)) $threads"
        fi
        expected=$("$work/$program-native" $args)
        got=$("$work/$program-wafer" $args)
        [ "$got" = "$expected" ] || { echo "$program $args: wafer printed $got, native $expected" >&2; exit 1; }
        for side in native wafer; do
            commands+=(-n "$program $threads $side" "$work/$program-$side $args")
        done
    done
done
hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/threads.json" "${commands[@]}" >/dev/null

# 2. Startup, as in benches/startup.sh.
src="$root/examples/hello/hello.c"
clang --target=wasm32-wasi -O2 "$src" -o "$work/hello.wasm"
gcc -O2 -static "$src" -o "$work/hello-native-static"
"$root/target/release/wafer" build "$work/hello.wasm" -o "$work/hello-wafer"
[ "$("$work/hello-wafer" bench)" = "$("$work/hello-native-static" bench)" ] \
    || { echo "hello: wafer and native differ" >&2; exit 1; }
hyperfine -N --warmup 20 --runs 300 --export-json "$work/startup.json" \
    -n "native C, static" "$work/hello-native-static bench" \
    -n "wafer" "$work/hello-wafer bench" >/dev/null

python3 - "$work/threads.json" "$work/startup.json" "$root/benches/results/threads.md" \
    "$root/README.md" "$runs" "$elements" "$rounds" "$increments" <<'PY'
import json, re, os, sys
threads_path, startup_path, out_path, readme_path, runs, elements, rounds, increments = sys.argv[1:9]
median = {}
for r in json.load(open(threads_path))["results"]:
    program, threads, side = r["command"].split()
    median[(program, int(threads), side)] = r["median"]
what = {
    "parallel-sum": f"parallel-sum ({int(elements):,} elements x {rounds} rounds)",
    "mutex-counter": f"mutex-counter ({int(increments):,} increments in all)",
}
rows = ["| program | threads | native | wafer | wafer / native | native speed-up | wafer speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|"]
for program in ("parallel-sum", "mutex-counter"):
    for threads in (1, 2, 4):
        n, w = median[(program, threads, "native")], median[(program, threads, "wafer")]
        n1, w1 = median[(program, 1, "native")], median[(program, 1, "wafer")]
        rows.append(f"| {what[program]} | {threads} | {n * 1000:.1f} ms | {w * 1000:.1f} ms | "
                    f"{w / n:.2f}x | {n1 / n:.2f}x | {w1 / w:.2f}x |")
startup = {r["command"]: r["median"] for r in json.load(open(startup_path))["results"]}
base = startup["native C, static"]
rows2 = ["| program | median | x native C, static |", "|---|---:|---:|"]
for name, t in startup.items():
    rows2.append(f"| {name} | {t * 1000:.3f} ms | {t / base:.2f} |")
text = ("Threads (tests/guests/threads-rust; medians of " + runs + " hyperfine runs each, "
        f"{os.cpu_count()} cores; speed-up is over the same side with 1 thread):\n\n" +
        "\n".join(rows) +
        "\n\nSingle-threaded startup of examples/hello (hyperfine, 300 runs):\n\n" +
        "\n".join(rows2) + "\n")
open(out_path, "w").write(text)
readme = open(readme_path).read()
begin, end = "<!-- bench:threads:begin -->", "<!-- bench:threads:end -->"
if begin in readme:
    readme = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + "\n" + text + end, readme, flags=re.S)
    open(readme_path, "w").write(readme)
print(text)
PY
