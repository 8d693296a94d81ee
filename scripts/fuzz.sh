#!/usr/bin/env bash
# Long fuzzing runs (the seeded short ones run in `cargo test -p wafer-fuzz`):
#
#   scripts/fuzz.sh core|imports|bytes [--hours H | --cases N] [--jobs J] [--out DIR]
#                   [--first SEED] [--config TARGET/MODE] [--batch B]
#
# core: wafer against wasmtime on random modules, every target and bounds-check mode (aarch64
# and riscv64 under qemu-user); imports: random modules calling WASI, I2C and USB host
# functions with hostile arguments; bytes: the compiler on mutated and truncated modules.
# Writes summary.txt/summary.json, findings/ and corpus/ to DIR (default target/fuzz/TARGET)
# and exits 1 when anything was found. A finding names the command that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in qemu-aarch64 qemu-riscv64 aarch64-linux-gnu-gcc riscv64-linux-gnu-gcc; do
    command -v "$tool" >/dev/null || {
        echo "fuzz.sh: $tool is missing: run scripts/setup.sh (Debian qemu-user, gcc-aarch64-linux-gnu, gcc-riscv64-linux-gnu)" >&2
        exit 1
    }
done
cargo build --release --quiet -p wafer-fuzz
exec target/release/wafer-fuzz "$@"
