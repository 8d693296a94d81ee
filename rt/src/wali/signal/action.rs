//! The guest's signal actions (what `rt_sigaction` sets), the host dispositions that stand
//! for them, and the default actions the runtime carries out itself.
//!
//! A guest handler is a wasm function: the host gets the runtime's recording handler
//! ([`super::state::on_host_signal`]) in its place. `SIG_IGN` and `SIG_DFL` are given to the
//! host as they are, so the kernel ignores, stops or kills exactly as it would natively
//! (blocked signals stay pending in the kernel, since the guest's mask is mirrored on the
//! host). The runtime's fault signals and the host C library's own signals are never given
//! to the host for the guest ([`super::state::virtual_only`]): their actions are only
//! recorded, so `oldact` reads back what was set.

use std::sync::{Mutex, MutexGuard, Once};

use super::state::{self, SigSet};
use crate::wali::arch::signal::{guest, host_kernel_flags, host_signal};

/// `SIG_DFL` and `SIG_IGN` as handler values; any other value is an index in table 0. WALI's
/// musl defines `SIG_IGN` as `(void (*)(int))-2`, not Linux's 1: in a wasm table, index 1
/// is a function like any other (often the first one whose address a program takes), and
/// the prebuilt binaries pass -2 to ignore a signal.
pub const SIG_DFL: u32 = 0;
pub const SIG_IGN: u32 = -2i32 as u32;

/// One guest `struct k_sigaction`, as WALI's musl passes it to `rt_sigaction`: 24 bytes,
/// packed, `{u32 handler; u64 flags; u32 restorer; u64 mask}` (offsets 0, 4, 12, 16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Action {
    pub handler: u32,
    pub flags: u64,
    pub restorer: u32,
    pub mask: SigSet,
}

impl Action {
    pub const SIZE: usize = 24;

    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Action {
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let u64_at = |at: usize| u64::from(u32_at(at)) | (u64::from(u32_at(at + 4)) << 32);
        Action {
            handler: u32_at(0),
            flags: u64_at(4),
            restorer: u32_at(12),
            mask: u64_at(16),
        }
    }

    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.handler.to_le_bytes());
        b[4..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..16].copy_from_slice(&self.restorer.to_le_bytes());
        b[16..24].copy_from_slice(&self.mask.to_le_bytes());
        b
    }
}

/// Every signal's action, index = signal number (0 unused).
static ACTIONS: Mutex<[Action; 65]> = Mutex::new(
    [Action {
        handler: SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    }; 65],
);

fn actions() -> MutexGuard<'static, [Action; 65]> {
    static INHERITED: Once = Once::new();
    let mut table = ACTIONS.lock().unwrap_or_else(|e| e.into_inner());
    // Signals the process started with ignored (nohup's SIGHUP, a shell's background job)
    // stay ignored across exec on Linux, and the guest sees them so.
    INHERITED.call_once(|| {
        for sig in (1..=guest::NSIG).filter(|&s| state::routable(s)) {
            // SAFETY: queries into a struct we own.
            let ignored = unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(host_signal(sig), std::ptr::null(), &mut old) == 0
                    && old.sa_sigaction == libc::SIG_IGN
            };
            if ignored {
                table[sig as usize].handler = SIG_IGN;
            }
        }
    });
    table
}

/// The action of `sig` (1 to 64).
pub fn get(sig: i32) -> Action {
    actions()[sig as usize]
}

/// Sets the action of `sig` (1 to 64, neither SIGKILL nor SIGSTOP); returns the old one.
pub fn set(sig: i32, mut new: Action) -> Action {
    new.mask &= !state::UNBLOCKABLE;
    let mut table = actions();
    let old = std::mem::replace(&mut table[sig as usize], new);
    if state::routable(sig) {
        install_host(sig, &new);
    }
    drop(table);
    // POSIX: a pending signal whose action becomes "ignore" is discarded, blocked or not.
    if new.handler == SIG_IGN || (new.handler == SIG_DFL && default_of(sig) == Default::Ignore) {
        state::discard(sig);
    }
    old
}

fn install_host(sig: i32, action: &Action) {
    // SAFETY: a fully initialised sigaction for a signal the runtime does not own.
    unsafe {
        let mut host: libc::sigaction = std::mem::zeroed();
        host.sa_flags = host_kernel_flags(action.flags);
        host.sa_sigaction = match action.handler {
            SIG_DFL => libc::SIG_DFL,
            SIG_IGN => libc::SIG_IGN,
            _ => {
                // SA_ONSTACK: the runtime's alternate stack, not the guest's.
                host.sa_flags |= libc::SA_SIGINFO | libc::SA_ONSTACK;
                state::on_host_signal as *const () as usize
            }
        };
        libc::sigemptyset(&mut host.sa_mask);
        libc::sigaction(host_signal(sig), &host, std::ptr::null_mut());
    }
}

/// What a signal does under `SIG_DFL` (Linux's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    Terminate,
    Ignore,
    Stop,
}

pub fn default_of(sig: i32) -> Default {
    match sig {
        guest::SIGCHLD | guest::SIGURG | guest::SIGWINCH | guest::SIGCONT => Default::Ignore,
        guest::SIGSTOP | guest::SIGTSTP | guest::SIGTTIN | guest::SIGTTOU => Default::Stop,
        _ => Default::Terminate,
    }
}

/// Carries out `SIG_DFL` for a signal the runtime delivers itself (one that was pending in
/// the runtime when its action became `SIG_DFL`, or a virtual one).
pub fn perform_default(sig: i32) {
    match default_of(sig) {
        Default::Ignore => {}
        // SAFETY: plain syscalls. SIGSTOP at one thread stops the whole process.
        Default::Stop => unsafe {
            libc::syscall(
                libc::SYS_tgkill,
                libc::getpid(),
                libc::gettid(),
                libc::SIGSTOP,
            );
        },
        Default::Terminate => die_by(sig),
    }
}

/// Ends the process as `sig`'s default action does: with the host's own default for it
/// (so the parent sees the signal, and a core is dumped where it would be), else with
/// status 128 + `sig`.
fn die_by(sig: i32) -> ! {
    if !state::host_reserved(sig) {
        // SAFETY: resets one disposition and raises the signal at this thread, unblocked:
        // the kernel acts on it before the syscall returns.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut dfl.sa_mask);
            libc::sigaction(host_signal(sig), &dfl, std::ptr::null_mut());
            let mut only: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut only);
            libc::sigaddset(&mut only, host_signal(sig));
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &only, std::ptr::null_mut());
            libc::syscall(
                libc::SYS_tgkill,
                libc::getpid(),
                libc::gettid(),
                host_signal(sig),
            );
        }
    }
    crate::threads::exit_process(128 + sig)
}

/// `SA_RESETHAND`: the action goes back to `SIG_DFL` as the handler is entered.
pub fn reset_to_default(sig: i32) {
    let mut table = actions();
    let reset = Action {
        handler: SIG_DFL,
        ..table[sig as usize]
    };
    table[sig as usize] = reset;
    if state::routable(sig) {
        install_host(sig, &reset);
    }
}
