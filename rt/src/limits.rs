//! The per-thread [`Limits`] that every `vmctx` created on a thread points at, and the stack
//! limit computation. Each thread running wasm (the main one, and every wasi-threads thread)
//! has its own stack, so its own limit and its own stack top.

use std::cell::{Cell, UnsafeCell};

use wafer_abi::Limits;

/// Stack kept free below the wasm limit for host code that wasm calls (WASI, libcalls, the
/// signal handler's caller frames).
const HOST_STACK_HEADROOM: usize = 256 * 1024;

thread_local! {
    /// Until `set_stack_limit` runs the limit is 0, which disables the check (used by unit
    /// tests, whose "wasm" functions are Rust). Written only while no wasm code runs on the
    /// thread; compiled code only reads it. A thread-local has a fixed address for the
    /// thread's lifetime, so instances keep a pointer to it.
    static LIMITS: UnsafeCell<Limits> = const { UnsafeCell::new(Limits { stack_limit: 0 }) };

    /// The stack pointer when the runtime took control of this thread: every frame of wasm
    /// code and of the host code it calls lies below it. 0 until set.
    static STACK_TOP: Cell<usize> = const { Cell::new(0) };
}

/// Records the current stack position as [`stack_top`]; called by the entry point and by
/// every new guest thread.
#[inline(always)]
pub fn mark_stack_top() {
    let marker = 0u8;
    STACK_TOP.with(|t| t.set(std::ptr::addr_of!(marker) as usize));
}

pub fn stack_top() -> usize {
    STACK_TOP.with(Cell::get)
}

/// The calling thread's limits: what instances created on this thread point at.
pub fn limits_ptr() -> *const Limits {
    LIMITS.with(|l| l.get() as *const Limits)
}

/// # Safety
/// No wasm code may be running on this thread.
pub unsafe fn set_stack_limit(limit: usize) {
    LIMITS.with(|l| unsafe { (*l.get()).stack_limit = limit });
}

/// The limit for wasm running on the current thread: `wasm_stack` bytes below the current
/// stack pointer, but never closer than [`HOST_STACK_HEADROOM`] to the thread's real stack
/// bottom (a small `ulimit -s` shrinks wasm's share instead of letting host code overflow).
pub fn compute_stack_limit(wasm_stack: u64) -> usize {
    let marker = 0u8;
    let sp = std::ptr::addr_of!(marker) as usize;
    let wanted = sp.saturating_sub(wasm_stack as usize);
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
    use wafer_abi::DEFAULT_WASM_STACK;

    #[test]
    fn limit_is_below_sp_and_above_bottom() {
        let marker = 0u8;
        let sp = std::ptr::addr_of!(marker) as usize;
        let limit = compute_stack_limit(DEFAULT_WASM_STACK);
        assert!(limit < sp);
        assert!(limit >= sp - DEFAULT_WASM_STACK as usize - 4096);
        assert!(limit >= stack_bottom(sp) + HOST_STACK_HEADROOM);
    }
}
