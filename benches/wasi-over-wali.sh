#!/usr/bin/env bash
# WASI preview1 two ways: the runtime's native WASI host, and `--wasi-over-wali` (wafer's WASI
# module, wasm over WALI), side by side in one run on this machine:
#   - per-call cost of fd_write, path_open + fd_close, fd_readdir and clock_time_get, timed
#     inside the guest (benches/wasi-over-wali/calls.c), medians of interleaved rounds;
#   - startup of the hello example (hyperfine), with native static C as the reference;
#   - executable sizes, and the trusted host code each way: source lines and machine-code
#     bytes of the runtime code that handles the guest's requests.
# Writes benches/results/wasi-over-wali.md and the README table.
#
#   bash benches/wasi-over-wali.sh [rounds]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
work="$root/target/bench-wasi-over-wali"
rm -rf "$work"
mkdir -p "$work/data/dir" "$root/benches/results"

bash "$root/scripts/setup.sh"
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null 2>&1 || sudo apt-get install -y -qq hyperfine; }
cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"
wafer="$root/target/release/wafer"

for i in $(seq 1 64); do echo "entry $i" > "$work/data/dir/e$i"; done
echo "the file" > "$work/data/dir/f"

clang --target=wasm32-wasi -O2 -Wall -Werror "$root/benches/wasi-over-wali/calls.c" -o "$work/calls.wasm"
clang --target=wasm32-wasi -O2 "$root/examples/hello/hello.c" -o "$work/hello.wasm"
gcc -O2 -static "$root/examples/hello/hello.c" -o "$work/hello-native-static"
# A command importing every preview1 function (from the runtime's table), so that each build
# links all of its WASI code.
python3 - "$root/rt/abi/src/lib.rs" > "$work/all.wat" <<'PY'
import re, sys
rows = re.findall(r'WASI_P1, "(\w+)"\(([A-Z0-9, ]*)\) -> \(([A-Z0-9, ]*)\)', open(sys.argv[1]).read())
sig = lambda kind, types: f"({kind} {' '.join(t.strip().lower() for t in types.split(','))})" if types else ""
print("(module")
for name, params, results in rows:
    print(f'  (import "wasi_snapshot_preview1" "{name}" (func {sig("param", params)} {sig("result", results)}))')
print('  (memory (export "memory") 1) (func (export "_start")))')
PY
for way in native over-wali; do
    flag=(); [ "$way" = over-wali ] && flag=(--wasi-over-wali)
    "$wafer" build "${flag[@]}" --dir "$work/data::/data" "$work/calls.wasm" -o "$work/calls-$way"
    "$wafer" build "${flag[@]}" "$work/hello.wasm" -o "$work/hello-$way"
    "$wafer" build "${flag[@]}" "$work/all.wat" -o "$work/all-$way"
done

# Both ways must print what the native program prints before their times mean anything.
expected=$("$work/hello-native-static" bench)
for way in native over-wali; do
    got=$("$work/hello-$way" bench)
    [ "$got" = "$expected" ] || { echo "hello-$way printed: $got" >&2; exit 1; }
done

# Per-call rounds, the two builds interleaved: op count name ns
ops=("fd_write 200000" "path_open 50000" "fd_readdir 5000" "clock_time_get 500000")
: > "$work/calls.txt"
for round in $(seq 1 "$rounds"); do
    for entry in "${ops[@]}"; do
        read -r op n <<<"$entry"
        for way in native over-wali; do
            echo "$way $("$work/calls-$way" "$op" "$n")" >> "$work/calls.txt"
        done
    done
done

cd "$work"
hyperfine -N --warmup 20 --runs 300 --export-json "$work/startup.json" \
    -n "native C, static" "./hello-native-static bench" \
    -n "wafer, native WASI host" "./hello-native bench" \
    -n "wafer --wasi-over-wali" "./hello-over-wali bench" >/dev/null

python3 "$root/benches/wasi_over_wali.py" "$root" "$work" "$rounds" \
    "$root/benches/results/wasi-over-wali.md" "$root/README.md"
cat "$root/benches/results/wasi-over-wali.md"
