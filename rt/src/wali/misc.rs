//! WALI time syscalls: `clock_gettime`, `clock_getres`, `clock_nanosleep`, `nanosleep`,
//! `gettimeofday`.
//!
//! The guest's `struct timespec` and `struct timeval` are two i64 (`{seconds, nanoseconds}` /
//! `{seconds, microseconds}`), as on every 64-bit host, and `struct timezone` two i32; each is
//! copied between guest memory and runtime buffers, never handed to the kernel in place.
//! Clock ids pass unchanged (the kernel checks them, dynamic CPU and descriptor clocks
//! included). A sleep's remaining time is written back only when the sleep was interrupted
//! and relative, as the kernel does, and its pointer is checked only then.

use super::{check, int, raw, Args, Call, Errno, Handler, SysResult};

/// `TIMER_ABSTIME` for clock_nanosleep.
const TIMER_ABSTIME: i32 = 1;

/// The handler for the syscall named `name`, if this family implements it.
pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "clock_gettime" => clock_gettime,
        "clock_getres" => clock_getres,
        "clock_nanosleep" => clock_nanosleep,
        "nanosleep" => nanosleep,
        "gettimeofday" => gettimeofday,
        _ => return None,
    })
}

fn zero() -> libc::timespec {
    libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    }
}

/// A copy of the guest's `struct timespec` at `ptr`.
fn read_timespec(call: &Call, ptr: u64) -> Result<libc::timespec, Errno> {
    super::process::required(call, ptr, 16)?;
    Ok(libc::timespec {
        tv_sec: call.mem.read_u64(ptr)? as i64,
        tv_nsec: call.mem.read_u64(ptr + 8)? as i64,
    })
}

/// Writes two i64 (a timespec or timeval) to the guest at `ptr`, checked as one range.
fn write_pair(call: &Call, ptr: u64, a: i64, b: i64) -> Result<(), Errno> {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    call.mem.write_bytes(ptr, &bytes)
}

fn clock_gettime(call: &Call, args: &Args) -> SysResult {
    super::process::required(call, args[1], 16)?;
    let mut ts = zero();
    // SAFETY: our own buffer (the C library's vDSO path when it has one).
    check(unsafe { libc::clock_gettime(int(args, 0), &mut ts) } as libc::c_long)?;
    write_pair(call, args[1], ts.tv_sec, ts.tv_nsec)?;
    Ok(0)
}

fn clock_getres(call: &Call, args: &Args) -> SysResult {
    let out = args[1];
    call.mem.optional(out, 16)?;
    let mut ts = zero();
    // SAFETY: our own buffer.
    check(unsafe { libc::clock_getres(int(args, 0), &mut ts) } as libc::c_long)?;
    if out != 0 {
        write_pair(call, out, ts.tv_sec, ts.tv_nsec)?;
    }
    Ok(0)
}

/// Writes the remaining time of an interrupted sleep back to `rem` (if the guest gave one).
fn remaining(call: &Call, result: SysResult, rem_ptr: u64, rem: &libc::timespec) -> SysResult {
    if result == Err(Errno(libc::EINTR)) && rem_ptr != 0 {
        write_pair(call, rem_ptr, rem.tv_sec, rem.tv_nsec)?;
    }
    result
}

fn clock_nanosleep(call: &Call, args: &Args) -> SysResult {
    let (clock, flags, req_ptr, rem_ptr) = (int(args, 0), int(args, 1), args[2], args[3]);
    let req = read_timespec(call, req_ptr)?;
    let mut rem = zero();
    let result = raw(
        libc::SYS_clock_nanosleep,
        [
            clock as i64 as u64,
            flags as i64 as u64,
            &req as *const libc::timespec as u64,
            &mut rem as *mut libc::timespec as u64,
            0,
            0,
        ],
    );
    if flags & TIMER_ABSTIME != 0 {
        return result;
    }
    remaining(call, result, rem_ptr, &rem)
}

fn nanosleep(call: &Call, args: &Args) -> SysResult {
    let req = read_timespec(call, args[0])?;
    let mut rem = zero();
    let result = raw(
        libc::SYS_nanosleep,
        [
            &req as *const libc::timespec as u64,
            &mut rem as *mut libc::timespec as u64,
            0,
            0,
            0,
            0,
        ],
    );
    remaining(call, result, args[1], &rem)
}

