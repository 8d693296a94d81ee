#!/usr/bin/env bash
# glibc against musl for the hello example (examples/hello), side by side in one run: the
# wafer executable built with `--libc glibc` (the default) and `--libc musl`, beside the same
# C program compiled natively and linked statically against glibc (gcc) and musl (musl-gcc).
# Every program must print the same line first. Reports size (as built and stripped), startup
# (hyperfine, exec to exit), peak RSS (median of /usr/bin/time -v) and user+system CPU time per
# run (getrusage of many runs). Writes benches/results/libc.md.
#
#   bash benches/libc.sh [runs]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-500}
work="$root/target/bench-libc"
out="$root/benches/results/libc.md"
mkdir -p "$work" "$root/benches/results"

bash "$root/scripts/setup.sh"
src="$root/examples/hello/hello.c"
clang --target=wasm32-wasi -O2 "$src" -o "$work/hello.wasm"
cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"
wafer="$root/target/release/wafer"
"$wafer" build "$work/hello.wasm" --libc glibc -o "$work/wafer-glibc"
"$wafer" build "$work/hello.wasm" --libc musl -o "$work/wafer-musl"
gcc -O2 -static "$src" -o "$work/c-glibc"
musl-gcc -O2 -static "$src" -o "$work/c-musl"

names=("wafer, glibc (static)" "wafer, musl (static)" "native C, glibc (static)" "native C, musl (static)")
exes=(wafer-glibc wafer-musl c-glibc c-musl)
cd "$work"
for exe in "${exes[@]}"; do
    got=$("./$exe" bench)
    [ "$got" = "hello from a wafer driver bench" ] || { echo "$exe printed: $got" >&2; exit 1; }
    strip -o "$exe.stripped" "$exe"
done

args=()
for i in "${!exes[@]}"; do args+=(-n "${names[$i]}" "./${exes[$i]} bench"); done
hyperfine -N --warmup 50 --runs "$runs" --export-json "$work/startup.json" "${args[@]}" >/dev/null

# Peak RSS: median of 11 runs. CPU time: user + system of 2000 runs from one parent
# (getrusage of the children), per run.
rss_kib() {
    for _ in $(seq 11); do
        /usr/bin/time -v "./$1" bench 2>&1 >/dev/null | awk '/Maximum resident/ { print $6 }'
    done | sort -n | sed -n 6p
}
cpu_us() {
    python3 - "$1" <<'EOF'
import os, resource, subprocess, sys
n = 2000
for _ in range(n):
    subprocess.run(["./" + sys.argv[1], "bench"], stdout=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{(r.ru_utime + r.ru_stime) / n * 1e6:.0f}")
EOF
}

python3 - "$work/startup.json" "${exes[@]}" >"$work/startup.tsv" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))["results"]
for exe, r in zip(sys.argv[2:], data):
    print(exe, r["median"] * 1e3, r["mean"] * 1e3, r["stddev"] * 1e3, sep="\t")
EOF
kib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.0f KiB", b / 1024 }'; }
base=$(awk -F'\t' '$1 == "c-musl" { print $2 }' "$work/startup.tsv")
{
    echo "| program | size | stripped | startup median | mean ± σ | x native C, musl | peak RSS | CPU per run |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for i in "${!exes[@]}"; do
        exe=${exes[$i]}
        IFS=$'\t' read -r _ median mean sd < <(awk -F'\t' -v e="$exe" '$1 == e' "$work/startup.tsv")
        ratio=$(awk -v m="$median" -v b="$base" 'BEGIN { printf "%.2f", m / b }')
        printf '| %s | %s | %s | %.3f ms | %.3f ms ± %.3f ms | %s | %s KiB | %s us |\n' \
            "${names[$i]}" "$(kib "$exe")" "$(kib "$exe.stripped")" "$median" "$mean" "$sd" \
            "$ratio" "$(rss_kib "$exe")" "$(cpu_us "$exe")"
    done
    echo
    echo "examples/hello/hello.c on $(uname -m), $(nproc) cores; hyperfine -N, $runs runs each after 50"
    echo "warm-up runs, measured side by side; peak RSS: median of 11 runs of /usr/bin/time -v; CPU"
    echo "per run: user + system time of 2000 runs (getrusage of the children). gcc"
    echo "$(gcc -dumpfullversion), musl-gcc of Debian's musl $(dpkg-query -W -f '${Version}' musl-dev 2>/dev/null)."
} >"$out"
cat "$out"
