//! Atomics, wait/notify and wasi-threads at the edges, in hand-written WAT: misaligned and
//! out-of-bounds waits, waits on an unshared memory, the live-thread cap, spawn refusals,
//! traps on worker threads, and memory growth seen across threads in both bounds-check modes.

mod common;

use common::*;
use std::process::Output;
use std::time::{Duration, Instant};
use wafer_abi::MAX_GUEST_THREADS;

const IMPORTS: &str = r#"
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
"#;

/// Builds `wat` with `flags` and runs it with a bound on its run time (a hang fails).
fn build_and_run(wat: &str, flags: &[&str]) -> Output {
    let dir = scratch();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, wat).unwrap();
    let exe = dir.path().join("m");
    wafer_build(&input, &exe, flags);
    let mut child = std::process::Command::new(&exe)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the executable hung");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

fn assert_trap(out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(134), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("wasm trap: {message}")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_waits_trap_with_the_spec_messages() {
    let cases = [
        // (memory, operands, trap)
        (
            "(memory 1 1 shared)",
            "(i32.const 2) (i32.const 0) (i64.const 0)",
            "unaligned atomic",
        ),
        (
            "(memory 1 1 shared)",
            "(i32.const 65536) (i32.const 0) (i64.const 0)",
            "out of bounds memory access",
        ),
        (
            "(memory 1 1 shared)",
            "(i32.const -4) (i32.const 0) (i64.const 0)",
            "out of bounds memory access",
        ),
        (
            "(memory 1 1)",
            "(i32.const 0) (i32.const 0) (i64.const 0)",
            "expected shared memory",
        ),
    ];
    for mode in ["guard", "explicit"] {
        for (memory, operands, trap) in cases {
            let wat = format!(
                r#"(module {IMPORTS} {memory}
                    (func $waiter (export "_start")
                      (drop (memory.atomic.wait32 offset=0 {operands}))))"#
            );
            let out = build_and_run(&wat, &["--bounds-checks", mode]);
            assert_trap(&out, trap);
            assert!(
                text(&out.stderr).contains("in function waiter"),
                "{}",
                text(&out.stderr)
            );
        }
        // A static offset past 4 GiB minus the index still is out of bounds, not a wrap.
        let wat = format!(
            r#"(module {IMPORTS} (memory 1 1 shared)
                (func (export "_start")
                  (drop (memory.atomic.notify offset=4294967292 (i32.const 8) (i32.const 1)))))"#
        );
        assert_trap(
            &build_and_run(&wat, &["--bounds-checks", mode]),
            "out of bounds memory access",
        );
    }
}

#[test]
fn notify_on_an_unshared_memory_wakes_nobody() {
    let wat = format!(
        r#"(module {IMPORTS} (memory 1)
            (func (export "_start")
              (call $exit (i32.add (i32.const 40)
                (memory.atomic.notify (i32.const 0) (i32.const 5))))))"#
    );
    assert_eq!(build_and_run(&wat, &[]).status.code(), Some(40));
}

/// A module whose threads each park forever on address 16, counting spawns that succeeded
/// until the first refusal; exits with (successes - cap + 50), so 50 means "exactly the cap".
fn spawn_until_refused() -> String {
    format!(
        r#"(module
          (import "env" "memory" (memory 1 1 shared))
          {IMPORTS}
          (func (export "wasi_thread_start") (param i32 i32)
            (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
            (drop (memory.atomic.wait32 (i32.const 16) (i32.const 0) (i64.const -1))))
          (func (export "_start")
            (local $n i32)
            (block $refused (loop $more
              (br_if $refused (i32.lt_s (call $spawn (i32.const 7)) (i32.const 0)))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br_if $more (i32.lt_u (local.get $n) (i32.const 100000)))))
            (call $exit (i32.add (i32.sub (local.get $n) (i32.const {MAX_GUEST_THREADS}))
                                 (i32.const 50)))))"#
    )
}

#[test]
fn thread_spawn_stops_at_the_live_thread_cap() {
    let out = build_and_run(&spawn_until_refused(), &[]);
    assert_eq!(out.status.code(), Some(50), "{}", text(&out.stderr));
}