fn gettimeofday(call: &Call, args: &Args) -> SysResult {
    let (tv_ptr, tz_ptr) = (args[0], args[1]);
    call.mem.optional(tv_ptr, 16)?;
    call.mem.optional(tz_ptr, 8)?;
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut tz = [0i32; 2];
    raw(
        libc::SYS_gettimeofday,
        [
            &mut tv as *mut libc::timeval as u64,
            tz.as_mut_ptr() as u64,
            0,
            0,
            0,
            0,
        ],
    )?;
    if tv_ptr != 0 {
        write_pair(call, tv_ptr, tv.tv_sec, tv.tv_usec)?;
    }
    if tz_ptr != 0 {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&tz[0].to_le_bytes());
        bytes[4..].copy_from_slice(&tz[1].to_le_bytes());
        call.mem.write_bytes(tz_ptr, &bytes)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_mem::tests::FakeGuest;

    const SIZE: usize = 0x1000;
    const END: u64 = SIZE as u64;
    const EFAULT: i64 = -(libc::EFAULT as i64);

    fn call(g: &mut FakeGuest, name: &str, args: &[u64]) -> i64 {
        let vmctx = g.vmctx();
        crate::wali::run_for_test(vmctx, handler(name).unwrap(), name, args)
    }

    fn pair(g: &FakeGuest, at: usize) -> (i64, i64) {
        let word = |i: usize| i64::from_le_bytes(g.bytes[i..i + 8].try_into().unwrap());
        (word(at), word(at + 8))
    }

    #[test]
    fn times_are_two_i64_written_whole_or_not_at_all() {
        let mut g = FakeGuest::new(SIZE);
        assert_eq!(call(&mut g, "clock_gettime", &[0, 0x100]), 0);
        let (s, ns) = pair(&g, 0x100);
        assert!(s > 0 && (0..1_000_000_000).contains(&ns));
        g.bytes[SIZE - 16..].fill(0xee);
        assert_eq!(call(&mut g, "clock_gettime", &[1, END - 15]), EFAULT);
        assert!(
            g.bytes[SIZE - 15..].iter().all(|&b| b == 0xee),
            "nothing written"
        );
        assert_eq!(call(&mut g, "clock_gettime", &[1, 0xFFFF_FFF8]), EFAULT);
        assert_eq!(
            call(&mut g, "clock_gettime", &[9999, 0x100]),
            -(libc::EINVAL as i64)
        );
        assert_eq!(call(&mut g, "clock_getres", &[1, 0]), 0, "null is allowed");
        assert_eq!(call(&mut g, "clock_getres", &[1, END - 8]), EFAULT);
        assert_eq!(call(&mut g, "gettimeofday", &[0x200, 0x300]), 0);
        let (sec, usec) = pair(&g, 0x200);
        assert!((sec - s).abs() < 5 && (0..1_000_000).contains(&usec));
        assert_eq!(
            call(&mut g, "gettimeofday", &[0x200, END - 4]),
            EFAULT,
            "timezone"
        );
        assert_eq!(call(&mut g, "gettimeofday", &[0, 0]), 0);
    }

    #[test]
    fn sleeps_read_their_request_once() {
        let mut g = FakeGuest::new(SIZE);
        assert_eq!(call(&mut g, "nanosleep", &[END - 8, 0]), EFAULT);
        assert_eq!(call(&mut g, "clock_nanosleep", &[1, 0, END - 8, 0]), EFAULT);
        // {0, 1000 ns}; a remaining-time pointer outside memory is only used on EINTR.
        g.bytes[0x100..0x110].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xe8, 3, 0, 0, 0, 0, 0, 0]);
        assert_eq!(call(&mut g, "nanosleep", &[0x100, 0xFFFF_FFF0]), 0);
        assert_eq!(
            call(&mut g, "clock_nanosleep", &[1, 0, 0x100, 0xFFFF_FFF0]),
            0
        );
        // A bad nanosecond count is the kernel's EINVAL.
        g.bytes[0x108..0x110].copy_from_slice(&2_000_000_000i64.to_le_bytes());
        assert_eq!(
            call(&mut g, "nanosleep", &[0x100, 0]),
            -(libc::EINVAL as i64)
        );
    }
}
