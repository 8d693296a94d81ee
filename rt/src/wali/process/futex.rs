//! `futex` on guest words. The guest's futex words live in its (shared) linear memory: every
//! user address an operation takes is checked (4 bytes, 4-aligned, inside memory) and
//! translated, and the timeout struct is copied into a runtime buffer.
//!
//! Supported: `FUTEX_WAIT`, `FUTEX_WAKE`, `FUTEX_WAIT_BITSET`, `FUTEX_WAKE_BITSET`,
//! `FUTEX_REQUEUE`, `FUTEX_CMP_REQUEUE` and `FUTEX_WAKE_OP` (second address translated too;
//! their fourth argument is a count, not a pointer), each with or without
//! `FUTEX_PRIVATE_FLAG` / `FUTEX_CLOCK_REALTIME` (the kernel checks where the latter is
//! allowed). The priority-inheritance operations, which store kernel thread ids in the word
//! and tie into robust lists, answer `ENOSYS`, as does anything unknown.

use super::super::{raw, Args, Call, Errno, SysResult};

const FUTEX_WAIT: i32 = 0;
const FUTEX_WAKE: i32 = 1;
const FUTEX_REQUEUE: i32 = 3;
const FUTEX_CMP_REQUEUE: i32 = 4;
const FUTEX_WAKE_OP: i32 = 5;
const FUTEX_WAIT_BITSET: i32 = 9;
const FUTEX_WAKE_BITSET: i32 = 10;
/// The bits of `op` that are modifiers, not the command.
const FUTEX_PRIVATE_FLAG: i32 = 128;
const FUTEX_CLOCK_REALTIME: i32 = 256;

/// Host address of the futex word at guest `ptr`.
fn word(call: &Call, ptr: u64) -> Result<u64, Errno> {
    if !ptr.is_multiple_of(4) {
        return Err(Errno(libc::EINVAL));
    }
    Ok(super::required(call, ptr, 4)? as u64)
}

/// A copy of the guest's `struct timespec` at `ptr` (two i64, as on every 64-bit host).
fn timespec(call: &Call, ptr: u64) -> Result<libc::timespec, Errno> {
    Ok(libc::timespec {
        tv_sec: call.mem.read_u64(ptr)? as i64,
        tv_nsec: call.mem.read_u64(ptr + 8)? as i64,
    })
}

pub fn futex(call: &Call, args: &Args) -> SysResult {
    let (uaddr, op, val, timeout, uaddr2, val3) =
        (args[0], args[1] as i32, args[2], args[3], args[4], args[5]);
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let op_arg = op as i64 as u64;
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let at = word(call, uaddr)?;
            let ts = if timeout == 0 {
                None
            } else {
                Some(timespec(call, timeout)?)
            };
            let ts_ptr = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            raw(libc::SYS_futex, [at, op_arg, val, ts_ptr as u64, 0, val3])
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let at = word(call, uaddr)?;
            raw(libc::SYS_futex, [at, op_arg, val, 0, 0, val3])
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_WAKE_OP => {
            let at = word(call, uaddr)?;
            let at2 = word(call, uaddr2)?;
            // The fourth argument is `val2`, a count passed in the timeout's register.
            let val2 = u64::from(timeout as u32);
            raw(libc::SYS_futex, [at, op_arg, val, val2, at2, val3])
        }
        _ => Err(Errno(libc::ENOSYS)),
    }
}
