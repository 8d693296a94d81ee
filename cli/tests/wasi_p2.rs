//! WASI 0.2 end to end, in hand-written WAT core modules that import the WASI 0.2 functions
//! directly by their canonical names (at a released 0.2.x version other than the one the
//! runtime lists, so semver matching is exercised too): `wasi:cli` (arguments, environment,
//! standard streams, exit), `wasi:clocks`, `wasi:random`, `wasi:io/poll` blocking on a timer,
//! and `wasi:filesystem` under `--dir` / `--ro-dir` with preview1's sandbox. Hostile modules
//! (bad strings, lists and return areas, forged, wrong-type or dropped handles, a lying
//! `cabi_realloc`) must trap with a clear message: status 134 and `wasm trap: ...`.

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use wafer::Target;

/// The version the modules import (the runtime lists `@0.2`, any patch).
const VERSION: &str = "0.2.6";

/// A WAT function name for a host function: `$<interface>.<name>`, with `[method]` dropped
/// and `[resource-drop]T` spelled `drop-T`.
fn func_name(module: &str, name: &str) -> String {
    let iface = module
        .split('/')
        .nth(1)
        .and_then(|s| s.split('@').next())
        .unwrap();
    let name = name
        .replace("[method]", "")
        .replace("[resource-drop]", "drop-");
    format!("${iface}.{name}")
}

/// Imports of every WASI 0.2 function the runtime lists, under [`VERSION`].
fn imports() -> String {
    use wafer_abi::valtype;
    let ty = |c: &u8| match *c {
        valtype::I32 => "i32",
        valtype::I64 => "i64",
        other => panic!("type {other}"),
    };
    let mut seen = std::collections::HashSet::new();
    wafer_abi::all_host_funcs()
        .filter(|f| f.module.starts_with("wasi:") && f.module.ends_with("@0.2"))
        .filter(|f| seen.insert((f.module, f.name)))
        .map(|f| {
            let params: Vec<_> = f.params.iter().map(ty).collect();
            let results: Vec<_> = f.results.iter().map(ty).collect();
            format!(
                "(import \"{}{}\" {:?} (func {} (param {}) (result {})))\n",
                f.module,
                &VERSION["0.2".len()..],
                f.name,
                func_name(f.module, f.name),
                params.join(" "),
                results.join(" ")
            )
        })
        .collect()
}

/// Memory, a bump `cabi_realloc`, and printing helpers. Scratch: 0x1000 (print's return
/// area), 0x1100..0x1180 (numbers), 0x1200.. (return areas of the tests, align 8), strings
/// from 0x2000, allocations from 0x10000.
const HELPERS: &str = r#"
  (memory (export "memory") 2)
  (global $bump (mut i32) (i32.const 0x10000))
  (global $out (mut i32) (i32.const 0))
  (data (i32.const 0xF00) "\n=ok err ")
  (func $cabi_realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func $print (param $ptr i32) (param $len i32)
    (if (i32.eqz (global.get $out)) (then (global.set $out (call $stdout.get-stdout))))
    (call $streams.output-stream.blocking-write-and-flush
      (global.get $out) (local.get $ptr) (local.get $len) (i32.const 0x1000))
    (if (i32.load8_u (i32.const 0x1000)) (then unreachable)))
  (func $nl (call $print (i32.const 0xF00) (i32.const 1)))
  (func $num (param $v i64)
    (local $p i32)
    (local.set $p (i32.const 0x1180))
    (loop $l
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p) (i64.add (i64.const 48) (i64.rem_u (local.get $v) (i64.const 10))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $l (i64.ne (local.get $v) (i64.const 0))))
    (call $print (local.get $p) (i32.sub (i32.const 0x1180) (local.get $p))))
  ;; "ok\n" or "err N\n" for a result<_, error-code> at $r.
  (func $res (param $r i32)
    (if (i32.load8_u (local.get $r))
      (then (call $print (i32.const 0xF05) (i32.const 4))
            (call $num (i64.load8_u offset=1 (local.get $r))))
      (else (call $print (i32.const 0xF02) (i32.const 2))))
    (call $nl))
  ;; Prints a list<string> one per line.
  (func $strings (param $p i32) (param $n i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (call $print (i32.load (local.get $p)) (i32.load offset=4 (local.get $p)))
      (call $nl)
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l))))
  ;; Prints a list<tuple<string, string>> as KEY=VALUE lines.
  (func $pairs (param $p i32) (param $n i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (call $print (i32.load (local.get $p)) (i32.load offset=4 (local.get $p)))
      (call $print (i32.const 0xF01) (i32.const 1))
      (call $print (i32.load offset=8 (local.get $p)) (i32.load offset=12 (local.get $p)))
      (call $nl)
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l))))
"#;

fn module(body: &str) -> String {
    format!("(module {} {HELPERS} {body})", imports())
}

fn build(wat: &str, flags: &[&str], dir: &Path) -> PathBuf {
    let input = dir.join("m.wat");
    std::fs::write(&input, wat).unwrap();
    let exe = dir.join("m");
    wafer_build(&input, &exe, flags);
    exe
}

/// Runs `cmd` with `stdin` piped in, with a bound on its run time.
fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the guest hung");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

