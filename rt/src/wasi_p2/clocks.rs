//! `wasi:clocks`: `monotonic-clock` (nanoseconds of `CLOCK_MONOTONIC`, and timers as
//! pollables) and `wall-clock` (`CLOCK_REALTIME` as a `datetime`).

use super::io::Pollable;
use super::table::Resource;
use super::{own, WasiP2};
use crate::canon::typed::{Cx, Own};
use crate::canon::Fault;
use crate::glue::wasi_clocks::monotonic_clock::{self, Duration, Instant};
use crate::glue::wasi_clocks::wall_clock::{self, Datetime};
use crate::glue::wasi_io::poll;

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

/// A pollable that is ready once the monotonic clock reaches `at` nanoseconds.
fn timer(cx: &Cx, at: u64) -> Result<Own<poll::Pollable>, Fault> {
    own(cx.vmctx, Resource::Pollable(Pollable::Timer(at)))
}

impl monotonic_clock::Host for WasiP2 {
    fn now(_: &mut Cx) -> Result<Instant, Fault> {
        Ok(nanos(read(libc::CLOCK_MONOTONIC, false)))
    }

    fn resolution(_: &mut Cx) -> Result<Duration, Fault> {
        Ok(nanos(read(libc::CLOCK_MONOTONIC, true)))
    }

    fn subscribe_instant(cx: &mut Cx, when: Instant) -> Result<Own<poll::Pollable>, Fault> {
        timer(cx, when)
    }

    fn subscribe_duration(cx: &mut Cx, when: Duration) -> Result<Own<poll::Pollable>, Fault> {
        let now = nanos(read(libc::CLOCK_MONOTONIC, false));
        timer(cx, now.saturating_add(when))
    }
}

/// `CLOCK_REALTIME`'s time or resolution as a `datetime`.
fn datetime(resolution: bool) -> Datetime {
    let ts = read(libc::CLOCK_REALTIME, resolution);
    Datetime {
        seconds: ts.tv_sec.max(0) as u64,
        nanoseconds: ts.tv_nsec as u32,
    }
}

impl wall_clock::Host for WasiP2 {
    fn now(_: &mut Cx) -> Result<Datetime, Fault> {
        Ok(datetime(false))
    }

    fn resolution(_: &mut Cx) -> Result<Datetime, Fault> {
        Ok(datetime(true))
    }
}
