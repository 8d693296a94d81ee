//! `clock_res_get` and `clock_time_get`: realtime, monotonic, process and thread CPU time.

use wafer_abi::VmCtx;

use super::errno::{self, Errno};
use super::{memory, status};

pub const REALTIME: u32 = 0;
pub const MONOTONIC: u32 = 1;

pub fn host_clock(id: u32) -> Result<libc::clockid_t, Errno> {
    match id {
        0 => Ok(libc::CLOCK_REALTIME),
        1 => Ok(libc::CLOCK_MONOTONIC),
        2 => Ok(libc::CLOCK_PROCESS_CPUTIME_ID),
        3 => Ok(libc::CLOCK_THREAD_CPUTIME_ID),
        _ => Err(errno::INVAL),
    }
}

fn timespec_nanos(ts: &libc::timespec) -> u64 {
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The current time of a host clock, in nanoseconds.
pub fn now(clock: libc::clockid_t) -> Result<u64, Errno> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(errno::last_host());
    }
    Ok(timespec_nanos(&ts))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_clock_res_get(
    vmctx: *mut VmCtx,
    id: i32,
    resolution: i32,
) -> i32 {
    let run = || -> Result<(), Errno> {
        let mem = unsafe { memory(vmctx) }?;
        let clock = host_clock(id as u32)?;
        mem.range(resolution as u32, 8)?;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if unsafe { libc::clock_getres(clock, &mut ts) } != 0 {
            return Err(errno::last_host());
        }
        mem.write_u64(resolution as u32, timespec_nanos(&ts))
    };
    status(run())
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_clock_time_get(
    vmctx: *mut VmCtx,
    id: i32,
    _precision: i64,
    time: i32,
) -> i32 {
    let run = || -> Result<(), Errno> {
        let mem = unsafe { memory(vmctx) }?;
        let clock = host_clock(id as u32)?;
        mem.range(time as u32, 8)?;
        mem.write_u64(time as u32, now(clock)?)
    };
    status(run())
}
