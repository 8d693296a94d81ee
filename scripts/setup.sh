#!/usr/bin/env bash
# Installs what building and testing wafer needs on a fresh Debian machine: the C toolchain
# that links executables, clang and wasi-libc for building example and test guests, and the
# Rust target for guests written in Rust. Safe to run again: it only installs what is missing.
set -euo pipefail

packages=(gcc clang lld wasi-libc libclang-rt-dev-wasm32)
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

if ! rustup target list --installed | grep -qx wasm32-wasip1; then
    rustup target add wasm32-wasip1
fi