fn status(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Builds and runs `body` (a `_start` and its data) on the host.
fn run_body(body: &str, flags: &[&str], args: &[&str], stdin: &[u8]) -> Output {
    let dir = scratch();
    let exe = build(&module(body), flags, dir.path());
    let mut cmd = Command::new(&exe);
    cmd.args(args);
    run(cmd, stdin)
}

#[test]
fn stdout_and_stderr_get_exact_bytes() {
    let out = run_body(
        r#"(data (i32.const 0x2000) "hello, p2\n\00\ff")
           (data (i32.const 0x2100) "to stderr")
           (func (export "_start")
             (local $err i32)
             (call $print (i32.const 0x2000) (i32.const 12))
             (local.set $err (call $stderr.get-stderr))
             ;; check-write, write, blocking-flush
             (call $streams.output-stream.check-write (local.get $err) (i32.const 0x1200))
             (if (i32.load8_u (i32.const 0x1200)) (then unreachable))
             (if (i64.lt_u (i64.load offset=8 (i32.const 0x1200)) (i64.const 9)) (then unreachable))
             (call $streams.output-stream.write (local.get $err) (i32.const 0x2100) (i32.const 9) (i32.const 0x1200))
             (if (i32.load8_u (i32.const 0x1200)) (then unreachable))
             (call $streams.output-stream.write-zeroes (local.get $err) (i64.const 2) (i32.const 0x1200))
             (call $streams.output-stream.blocking-flush (local.get $err) (i32.const 0x1200))
             (if (i32.load8_u (i32.const 0x1200)) (then unreachable))
             (call $streams.drop-output-stream (local.get $err))
             ;; piped, not terminals: none
             (i64.store (i32.const 0x1240) (i64.const -1))
             (i64.store (i32.const 0x1248) (i64.const -1))
             (i64.store (i32.const 0x1250) (i64.const -1))
             (call $terminal-stdout.get-terminal-stdout (i32.const 0x1240))
             (call $terminal-stdin.get-terminal-stdin (i32.const 0x1248))
             (call $terminal-stderr.get-terminal-stderr (i32.const 0x1250))
             (if (i32.load8_u (i32.const 0x1240)) (then unreachable))
             (if (i32.load8_u (i32.const 0x1248)) (then unreachable))
             (if (i32.load8_u (i32.const 0x1250)) (then unreachable)))"#,
        &[],
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"hello, p2\n\0\xff");
    assert_eq!(out.stderr, b"to stderr\0\0");
}

#[test]
fn arguments_and_only_granted_environment() {
    let dir = scratch();
    let exe = build(
        &module(
            r#"(func (export "_start")
                 (call $environment.get-arguments (i32.const 0x1200))
                 (call $strings (i32.load (i32.const 0x1200)) (i32.load offset=4 (i32.const 0x1200)))
                 (call $environment.get-environment (i32.const 0x1200))
                 (call $pairs (i32.load (i32.const 0x1200)) (i32.load offset=4 (i32.const 0x1200)))
                 ;; initial-cwd: none
                 (i32.store8 (i32.const 0x1210) (i32.const 9))
                 (call $environment.initial-cwd (i32.const 0x1210))
                 (if (i32.load8_u (i32.const 0x1210)) (then unreachable)))"#,
        ),
        &["--env", "FIXED=one=1", "--env", "PASSED"],
        dir.path(),
    );
    let mut cmd = Command::new(&exe);
    cmd.args(["a b", "ü"])
        .env("PASSED", "two")
        .env("HIDDEN", "secret");
    let out = run(cmd, b"");
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].ends_with('m'), "program name first: {stdout}");
    assert_eq!(&lines[1..], ["a b", "ü", "FIXED=one=1", "PASSED=two"]);
}

#[test]
fn stdin_reads_until_closed() {
    let out = run_body(
        r#"(data (i32.const 0x2000) "<closed>")
           (func (export "_start")
             (local $in i32)
             (local.set $in (call $stdin.get-stdin))
             (block $end (loop $l
               (call $streams.input-stream.blocking-read (local.get $in) (i64.const 3) (i32.const 0x1200))
               (br_if $end (i32.load8_u (i32.const 0x1200)))
               (call $print (i32.load offset=4 (i32.const 0x1200)) (i32.load offset=8 (i32.const 0x1200)))
               (br $l)))
             ;; err: stream-error case 1 is closed
             (if (i32.ne (i32.load8_u offset=4 (i32.const 0x1200)) (i32.const 1)) (then unreachable))
             (call $print (i32.const 0x2000) (i32.const 8))
             ;; and it stays closed
             (call $streams.input-stream.read (local.get $in) (i64.const 3) (i32.const 0x1200))
             (if (i32.ne (i32.load8_u offset=4 (i32.const 0x1200)) (i32.const 1)) (then unreachable)))"#,
        &[],
        &[],
        b"piped input\n",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "piped input\n<closed>");
}

