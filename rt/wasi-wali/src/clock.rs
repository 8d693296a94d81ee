//! `clock_res_get` and `clock_time_get`: realtime, monotonic, process and thread CPU time.

use crate::app;
use crate::errno::{self, Errno};
use crate::sys::{self, Timespec};
use crate::types::{clockid, nanos};

/// The Linux clock of a WASI clock id (`EINVAL` for any other id).
pub fn host_clock(id: u32) -> Result<i32, Errno> {
    match id {
        clockid::REALTIME => Ok(sys::CLOCK_REALTIME),
        clockid::MONOTONIC => Ok(sys::CLOCK_MONOTONIC),
        clockid::PROCESS_CPUTIME_ID => Ok(sys::CLOCK_PROCESS_CPUTIME_ID),
        clockid::THREAD_CPUTIME_ID => Ok(sys::CLOCK_THREAD_CPUTIME_ID),
        _ => Err(errno::INVAL),
    }
}

fn timespec_nanos(ts: &Timespec) -> u64 {
    nanos(ts.sec, ts.nsec)
}

/// The current time of a Linux clock, in nanoseconds.
pub fn now(clock: i32) -> Result<u64, Errno> {
    sys::clock_gettime(clock).map(|ts| timespec_nanos(&ts))
}

pub fn clock_res_get(id: i32, resolution: i32) -> Result<(), Errno> {
    let clock = host_clock(id as u32)?;
    app::range(resolution as u32, 8)?;
    let ts = sys::clock_getres(clock)?;
    app::write_u64(resolution as u32, timespec_nanos(&ts))
}

pub fn clock_time_get(id: i32, _precision: i64, time: i32) -> Result<(), Errno> {
    let clock = host_clock(id as u32)?;
    app::range(time as u32, 8)?;
    app::write_u64(time as u32, now(clock)?)
}
