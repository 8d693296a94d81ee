#!/usr/bin/env bash
# Executable sizes: the hello example (examples/hello) built by wafer for every target, static
# and dynamic, beside the same C program compiled natively with that target's gcc. Every
# executable is run (under qemu-user for another architecture) and must print the expected
# line before its size is reported. Writes benches/results/sizes.md.
#
#   bash benches/sizes.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/bench-sizes"
out="$root/benches/results/sizes.md"
mkdir -p "$work" "$root/benches/results"

bash "$root/scripts/setup.sh"
src="$root/examples/hello/hello.c"
clang --target=wasm32-wasi -O2 "$src" -o "$work/hello.wasm"
cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"
wafer="$root/target/release/wafer"

# target, gcc prefix (empty: the host's tools), qemu and the target's C library for --dynamic.
targets=(
    "x86_64||"
    "aarch64|aarch64-linux-gnu-|qemu-aarch64 -L /usr/aarch64-linux-gnu"
    "riscv64|riscv64-linux-gnu-|qemu-riscv64 -L /usr/riscv64-linux-gnu"
)
[ "$(uname -m)" = x86_64 ] || { echo "sizes.sh expects an x86_64 host" >&2; exit 1; }

kib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.0f KiB", b / 1024 }'; }

# Runs $2 (built for target $1) and checks its output.
check() {
    local runner=$1 exe=$2 got
    # shellcheck disable=SC2086 # the runner is a command with arguments
    got=$($runner "$exe" sizes)
    [ "$got" = "hello from a wafer driver sizes" ] || { echo "$exe printed: $got" >&2; exit 1; }
}

rows=()
for entry in "${targets[@]}"; do
    IFS='|' read -r target prefix runner <<<"$entry"
    for link in static dynamic; do
        exe="$work/hello-$target-$link"
        "$wafer" build "$work/hello.wasm" --target "$target" "--$link" -o "$exe"
        check "$runner" "$exe"
        "${prefix}strip" -o "$exe.stripped" "$exe"
        check "$runner" "$exe.stripped"
        native="$work/hello-native-$target-$link"
        flag=""; [ "$link" = static ] && flag="-static"
        "${prefix}gcc" -O2 $flag -o "$native" "$src"
        "${prefix}strip" -o "$native.stripped" "$native"
        rows+=("| $target | $link | $(kib "$exe") | $(kib "$exe.stripped") | $(kib "$native") | $(kib "$native.stripped") |")
    done
done

{
    echo "| target | linking | wafer | wafer, stripped | native C (gcc -O2) | native C, stripped |"
    echo "|---|---|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "examples/hello/hello.c; wafer executables keep their symbol table (for profilers) and"
    echo "drop debug info; \"stripped\" is after \`strip\`. Static executables carry glibc;"
    echo "dynamic ones need the board's C library. Linked by gcc $(gcc -dumpfullversion) and its"
    echo "Debian cross builds, on $(uname -m)."
} >"$out"
cat "$out"
