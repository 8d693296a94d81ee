//! WALI syscalls: signals and interval timers (`rt_sigaction`, `rt_sigprocmask`,
//! `rt_sigpending`, `rt_sigsuspend`, `rt_sigreturn`, `sigaltstack`, `kill`, `tkill`,
//! `setitimer`), and the delivery of signals to the guest's handlers.
//!
//! How a signal reaches a guest handler:
//! 1. `rt_sigaction` records the guest's action ([`action`]); for a handler (an index in
//!    table 0; `SIG_DFL` is 0 and WALI's `SIG_IGN` is -2) the host gets the runtime's
//!    recording handler instead, which marks the signal pending on the thread the kernel
//!    chose and sets that thread's flag, the `vmctx.signal_flag` word of its instance
//!    ([`state`]).
//! 2. Compiled code of a WALI module polls the word at loop headers and at the entry of
//!    functions that call others (see the compiler's `translate::signals`), and the syscall
//!    entry checks it when a syscall returns ([`after_syscall`]). Either way [`deliver`]
//!    runs the handlers as nested wasm calls, with the masks `sa_mask`/`SA_NODEFER` ask
//!    for.
//! 3. A syscall that a handler interrupted restarts when the handler had `SA_RESTART` and
//!    Linux restarts that syscall ([`RESTARTABLE`]); otherwise the guest sees `-EINTR`.
//!
//! The guest's signal mask is virtual, mirrored on the host minus the signals the runtime
//! keeps: `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE` stay the runtime's trap signals (a
//! guest may set actions for them, which are recorded and read back, but a fault in wasm is
//! always a trap), and the host C library's own signals stay its. A guest's `kill` or
//! `tkill` of one of those to itself is delivered by the runtime alone. `sigaltstack` is
//! virtual too ([`altstack`]). A direct `rt_sigreturn` traps: the runtime returns from
//! handlers itself.
//!
//! Sizes are checked as Linux checks them: `rt_sigaction`, `rt_sigprocmask` and
//! `rt_sigsuspend` want a sigset size of exactly 8, `rt_sigpending` at most 8 (`EINVAL`).
//! Limits: standard and real-time signals alike are one pending bit each (real-time signals
//! do not queue); a handler gets a null `ucontext`; a thread blocked in a syscall that
//! Linux would interrupt for a virtual-only signal is not woken by one.

mod action;
mod altstack;
mod deliver;
mod state;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

use wafer_abi::wali::Syscall;
use wafer_abi::{ModuleDescriptor, TrapKind, VmCtx};

use super::arch::signal::guest;
use super::mem::Mem;
use super::{host_nr, int, passthrough, raw, Args, Call, Errno, Handler, SysResult};
use action::Action;
use state::{bit, SigSet, UNBLOCKABLE};

/// The only sigset size the kernel takes (64 signals).
const SIGSET_SIZE: u64 = 8;

/// Syscalls Linux restarts after a handler with `SA_RESTART` (those that fail with
/// `ERESTARTSYS`); the others (`nanosleep`, `poll`, `select`, `epoll_wait`, `rt_sigsuspend`,
/// ...) report `EINTR` whatever the flags.
pub const RESTARTABLE: &[&str] = &[
    "read",
    "readv",
    "write",
    "writev",
    "pread64",
    "pwrite64",
    "ioctl",
    "wait4",
    "accept",
    "accept4",
    "recvfrom",
    "recvmsg",
    "sendto",
    "sendmsg",
    "flock",
    "fcntl",
    "futex",
    "open",
    "openat",
    "getrandom",
];

/// The handler for the syscall named `name`, if this family implements it.
pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "rt_sigaction" => rt_sigaction,
        "rt_sigprocmask" => rt_sigprocmask,
        "rt_sigpending" => rt_sigpending,
        "rt_sigsuspend" => rt_sigsuspend,
        "rt_sigreturn" => rt_sigreturn,
        "sigaltstack" => altstack::sigaltstack,
        "kill" => kill,
        "tkill" => tkill,
        "setitimer" => setitimer,
        _ => return None,
    })
}

