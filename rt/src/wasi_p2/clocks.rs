//! `wasi:clocks`: `monotonic-clock` (nanoseconds of `CLOCK_MONOTONIC`, and timers as
//! pollables) and `wall-clock` (`CLOCK_REALTIME` as a `datetime`).

use super::WasiP2;
use wafer_abi::VmCtx;

use super::io::Pollable;
use super::table::Resource;
use super::{insert, IFACE};
use crate::canon::{finish, memory, ret_area, Area, Fault};

fn read(clock: libc::clockid_t, resolution: bool) -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // Both clocks always exist on Linux: a failure would leave the zero time.
    unsafe {
        if resolution {
            libc::clock_getres(clock, &mut ts);
        } else {
            libc::clock_gettime(clock, &mut ts);
        }
    }
    ts
}

fn nanos(ts: libc::timespec) -> u64 {
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_monotonic_now(_vmctx: *mut VmCtx) -> i64 {
    nanos(read(libc::CLOCK_MONOTONIC, false)) as i64
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_monotonic_resolution(_vmctx: *mut VmCtx) -> i64 {
    nanos(read(libc::CLOCK_MONOTONIC, true)) as i64
}

fn timer(vmctx: *mut VmCtx, at: u64) -> i32 {
    finish(
        IFACE,
        insert(vmctx, Resource::Pollable(Pollable::Timer(at))),
    )
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_monotonic_subscribe_instant(vmctx: *mut VmCtx, when: i64) -> i32 {
    timer(vmctx, when as u64)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_monotonic_subscribe_duration(vmctx: *mut VmCtx, d: i64) -> i32 {
    let now = nanos(read(libc::CLOCK_MONOTONIC, false));
    timer(vmctx, now.saturating_add(d as u64))
}

/// A `datetime` (seconds u64 at 0, nanoseconds u32 at 8; 16 bytes, align 8).
unsafe fn datetime(vmctx: *mut VmCtx, retptr: i32, resolution: bool) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let ret = ret_area(&mem, retptr, 16, 8)?;
    let ts = read(libc::CLOCK_REALTIME, resolution);
    Area::new(16)
        .u64(0, ts.tv_sec.max(0) as u64)
        .u32(8, ts.tv_nsec as u32)
        .store(&mem, ret)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_wall_now(vmctx: *mut VmCtx, ret: i32) {
    finish(IFACE, unsafe { datetime(vmctx, ret, false) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_wall_resolution(vmctx: *mut VmCtx, ret: i32) {
    finish(IFACE, unsafe { datetime(vmctx, ret, true) })
}

impl crate::glue::wasi_clocks::monotonic_clock::Host for WasiP2 {}
impl crate::glue::wasi_clocks::wall_clock::Host for WasiP2 {}