#[test]
fn exit_status_comes_from_the_result() {
    let body = |call: &str| format!(r#"(func (export "_start") {call} unreachable)"#);
    let ok = run_body(&body("(call $exit.exit (i32.const 0))"), &[], &[], b"");
    assert_eq!(status(&ok), 0, "{}", text(&ok.stderr));
    let err = run_body(&body("(call $exit.exit (i32.const 1))"), &[], &[], b"");
    assert_eq!(status(&err), 1, "{}", text(&err.stderr));
    let code = run_body(
        &body("(call $exit.exit-with-code (i32.const 0x107))"),
        &[],
        &[],
        b"",
    );
    assert_eq!(status(&code), 7, "{}", text(&code.stderr));
    let bad = run_body(&body("(call $exit.exit (i32.const 2))"), &[], &[], b"");
    assert_eq!(status(&bad), 134);
    assert!(text(&bad.stderr).contains("2 is not a case of result"));
}

#[test]
fn clocks_and_random() {
    // Exit status: the number of the first check that failed.
    let out = run_body(
        r#"(func $check (param $ok i32) (param $n i32)
             (if (i32.eqz (local.get $ok)) (then (call $exit.exit-with-code (local.get $n)))))
           (func (export "_start")
             (local $t i64)
             (local.set $t (call $monotonic-clock.now))
             (call $check (i64.le_u (local.get $t) (call $monotonic-clock.now)) (i32.const 10))
             (call $check (i64.gt_u (call $monotonic-clock.resolution) (i64.const 0)) (i32.const 11))
             (call $wall-clock.now (i32.const 0x1200))
             (call $check (i64.gt_u (i64.load (i32.const 0x1200)) (i64.const 1600000000)) (i32.const 12))
             (call $check (i32.lt_u (i32.load offset=8 (i32.const 0x1200)) (i32.const 1000000000)) (i32.const 13))
             (call $wall-clock.resolution (i32.const 0x1200))
             (call $check (i64.eqz (i64.load (i32.const 0x1200))) (i32.const 14))
             (call $check (i64.ne (call $random.get-random-u64) (call $random.get-random-u64)) (i32.const 15))
             (call $check (i64.ne (call $insecure.get-insecure-random-u64) (call $insecure.get-insecure-random-u64)) (i32.const 16))
             (call $random.get-random-bytes (i64.const 32) (i32.const 0x1200))
             (call $check (i32.eq (i32.load offset=4 (i32.const 0x1200)) (i32.const 32)) (i32.const 17))
             (call $check (i64.ne (i64.load (i32.load (i32.const 0x1200)))
                                  (i64.load offset=8 (i32.load (i32.const 0x1200)))) (i32.const 18))
             (call $insecure.get-insecure-random-bytes (i64.const 0) (i32.const 0x1200))
             (call $check (i32.eqz (i32.load offset=4 (i32.const 0x1200))) (i32.const 19))
             (call $insecure-seed.insecure-seed (i32.const 0x1200))
             (call $check (i64.ne (i64.load (i32.const 0x1200)) (i64.load offset=8 (i32.const 0x1200))) (i32.const 20)))"#,
        &[],
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
}

#[test]
fn poll_blocks_on_a_timer() {
    // A 150 ms timer and stdin (a pipe kept open by nothing: closed at once, so ready):
    // first poll only the timer, then check that a due timer is ready without blocking.
    let started = Instant::now();
    let out = run_body(
        r#"(func $check (param $ok i32) (param $n i32)
             (if (i32.eqz (local.get $ok)) (then (call $exit.exit-with-code (local.get $n)))))
           (func (export "_start")
             (local $t0 i64) (local $p i32) (local $q i32)
             (local.set $t0 (call $monotonic-clock.now))
             (local.set $p (call $monotonic-clock.subscribe-duration (i64.const 150000000)))
             (call $check (i32.eqz (call $poll.pollable.ready (local.get $p))) (i32.const 10))
             (local.set $q (call $monotonic-clock.subscribe-instant (i64.add (local.get $t0) (i64.const 400000000))))
             ;; poll([q, p]) wakes for p (index 1) alone
             (i32.store (i32.const 0x1300) (local.get $q))
             (i32.store (i32.const 0x1304) (local.get $p))
             (call $poll.poll (i32.const 0x1300) (i32.const 2) (i32.const 0x1200))
             (call $check (i32.eq (i32.load offset=4 (i32.const 0x1200)) (i32.const 1)) (i32.const 11))
             (call $check (i32.eq (i32.load (i32.load (i32.const 0x1200))) (i32.const 1)) (i32.const 12))
             (call $check (i64.ge_u (i64.sub (call $monotonic-clock.now) (local.get $t0)) (i64.const 150000000)) (i32.const 13))
             (call $check (call $poll.pollable.ready (local.get $p)) (i32.const 14))
             (call $poll.pollable.block (local.get $q))
             (call $check (i64.ge_u (i64.sub (call $monotonic-clock.now) (local.get $t0)) (i64.const 400000000)) (i32.const 15))
             (call $poll.drop-pollable (local.get $p))
             (call $poll.drop-pollable (local.get $q))
             ;; a stream's pollable: stdin (empty, closed pipe) is ready
             (local.set $p (call $streams.input-stream.subscribe (call $stdin.get-stdin)))
             (call $poll.pollable.block (local.get $p))
             (call $check (call $poll.pollable.ready (local.get $p)) (i32.const 16)))"#,
        &[],
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert!(started.elapsed() >= Duration::from_millis(400));
}

/// The file-system test body: helpers over the first preopen, then `body`.
fn fs_module(body: &str) -> String {
    format!(
        r#"(global $dir (mut i32) (i32.const 0))
           (data (i32.const 0x2000) "a.txt")
           (data (i32.const 0x2010) "b.txt")
           (data (i32.const 0x2020) "missing")
           (data (i32.const 0x2030) "../x")
           (data (i32.const 0x2040) "/etc/passwd")
           (data (i32.const 0x2050) "out/passwd")
           (data (i32.const 0x2060) "hello file")
           (data (i32.const 0x2070) "sub")
           ;; open-at(dir, flags, path, open-flags, descriptor-flags): a handle, or -1 - code
           (func $open (param $pf i32) (param $p i32) (param $l i32) (param $of i32) (param $df i32) (result i32)
             (call $types.descriptor.open-at (global.get $dir) (local.get $pf) (local.get $p) (local.get $l)
               (local.get $of) (local.get $df) (i32.const 0x1200))
             (if (result i32) (i32.load8_u (i32.const 0x1200))
               (then (i32.sub (i32.const -1) (i32.load8_u offset=4 (i32.const 0x1200))))
               (else (i32.load offset=4 (i32.const 0x1200)))))
           ;; Prints "ok" or "err N" for an open.
           (func $show (param $h i32)
             (if (i32.lt_s (local.get $h) (i32.const 0))
               (then (call $print (i32.const 0xF05) (i32.const 4))
                     (call $num (i64.extend_i32_u (i32.sub (i32.const -1) (local.get $h)))))
               (else (call $print (i32.const 0xF02) (i32.const 2))))
             (call $nl))
           (func $preopen
             (call $preopens.get-directories (i32.const 0x1200))
             (if (i32.eqz (i32.load offset=4 (i32.const 0x1200))) (then unreachable))
             (global.set $dir (i32.load (i32.load (i32.const 0x1200))))
             ;; its name
             (call $print (i32.load offset=4 (i32.load (i32.const 0x1200)))
                          (i32.load offset=8 (i32.load (i32.const 0x1200))))
             (call $nl))
           {body}"#
    )
}

#[test]
fn files_under_a_preopen() {
    let host = scratch();
    std::os::unix::fs::symlink("/etc", host.path().join("out")).unwrap();
    let grant = format!("{}::data", host.path().display());
    let out = run_body(
        &fs_module(
            r#"(func (export "_start")
                 (local $f i32) (local $s i32) (local $e i32)
                 (call $preopen)
                 ;; create a.txt, write through a stream and at an offset
                 (local.set $f (call $open (i32.const 0) (i32.const 0x2000) (i32.const 5) (i32.const 1) (i32.const 3)))
                 (call $show (local.get $f))
                 (call $types.descriptor.write-via-stream (local.get $f) (i64.const 0) (i32.const 0x1210))
                 (local.set $s (i32.load offset=4 (i32.const 0x1210)))
                 (call $streams.output-stream.blocking-write-and-flush (local.get $s) (i32.const 0x2060) (i32.const 10) (i32.const 0x1210))
                 (call $streams.drop-output-stream (local.get $s))
                 (call $types.descriptor.write (local.get $f) (i32.const 0x2060) (i32.const 5) (i64.const 10) (i32.const 0x1210))
                 (call $num (i64.load offset=8 (i32.const 0x1210))) (call $nl)
                 ;; read it back whole, then at the end
                 (call $types.descriptor.read (local.get $f) (i64.const 100) (i64.const 0) (i32.const 0x1210))
                 (call $print (i32.load offset=4 (i32.const 0x1210)) (i32.load offset=8 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.read (local.get $f) (i64.const 100) (i64.const 15) (i32.const 0x1210))
                 (call $num (i64.load8_u offset=12 (i32.const 0x1210))) (call $nl)
                 ;; stat: regular-file (6), size 15
                 (call $types.descriptor.stat (local.get $f) (i32.const 0x1210))
                 (call $num (i64.load8_u offset=8 (i32.const 0x1210))) (call $nl)
                 (call $num (i64.load offset=24 (i32.const 0x1210))) (call $nl)
                 ;; a read stream
                 (call $types.descriptor.read-via-stream (local.get $f) (i64.const 6) (i32.const 0x1210))
                 (local.set $s (i32.load offset=4 (i32.const 0x1210)))
                 (call $streams.input-stream.blocking-read (local.get $s) (i64.const 100) (i32.const 0x1210))
                 (call $print (i32.load offset=4 (i32.const 0x1210)) (i32.load offset=8 (i32.const 0x1210))) (call $nl)
                 (call $streams.drop-input-stream (local.get $s))
                 (call $types.drop-descriptor (local.get $f))
                 ;; mkdir, list, rename, unlink
                 (call $types.descriptor.create-directory-at (global.get $dir) (i32.const 0x2070) (i32.const 3) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.rename-at (global.get $dir) (i32.const 0x2000) (i32.const 5)
                   (global.get $dir) (i32.const 0x2010) (i32.const 5) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.read-directory (global.get $dir) (i32.const 0x1210))
                 (local.set $e (i32.load offset=4 (i32.const 0x1210)))
                 (block $end (loop $l
                   (call $types.directory-entry-stream.read-directory-entry (local.get $e) (i32.const 0x1210))
                   (if (i32.load8_u (i32.const 0x1210)) (then unreachable))
                   (br_if $end (i32.eqz (i32.load8_u offset=4 (i32.const 0x1210))))
                   (call $num (i64.load8_u offset=8 (i32.const 0x1210)))
                   (call $print (i32.const 0xF01) (i32.const 1))
                   (call $print (i32.load offset=12 (i32.const 0x1210)) (i32.load offset=16 (i32.const 0x1210)))
                   (call $nl)
                   (br $l)))
                 (call $types.drop-directory-entry-stream (local.get $e))
                 (call $types.descriptor.stat-at (global.get $dir) (i32.const 0) (i32.const 0x2010) (i32.const 5) (i32.const 0x1210))
                 (call $num (i64.load offset=24 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.unlink-file-at (global.get $dir) (i32.const 0x2010) (i32.const 5) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 ;; errors: no-entry (20); escapes are not-permitted (31)
                 (call $show (call $open (i32.const 0) (i32.const 0x2020) (i32.const 7) (i32.const 0) (i32.const 1)))
                 (call $show (call $open (i32.const 0) (i32.const 0x2030) (i32.const 4) (i32.const 0) (i32.const 1)))
                 (call $show (call $open (i32.const 0) (i32.const 0x2040) (i32.const 11) (i32.const 0) (i32.const 1)))
                 (call $show (call $open (i32.const 1) (i32.const 0x2050) (i32.const 10) (i32.const 0) (i32.const 1)))
                 (call $types.descriptor.stat-at (global.get $dir) (i32.const 1) (i32.const 0x2050) (i32.const 10) (i32.const 0x1210))
                 (call $num (i64.load8_u (i32.const 0x1210))) (call $nl)
                 (call $num (i64.load8_u offset=8 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.create-directory-at (global.get $dir) (i32.const 0x2070) (i32.const 3) (i32.const 0x1210))
                 (call $res (i32.const 0x1210)))"#,
        ),
        &["--dir", &grant],
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    // Directory order is the host's: sort the listing (lines 10..13).
    lines[10..13].sort_unstable();
    assert_eq!(
        lines,
        [
            "data",
            "ok",
            "5",
            "hello filehello",
            "1",
            "6",
            "15",
            "filehello",
            "ok",
            "ok",
            "3=sub",
            "5=out",
            "6=b.txt",
            "15",
            "ok",
            "err 20",
            "err 31",
            "err 31",
            "err 31",
            "1",
            "31",
            "err 7",
        ],
        "{stdout}"
    );
    assert!(!host.path().join("b.txt").exists());
    assert!(host.path().join("sub").is_dir());
}

#[test]
fn read_only_grants_refuse_writes() {
    let host = scratch();
    std::fs::write(host.path().join("a.txt"), "kept").unwrap();
    let grant = format!("{}::ro", host.path().display());
    let out = run_body(
        &fs_module(
            r#"(func (export "_start")
                 (local $f i32)
                 (call $preopen)
                 ;; get-flags of the preopen: read only (1)
                 (call $types.descriptor.get-flags (global.get $dir) (i32.const 0x1210))
                 (call $num (i64.load8_u offset=1 (i32.const 0x1210))) (call $nl)
                 ;; open for writing, create, mkdir, unlink: not-permitted (31)
                 (call $show (call $open (i32.const 0) (i32.const 0x2000) (i32.const 5) (i32.const 0) (i32.const 2)))
                 (call $show (call $open (i32.const 0) (i32.const 0x2010) (i32.const 5) (i32.const 1) (i32.const 1)))
                 (call $types.descriptor.create-directory-at (global.get $dir) (i32.const 0x2070) (i32.const 3) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.unlink-file-at (global.get $dir) (i32.const 0x2000) (i32.const 5) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 ;; reading works; writing the read-only file is bad-descriptor (3)
                 (local.set $f (call $open (i32.const 0) (i32.const 0x2000) (i32.const 5) (i32.const 0) (i32.const 1)))
                 (call $show (local.get $f))
                 (call $types.descriptor.read (local.get $f) (i64.const 100) (i64.const 0) (i32.const 0x1210))
                 (call $print (i32.load offset=4 (i32.const 0x1210)) (i32.load offset=8 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.write (local.get $f) (i32.const 0x2060) (i32.const 5) (i64.const 0) (i32.const 0x1210))
                 (call $num (i64.load8_u (i32.const 0x1210)))
                 (call $num (i64.load8_u offset=8 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.write-via-stream (local.get $f) (i64.const 0) (i32.const 0x1210))
                 (call $num (i64.load8_u (i32.const 0x1210)))
                 (call $num (i64.load8_u offset=4 (i32.const 0x1210))) (call $nl))"#,
        ),
        &["--ro-dir", &grant],
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "ro\n1\nerr 31\nerr 31\nerr 31\nerr 31\nok\nkept\n13\n13\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.path().join("a.txt")).unwrap(),
        "kept"
    );
    assert!(!host.path().join("b.txt").exists());
}

#[test]
fn more_descriptor_calls() {
    let host = scratch();
    std::fs::write(host.path().join("a.txt"), "0123456789").unwrap();
    let grant = format!("{}::data", host.path().display());
    let out = run_body(
        &fs_module(
            r#"(data (i32.const 0x2080) "l")
               (data (i32.const 0x2090) "hard")
               (func (export "_start")
                 (local $f i32) (local $s i32)
                 (call $preopen)
                 (local.set $f (call $open (i32.const 0) (i32.const 0x2000) (i32.const 5) (i32.const 0) (i32.const 3)))
                 ;; get-type: directory (3), regular-file (6); get-flags: read|write (3)
                 (call $types.descriptor.get-type (global.get $dir) (i32.const 0x1210))
                 (call $num (i64.load8_u offset=1 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.get-type (local.get $f) (i32.const 0x1210))
                 (call $num (i64.load8_u offset=1 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.get-flags (local.get $f) (i32.const 0x1210))
                 (call $num (i64.load8_u offset=1 (i32.const 0x1210))) (call $nl)
                 ;; set-size 4, append "hello", advise, sync, sync-data
                 (call $types.descriptor.set-size (local.get $f) (i64.const 4) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.append-via-stream (local.get $f) (i32.const 0x1210))
                 (local.set $s (i32.load offset=4 (i32.const 0x1210)))
                 (call $streams.output-stream.blocking-write-and-flush (local.get $s) (i32.const 0x2060) (i32.const 5) (i32.const 0x1210))
                 (call $streams.drop-output-stream (local.get $s))
                 (call $types.descriptor.advise (local.get $f) (i64.const 0) (i64.const 0) (i32.const 1) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.sync (local.get $f) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.sync-data (local.get $f) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 ;; set-times: atime no-change, mtime timestamp(1000, 5); stat says so
                 (call $types.descriptor.set-times (local.get $f) (i32.const 0) (i64.const 0) (i32.const 0)
                   (i32.const 2) (i64.const 1000) (i32.const 5) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.stat (local.get $f) (i32.const 0x1210))
                 (call $num (i64.load offset=24 (i32.const 0x1210))) (call $nl)
                 (call $num (i64.load offset=64 (i32.const 0x1210))) (call $nl)
                 (call $num (i64.extend_i32_u (i32.load offset=72 (i32.const 0x1210)))) (call $nl)
                 ;; set-times-at: mtime now
                 (call $types.descriptor.set-times-at (global.get $dir) (i32.const 0) (i32.const 0x2000) (i32.const 5)
                   (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 1) (i64.const 0) (i32.const 0) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 ;; symlink-at l -> a.txt, readlink-at l, link-at hard
                 (call $types.descriptor.symlink-at (global.get $dir) (i32.const 0x2000) (i32.const 5)
                   (i32.const 0x2080) (i32.const 1) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.readlink-at (global.get $dir) (i32.const 0x2080) (i32.const 1) (i32.const 0x1210))
                 (call $print (i32.load offset=4 (i32.const 0x1210)) (i32.load offset=8 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.link-at (global.get $dir) (i32.const 0) (i32.const 0x2000) (i32.const 5)
                   (global.get $dir) (i32.const 0x2090) (i32.const 4) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 ;; stat-at hard: link-count 2; the symlink followed and not
                 (call $types.descriptor.stat-at (global.get $dir) (i32.const 0) (i32.const 0x2090) (i32.const 4) (i32.const 0x1210))
                 (call $num (i64.load offset=16 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.stat-at (global.get $dir) (i32.const 0) (i32.const 0x2080) (i32.const 1) (i32.const 0x1210))
                 (call $num (i64.load8_u offset=8 (i32.const 0x1210))) (call $nl)
                 (call $types.descriptor.stat-at (global.get $dir) (i32.const 1) (i32.const 0x2080) (i32.const 1) (i32.const 0x1210))
                 (call $num (i64.load8_u offset=8 (i32.const 0x1210))) (call $nl)
                 ;; same object, metadata hashes agree through the path and the descriptor
                 (call $num (i64.extend_i32_u (call $types.descriptor.is-same-object (local.get $f) (local.get $f)))) (call $nl)
                 (call $num (i64.extend_i32_u (call $types.descriptor.is-same-object (local.get $f) (global.get $dir)))) (call $nl)
                 (call $types.descriptor.metadata-hash (local.get $f) (i32.const 0x1210))
                 (call $types.descriptor.metadata-hash-at (global.get $dir) (i32.const 0) (i32.const 0x2090) (i32.const 4) (i32.const 0x1240))
                 (call $num (i64.extend_i32_u (i32.and
                   (i64.eq (i64.load offset=8 (i32.const 0x1210)) (i64.load offset=8 (i32.const 0x1240)))
                   (i64.eq (i64.load offset=16 (i32.const 0x1210)) (i64.load offset=16 (i32.const 0x1240)))))) (call $nl)
                 ;; mkdir and rmdir; rmdir of a file is not-directory (24)
                 (call $types.descriptor.create-directory-at (global.get $dir) (i32.const 0x2070) (i32.const 3) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.remove-directory-at (global.get $dir) (i32.const 0x2070) (i32.const 3) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.descriptor.remove-directory-at (global.get $dir) (i32.const 0x2000) (i32.const 5) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 ;; a path call on a file is not-directory too
                 (call $types.descriptor.create-directory-at (local.get $f) (i32.const 0x2070) (i32.const 3) (i32.const 0x1210))
                 (call $res (i32.const 0x1210))
                 (call $types.drop-descriptor (local.get $f)))"#,
        ),
        &["--dir", &grant],
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "data\n3\n6\n3\nok\nok\nok\nok\nok\n9\n1000\n5\nok\nok\na.txt\nok\n2\n5\n6\n1\n0\n1\n\
         ok\nok\nerr 24\nerr 24\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.path().join("hard")).unwrap(),
        "0123hello"
    );
}

#[test]
fn stream_errors_carry_their_code() {
    // Writing /dev/full through a stream fails: last-operation-failed with an error whose
    // filesystem-error-code is insufficient-space (23); the stream is closed afterwards.
    let out = run_body(
        &fs_module(
            r#"(data (i32.const 0x2080) "full")
               (func (export "_start")
                 (local $f i32) (local $s i32) (local $e i32)
                 (call $preopen)
                 (local.set $f (call $open (i32.const 0) (i32.const 0x2080) (i32.const 4) (i32.const 0) (i32.const 2)))
                 (call $types.descriptor.write-via-stream (local.get $f) (i64.const 0) (i32.const 0x1210))
                 (local.set $s (i32.load offset=4 (i32.const 0x1210)))
                 (call $streams.output-stream.blocking-write-and-flush (local.get $s) (i32.const 0x2080) (i32.const 4) (i32.const 0x1210))
                 (call $num (i64.load8_u (i32.const 0x1210)))
                 (call $num (i64.load8_u offset=4 (i32.const 0x1210))) (call $nl)
                 (local.set $e (i32.load offset=8 (i32.const 0x1210)))
                 (call $types.filesystem-error-code (local.get $e) (i32.const 0x1220))
                 (call $num (i64.load8_u (i32.const 0x1220)))
                 (call $print (i32.const 0xF01) (i32.const 1))
                 (call $num (i64.load8_u offset=1 (i32.const 0x1220))) (call $nl)
                 (call $error.error.to-debug-string (local.get $e) (i32.const 0x1220))
                 (call $print (i32.load (i32.const 0x1220)) (i32.load offset=4 (i32.const 0x1220))) (call $nl)
                 (call $error.drop-error (local.get $e))
                 (call $streams.output-stream.check-write (local.get $s) (i32.const 0x1210))
                 (call $num (i64.load8_u (i32.const 0x1210)))
                 (call $num (i64.load8_u offset=8 (i32.const 0x1210))) (call $nl))"#,
        ),
        &["--dir", "/dev::dev"],
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "dev\n10\n1=23\nwrite failed: insufficient-space\n11\n"
    );
}

/// Runs a hostile `_start` (with `extra` module fields) and checks it traps with `message`.
fn traps(body: &str, message: &str) {
    let out = run_body(body, &[], &[], b"");
    let stderr = text(&out.stderr);
    assert_eq!(status(&out), 134, "{stderr}");
    assert!(stderr.contains("wasm trap: "), "{stderr}");
    assert!(stderr.contains(message), "wanted {message:?}: {stderr}");
}

#[test]
fn a_string_that_is_not_utf8_traps() {
    traps(
        r#"(data (i32.const 0x2000) "bad\ff\fe")
           (func (export "_start")
             ;; no descriptor 1 exists: the path is lifted (and refused) first
             (call $types.descriptor.open-at (i32.const 1) (i32.const 0) (i32.const 0x2000) (i32.const 5)
               (i32.const 0) (i32.const 1) (i32.const 0x1200)))"#,
        "is not valid UTF-8",
    );
}

#[test]
fn a_list_outside_memory_traps() {
    traps(
        r#"(func (export "_start")
             (call $streams.output-stream.write (call $stdout.get-stdout)
               (i32.const 0xFFFFFFF0) (i32.const 0x20) (i32.const 0x1200)))"#,
        "is outside memory",
    );
    traps(
        r#"(func (export "_start")
             (call $streams.output-stream.write (call $stdout.get-stdout)
               (i32.const 0x1F000) (i32.const 0x2000) (i32.const 0x1200)))"#,
        "is outside memory",
    );
}

#[test]
fn a_misaligned_return_area_traps() {
    traps(
        r#"(func (export "_start")
             (call $streams.output-stream.check-write (call $stdout.get-stdout) (i32.const 0x1204)))"#,
        "is not 8-aligned",
    );
}

#[test]
fn a_write_past_its_permit_traps() {
    traps(
        r#"(func (export "_start")
             (call $streams.output-stream.write (call $stdout.get-stdout)
               (i32.const 0x2000) (i32.const 1) (i32.const 0x1200)))"#,
        "a write of 1 bytes exceeds the 0 that check-write permitted",
    );
}

#[test]
fn bad_handles_trap() {
    traps(
        r#"(func (export "_start")
             (call $streams.output-stream.check-write (i32.const 999) (i32.const 0x1200)))"#,
        "output-stream handle 999 is not owned",
    );
    traps(
        r#"(func (export "_start")
             (call $streams.output-stream.check-write (call $stdin.get-stdin) (i32.const 0x1200)))"#,
        "output-stream handle 1 is not owned",
    );
    traps(
        r#"(func (export "_start")
             (local $h i32)
             (local.set $h (call $stdout.get-stdout))
             (call $streams.drop-output-stream (local.get $h))
             (call $streams.output-stream.check-write (local.get $h) (i32.const 0x1200)))"#,
        "output-stream handle 1 is not owned",
    );
    traps(
        r#"(func (export "_start")
             (call $poll.drop-pollable (call $stdout.get-stdout)))"#,
        "pollable handle 1 is not owned",
    );
}

#[test]
fn a_lying_cabi_realloc_traps() {
    // Same helpers, but this module's allocator answers past the end of memory.
    let wat = module(
        r#"(func (export "_start")
             (global.set $bump (i32.const 0x1FFF0))
             (call $environment.get-arguments (i32.const 0x1200)))"#,
    );
    let dir = scratch();
    let exe = build(&wat, &[], dir.path());
    let mut cmd = Command::new(&exe);
    cmd.arg("a-long-enough-argument");
    let out = run(cmd, b"");
    let stderr = text(&out.stderr);
    assert_eq!(status(&out), 134, "{stderr}");
    assert!(stderr.contains("cabi_realloc answered"), "{stderr}");
}

#[test]
fn runs_on_other_targets() {
    let host = scratch();
    let grant = format!("{}::data", host.path().display());
    let wat = module(&fs_module(
        r#"(func (export "_start")
             (local $f i32)
             (call $preopen)
             (call $environment.get-arguments (i32.const 0x1210))
             (call $strings (i32.add (i32.load (i32.const 0x1210)) (i32.const 8))
                            (i32.sub (i32.load offset=4 (i32.const 0x1210)) (i32.const 1)))
             (local.set $f (call $open (i32.const 0) (i32.const 0x2000) (i32.const 5) (i32.const 1) (i32.const 3)))
             (call $types.descriptor.write (local.get $f) (i32.const 0x2060) (i32.const 10) (i64.const 0) (i32.const 0x1210))
             (call $types.descriptor.stat (local.get $f) (i32.const 0x1210))
             (call $num (i64.load offset=24 (i32.const 0x1210))) (call $nl)
             (call $poll.pollable.block (call $monotonic-clock.subscribe-duration (i64.const 10000000)))
             (call $exit.exit (i32.const 1)))"#,
    ));
    for target in ["aarch64", "riscv64"] {
        let dir = scratch();
        let exe = build(&wat, &["--target", target, "--dir", &grant], dir.path());
        let t = Target::resolve(target).unwrap();
        let mut cmd = match t.run_prefix().split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.arg("on-").arg(target);
        let out = run(cmd, b"");
        assert_eq!(status(&out), 1, "{target}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("data\non-\n{target}\n10\n"),
            "{target}"
        );
        assert_eq!(
            std::fs::read_to_string(host.path().join("a.txt")).unwrap(),
            "hello file"
        );
        std::fs::remove_file(host.path().join("a.txt")).unwrap();
    }
}

#[test]
fn sockets_are_refused_and_no_socket_handle_exists() {
    // create-tcp-socket / create-udp-socket: err(access-denied = 1); a name lookup:
    // err(permanent-resolver-failure = 20). Each printed as "<discriminant> <code>".
    let out = run_body(
        r#"(data (i32.const 0x2000) "localhost")
           (func $show (param $r i32)
             (call $num (i64.load8_u (local.get $r)))
             (call $print (i32.const 0xF08) (i32.const 1))
             (call $num (i64.load8_u offset=4 (local.get $r)))
             (call $nl))
           (func (export "_start") (local $net i32)
             (call $tcp-create-socket.create-tcp-socket (i32.const 0) (i32.const 0x1200))
             (call $show (i32.const 0x1200))
             (call $udp-create-socket.create-udp-socket (i32.const 1) (i32.const 0x1200))
             (call $show (i32.const 0x1200))
             (local.set $net (call $instance-network.instance-network))
             (call $ip-name-lookup.resolve-addresses (local.get $net) (i32.const 0x2000) (i32.const 9)
               (i32.const 0x1200))
             (call $show (i32.const 0x1200))
             (call $network.drop-network (local.get $net)))"#,
        &[],
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1 1\n1 1\n1 20\n");
    // Any socket handle is forged: none can be made.
    traps(
        r#"(func (export "_start") (drop (call $tcp.tcp-socket.subscribe (i32.const 1))))"#,
        "no socket can exist",
    );
    // A family that does not exist, and a lookup on a network handle never issued.
    traps(
        r#"(func (export "_start")
             (call $tcp-create-socket.create-tcp-socket (i32.const 2) (i32.const 0x1200)))"#,
        "2 is not a case of ip-address-family",
    );
    traps(
        r#"(func (export "_start")
             (call $ip-name-lookup.resolve-addresses (i32.const 9) (i32.const 0) (i32.const 0)
               (i32.const 0x1200)))"#,
        "network handle 9",
    );
}
