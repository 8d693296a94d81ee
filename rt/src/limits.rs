//! The process-wide [`Limits`] every `vmctx` points at, and the stack limit computation.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use wafer_abi::{Limits, DEFAULT_WASM_STACK};

/// Stack kept free below the wasm limit for host code that wasm calls (WASI, libcalls, the
/// signal handler's caller frames).
const HOST_STACK_HEADROOM: usize = 256 * 1024;

#[repr(transparent)]
pub struct SharedLimits(UnsafeCell<Limits>);

// SAFETY: written only by `set_stack_limit` before any wasm code runs; compiled code only reads.
unsafe impl Sync for SharedLimits {}

/// Until `set_stack_limit` runs the limit is 0, which disables the check (used by unit tests,
/// whose "wasm" functions are Rust).
pub static LIMITS: SharedLimits = SharedLimits(UnsafeCell::new(Limits { stack_limit: 0 }));

/// The stack pointer when the runtime took control of this (the only wasm) thread: every frame
/// of wasm code and of the host code it calls lies below it. 0 until set.
static STACK_TOP: AtomicUsize = AtomicUsize::new(0);

/// Records the current stack position as [`stack_top`]; called by the entry point.
#[inline(always)]
pub fn mark_stack_top() {
    let marker = 0u8;
    STACK_TOP.store(std::ptr::addr_of!(marker) as usize, Ordering::Relaxed);
}

pub fn stack_top() -> usize {
    STACK_TOP.load(Ordering::Relaxed)
}

pub fn limits_ptr() -> *const Limits {
    LIMITS.0.get()
}

/// # Safety
/// No wasm code may be running.
pub unsafe fn set_stack_limit(limit: usize) {
    unsafe { (*LIMITS.0.get()).stack_limit = limit };
}

/// The limit for wasm running on the current thread: [`DEFAULT_WASM_STACK`] below the current
/// stack pointer, but never closer than [`HOST_STACK_HEADROOM`] to the thread's real stack
/// bottom (a small `ulimit -s` shrinks wasm's share instead of letting host code overflow).
pub fn compute_stack_limit() -> usize {
    let marker = 0u8;
    let sp = std::ptr::addr_of!(marker) as usize;
    let wanted = sp.saturating_sub(DEFAULT_WASM_STACK as usize);
    let floor = stack_bottom(sp).saturating_add(HOST_STACK_HEADROOM);
    wanted.max(floor).min(sp)
}

/// Lowest usable address of the current thread's stack.
fn stack_bottom(sp: usize) -> usize {
    let from_rlimit = {
        let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: getrlimit writes the struct we own.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut rl) } == 0;
        let size = if ok && rl.rlim_cur != libc::RLIM_INFINITY {
            rl.rlim_cur as usize
        } else {
            8 << 20
        };
        sp.saturating_sub(size)
    };
    // The main thread's stack top lies above `sp` (arguments and environment sit there), so
    // `sp - RLIMIT_STACK` is already above its real bottom. Other threads have fixed stacks
    // glibc knows exactly; for the main thread glibc would have to parse /proc/self/maps,
    // which costs more than the rest of startup, so it is not asked.
    // SAFETY: plain syscalls without arguments.
    if unsafe { libc::getpid() == libc::gettid() } {
        return from_rlimit;
    }
    let mut attr: libc::pthread_attr_t = unsafe { std::mem::zeroed() };
    // SAFETY: standard pthread attribute query on the calling thread.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
            libc::pthread_attr_destroy(&mut attr);
            if ok && !addr.is_null() && (addr as usize) < sp {
                return (addr as usize).max(from_rlimit);
            }
        }
    }
    from_rlimit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_below_sp_and_above_bottom() {
        let marker = 0u8;
        let sp = std::ptr::addr_of!(marker) as usize;
        let limit = compute_stack_limit();
        assert!(limit < sp);
        assert!(limit >= sp - DEFAULT_WASM_STACK as usize - 4096);
        assert!(limit >= stack_bottom(sp) + HOST_STACK_HEADROOM);
    }
}
