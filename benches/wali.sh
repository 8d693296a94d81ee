#!/usr/bin/env bash
# WALI benchmark, side by side in one hyperfine run (results in benches/results/wali.md):
#  1. Per-syscall overhead: a loop of N getpid calls, N reads of 4 KiB from /dev/zero (opened
#     once) and N openat/close pairs on /dev/null, as C built with gcc -O2 -static and as a
#     hand-written WAT module importing the `wali` syscalls directly (no WALI toolchain here).
#     ns per operation = (median of the N-iteration run - median of a 0-iteration run) / N.
#  2. Lua 5.4 built for WALI upstream (../shared/wali/apps/lua/lua.wasm) against Debian's
#     lua5.4: a recursive fib, and the startup of `lua -e ''`.
#  3. SQLite built for WALI upstream (../shared/wali/apps/sqlite/sqlite3.wasm) against Debian's
#     sqlite3: a recursive CTE counting in memory, and a join/aggregate query repeated on a
#     copy of chinook.db.
#
#   bash benches/wali.sh [runs] [syscall iterations] [fib n] [cte count] [chinook repeats]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
iterations=${2:-500000}
fib=${3:-30}
count=${4:-500000}
repeats=${5:-50}
apps=$(cd "$root/../shared/wali/apps" && pwd)
work="$root/target/bench-wali"
wafer="$root/target/release/wafer"
rm -rf "$work"
mkdir -p "$work" "$root/benches/results"

bash "$root/scripts/setup.sh"
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v lua5.4 >/dev/null || missing+=(lua5.4)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --quiet --release -p wafer --manifest-path "$root/Cargo.toml"

# 1. The syscall loops. Native: one C program, `syscalls <op> <n>`.
cat >"$work/syscalls.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char buf[4096];
int main(int argc, char **argv) {
    const char *op = argv[1];
    long n = atol(argv[2]);
    if (!strcmp(op, "getpid")) {
        for (long i = 0; i < n; i++)
            if (getpid() <= 0) return 1;
    } else if (!strcmp(op, "read")) {
        int fd = openat(AT_FDCWD, "/dev/zero", O_RDONLY);
        if (fd < 0) return 2;
        for (long i = 0; i < n; i++)
            if (read(fd, buf, sizeof buf) != sizeof buf) return 3;
    } else if (!strcmp(op, "openclose")) {
        for (long i = 0; i < n; i++) {
            int fd = openat(AT_FDCWD, "/dev/null", O_RDONLY);
            if (fd < 0) return 4;
            close(fd);
        }
    } else {
        return 5;
    }
    return 0;
}
C
gcc -O2 -static "$work/syscalls.c" -o "$work/syscalls-native"

# WALI: one module per operation, the count baked in (reading argv needs no less code than
# this). A failing call exits with a status that says which.
wat() {  # wat <op> <n>
    local body
    case $1 in
        getpid) body='(if (i64.le_s (call $getpid) (i64.const 0)) (then (call $exit (i32.const 1))))' ;;
        read) body='(if (i64.ne (call $read (local.get $zero) (i32.const 4096) (i32.const 4096)) (i64.const 4096))
                      (then (call $exit (i32.const 3))))' ;;
        openclose) body='(local.set $fd (call $openat (i32.const -100) (i32.const 32) (i32.const 0) (i32.const 0)))
                      (if (i64.lt_s (local.get $fd) (i64.const 0)) (then (call $exit (i32.const 4))))
                      (drop (call $close (i32.wrap_i64 (local.get $fd))))' ;;
    esac
    cat <<WAT
