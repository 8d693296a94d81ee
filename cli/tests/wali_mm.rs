//! WALI memory syscalls end to end, in hand-written WAT that imports them directly: pages
//! taken from the top of linear memory and reused zeroed, the memory's maximum as the limit
//! (`-ENOMEM`, never -1), `MAP_FIXED` and the calls on existing pages refused outside mmap's
//! own pages, advice that could punch holes refused, `mremap` moving contents, the break,
//! `MAP_SHARED` pages shared with a forked child while private ones are copied, and a
//! protection that wasm code runs into as a trap. Each check exits with its own status; the
//! modules run on every target (aarch64 and riscv64 under qemu-user).

mod common;

use common::*;
use std::process::{Command, Output};
use wafer::Target;

const IMPORTS: &str = r#"
  (import "wali" "__proc_exit" (func $proc_exit (param i32)))
  (import "wali" "SYS_mmap" (func $mmap (param i32 i32 i32 i32 i32 i64) (result i64)))
  (import "wali" "SYS_munmap" (func $munmap (param i32 i32) (result i64)))
  (import "wali" "SYS_mprotect" (func $mprotect (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_madvise" (func $madvise (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_mremap" (func $mremap (param i32 i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_brk" (func $brk (param i32) (result i64)))
  (import "wali" "SYS_fork" (func $fork (result i64)))
  (import "wali" "SYS_wait4" (func $wait4 (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_exit" (func $sys_exit (param i32) (result i64)))
  (memory (export "memory") 1 8 shared)
  (func $check (param $ok i32) (param $step i32)
    (if (i32.eqz (local.get $ok)) (then (call $proc_exit (local.get $step)))))
  (func $eq (param $got i64) (param $want i64) (param $step i32)
    (call $check (i64.eq (local.get $got) (local.get $want)) (local.get $step)))
  ;; mmap(NULL, len, RW, MAP_PRIVATE|MAP_ANONYMOUS) or MAP_SHARED|MAP_ANONYMOUS
  (func $anon (param $len i32) (result i64)
    (call $mmap (i32.const 0) (local.get $len) (i32.const 3) (i32.const 0x22) (i32.const -1) (i64.const 0)))
  (func $shared (param $len i32) (result i64)
    (call $mmap (i32.const 0) (local.get $len) (i32.const 3) (i32.const 0x21) (i32.const -1) (i64.const 0)))
"#;

const CHECKS: &str = r#"
  (func (export "_start")
    (local $a i32) (local $b i32) (local $s i32) (local $p i32) (local $pid i32) (local $brk i32)
    ;; Pages from the top of memory, aligned, writable; reused zeroed after munmap.
    (local.set $a (i32.wrap_i64 (call $anon (i32.const 4096))))
    (call $check (i32.ge_u (local.get $a) (i32.const 0x10000)) (i32.const 1))
    (call $check (i32.eqz (i32.and (local.get $a) (i32.const 4095))) (i32.const 2))
    (i32.store (local.get $a) (i32.const 0x55))
    (call $eq (call $munmap (local.get $a) (i32.const 4096)) (i64.const 0) (i32.const 3))
    (call $eq (call $anon (i32.const 4096)) (i64.extend_i32_u (local.get $a)) (i32.const 4))
    (call $check (i32.eqz (i32.load (local.get $a))) (i32.const 5))
    ;; Limits: the declared maximum (8 pages), lengths that would wrap, zero.
    (call $eq (call $anon (i32.const 0x100000)) (i64.const -12) (i32.const 6))
    (call $eq (call $anon (i32.const -1)) (i64.const -12) (i32.const 7))
    (call $eq (call $anon (i32.const 0)) (i64.const -22) (i32.const 8))
    ;; MAP_FIXED only over mmap's own pages.
    (call $eq (call $mmap (i32.const 0) (i32.const 4096) (i32.const 3) (i32.const 0x32) (i32.const -1) (i64.const 0)) (i64.const -12) (i32.const 9))
    (call $eq (call $mmap (i32.const 0x100) (i32.const 4096) (i32.const 3) (i32.const 0x32) (i32.const -1) (i64.const 0)) (i64.const -22) (i32.const 10))
    (call $eq (call $mmap (i32.const 0xfffff000) (i32.const 4096) (i32.const 3) (i32.const 0x32) (i32.const -1) (i64.const 0)) (i64.const -12) (i32.const 11))
    (call $eq (call $mmap (local.get $a) (i32.const 4096) (i32.const 3) (i32.const 0x32) (i32.const -1) (i64.const 0)) (i64.extend_i32_u (local.get $a)) (i32.const 12))
    ;; Calls on existing pages: only mmap's.
    (call $eq (call $munmap (i32.const 0) (i32.const 4096)) (i64.const -22) (i32.const 13))
    (call $eq (call $munmap (local.get $a) (i32.const -4096)) (i64.const -22) (i32.const 14))
    (call $eq (call $mprotect (i32.const 0x1000) (i32.const 4096) (i32.const 1)) (i64.const -12) (i32.const 15))
    (call $eq (call $madvise (i32.const 0x1000) (i32.const 4096) (i32.const 4)) (i64.const -12) (i32.const 16))
    (call $eq (call $madvise (local.get $a) (i32.const 4096) (i32.const 10)) (i64.const -22) (i32.const 17))
    (call $eq (call $madvise (local.get $a) (i32.const 4096) (i32.const 4)) (i64.const 0) (i32.const 18))
    ;; mremap moves what it must, with its contents.
    (i32.store (local.get $a) (i32.const 0x77))
    (local.set $b (i32.wrap_i64 (call $anon (i32.const 4096))))
    (call $eq (call $mremap (local.get $a) (i32.const 4096) (i32.const 0x8000) (i32.const 0) (i32.const 0)) (i64.const -12) (i32.const 19))
    (local.set $a (i32.wrap_i64 (call $mremap (local.get $a) (i32.const 4096) (i32.const 0x8000) (i32.const 1) (i32.const 0))))
    (call $check (i32.gt_u (local.get $a) (local.get $b)) (i32.const 20))
    (call $check (i32.eq (i32.load (local.get $a)) (i32.const 0x77)) (i32.const 21))
    ;; The break moves within its reservation; mmap never gives out its pages.
    (local.set $brk (i32.wrap_i64 (call $brk (i32.const 0))))
    (call $eq (call $brk (i32.add (local.get $brk) (i32.const 100))) (i64.extend_i32_u (i32.add (local.get $brk) (i32.const 100))) (i32.const 22))
    (i32.store (i32.add (local.get $brk) (i32.const 96)) (i32.const 1))
    (call $eq (call $brk (i32.const -4096)) (i64.extend_i32_u (i32.add (local.get $brk) (i32.const 100))) (i32.const 23))
    (call $eq (call $munmap (local.get $brk) (i32.const 4096)) (i64.const -22) (i32.const 24))
    ;; fork: shared pages are shared, private ones copied.
    (local.set $s (i32.wrap_i64 (call $shared (i32.const 4096))))
    (local.set $p (i32.wrap_i64 (call $anon (i32.const 4096))))
    (call $check (i32.and (i32.gt_u (local.get $s) (i32.const 0)) (i32.gt_u (local.get $p) (i32.const 0))) (i32.const 25))
    (local.set $pid (i32.wrap_i64 (call $fork)))
    (if (i32.eqz (local.get $pid))
      (then
        (i32.store (local.get $s) (i32.const 1))
        (i32.store (local.get $p) (i32.const 1))
        (drop (call $sys_exit (i32.const 0)))))
    (call $eq (call $wait4 (local.get $pid) (i32.const 0) (i32.const 0) (i32.const 0)) (i64.extend_i32_u (local.get $pid)) (i32.const 26))
    (call $check (i32.eq (i32.load (local.get $s)) (i32.const 1)) (i32.const 27))
    (call $check (i32.eq (i32.load (local.get $p)) (i32.const 0)) (i32.const 28))
    (call $proc_exit (i32.const 0)))
"#;

/// A page made read-only: reading works, writing traps.
const PROTECT: &str = r#"
  (func (export "_start")
    (local $a i32)
    (local.set $a (i32.wrap_i64 (call $anon (i32.const 4096))))
    (i32.store (local.get $a) (i32.const 9))
    (call $eq (call $mprotect (local.get $a) (i32.const 4096) (i32.const 5)) (i64.const 0) (i32.const 1))
    (call $check (i32.eq (i32.load (local.get $a)) (i32.const 9)) (i32.const 2))
    (i32.store (local.get $a) (i32.const 10))
    (call $proc_exit (i32.const 3)))
"#;

fn run_on(target: &str, body: &str) -> Output {
    let dir = scratch();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, format!("(module {IMPORTS} {body})")).unwrap();
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

fn all(target: &str) {
    let out = run_on(target, CHECKS);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{target}: failed at check {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    let out = run_on(target, PROTECT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(134), "{target}: {stderr}");
    assert!(
        stderr.contains("wasm trap: out of bounds memory access"),
        "{target}: {stderr}"
    );
}

#[test]
fn memory_syscalls_on_x86_64() {
    all("x86_64");
}

#[test]
fn memory_syscalls_on_aarch64() {
    all("aarch64");
}

#[test]
fn memory_syscalls_on_riscv64() {
    all("riscv64");
}
