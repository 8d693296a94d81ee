//! WALI signals end to end, in hand-written WAT that imports the syscalls directly: guest
//! handlers run at safe points (a busy loop's header, a syscall's return), with the masks and
//! flags `rt_sigaction` set; blocked signals wait for `rt_sigprocmask` or `rt_sigsuspend`;
//! the runtime's fault signals and `rt_sigreturn` stay traps; handler entries are checked as
//! `call_indirect` checks them. The signal runs on every target (qemu-user off the host's
//! architecture).
//!
//! A module reports through its exit status: 0 when everything held, otherwise the number of
//! the first check that failed. 77 means a syscall the test needs from another family
//! (getpid, fork) answered ENOSYS, and the test is skipped with a note.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use wafer::Target;

const SKIP: i32 = 77;

/// Imports, memory (the guest stack pointer is global 0, as wasm-ld makes it), helpers.
const PRELUDE: &str = r#"
  (import "wali" "SYS_rt_sigaction" (func $sigaction (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_rt_sigprocmask" (func $sigprocmask (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_rt_sigpending" (func $sigpending (param i32 i32) (result i64)))
  (import "wali" "SYS_rt_sigsuspend" (func $sigsuspend (param i32 i32) (result i64)))
  (import "wali" "SYS_rt_sigreturn" (func $sigreturn (param i64) (result i64)))
  (import "wali" "SYS_sigaltstack" (func $sigaltstack (param i32 i32) (result i64)))
  (import "wali" "SYS_kill" (func $kill (param i32 i32) (result i64)))
  (import "wali" "SYS_setitimer" (func $setitimer (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_getpid" (func $getpid (result i64)))
  (import "wali" "SYS_fork" (func $fork (result i64)))
  (import "wali" "SYS_wait4" (func $wait4 (param i32 i32 i32 i32) (result i64)))
  (import "wali" "__proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (global $sp (mut i32) (i32.const 65536))
  (global $count (mut i32) (i32.const 0))
  (global $last (mut i32) (i32.const 0))

  ;; rt_sigaction(sig, {handler, flags, restorer 0, mask}) from a k_sigaction at 0x100.
  (func $handle (param $sig i32) (param $handler i32) (param $flags i64) (param $mask i64)
    (i32.store (i32.const 0x100) (local.get $handler))
    (i64.store (i32.const 0x104) (local.get $flags))
    (i32.store (i32.const 0x10c) (i32.const 0))
    (i64.store (i32.const 0x110) (local.get $mask))
    (if (i64.ne (call $sigaction (local.get $sig) (i32.const 0x100) (i32.const 0) (i32.const 8))
                (i64.const 0))
      (then (call $exit (i32.const 100)))))
  ;; rt_sigprocmask(how, set) through 0x120.
  (func $mask (param $how i32) (param $set i64)
    (i64.store (i32.const 0x120) (local.get $set))
    (if (i64.ne (call $sigprocmask (local.get $how) (i32.const 0x120) (i32.const 0) (i32.const 8))
                (i64.const 0))
      (then (call $exit (i32.const 101)))))
  ;; The current mask.
  (func $current_mask (result i64)
    (drop (call $sigprocmask (i32.const 0) (i32.const 0) (i32.const 0x128) (i32.const 8)))
    (i64.load (i32.const 0x128)))
  ;; A one-shot ITIMER_REAL (SIGALRM) in `us` microseconds, itimerval at 0x140.
  (func $alarm (param $us i64)
    (i64.store (i32.const 0x140) (i64.const 0))
    (i64.store (i32.const 0x148) (i64.const 0))
    (i64.store (i32.const 0x150) (i64.const 0))
    (i64.store (i32.const 0x158) (local.get $us))
    (if (i64.ne (call $setitimer (i32.const 0) (i32.const 0x140) (i32.const 0)) (i64.const 0))
      (then (call $exit (i32.const 102)))))
  ;; Exits with `code` unless `ok`.
  (func $check (param $ok i32) (param $code i32)
    (if (i32.eqz (local.get $ok)) (then (call $exit (local.get $code)))))
  ;; Spins until a handler ran `n` times in all (each turn passes a loop header).
  (func $spin_until (param $n i32)
    (loop $wait (br_if $wait (i32.lt_u (global.get $count) (local.get $n)))))
  ;; The usual handler: counts and remembers the signal.
  (func $count_it (param $sig i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.set $last (local.get $sig)))
"#;

const SIGUSR1: i32 = 10;
const SIGALRM: i32 = 14;
const SIGCHLD: i32 = 17;

fn module(body: &str) -> String {
    format!("(module {PRELUDE} {body})")
}

fn build_for(wat: &str, target: &str, dir: &Path) -> std::path::PathBuf {
    build_with(wat, &["--target", target], dir)
}

fn build_with(wat: &str, flags: &[&str], dir: &Path) -> std::path::PathBuf {
    let input = dir.join("m.wat");
    std::fs::write(&input, wat).unwrap();
    let exe = dir.join("m");
    wafer_build(&input, &exe, flags);
    exe
}

fn command_for(target: &str, exe: &Path) -> Command {
    let target = Target::resolve(target).unwrap();
    match target.run_prefix().split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            // The kernel sandbox would confine qemu, not the guest, so a WALI program refuses
            // to run under it unless told to.
            c.args(rest).arg(exe).env("WAFER_ALLOW_UNSANDBOXED", "1");
            c
        }
        None => Command::new(exe),
    }
}

/// Waits for `child` with a bound on its run time (a hang fails the test).
fn finish(mut child: std::process::Child) -> Output {
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

fn run_on(target: &str, wat: &str) -> Output {
    let dir = scratch();
    let exe = build_for(wat, target, dir.path());
    let child = command_for(target, &exe)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child)
}

fn run(wat: &str) -> Output {
    run_on("x86_64", wat)
}

/// Passes on status 0; a skip (77) is reported and passes too.
fn assert_passes(out: &Output, what: &str) -> bool {
    if out.status.code() == Some(SKIP) {
        eprintln!("{what}: skipped, a syscall it needs answers ENOSYS");
        return false;
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: check {:?} failed; stderr: {}",
        out.status.code(),
        text(&out.stderr)
    );
    true
}

fn assert_trap(out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(134), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("wasm trap: {message}")),
        "{}",
        text(&out.stderr)
    );
}

/// SIGALRM from setitimer reaches a handler while the guest spins in a loop that calls
/// nothing: the loop header is a safe point.
fn alarm_in_busy_loop() -> String {
    module(&format!(
        r#"
  (table 4 funcref)
  (elem (i32.const 2) $count_it)
  (func (export "_start") (local $turns i64)
    (call $handle (i32.const {SIGALRM}) (i32.const 2) (i64.const 0) (i64.const 0))
    (call $alarm (i64.const 20000))
    (loop $spin
      (local.set $turns (i64.add (local.get $turns) (i64.const 1)))
      (br_if $spin (i32.eqz (global.get $count))))
    (call $check (i32.eq (global.get $last) (i32.const {SIGALRM})) (i32.const 1))
    (call $check (i64.gt_u (local.get $turns) (i64.const 1)) (i32.const 2))
    (call $exit (i32.const 0)))
"#
    ))
}

#[test]
fn sigalrm_interrupts_a_busy_loop() {
    assert_passes(&run(&alarm_in_busy_loop()), "busy loop");
}

/// A loop whose every turn calls a function that calls another has no check at its header
/// (the callee polls at its entry): the signal still reaches the handler.
#[test]
fn sigalrm_interrupts_a_loop_through_the_function_it_calls() {
    let wat = module(&format!(
        r#"
  (table 4 funcref)
  (elem (i32.const 2) $count_it)
  (func $leaf)
  (func $tick (call $leaf))
  (func (export "_start")
    (call $handle (i32.const {SIGALRM}) (i32.const 2) (i64.const 0) (i64.const 0))
    (call $alarm (i64.const 20000))
    (loop $spin
      (call $tick)
      (br_if $spin (i32.eqz (global.get $count))))
    (call $check (i32.eq (global.get $last) (i32.const {SIGALRM})) (i32.const 1))
    (call $exit (i32.const 0)))
"#
    ));
    assert_passes(&run(&wat), "loop through a call");
}

/// Built with --no-signal-safe-points, a busy loop runs on with the signal pending, and the
/// handler runs as the next syscall returns.
#[test]
fn without_safe_points_a_handler_waits_for_the_next_syscall() {
    let wat = module(&format!(
        r#"
  (table 4 funcref)
  (elem (i32.const 2) $count_it)
  (func (export "_start") (local $turns i32)
    (call $handle (i32.const {SIGALRM}) (i32.const 2) (i64.const 0) (i64.const 0))
    (call $alarm (i64.const 1000))
    ;; 50 million turns take far longer than the alarm's millisecond.
    (loop $spin
      (local.set $turns (i32.add (local.get $turns) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $turns) (i32.const 50000000))))
    (call $check (i32.eqz (global.get $count)) (i32.const 1))
    (drop (call $getpid))
    (call $check (i32.eq (global.get $count) (i32.const 1)) (i32.const 2))
    (call $exit (i32.const 0)))
"#
    ));
    let dir = scratch();
    let exe = build_with(&wat, &["--no-signal-safe-points"], dir.path());
    let child = Command::new(&exe)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_passes(&finish(child), "no safe points");
}

/// A blocked SIGALRM waits (rt_sigpending shows it, the handler has not run) and is
/// delivered as the rt_sigprocmask that unblocks it returns, before the next instruction.
/// The handler is table entry 1, which is a function like any other (WALI's SIG_IGN is -2).
fn blocked_then_unblocked() -> String {
    module(&format!(
        r#"
  (table 4 funcref)
  (elem (i32.const 1) $count_it)
  (func (export "_start") (local $seen i32)
    (call $handle (i32.const {SIGALRM}) (i32.const 1) (i64.const 0) (i64.const 0))
    (call $mask (i32.const 0) (i64.const {alrm}))
    (call $alarm (i64.const 1000))
    ;; Wait until the kernel has fired it: pending, and not delivered.
    (loop $wait
      (drop (call $sigpending (i32.const 0x180) (i32.const 8)))
      (br_if $wait (i64.eqz (i64.and (i64.load (i32.const 0x180)) (i64.const {alrm})))))
    (call $check (i32.eqz (global.get $count)) (i32.const 1))
    (i64.store (i32.const 0x120) (i64.const {alrm}))
    (drop (call $sigprocmask (i32.const 1) (i32.const 0x120) (i32.const 0) (i32.const 8)))
    (local.set $seen (global.get $count))
    (call $check (i32.eq (local.get $seen) (i32.const 1)) (i32.const 2))
    ;; Nothing is left pending.
    (drop (call $sigpending (i32.const 0x180) (i32.const 8)))
    (call $check (i64.eqz (i64.load (i32.const 0x180))) (i32.const 3))
    (call $exit (i32.const 0)))
"#,
        alrm = 1u64 << (SIGALRM - 1)
    ))
}

#[test]
fn a_blocked_signal_is_delivered_when_unblocked() {
    assert_passes(&run(&blocked_then_unblocked()), "unblock");
}

/// The SA_SIGINFO shape: a (i32, i32, i32) handler gets a siginfo on the guest stack (below
/// the stack pointer, 16-byte aligned) and runs with its signal and sa_mask blocked; the
/// mask comes back afterwards; SA_RESETHAND leaves SIG_DFL behind.
fn siginfo_and_masks() -> String {
    module(&format!(
        r#"
  (table 4 funcref)
  (elem (i32.const 3) $with_info)
  (global $info (mut i32) (i32.const 0))
  (global $signo (mut i32) (i32.const 0))
  (global $mask_in (mut i64) (i64.const 0))
  (global $sp_in (mut i32) (i32.const 0))
  (func $with_info (param $sig i32) (param $si i32) (param $uc i32)
    (global.set $info (local.get $si))
    (global.set $signo (i32.load (local.get $si)))
    (global.set $sp_in (global.get $sp))
    (global.set $mask_in (call $current_mask))
    (call $count_it (local.get $sig)))
  (func (export "_start")
    ;; SA_SIGINFO | SA_RESETHAND, sa_mask = {{SIGUSR1}}
    (call $handle (i32.const {SIGALRM}) (i32.const 3) (i64.const 0x80000004) (i64.const {usr1}))
    (call $alarm (i64.const 5000))
    (call $spin_until (i32.const 1))
    (call $check (i32.eq (global.get $signo) (i32.const {SIGALRM})) (i32.const 1))
    (call $check (i32.lt_u (global.get $info) (i32.const 65536)) (i32.const 2))
    (call $check (i32.eqz (i32.and (global.get $info) (i32.const 15))) (i32.const 3))
    (call $check (i32.le_u (global.get $sp_in) (global.get $info)) (i32.const 4))
    (call $check (i64.eq (global.get $mask_in) (i64.const {both})) (i32.const 5))
    (call $check (i64.eqz (call $current_mask)) (i32.const 6))
    (call $check (i32.eq (global.get $sp) (i32.const 65536)) (i32.const 7))
    ;; SA_RESETHAND: the action is SIG_DFL again.
    (drop (call $sigaction (i32.const {SIGALRM}) (i32.const 0) (i32.const 0x200) (i32.const 8)))
    (call $check (i32.eqz (i32.load (i32.const 0x200))) (i32.const 8))
    (call $check (i64.eq (i64.load (i32.const 0x204)) (i64.const 0x80000004)) (i32.const 9))
    (call $exit (i32.const 0)))
"#,
        usr1 = 1u64 << (SIGUSR1 - 1),
        both = (1u64 << (SIGUSR1 - 1)) | (1u64 << (SIGALRM - 1)),
    ))
}

#[test]
fn handlers_get_siginfo_and_the_masks_linux_gives() {
    assert_passes(&run(&siginfo_and_masks()), "siginfo");
}

/// SA_ONSTACK with a guest alternate stack: the handler's stack pointer (and its siginfo) is
/// on that stack, and sigaltstack reports SS_ONSTACK from inside the handler.
#[test]
fn sa_onstack_runs_the_handler_on_the_guest_alternate_stack() {
    let out = run(&module(&format!(
        r#"
  (table 4 funcref)
  (elem (i32.const 3) $on_alt)
  (global $sp_in (mut i32) (i32.const 0))
  (global $info (mut i32) (i32.const 0))
  (global $flags_in (mut i32) (i32.const -1))
  (func $on_alt (param $sig i32) (param $si i32) (param $uc i32)
    (global.set $sp_in (global.get $sp))
    (global.set $info (local.get $si))
    (drop (call $sigaltstack (i32.const 0) (i32.const 0x1d0)))
    (global.set $flags_in (i32.load (i32.const 0x1d4)))
    (call $count_it (local.get $sig)))
  (func (export "_start")
    ;; stack_t at 0x1c0: ss_sp 0x8000, ss_flags 0, ss_size 0x4000
    (i32.store (i32.const 0x1c0) (i32.const 0x8000))
    (i32.store (i32.const 0x1c4) (i32.const 0))
    (i32.store (i32.const 0x1c8) (i32.const 0x4000))
    (call $check (i64.eqz (call $sigaltstack (i32.const 0x1c0) (i32.const 0))) (i32.const 1))
    ;; SA_ONSTACK | SA_SIGINFO
    (call $handle (i32.const {SIGALRM}) (i32.const 3) (i64.const 0x08000004) (i64.const 0))
    (call $alarm (i64.const 5000))
    (call $spin_until (i32.const 1))
    (call $check (i32.gt_u (global.get $info) (i32.const 0x8000)) (i32.const 2))
    (call $check (i32.lt_u (global.get $info) (i32.const 0xc000)) (i32.const 3))
    (call $check (i32.eq (global.get $sp_in) (global.get $info)) (i32.const 4))
    (call $check (i32.eq (global.get $flags_in) (i32.const 1)) (i32.const 5))
    (call $check (i32.eq (global.get $sp) (i32.const 65536)) (i32.const 6))
    ;; Outside the handler it is not SS_ONSTACK, and changing it is allowed.
    (drop (call $sigaltstack (i32.const 0) (i32.const 0x1d0)))
    (call $check (i32.eqz (i32.load (i32.const 0x1d4))) (i32.const 7))
    (call $exit (i32.const 0)))
"#
    )));
    assert_passes(&out, "sigaltstack");
}

/// kill(getpid(), SIGUSR1) runs the handler before kill returns, as Linux does for a signal
/// the calling thread does not block.
#[test]
fn a_handler_runs_before_kill_of_self_returns() {
    let out = run(&module(&format!(
        r#"
  (table 4 funcref)
  (elem (i32.const 2) $count_it)
  (func (export "_start") (local $pid i64) (local $seen i32)
    (local.set $pid (call $getpid))
    (if (i64.eq (local.get $pid) (i64.const -38)) (then (call $exit (i32.const {SKIP}))))
    (call $handle (i32.const {SIGUSR1}) (i32.const 2) (i64.const 0) (i64.const 0))
    (call $check
      (i64.eqz (call $kill (i32.wrap_i64 (local.get $pid)) (i32.const {SIGUSR1}))) (i32.const 1))
    (local.set $seen (global.get $count))
    (call $check (i32.eq (local.get $seen) (i32.const 1)) (i32.const 2))
    (call $check (i32.eq (global.get $last) (i32.const {SIGUSR1})) (i32.const 3))
    ;; SIGSEGV is the runtime's: a guest handler for it runs for a kill, never for a fault.
    (call $handle (i32.const 11) (i32.const 2) (i64.const 0) (i64.const 0))
    (call $check (i64.eqz (call $kill (i32.wrap_i64 (local.get $pid)) (i32.const 11))) (i32.const 4))
    (local.set $seen (global.get $count))
    (call $check (i32.eq (local.get $seen) (i32.const 2)) (i32.const 5))
    (call $check (i32.eq (global.get $last) (i32.const 11)) (i32.const 6))
    (call $exit (i32.const 0)))
"#
    )));
    assert_passes(&out, "kill(getpid())");
}

/// A signal from outside (the test sends SIGUSR1 with kill(2)) ends an rt_sigsuspend that
/// unblocks it: the handler runs, the call fails with EINTR, the old mask is back.
#[test]
fn a_signal_from_outside_ends_sigsuspend() {
    let wat = module(&format!(
        r#"
  (table 4 funcref)
  (elem (i32.const 2) $count_it)
  (func (export "_start") (local $r i64)
    (call $handle (i32.const {SIGUSR1}) (i32.const 2) (i64.const 0) (i64.const 0))
    (call $mask (i32.const 0) (i64.const {usr1}))
    (i64.store (i32.const 0x180) (i64.const 0))
    (local.set $r (call $sigsuspend (i32.const 0x180) (i32.const 8)))
    (call $check (i64.eq (local.get $r) (i64.const -4)) (i32.const 1))
    (call $check (i32.eq (global.get $count) (i32.const 1)) (i32.const 2))
    (call $check (i64.eq (call $current_mask) (i64.const {usr1})) (i32.const 3))
    (call $exit (i32.const 0)))
"#,
        usr1 = 1u64 << (SIGUSR1 - 1)
    ));
    let dir = scratch();
    let exe = build_for(&wat, "x86_64", dir.path());
    let child = Command::new(&exe)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Send once the guest sleeps with its handler installed: it then waits in sigsuspend
    // (it has nothing else to sleep in).
    let status = format!("/proc/{}/status", child.id());
    let started = Instant::now();
    loop {
        let s = std::fs::read_to_string(&status).unwrap_or_default();
        let field = |name: &str| {
            s.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        let caught = field("SigCgt:")
            .and_then(|v| u64::from_str_radix(&v, 16).ok())
            .is_some_and(|mask| mask & (1 << (SIGUSR1 - 1)) != 0);
        let sleeping = field("State:").is_some_and(|v| v.starts_with('S'));
        if caught && sleeping {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never waited");
        std::thread::sleep(Duration::from_millis(2));
    }
    let sent = Command::new("kill")
        .args(["-USR1", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_passes(&finish(child), "sigsuspend");
}

/// SIG_IGN (-2 in WALI's ABI) ignores: a SIGALRM that would end the process is dropped.
#[test]
fn sig_ign_ignores() {
    let out = run(&module(&format!(
        r#"
  (func (export "_start") (local $turns i64)
    (call $handle (i32.const {SIGALRM}) (i32.const -2) (i64.const 0) (i64.const 0))
    (call $alarm (i64.const 1000))
    ;; Long past the alarm (hundreds of milliseconds).
    (loop $spin
      (local.set $turns (i64.add (local.get $turns) (i64.const 1)))
      (br_if $spin (i64.lt_u (local.get $turns) (i64.const 300000000))))
    (drop (call $sigaction (i32.const {SIGALRM}) (i32.const 0) (i32.const 0x200) (i32.const 8)))
    (call $check (i32.eq (i32.load (i32.const 0x200)) (i32.const -2)) (i32.const 1))
    (call $exit (i32.const 0)))
"#
    )));
    assert_passes(&out, "SIG_IGN");
}

/// A handler with SA_RESTART makes an interrupted wait4 run again; without it wait4 fails
/// with EINTR. (The child spins for a while, the parent's alarm fires meanwhile.)
#[test]
fn sa_restart_restarts_an_interrupted_wait4() {
    for (flags, expect_eintr) in [(0x1000_0000u64, false), (0, true)] {
        let out = run(&module(&format!(
            r#"
  (table 4 funcref)
  (elem (i32.const 2) $count_it)
  (func (export "_start") (local $pid i64) (local $r i64) (local $turns i64)
    (call $handle (i32.const {SIGALRM}) (i32.const 2) (i64.const {flags}) (i64.const 0))
    (local.set $pid (call $fork))
    (if (i64.eq (local.get $pid) (i64.const -38)) (then (call $exit (i32.const {SKIP}))))
    (if (i64.eqz (local.get $pid))
      (then
        (loop $spin
          (local.set $turns (i64.add (local.get $turns) (i64.const 1)))
          (br_if $spin (i64.lt_u (local.get $turns) (i64.const 600000000))))
        (call $exit (i32.const 0))))
    (call $alarm (i64.const 20000))
    (local.set $r (call $wait4 (i32.wrap_i64 (local.get $pid)) (i32.const 0x180) (i32.const 0) (i32.const 0)))
    (call $check (i32.eq (global.get $count) (i32.const 1)) (i32.const 1))
    (if (i32.const {eintr})
      (then
        (call $check (i64.eq (local.get $r) (i64.const -4)) (i32.const 2))
        (local.set $r (call $wait4 (i32.wrap_i64 (local.get $pid)) (i32.const 0x180) (i32.const 0) (i32.const 0)))))
    (call $check (i64.eq (local.get $r) (local.get $pid)) (i32.const 3))
    (call $exit (i32.const 0)))
"#,
            eintr = i32::from(expect_eintr)
        )));
        assert_passes(&out, &format!("SA_RESTART={}", !expect_eintr));
    }
}

/// SIGCHLD from a forked child that exits.
#[test]
fn sigchld_from_a_forked_child() {
    let out = run(&module(&format!(
        r#"
  (table 4 funcref)
  (elem (i32.const 2) $count_it)
  (func (export "_start") (local $pid i64)
    (call $handle (i32.const {SIGCHLD}) (i32.const 2) (i64.const 0) (i64.const 0))
    (local.set $pid (call $fork))
    (if (i64.eq (local.get $pid) (i64.const -38)) (then (call $exit (i32.const {SKIP}))))
    (call $check (i64.ge_s (local.get $pid) (i64.const 0)) (i32.const 1))
    (if (i64.eqz (local.get $pid)) (then (call $exit (i32.const 0))))
    (call $spin_until (i32.const 1))
    (call $check (i32.eq (global.get $last) (i32.const {SIGCHLD})) (i32.const 2))
    (call $check
      (i64.eq (call $wait4 (i32.wrap_i64 (local.get $pid)) (i32.const 0x180) (i32.const 0) (i32.const 0))
              (local.get $pid))
      (i32.const 3))
    (call $exit (i32.const 0)))
"#
    )));
    assert_passes(&out, "SIGCHLD");
}

/// rt_sigaction on SIGSEGV is recorded (oldact reads it back) but an out-of-bounds access
/// is still a trap, handler or not, blocked or not.
#[test]
fn a_sigsegv_handler_does_not_stop_a_trap() {
    let out = run(&module(
        r#"
  (table 4 funcref)
  (elem (i32.const 2) $count_it)
  (func (export "_start")
    (call $handle (i32.const 11) (i32.const 2) (i64.const 4) (i64.const 0))
    (drop (call $sigaction (i32.const 11) (i32.const 0) (i32.const 0x200) (i32.const 8)))
    (call $check (i32.eq (i32.load (i32.const 0x200)) (i32.const 2)) (i32.const 1))
    (call $check (i64.eq (i64.load (i32.const 0x204)) (i64.const 4)) (i32.const 2))
    (call $mask (i32.const 0) (i64.const 0x400))
    (drop (i32.load (i32.const 0xfffffff0)))
    (call $exit (i32.const 3)))
"#,
    ));
    assert_trap(&out, "out of bounds memory access");
}

#[test]
fn a_direct_rt_sigreturn_traps() {
    let out = run(&module(
        r#"
  (func (export "_start")
    (drop (call $sigreturn (i64.const 0)))
    (call $exit (i32.const 1)))
"#,
    ));
    assert_trap(
        &out,
        "rt_sigreturn called outside a signal handler's return",
    );
}

/// A handler entry is checked as call_indirect checks it: in bounds, non-null, of a
/// handler's type.
#[test]
fn bad_handler_entries_trap_like_call_indirect() {
    // Index 9 is past the table's end, 3 is a null entry, 2 holds a
    // function of another type.
    for (index, message) in [
        (9, "undefined element"),
        (3, "uninitialized element"),
        (2, "indirect call type mismatch"),
    ] {
        let out = run(&module(&format!(
            r#"
  (table 4 funcref)
  (elem (i32.const 2) $wrong)
  (func $wrong (param i64))
  (func (export "_start")
    (call $handle (i32.const {SIGALRM}) (i32.const {index}) (i64.const 0) (i64.const 0))
    (call $alarm (i64.const 1000))
    (call $spin_until (i32.const 1))
    (call $exit (i32.const 1)))
"#
        )));
        assert_trap(&out, message);
    }
}

/// The same delivery on every target.
#[test]
fn delivery_works_on_every_target() {
    for target in ["aarch64", "riscv64"] {
        for (what, wat) in [
            ("busy loop", alarm_in_busy_loop()),
            ("unblock", blocked_then_unblocked()),
            ("siginfo", siginfo_and_masks()),
        ] {
            assert_passes(&run_on(target, &wat), &format!("{target}: {what}"));
        }
    }
}
