//! `proc_exit`, `proc_raise`, `sched_yield`, `random_get`, and the socket calls (wafer grants
//! no sockets: they answer `ENOTSUP`).

use wafer_abi::VmCtx;

use super::errno::{self, Errno};
use super::{memory, status};

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_proc_exit(_vmctx: *mut VmCtx, code: i32) {
    // Guest writes are unbuffered, so there is nothing to flush.
    crate::threads::exit_process(code)
}

/// The host signal for a WASI `signal` number (1..=30), and whether its default action ends
/// the process.
fn host_signal(sig: i32) -> Option<(i32, bool)> {
    use libc::*;
    let (host, ends) = match sig {
        1 => (SIGHUP, true),
        2 => (SIGINT, true),
        3 => (SIGQUIT, true),
        4 => (SIGILL, true),
        5 => (SIGTRAP, true),
        6 => (SIGABRT, true),
        7 => (SIGBUS, true),
        8 => (SIGFPE, true),
        9 => (SIGKILL, true),
        10 => (SIGUSR1, true),
        11 => (SIGSEGV, true),
        12 => (SIGUSR2, true),
        13 => (SIGPIPE, true),
        14 => (SIGALRM, true),
        15 => (SIGTERM, true),
        16 => (SIGCHLD, false),
        17 => (SIGCONT, false),
        18 => (SIGSTOP, false),
        19 => (SIGTSTP, false),
        20 => (SIGTTIN, false),
        21 => (SIGTTOU, false),
        22 => (SIGURG, false),
        23 => (SIGXCPU, true),
        24 => (SIGXFSZ, true),
        25 => (SIGVTALRM, true),
        26 => (SIGPROF, true),
        27 => (SIGWINCH, false),
        28 => (SIGPOLL, true),
        29 => (SIGPWR, true),
        30 => (SIGSYS, true),
        _ => return None,
    };
    Some((host, ends))
}

/// Raises a signal with its default action (a guest has no handlers): a signal that ends a
/// process ends this one, as if the host had sent it (the runtime's own fault handlers are
/// put back to default first, so it is not mistaken for a runtime bug); stop signals stop it;
/// one whose default is to be ignored does nothing. Signal 0 does nothing.
#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_proc_raise(_vmctx: *mut VmCtx, sig: i32) -> i32 {
    if sig == 0 {
        return errno::SUCCESS;
    }
    let Some((host, ends)) = host_signal(sig) else {
        return errno::INVAL;
    };
    if host == libc::SIGCHLD || host == libc::SIGURG || host == libc::SIGWINCH {
        return errno::SUCCESS;
    }
    unsafe {
        if ends {
            libc::signal(host, libc::SIG_DFL);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, host);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        if libc::raise(host) != 0 {
            return errno::last_host();
        }
    }
    errno::SUCCESS
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_sched_yield(_vmctx: *mut VmCtx) -> i32 {
    unsafe { libc::sched_yield() };
    errno::SUCCESS
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_random_get(vmctx: *mut VmCtx, buf: i32, len: i32) -> i32 {
    let run = || -> Result<(), Errno> {
        let mem = unsafe { memory(vmctx) }?;
        let start = mem.range(buf as u32, len as u32 as u64)?;
        let mut filled = 0usize;
        let total = len as u32 as usize;
        while filled < total {
            let n = errno::retry(|| unsafe {
                libc::getrandom(start.add(filled) as *mut libc::c_void, total - filled, 0)
            })?;
            filled += n as usize;
        }
        Ok(())
    };
    status(run())
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_sock_accept(
    _vmctx: *mut VmCtx,
    _fd: i32,
    _flags: i32,
    _fd_out: i32,
) -> i32 {
    errno::NOTSUP
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_sock_recv(
    _vmctx: *mut VmCtx,
    _fd: i32,
    _ri_data: i32,
    _ri_data_len: i32,
    _ri_flags: i32,
    _ro_datalen: i32,
    _ro_flags: i32,
) -> i32 {
    errno::NOTSUP
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_sock_send(
    _vmctx: *mut VmCtx,
    _fd: i32,
    _si_data: i32,
    _si_data_len: i32,
    _si_flags: i32,
    _so_datalen: i32,
) -> i32 {
    errno::NOTSUP
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_sock_shutdown(_vmctx: *mut VmCtx, _fd: i32, _how: i32) -> i32 {
    errno::NOTSUP
}
