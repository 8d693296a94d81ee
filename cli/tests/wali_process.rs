//! WALI threads and processes end to end, in hand-written WAT that imports the syscalls
//! directly: `__wasm_thread_spawn` (a function pointer from the caller's table, fresh globals
//! on the new thread, kernel thread ids, refusals), `SYS_exit` ending one thread only (a
//! guest thread, or the main thread while another runs on, the process then keeping the
//! main thread's status as the kernel does), `SYS_exit_group` from a guest thread, and
//! `fork`/`wait4` with the child's copy of linear memory. Each check exits with its own
//! status; every module runs on every target (aarch64 and riscv64 under qemu-user).

mod common;

use common::*;
use std::process::{Command, Output};
use wafer::Target;

const IMPORTS: &str = r#"
  (import "wali" "__wasm_thread_spawn" (func $spawn (param i32 i32) (result i32)))
  (import "wali" "__proc_exit" (func $proc_exit (param i32)))
  (import "wali" "SYS_futex" (func $futex (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_gettid" (func $gettid (result i64)))
  (import "wali" "SYS_getpid" (func $getpid (result i64)))
  (import "wali" "SYS_exit" (func $sys_exit (param i32) (result i64)))
  (import "wali" "SYS_exit_group" (func $exit_group (param i32) (result i64)))
  (import "wali" "SYS_nanosleep" (func $nanosleep (param i32 i32) (result i64)))
  (import "wali" "SYS_write" (func $write (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_fork" (func $fork (result i64)))
  (import "wali" "SYS_wait4" (func $wait4 (param i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1 1 shared)
  ;; {0 s, 50 ms}
  (data (i32.const 0x40) "\00\00\00\00\00\00\00\00\80\f0\fa\02\00\00\00\00")
  (data (i32.const 0x60) "T")
  (func $check (param $ok i32) (param $step i32)
    (if (i32.eqz (local.get $ok)) (then (call $proc_exit (local.get $step)))))
  ;; Waits until the word at $at is not 0.
  (func $await (param $at i32)
    (block $done
      (loop $again
        (br_if $done (i32.atomic.load (local.get $at)))
        (drop (call $futex (local.get $at) (i32.const 128) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
        (br $again))))
  (func $signal (param $at i32)
    (i32.atomic.store (local.get $at) (i32.const 1))
    (drop (call $futex (local.get $at) (i32.const 129) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0))))
"#;

fn run_on(target: &str, wat: &str) -> Output {
    let dir = scratch();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, wat).unwrap();
    let exe = dir.path().join("m");
    wafer_build(&input, &exe, &["--target", target]);
    let t = Target::resolve(target).unwrap();
    let mut cmd = match t.run_prefix().split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            // Under qemu-user the kernel sandbox would confine the emulator: run without it.
            c.args(rest).arg(&exe).env("WAFER_ALLOW_UNSANDBOXED", "1");
            c
        }
        None => Command::new(&exe),
    };
    cmd.output().unwrap()
}

fn expect(target: &str, wat: &str, status: i32, stdout: &str) {
    let out = run_on(target, wat);
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(status), stdout),
        "{target}: {}",
        text(&out.stderr)
    );
}

/// Spawning: refusals, then a thread that reports what it sees and ends with SYS_exit,
/// which must leave the main thread running.
fn spawn_module() -> String {
    format!(
        r#"(module {IMPORTS}
  (table 4 funcref)
  (elem (i32.const 1) $thread $wrong_type)
  (global $sp (mut i32) (i32.const 0x8000))
  (func $wrong_type (param i32))
  (func $thread (param $tid i32) (param $arg i32)
    (i32.store (local.get $arg) (local.get $tid))
    (i32.store offset=4 (local.get $arg) (i32.wrap_i64 (call $gettid)))
    (i32.store offset=8 (local.get $arg) (global.get $sp))
    (global.set $sp (i32.const 0x7000))
    (call $signal (i32.add (local.get $arg) (i32.const 12)))
    (drop (call $sys_exit (i32.const 5)))
    (unreachable))
  (func (export "_start")
    (local $tid i32)
    (global.set $sp (i32.const 0x1234))
    (call $check (i32.eq (call $spawn (i32.const 99) (i32.const 0x100)) (i32.const -22)) (i32.const 1))
    (call $check (i32.eq (call $spawn (i32.const -1) (i32.const 0x100)) (i32.const -22)) (i32.const 2))
    (call $check (i32.eq (call $spawn (i32.const 0) (i32.const 0x100)) (i32.const -22)) (i32.const 3))
    (call $check (i32.eq (call $spawn (i32.const 2) (i32.const 0x100)) (i32.const -22)) (i32.const 4))
    (local.set $tid (call $spawn (i32.const 1) (i32.const 0x100)))
    (call $check (i32.gt_s (local.get $tid) (i32.const 0)) (i32.const 5))
    (call $await (i32.const 0x10c))
    (call $check (i32.eq (i32.load (i32.const 0x100)) (local.get $tid)) (i32.const 6))
    (call $check (i32.eq (i32.load (i32.const 0x104)) (local.get $tid)) (i32.const 7))
    (call $check (i32.eq (i32.load (i32.const 0x108)) (i32.const 0x8000)) (i32.const 8))
    (call $check (i64.ne (i64.extend_i32_u (local.get $tid)) (call $getpid)) (i32.const 9))
    (call $check (i32.eq (global.get $sp) (i32.const 0x1234)) (i32.const 10))
    ;; The thread's SYS_exit ended only the thread; a second one runs the same way.
    (i32.store (i32.const 0x10c) (i32.const 0))
    (call $check (i32.gt_s (call $spawn (i32.const 1) (i32.const 0x100)) (i32.const 0)) (i32.const 11))
    (call $await (i32.const 0x10c))
    (call $proc_exit (i32.const 0))))"#
    )
}

/// The main thread's SYS_exit while a thread runs ends the main thread only: the thread
/// still writes, and the process ends with the main thread's status when the thread ends.
fn main_exit_module() -> String {
    format!(
        r#"(module {IMPORTS}
  (table 2 funcref)
  (elem (i32.const 1) $thread)
  (func $thread (param $tid i32) (param $arg i32)
    (drop (call $nanosleep (i32.const 0x40) (i32.const 0)))
    (drop (call $write (i32.const 1) (i32.const 0x60) (i32.const 1)))
    (drop (call $sys_exit (i32.const 3))))
  (func (export "_start")
    (call $check (i32.gt_s (call $spawn (i32.const 1) (i32.const 0)) (i32.const 0)) (i32.const 1))
    (drop (call $sys_exit (i32.const 7)))
    (call $proc_exit (i32.const 99))))"#
    )
}

/// SYS_exit_group on a guest thread ends the whole process with its status.
fn exit_group_module() -> String {
    format!(
        r#"(module {IMPORTS}
  (table 2 funcref)
  (elem (i32.const 1) $thread)
  (func $thread (param $tid i32) (param $arg i32)
    (drop (call $exit_group (i32.const 9))))
  (func (export "_start")
    (call $check (i32.gt_s (call $spawn (i32.const 1) (i32.const 0)) (i32.const 0)) (i32.const 1))
    ;; Waits on a word nobody sets.
    (call $await (i32.const 0x200))
    (call $proc_exit (i32.const 99))))"#
    )
}

/// fork: the child has a copy of memory and ends with SYS_exit (the last thread, so the
/// process); wait4 reports its status and checks its pointers.
fn fork_module() -> String {
    format!(
        r#"(module {IMPORTS}
  (func (export "_start")
    (local $pid i32)
    (i32.store (i32.const 0x300) (i32.const 1))
    (local.set $pid (i32.wrap_i64 (call $fork)))
    (if (i32.eqz (local.get $pid))
      (then
        (i32.store (i32.const 0x300) (i32.const 2))
        (drop (call $sys_exit (i32.const 42)))
        (unreachable)))
    (call $check (i32.gt_s (local.get $pid) (i32.const 0)) (i32.const 1))
    ;; A status pointer outside memory fails before anything is reaped.
    (call $check (i64.eq (call $wait4 (local.get $pid) (i32.const 0x10000) (i32.const 0) (i32.const 0)) (i64.const -14)) (i32.const 2))
    (call $check (i64.eq (call $wait4 (local.get $pid) (i32.const 0x304) (i32.const 0) (i32.const 0)) (i64.extend_i32_u (local.get $pid))) (i32.const 3))
    (call $check (i32.eq (i32.load (i32.const 0x304)) (i32.const 0x2a00)) (i32.const 4))
    (call $check (i32.eq (i32.load (i32.const 0x300)) (i32.const 1)) (i32.const 5))
    (call $check (i64.eq (call $wait4 (i32.const -1) (i32.const 0) (i32.const 0) (i32.const 0)) (i64.const -10)) (i32.const 6))
    (call $proc_exit (i32.const 0))))"#
    )
}

fn all(target: &str) {
    expect(target, &spawn_module(), 0, "");
    expect(target, &main_exit_module(), 7, "T");
    expect(target, &exit_group_module(), 9, "");
    expect(target, &fork_module(), 0, "");
}

#[test]
fn threads_exit_and_fork_on_x86_64() {
    all("x86_64");
}

#[test]
fn threads_exit_and_fork_on_aarch64() {
    all("aarch64");
}

#[test]
fn threads_exit_and_fork_on_riscv64() {
    all("riscv64");
}