(module
  (import "wali" "SYS_getpid" (func \$getpid (result i64)))
  (import "wali" "SYS_read" (func \$read (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_openat" (func \$openat (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_close" (func \$close (param i32) (result i64)))
  (import "wali" "__proc_exit" (func \$exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "/dev/zero\00")
  (data (i32.const 32) "/dev/null\00")
  (func (export "_start")
    (local \$i i64) (local \$fd i64) (local \$zero i32)
    (local.set \$fd (call \$openat (i32.const -100) (i32.const 16) (i32.const 0) (i32.const 0)))
    (if (i64.lt_s (local.get \$fd) (i64.const 0)) (then (call \$exit (i32.const 2))))
    (local.set \$zero (i32.wrap_i64 (local.get \$fd)))
    (block \$done
      (loop \$next
        (br_if \$done (i64.ge_u (local.get \$i) (i64.const $2)))
        $body
        (local.set \$i (i64.add (local.get \$i) (i64.const 1)))
        (br \$next)))
    (call \$exit (i32.const 0))))
WAT
}
# /dev/null and /dev/zero are open to every WALI program; --ro-dir /dev resolves them through
# a granted directory instead, the way a program's own files are opened.
for op in getpid read openclose; do
    wat $op "$iterations" >"$work/$op.wat"
    "$wafer" build "$work/$op.wat" -o "$work/$op-wafer" --ro-dir /dev
done
wat getpid 0 >"$work/empty.wat"
"$wafer" build "$work/empty.wat" -o "$work/empty-wafer" --ro-dir /dev

# 2. and 3. The apps, granted the work directory (read-only for lua, read-write for sqlite's
#    journal) and run from it.
cat >"$work/fib.lua" <<'LUA'
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print(fib(tonumber(arg[1])))
LUA
cp "$apps/sqlite/chinook.db" "$work/chinook.db"
cte="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $count) SELECT sum(x) FROM c;"
query="SELECT ar.Name, round(sum(ii.UnitPrice * ii.Quantity), 2) AS total FROM invoice_items ii
 JOIN tracks t ON t.TrackId = ii.TrackId JOIN albums al ON al.AlbumId = t.AlbumId
 JOIN artists ar ON ar.ArtistId = al.ArtistId GROUP BY ar.ArtistId ORDER BY total DESC, ar.Name LIMIT 5;"
for _ in $(seq "$repeats"); do echo "$query"; done >"$work/chinook.sql"
"$wafer" build "$apps/lua/lua.wasm" -o "$work/lua-wafer" --ro-dir "$work"
"$wafer" build "$apps/sqlite/sqlite3.wasm" -o "$work/sqlite3-wafer" --dir "$work"
ln -sf "$(command -v lua5.4)" "$work/lua-native"
ln -sf "$(command -v sqlite3)" "$work/sqlite3-native"

cd "$work"
# name|native command|wafer command (the native program's name gets -native appended).
cases=(
    "syscalls-getpid|syscalls getpid $iterations|getpid-wafer"
    "syscalls-read|syscalls read $iterations|read-wafer"
    "syscalls-openclose|syscalls openclose $iterations|openclose-wafer"
    "syscalls-empty|syscalls getpid 0|empty-wafer"
    "lua-fib|lua fib.lua $fib|lua-wafer fib.lua $fib"
    "lua-startup|lua -e ''|lua-wafer -e ''"
    "sqlite-cte|sqlite3 :memory: '$cte'|sqlite3-wafer :memory: '$cte'"
    "sqlite-chinook|sqlite3 chinook.db '.read chinook.sql'|sqlite3-wafer chinook.db '.read chinook.sql'"
)
commands=()
quick=()  # a few milliseconds each: more runs
for c in "${cases[@]}"; do
    IFS='|' read -r name native wasm <<<"$c"
    native="./${native/#syscalls /syscalls-native }"
    native="${native/#.\/lua /./lua-native }"
    native="${native/#.\/sqlite3 /./sqlite3-native }"
    wasm="./$wasm"
    # Each pair must exit 0 and print the same before its times mean anything (sqlite's
    # "cannot find home directory" goes to stderr).
    expected=$(eval "$native" 2>/dev/null) || { echo "$name: native failed" >&2; exit 1; }
    got=$(eval "$wasm" 2>/dev/null) || { echo "$name: wafer failed ($?)" >&2; exit 1; }
    [ "$got" = "$expected" ] || { echo "$name: wafer printed $got, native $expected" >&2; exit 1; }
    if [ "$name" = lua-startup ]; then
        quick+=(-n "$name native" "$native" -n "$name wafer" "$wasm")
    else
        commands+=(-n "$name native" "$native" -n "$name wafer" "$wasm")
    fi
done
# -N: no shell in between (hyperfine splits the quoted arguments itself, as eval does above).
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/wali.json" "${commands[@]}" >/dev/null
hyperfine -N --warmup 10 --runs 200 --export-json "$work/startup.json" "${quick[@]}" >/dev/null

python3 - "$work/wali.json" "$work/startup.json" "$root/benches/results/wali.md" "$root/README.md" \
    "$runs" "$iterations" "$fib" "$count" "$repeats" <<'PY'
import json, os, re, sys
data_path, startup_path, out_path, readme_path, runs, iterations, fib, count, repeats = sys.argv[1:10]
m = {r["command"]: r["median"] for p in (data_path, startup_path) for r in json.load(open(p))["results"]}
n = int(iterations)
rows = ["| operation | native | wafer | wafer / native |", "|---|---:|---:|---:|"]
def row(what, a, b, unit):
    rows.append(f"| {what} | {a:.{1 if unit == 'ns' else 2}f} {unit} | "
                f"{b:.{1 if unit == 'ns' else 2}f} {unit} | {b / a:.2f}x |")
for op, what in (("getpid", "getpid"), ("read", "read 4 KiB from /dev/zero"),
                 ("openclose", "openat + close of /dev/null")):
    per = [(m[f"syscalls-{op} {s}"] - m[f"syscalls-empty {s}"]) / n * 1e9 for s in ("native", "wafer")]
    row(what, *per, "ns")
for key, what in (("lua-fib", f"Lua: recursive fib({fib})"), ("lua-startup", "Lua: startup, `lua -e ''` (200 runs)"),
                  ("sqlite-cte", f"SQLite: recursive CTE counting to {int(count):,}"),
                  ("sqlite-chinook", f"SQLite: 4-table join/aggregate on chinook.db x {repeats}")):
    row(what, m[f"{key} native"] * 1e3, m[f"{key} wafer"] * 1e3, "ms")
text = (f"WALI (medians of {runs} hyperfine runs each, side by side, {os.cpu_count()} cores; "
        f"syscalls: ns per operation over {n:,} iterations, less a 0-iteration run; native "
        "is gcc -O2 -static C and Debian's lua5.4 and sqlite3):\n\n" + "\n".join(rows) + "\n")
open(out_path, "w").write(text)
readme = open(readme_path).read()
begin, end = "<!-- bench:wali:begin -->", "<!-- bench:wali:end -->"
if begin in readme:
    readme = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + "\n" + text + end,
                    readme, flags=re.S)
    open(readme_path, "w").write(readme)
print(text)
PY
