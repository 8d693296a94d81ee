//! Signal masks that `ppoll`, `pselect6` and `epoll_pwait` install for the duration of the
//! wait. The guest's mask is virtual and kept by the signal family; this module checks and
//! copies the guest's mask once (the kernel's `sigset_t` is 8 bytes on all three hosts, and
//! signal numbers are the same for guest and host), then waits under it through
//! [`signal::begin_wait_mask`](super::super::signal::begin_wait_mask), which also keeps the
//! runtime's own signals out of what the kernel blocks.

use super::super::{signal, Call, Errno, SysResult};
use super::reg;

/// The kernel's `sigset_t` size on every supported host; any other size is `EINVAL`.
pub const KERNEL_SIGSET: u64 = 8;

/// The guest mask at `ptr` of `size` bytes, or `None` for a null pointer (no mask change).
/// The size is checked before the mask is read, as the kernel does.
pub fn read(call: &Call, ptr: u64, size: u64) -> Result<Option<u64>, Errno> {
    if ptr == 0 {
        return Ok(None);
    }
    if size != KERNEL_SIGSET {
        return Err(Errno(libc::EINVAL));
    }
    call.mem.read_u64(ptr).map(Some)
}

/// Runs `wait` with `mask` (if any) as the thread's signal mask; `wait` gets the host mask's
/// register (0 for none). Handlers for what arrived meanwhile run after `wait` has returned
/// and dropped what it owned (a handler may trap), then the thread's mask comes back.
pub fn during(call: &Call, mask: Option<u64>, wait: impl FnOnce(u64) -> SysResult) -> SysResult {
    let Some(mask) = mask else {
        return wait(0);
    };
    let (host, previous) = signal::begin_wait_mask(mask);
    let result = wait(reg(&host));
    // SAFETY: the syscall entry's live vmctx; nothing owned is alive in this frame, and the
    // handler that called this keeps nothing owned across it either.
    unsafe { signal::end_wait_mask(call.vmctx, previous) };
    result
}

#[cfg(test)]
mod tests {
    use super::super::test_support::Guest;
    use super::*;

    #[test]
    fn masks_are_checked_size_first() {
        let mut g = Guest::new(0x100);
        g.put_u64(0x10, u64::MAX);
        let call = g.call("ppoll");
        assert_eq!(read(&call, 0, 12345), Ok(None));
        assert_eq!(read(&call, 0x10, 128), Err(Errno(libc::EINVAL)));
        assert_eq!(read(&call, 0xFC, 128), Err(Errno(libc::EINVAL)));
        assert_eq!(read(&call, 0xFC, 8), Err(Errno(libc::EFAULT)));
        assert_eq!(read(&call, 1 << 32, 8), Err(Errno(libc::EFAULT)));
        assert_eq!(read(&call, 0x10, 8), Ok(Some(u64::MAX)));
    }

    #[test]
    fn the_thread_mask_comes_back_after_the_wait() {
        let mut g = Guest::new(0x100);
        let call = g.call("ppoll");
        let before = host_mask();
        let usr1 = 1u64 << (libc::SIGUSR1 - 1);
        let r = during(&call, Some(usr1), |host| {
            assert_ne!(host, 0);
            // The set the kernel gets blocks SIGUSR1 and never SIGSEGV.
            let set = unsafe { &*(host as usize as *const libc::sigset_t) };
            assert_eq!(unsafe { libc::sigismember(set, libc::SIGUSR1) }, 1);
            assert_eq!(unsafe { libc::sigismember(set, libc::SIGSEGV) }, 0);
            Ok(7)
        });
        assert_eq!(r, Ok(7));
        assert_eq!(host_mask(), before);
        assert_eq!(during(&call, None, |host| Ok(host as i64)), Ok(0));
    }

    fn host_mask() -> u64 {
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut set) };
        (1..=64).fold(0u64, |m, s| {
            if unsafe { libc::sigismember(&set, s) } == 1 {
                m | 1 << (s - 1)
            } else {
                m
            }
        })
    }
}