// ---- hooks for the rest of the runtime ---------------------------------------------------------

/// Called as an instance of `desc` is built on the calling thread, with its
/// `vmctx.signal_flag` word: for a module that imports from `wali`, the word becomes the
/// thread's flag (another module's code never reads it, and it stays 0).
pub fn attach(desc: &ModuleDescriptor, word: *const AtomicU32) {
    // SAFETY: descriptor slices and strings are static data.
    let is_wali = unsafe { desc.imports.as_slice() }
        .iter()
        .any(|i| unsafe { i.module.as_slice() } == wafer_abi::wali::MODULE.as_bytes());
    if is_wali {
        state::attach(word);
    }
}

/// Called before an instance's memory is freed, with its `vmctx.signal_flag` word: from then
/// on no thread writes it.
pub fn detach(word: *const AtomicU32) {
    state::detach(word);
}

/// Called by the syscall entry after every syscall: delivers what arrived meanwhile, and
/// answers whether the syscall should run again (it was interrupted with `EINTR` and every
/// handler that ran asked for `SA_RESTART`).
///
/// # Safety
/// `vmctx` is the live context of the compiled code that made the syscall.
pub unsafe fn after_syscall(vmctx: *mut VmCtx, syscall: &Syscall, result: i64) -> bool {
    let Some(slot) = state::current_if_claimed() else {
        return false;
    };
    if !slot.is_raised() {
        return false;
    }
    let outcome = deliver::deliver(vmctx);
    result == -i64::from(libc::EINTR)
        && outcome.handlers > 0
        && outcome.restart
        && RESTARTABLE.contains(&syscall.name)
}

/// The libcall compiled code makes at a safe point whose flag is set.
///
/// # Safety
/// Called only by compiled wasm code with its live `vmctx`.
#[no_mangle]
pub unsafe extern "C" fn wafer_rt_wali_deliver_signals(vmctx: *mut VmCtx) {
    deliver::deliver(vmctx);
}

/// To call in a child right after `fork`: the child has one thread and no pending signals.
pub fn after_fork_in_child() {
    state::after_fork_in_child();
}

/// For syscalls that wait with a temporary mask (`ppoll`, `pselect6`, `epoll_pwait`): makes
/// `guest_mask` the thread's mask for the wait and returns the host set to give the kernel
/// and the mask to give back to [`end_wait_mask`] once the kernel returns.
pub fn begin_wait_mask(guest_mask: u64) -> (libc::sigset_t, u64) {
    let slot = state::current();
    let temporary = guest_mask & !UNBLOCKABLE;
    let previous = slot.mask.swap(temporary, SeqCst);
    (state::host_set(temporary), previous)
}

/// Ends a [`begin_wait_mask`]: runs the handlers of what arrived under the temporary mask,
/// then restores the thread's mask.
///
/// # Safety
/// `vmctx` is the live context of the calling compiled code; nothing owned may be alive in
/// the caller's frames (a handler may trap).
pub unsafe fn end_wait_mask(vmctx: *mut VmCtx, previous: u64) {
    let slot = state::current();
    if state::deliverable(slot) != 0 {
        deliver::deliver(vmctx);
    }
    state::set_mask(slot, previous);
}

// ---- the syscalls ------------------------------------------------------------------------------

fn read_set(mem: &Mem, ptr: u64) -> Result<SigSet, Errno> {
    mem.read_u64(ptr)
}