#[test]
fn thread_spawn_is_refused_without_a_start_export_or_shared_memory() {
    // No wasi_thread_start export.
    let no_start = format!(
        r#"(module (import "env" "memory" (memory 1 1 shared)) {IMPORTS}
            (func (export "_start") (call $exit (i32.sub (i32.const 0) (call $spawn (i32.const 0))))))"#
    );
    assert_eq!(build_and_run(&no_start, &[]).status.code(), Some(1));
    // An unshared memory cannot be shared with a thread.
    let unshared = format!(
        r#"(module {IMPORTS} (memory 1)
            (func (export "wasi_thread_start") (param i32 i32))
            (func (export "_start") (call $exit (i32.sub (i32.const 0) (call $spawn (i32.const 0))))))"#
    );
    assert_eq!(build_and_run(&unshared, &[]).status.code(), Some(1));
}

#[test]
fn a_trap_on_a_worker_thread_ends_the_process_with_its_report() {
    let wat = format!(
        r#"(module (import "env" "memory" (memory 1 1 shared)) {IMPORTS}
            (func $worker_body (unreachable))
            (func (export "wasi_thread_start") (param i32 i32) (call $worker_body))
            (func (export "_start")
              (drop (call $spawn (i32.const 0)))
              ;; Block forever: only the worker's trap can end the process.
              (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))))"#
    );
    let out = build_and_run(&wat, &[]);
    assert_trap(&out, "unreachable");
    assert!(
        text(&out.stderr).contains("in function worker_body"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn proc_exit_on_a_worker_thread_ends_the_process() {
    let wat = format!(
        r#"(module (import "env" "memory" (memory 1 1 shared)) {IMPORTS}
            (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
              (call $exit (local.get $arg)))
            (func (export "_start")
              (drop (call $spawn (i32.const 23)))
              (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))))"#
    );
    assert_eq!(build_and_run(&wat, &[]).status.code(), Some(23));
}

#[test]
fn memory_grown_by_one_thread_is_usable_by_another_in_both_modes() {
    // The worker grows the shared memory by one page and stores 77 in the new page, then
    // notifies; main waits, then reads the new page (explicit mode compares with the shared
    // length, guard mode relies on the committed pages) and checks memory.size.
    let wat = format!(
        r#"(module (import "env" "memory" (memory 1 4 shared)) {IMPORTS}
            (func (export "wasi_thread_start") (param i32 i32)
              (drop (memory.grow (i32.const 1)))
              (i32.store (i32.const 65536) (i32.const 77))
              (i32.atomic.store (i32.const 0) (i32.const 1))
              (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))
            (func (export "_start")
              (drop (call $spawn (i32.const 0)))
              (block $done (loop $wait
                (br_if $done (i32.atomic.load (i32.const 0)))
                (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
                (br $wait)))
              (call $exit (i32.add (i32.load (i32.const 65536)) (memory.size)))))"#
    );
    for mode in ["guard", "explicit"] {
        let out = build_and_run(&wat, &["--bounds-checks", mode]);
        assert_eq!(out.status.code(), Some(79), "{mode}: {}", text(&out.stderr));
    }
}

#[test]
fn wait_times_out_and_notify_counts_the_woken() {
    // Three workers wait on address 0 (no timeout); main waits with a 1 ms timeout on address
    // 4 (times out: 2), then notifies address 0 until all three were woken, and exits with
    // 10 * timeout-result + woken count.
    let wat = format!(
        r#"(module (import "env" "memory" (memory 1 1 shared)) {IMPORTS}
            (func (export "wasi_thread_start") (param i32 i32)
              (drop (i32.atomic.rmw.add (i32.const 8) (i32.const 1)))
              (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1))))
            (func (export "_start")
              (local $woken i32) (local $timeout i32)
              (drop (call $spawn (i32.const 0)))
              (drop (call $spawn (i32.const 0)))
              (drop (call $spawn (i32.const 0)))
              (local.set $timeout (memory.atomic.wait32 (i32.const 4) (i32.const 0) (i64.const 1000000)))
              (loop $again
                (local.set $woken (i32.add (local.get $woken)
                  (memory.atomic.notify (i32.const 0) (i32.const 1))))
                (br_if $again (i32.lt_u (local.get $woken) (i32.const 3))))
              (call $exit (i32.add (i32.mul (local.get $timeout) (i32.const 10)) (local.get $woken)))))"#
    );
    assert_eq!(build_and_run(&wat, &[]).status.code(), Some(23));
}
