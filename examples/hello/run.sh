#!/usr/bin/env bash
# Builds examples/hello from C source to wasm, compiles it with wafer into a native
# executable, and runs it with the given arguments; the driver's exit status is this
# script's exit status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/target/examples"
mkdir -p "$out"
clang --target=wasm32-wasi -O2 "$here/hello.c" -o "$out/hello.wasm"
cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"
"$root/target/release/wafer" build "$out/hello.wasm" -o "$out/hello"
echo "built $out/hello ($(stat -c %s "$out/hello") bytes), running it:" >&2
exec "$out/hello" "$@"