/// `rt_sigaction(sig, act, oldact, sigsetsize)` with the guest's 24-byte `k_sigaction`.
fn rt_sigaction(call: &Call, args: &Args) -> SysResult {
    let (sig, act, oldact, size) = (int(args, 0), args[1], args[2], args[3]);
    if size != SIGSET_SIZE {
        return Err(Errno(libc::EINVAL));
    }
    let new = if act != 0 {
        let bytes = call.mem.read_bytes(act, Action::SIZE as u64)?;
        let mut fixed = [0u8; Action::SIZE];
        fixed.copy_from_slice(&bytes);
        Some(Action::from_bytes(&fixed))
    } else {
        None
    };
    if !state::valid(sig) || (new.is_some() && bit(sig) & UNBLOCKABLE != 0) {
        return Err(Errno(libc::EINVAL));
    }
    let old = match new {
        Some(new) => action::set(sig, new),
        None => action::get(sig),
    };
    if oldact != 0 {
        call.mem.write_bytes(oldact, &old.to_bytes())?;
    }
    Ok(0)
}

/// `rt_sigprocmask(how, set, oldset, sigsetsize)` on the thread's virtual mask. Signals it
/// unblocks are delivered as the syscall returns.
fn rt_sigprocmask(call: &Call, args: &Args) -> SysResult {
    let (how, set, oldset, size) = (int(args, 0), args[1], args[2], args[3]);
    if size != SIGSET_SIZE {
        return Err(Errno(libc::EINVAL));
    }
    let slot = state::current();
    let old = slot.mask.load(SeqCst);
    if set != 0 {
        let change = read_set(&call.mem, set)? & !UNBLOCKABLE;
        let new = match how {
            guest::SIG_BLOCK => old | change,
            guest::SIG_UNBLOCK => old & !change,
            guest::SIG_SETMASK => change,
            _ => return Err(Errno(libc::EINVAL)),
        };
        state::set_mask(slot, new);
    }
    if oldset != 0 {
        call.mem.write_u64(oldset, old)?;
    }
    Ok(0)
}

/// `rt_sigpending(set, sigsetsize)`: the blocked signals waiting, in the runtime or in the
/// kernel.
fn rt_sigpending(call: &Call, args: &Args) -> SysResult {
    let (set, size) = (args[0], args[1]);
    if size > SIGSET_SIZE {
        return Err(Errno(libc::EINVAL));
    }
    let slot = state::current();
    let pending = (state::recorded_pending(slot) | state::host_pending()) & slot.mask.load(SeqCst);
    call.mem
        .write_bytes(set, &pending.to_le_bytes()[..size as usize])?;
    Ok(0)
}

/// `rt_sigsuspend(mask, sigsetsize)`: waits with `mask` as the thread's mask until a signal
/// it does not block arrives, runs its handler (with `mask` still in place), restores the
/// mask and fails with `EINTR`, as on Linux.
fn rt_sigsuspend(call: &Call, args: &Args) -> SysResult {
    let (set, size) = (args[0], args[1]);
    if size != SIGSET_SIZE {
        return Err(Errno(libc::EINVAL));
    }
    let temporary = read_set(&call.mem, set)? & !UNBLOCKABLE;
    let slot = state::current();
    let before = slot.mask.load(SeqCst);
    // Every routable signal stays blocked on the host while the masks change hands, so none
    // can arrive between the check below and the kernel's wait (which unblocks atomically).
    state::set_host_mask(u64::MAX);
    slot.mask.store(temporary, SeqCst);
    while state::deliverable(slot) == 0 {
        let wait = state::host_set(temporary);
        // SAFETY: a valid set; returns once a handler ran.
        unsafe { libc::sigsuspend(&wait) };
    }
    state::set_mask(slot, temporary);
    deliver::deliver(call.vmctx);
    state::set_mask(slot, before);
    Err(Errno(libc::EINTR))
}

/// A guest never returns from a handler by itself: the runtime does.
fn rt_sigreturn(_call: &Call, _args: &Args) -> SysResult {
    // SAFETY: called from the syscall entry, whose frames own nothing.
    unsafe { crate::trap::raise(TrapKind::SignalReturn) }
}

