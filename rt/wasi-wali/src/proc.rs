//! `proc_exit`, `proc_raise`, `sched_yield`, `random_get`, and the socket calls (wafer grants
//! no sockets: they answer `ENOTSUP`, as natively).

use alloc::vec;

use crate::app;
use crate::errno::{self, Errno};
use crate::sys;

pub fn proc_exit(code: i32) -> ! {
    // Nothing is buffered here: every write reached the kernel already.
    sys::exit(code)
}

/// The Linux (x86-64) number of a WASI `signal` (1..=30), and whether its default action
/// ends the process.
fn host_signal(sig: i32) -> Option<(i32, bool)> {
    Some(match sig {
        // HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM: same numbers.
        1..=15 => (sig, true),
        16 => (17, false), // CHLD
        17 => (18, false), // CONT
        18 => (19, false), // STOP
        19 => (20, false), // TSTP
        20 => (21, false), // TTIN
        21 => (22, false), // TTOU
        22 => (23, false), // URG
        23 => (24, true),  // XCPU
        24 => (25, true),  // XFSZ
        25 => (26, true),  // VTALRM
        26 => (27, true),  // PROF
        27 => (28, false), // WINCH
        28 => (29, true),  // POLL
        29 => (30, true),  // PWR
        30 => (31, true),  // SYS
        _ => return None,
    })
}

const SIGCHLD: i32 = 17;
const SIGURG: i32 = 23;
const SIGWINCH: i32 = 28;

/// Raises a signal with its default action (an app has no handlers), as natively: a signal
/// that ends a process ends this one (its action is put back to the default and it is
/// unblocked first), stop signals stop it, one whose default is to be ignored does nothing.
/// Signal 0 does nothing.
pub fn proc_raise(sig: i32) -> Result<(), Errno> {
    if sig == 0 {
        return Ok(());
    }
    let (host, ends) = host_signal(sig).ok_or(errno::INVAL)?;
    if host == SIGCHLD || host == SIGURG || host == SIGWINCH {
        return Ok(());
    }
    if ends {
        // Refused for SIGKILL, as natively; its default stands anyway.
        let _ = sys::signal_default(host);
    }
    let _ = sys::unblock_signal(host);
    sys::tkill(sys::gettid(), host)
}

pub fn sched_yield() -> Result<(), Errno> {
    let _ = sys::sched_yield();
    Ok(())
}

/// Fills `[buf, buf + len)` of the app with random bytes, 64 KiB at a time.
pub fn random_get(buf: i32, len: i32) -> Result<(), Errno> {
    let (buf, total) = (buf as u32, len as u32);
    app::range(buf, total as u64)?;
    let mut chunk = vec![0u8; (total as usize).min(CHUNK)];
    let mut done = 0u32;
    while done < total {
        let n = ((total - done) as usize).min(CHUNK);
        let mut filled = 0;
        while filled < n {
            filled += sys::getrandom(&mut chunk[filled..n])?;
        }
        app::write(buf + done, &chunk[..n])?;
        done += n as u32;
    }
    Ok(())
}

const CHUNK: usize = 65536;

pub fn sock_accept(_fd: i32, _flags: i32, _fd_out: i32) -> Result<(), Errno> {
    Err(errno::NOTSUP)
}

pub fn sock_recv(
    _fd: i32,
    _ri_data: i32,
    _ri_data_len: i32,
    _ri_flags: i32,
    _ro_datalen: i32,
    _ro_flags: i32,
) -> Result<(), Errno> {
    Err(errno::NOTSUP)
}

pub fn sock_send(
    _fd: i32,
    _si_data: i32,
    _si_data_len: i32,
    _si_flags: i32,
    _so_datalen: i32,
) -> Result<(), Errno> {
    Err(errno::NOTSUP)
}

pub fn sock_shutdown(_fd: i32, _how: i32) -> Result<(), Errno> {
    Err(errno::NOTSUP)
}
