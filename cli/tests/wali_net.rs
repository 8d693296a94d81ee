//! WALI sockets, polling and event descriptors end to end, in hand-written WAT that imports
//! the syscalls directly: a descriptor passed over a socket pair with `sendmsg`/`recvmsg`
//! (the guest's 36-byte `msghdr`, a control message with garbage in its header padding), the
//! packed 12-byte `epoll_event`, `poll` and `select` (x86-64-only syscalls, expressed through
//! `ppoll` and `pselect6` elsewhere), `pselect6`'s `{mask, size}` pair, and hostile pointers
//! and lengths. Each check exits with its own status; the same module runs on every target
//! (aarch64 and riscv64 under qemu-user, where `epoll_event` and those syscalls are
//! translated).

mod common;

use common::*;
use std::process::Command;
use wafer::Target;

const MODULE: &str = r#"(module
  (import "wali" "__proc_exit" (func $exit (param i32)))
  (import "wali" "SYS_socketpair" (func $socketpair (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_epoll_create1" (func $epoll_create1 (param i32) (result i64)))
  (import "wali" "SYS_epoll_ctl" (func $epoll_ctl (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_epoll_pwait" (func $epoll_pwait (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_sendmsg" (func $sendmsg (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_recvmsg" (func $recvmsg (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_poll" (func $poll (param i32 i64 i32) (result i64)))
  (import "wali" "SYS_ppoll" (func $ppoll (param i32 i64 i32 i32 i32) (result i64)))
  (import "wali" "SYS_select" (func $select (param i32 i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_pselect6" (func $pselect6 (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_eventfd" (func $eventfd (param i32) (result i64)))
  (import "wali" "SYS_getsockopt" (func $getsockopt (param i32 i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_setsockopt" (func $setsockopt (param i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)

  ;; epoll_event {EPOLLIN, data}, packed
  (data (i32.const 0x200) "\01\00\00\00\88\77\66\55\44\33\22\11")
  ;; iovec {0x500, 4} -> "PING"
  (data (i32.const 0x400) "\00\05\00\00\04\00\00\00")
  (data (i32.const 0x500) "PING")
  ;; msghdr: name 0/0, iov 0x400, iovlen 1, pad, control 0x600, controllen 20, pad, flags
  (data (i32.const 0x300) "\00\00\00\00\00\00\00\00\00\04\00\00\01\00\00\00\ee\ee\ee\ee\00\06\00\00\14\00\00\00\ee\ee\ee\ee\00\00\00\00")
  ;; cmsghdr {len 20, pad (garbage), SOL_SOCKET, SCM_RIGHTS}, then the descriptor
  (data (i32.const 0x600) "\14\00\00\00\ab\ab\ab\ab\01\00\00\00\01\00\00\00")
  ;; room for two events, marked
  (data (i32.const 0x700) "\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee\ee")
  ;; receiving msghdr: iov 0x880, iovlen 1, control 0xA00, controllen 24
  (data (i32.const 0x800) "\00\00\00\00\00\00\00\00\80\08\00\00\01\00\00\00\00\00\00\00\00\0a\00\00\18\00\00\00\00\00\00\00\00\00\00\00")
  (data (i32.const 0x880) "\00\09\00\00\10\00\00\00")
  ;; timevals {0, 0} and {0, 2000 us}
  (data (i32.const 0xD10) "\00\00\00\00\00\00\00\00\d0\07\00\00\00\00\00\00")
  ;; a full signal mask, and pselect6's {mask pointer, size} pair
  (data (i32.const 0xE00) "\ff\ff\ff\ff\ff\ff\ff\ff")
  (data (i32.const 0xE10) "\00\0e\00\00\00\00\00\00\08\00\00\00\00\00\00\00")

  (func $expect (param $got i64) (param $want i64) (param $step i32)
    (if (i64.ne (local.get $got) (local.get $want)) (then (call $exit (local.get $step)))))

  (func $set_bit (param $fd i32)
    (memory.fill (i32.const 0xC00) (i32.const 0) (i32.const 128))
    (i32.store
      (i32.add (i32.const 0xC00) (i32.shl (i32.shr_u (local.get $fd) (i32.const 5)) (i32.const 2)))
      (i32.shl (i32.const 1) (i32.and (local.get $fd) (i32.const 31)))))

  (func (export "_start")
    (local $sv0 i32) (local $sv1 i32) (local $ep i32) (local $efd i32)
    (call $expect (call $socketpair (i32.const 1) (i32.const 1) (i32.const 0) (i32.const 0x100)) (i64.const 0) (i32.const 1))
    (local.set $sv0 (i32.load (i32.const 0x100)))
    (local.set $sv1 (i32.load (i32.const 0x104)))
    (local.set $ep (i32.wrap_i64 (call $epoll_create1 (i32.const 0))))
    (if (i32.lt_s (local.get $ep) (i32.const 0)) (then (call $exit (i32.const 2))))
    (call $expect (call $epoll_ctl (local.get $ep) (i32.const 1) (local.get $sv1) (i32.const 0x200)) (i64.const 0) (i32.const 3))

    ;; send "PING" and a descriptor
    (i32.store (i32.const 0x610) (local.get $sv0))
    (call $expect (call $sendmsg (local.get $sv0) (i32.const 0x300) (i32.const 0)) (i64.const 4) (i32.const 4))

    ;; epoll: one 12-byte event, data intact, the next slot untouched
    (call $expect (call $epoll_pwait (local.get $ep) (i32.const 0x700) (i32.const 2) (i32.const 1000) (i32.const 0xE00) (i32.const 8)) (i64.const 1) (i32.const 5))
    (call $expect (i64.load32_u (i32.const 0x700)) (i64.const 1) (i32.const 6))
    (call $expect (i64.load (i32.const 0x704)) (i64.const 0x1122334455667788) (i32.const 7))
    (call $expect (i64.load32_u (i32.const 0x70C)) (i64.const 0xEEEEEEEE) (i32.const 8))

    ;; poll, select, pselect6 (with the mask pair), ppoll (with a mask): all see the data
    (i32.store (i32.const 0xB00) (local.get $sv1))
    (i32.store (i32.const 0xB04) (i32.const 1))
    (call $expect (call $poll (i32.const 0xB00) (i64.const 1) (i32.const 0)) (i64.const 1) (i32.const 9))
    (call $expect (i64.load16_u (i32.const 0xB06)) (i64.const 1) (i32.const 10))
    (call $set_bit (local.get $sv1))
    (call $expect (call $select (i32.add (local.get $sv1) (i32.const 1)) (i32.const 0xC00) (i32.const 0) (i32.const 0) (i32.const 0xD00)) (i64.const 1) (i32.const 11))
    (call $expect (call $pselect6 (i32.add (local.get $sv1) (i32.const 1)) (i32.const 0xC00) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0xE10)) (i64.const 1) (i32.const 12))
    (call $expect (call $ppoll (i32.const 0xB00) (i64.const 1) (i32.const 0) (i32.const 0xE00) (i32.const 8)) (i64.const 1) (i32.const 13))

    ;; receive: the data, the control length the kernel used, a new descriptor
    (call $expect (call $recvmsg (local.get $sv1) (i32.const 0x800) (i32.const 0)) (i64.const 4) (i32.const 14))
    (call $expect (i64.load32_u (i32.const 0x900)) (i64.const 0x474E4950) (i32.const 15))
    (call $expect (i64.load32_u (i32.const 0x818)) (i64.const 24) (i32.const 16))
    (call $expect (i64.load32_u (i32.const 0xA00)) (i64.const 20) (i32.const 17))
    (call $expect (i64.load32_u (i32.const 0xA04)) (i64.const 0) (i32.const 18))
    (call $expect (i64.load32_u (i32.const 0xA0C)) (i64.const 1) (i32.const 19))
    (if (i32.le_s (i32.load (i32.const 0xA10)) (local.get $sv1)) (then (call $exit (i32.const 20))))

    ;; nothing left: select times out after 2 ms and reports no time left
    (call $set_bit (local.get $sv1))
    (call $expect (call $select (i32.add (local.get $sv1) (i32.const 1)) (i32.const 0xC00) (i32.const 0) (i32.const 0) (i32.const 0xD10)) (i64.const 0) (i32.const 21))
    (call $expect (i64.load (i32.const 0xD18)) (i64.const 0) (i32.const 22))
    (call $expect (call $epoll_pwait (local.get $ep) (i32.const 0x700) (i32.const 2) (i32.const 0) (i32.const 0) (i32.const 8)) (i64.const 0) (i32.const 23))

    ;; eventfd (eventfd2 off x86-64) starts readable
    (local.set $efd (i32.wrap_i64 (call $eventfd (i32.const 5))))
    (if (i32.lt_s (local.get $efd) (i32.const 0)) (then (call $exit (i32.const 24))))
    (i32.store (i32.const 0xB00) (local.get $efd))
    (call $expect (call $poll (i32.const 0xB00) (i64.const 1) (i32.const 0)) (i64.const 1) (i32.const 25))

    ;; hostile pointers and lengths
    (call $expect (call $epoll_pwait (local.get $ep) (i32.const 0xFFF8) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 8)) (i64.const -14) (i32.const 30))
    (call $expect (call $epoll_ctl (local.get $ep) (i32.const 1) (local.get $efd) (i32.const 0xFFF8)) (i64.const -14) (i32.const 31))
    (call $expect (call $sendmsg (local.get $sv0) (i32.const 0xFFE0) (i32.const 0)) (i64.const -14) (i32.const 32))
    (i32.store (i32.const 0x404) (i32.const -1))
    (call $expect (call $sendmsg (local.get $sv0) (i32.const 0x300) (i32.const 0)) (i64.const -14) (i32.const 33))
    (i64.store (i32.const 0xE18) (i64.const 16))
    (call $expect (call $pselect6 (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0xE10)) (i64.const -22) (i32.const 34))
    (call $expect (call $pselect6 (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0xFFF8)) (i64.const -14) (i32.const 35))
    (call $expect (call $ppoll (i32.const 0xFFFC) (i64.const 1) (i32.const 0) (i32.const 0) (i32.const 8)) (i64.const -14) (i32.const 36))
    (call $expect (call $poll (i32.const 0) (i64.const -1) (i32.const 0)) (i64.const -22) (i32.const 37))
    (call $expect (call $select (i32.const -1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)) (i64.const -22) (i32.const 38))
    (call $expect (call $select (i32.const 65) (i32.const 0xFFF8) (i32.const 0) (i32.const 0) (i32.const 0)) (i64.const -14) (i32.const 39))
    (i32.store (i32.const 0xF10) (i32.const 4))
    (call $expect (call $getsockopt (local.get $sv0) (i32.const 132) (i32.const 1) (i32.const 0xF00) (i32.const 0xF10)) (i64.const -92) (i32.const 40))
    (call $expect (call $setsockopt (local.get $sv0) (i32.const 1) (i32.const 26) (i32.const 0xF20) (i32.const 16)) (i64.const -22) (i32.const 41))
    (call $expect (call $socketpair (i32.const 1) (i32.const 1) (i32.const 0) (i32.const 0xFFFC)) (i64.const -14) (i32.const 42))
    (call $exit (i32.const 0)))
)"#;

/// Builds the module for `target` and runs it (under qemu off the host's architecture).
fn run_on(target: &str) {
    let dir = scratch();
    let input = dir.path().join("net.wat");
    std::fs::write(&input, MODULE).unwrap();
    let exe = dir.path().join("net");
    wafer_build(&input, &exe, &["--target", target]);
    let t = Target::resolve(target).unwrap();
    let mut cmd = match t.run_prefix().split_first() {
        Some((program, rest)) => {
            // qemu-user cannot confine the program (the kernel sandbox would confine the
            // emulator): run it without, as the runtime allows when asked.
            let mut c = Command::new(program);
            c.args(rest).arg(&exe).env("WAFER_ALLOW_UNSANDBOXED", "1");
            c
        }
        None => Command::new(&exe),
    };
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{target}: failed at check {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
}

#[test]
fn sockets_epoll_and_polling_on_x86_64() {
    run_on("x86_64");
}

#[test]
fn sockets_epoll_and_polling_on_aarch64() {
    run_on("aarch64");
}

#[test]
fn sockets_epoll_and_polling_on_riscv64() {
    run_on("riscv64");
}