/// Whether `kill(pid, ..)` reaches this process.
fn kill_reaches_me(pid: i32) -> bool {
    // SAFETY: plain syscalls.
    let (me, group) = unsafe { (libc::getpid(), libc::getpgrp()) };
    pid == me || pid == 0 || (pid < -1 && pid.checked_neg() == Some(group))
}

/// `kill(pid, sig)`: passed to the kernel, except a virtual-only signal for this process,
/// which the runtime delivers (to a whole process group including it: `EINVAL`, since the
/// kernel would hand this process the runtime's own signal).
fn kill(call: &Call, args: &Args) -> SysResult {
    let (pid, sig) = (int(args, 0), int(args, 1));
    if state::virtual_only(sig) && kill_reaches_me(pid) {
        // SAFETY: plain syscall.
        if pid != unsafe { libc::getpid() } {
            return Err(Errno(libc::EINVAL));
        }
        state::set_info(sig, guest::SI_USER);
        state::post_process_set(bit(sig));
        state::refresh(state::current());
        return Ok(0);
    }
    passthrough(call, args)
}

/// `tkill(tid, sig)`: as [`kill`], for one thread.
fn tkill(call: &Call, args: &Args) -> SysResult {
    let (tid, sig) = (int(args, 0), int(args, 1));
    if tid > 0 && state::virtual_only(sig) {
        // SAFETY: plain syscalls.
        let (me, pid) = unsafe { (libc::gettid(), libc::getpid()) };
        let target = if tid == me {
            Some(state::current())
        } else {
            state::slot_of(tid)
        };
        if let Some(slot) = target {
            state::set_info(sig, guest::SI_TKILL);
            state::post_thread(slot, sig);
            return Ok(0);
        }
        // A thread of this process that runs no guest code: the process takes it.
        // SAFETY: signal 0 only checks that the thread exists.
        if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) } == 0 {
            state::set_info(sig, guest::SI_TKILL);
            state::post_process_set(bit(sig));
            return Ok(0);
        }
    }
    passthrough(call, args)
}

/// One guest `struct itimerval` (the host's layout too).
fn read_itimerval(mem: &Mem, ptr: u64) -> Result<libc::itimerval, Errno> {
    let b = mem.read_bytes(ptr, 32)?;
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i * 8..i * 8 + 8]);
        i64::from_le_bytes(w)
    };
    Ok(libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: word(0),
            tv_usec: word(1),
        },
        it_value: libc::timeval {
            tv_sec: word(2),
            tv_usec: word(3),
        },
    })
}

fn itimerval_bytes(t: &libc::itimerval) -> [u8; 32] {
    let mut b = [0u8; 32];
    let words = [
        t.it_interval.tv_sec,
        t.it_interval.tv_usec,
        t.it_value.tv_sec,
        t.it_value.tv_usec,
    ];
    for (chunk, w) in b.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// `setitimer(which, new, old)` through copies of the guest's structs; `old` is written
/// after the timer is set, so a bad `old` fails with EFAULT with the timer set, as on Linux.
fn setitimer(call: &Call, args: &Args) -> SysResult {
    let nr = host_nr(call.syscall).ok_or(Errno(libc::ENOSYS))?;
    let new = match args[1] {
        0 => None,
        ptr => Some(read_itimerval(&call.mem, ptr)?),
    };
    // SAFETY: plain data.
    let mut old: libc::itimerval = unsafe { std::mem::zeroed() };
    let new_ptr = new
        .as_ref()
        .map_or(0, |n| n as *const libc::itimerval as u64);
    let old_ptr = if args[2] != 0 {
        &mut old as *mut libc::itimerval as u64
    } else {
        0
    };
    raw(nr, [args[0], new_ptr, old_ptr, 0, 0, 0])?;
    if args[2] != 0 {
        call.mem.write_bytes(args[2], &itimerval_bytes(&old))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests;
