//! Signals: the guest's x86-64 numbers, flags and layouts against the host's.
//!
//! Nothing differs on the three hosts, and the compile-time checks at the bottom keep it so:
//! - signal numbers: x86-64, aarch64 and riscv64 all use the generic Linux numbering
//!   (`SIGBUS` 7, `SIGUSR1` 10, `SIGSTKFLT` 16, `SIGCHLD` 17, `SIGSYS` 31; real-time signals
//!   from 32 to 64), so a signal number crosses unchanged in both directions;
//! - `sigset_t` as the kernel sees it: 64 bits, bit `n - 1` for signal `n`;
//! - `SA_*` flags: the generic values on all three (`SA_RESTORER`, which riscv64 lacks, is
//!   only recorded for the guest, never given to the host);
//! - `SIG_BLOCK`/`SIG_UNBLOCK`/`SIG_SETMASK` 0/1/2, `SS_ONSTACK` 1, `SS_DISABLE` 2,
//!   `SS_AUTODISARM` bit 31;
//! - `struct itimerval`: two `{i64 tv_sec, i64 tv_usec}` pairs (32 bytes) everywhere,
//!   including the guest;
//! - `siginfo_t`: the guest's (wasm32 musl with a 64-bit `long`) and the host's agree on the
//!   first [`SIGINFO_SHARED`] bytes: `si_signo`, `si_errno`, `si_code`, then at offset 16
//!   the sender's pid and uid (kill, tkill, sigqueue), the timer id and overrun, the child's
//!   pid, uid, status and times (`SIGCHLD`), `sigval` (its low 32 bits, the guest's pointer
//!   width). The fault fields (`si_addr`) differ but never reach a guest: faults are traps.
//!
//! One limit does differ, MINSIGSTKSZ (aarch64's is 5120): a guest gets x86-64's,
//! [`guest::MINSIGSTKSZ`], since its alternate stacks are only recorded, never installed.

/// The guest's (x86-64) values the runtime interprets itself.
pub mod guest {
    pub const SIGHUP: i32 = 1;
    pub const SIGILL: i32 = 4;
    pub const SIGFPE: i32 = 8;
    pub const SIGKILL: i32 = 9;
    pub const SIGBUS: i32 = 7;
    pub const SIGUSR1: i32 = 10;
    pub const SIGSEGV: i32 = 11;
    pub const SIGALRM: i32 = 14;
    pub const SIGSTKFLT: i32 = 16;
    pub const SIGCHLD: i32 = 17;
    pub const SIGCONT: i32 = 18;
    pub const SIGSTOP: i32 = 19;
    pub const SIGTSTP: i32 = 20;
    pub const SIGTTIN: i32 = 21;
    pub const SIGTTOU: i32 = 22;
    pub const SIGURG: i32 = 23;
    pub const SIGWINCH: i32 = 28;
    pub const SIGSYS: i32 = 31;
    /// Highest signal number.
    pub const NSIG: i32 = 64;

    pub const SA_NOCLDSTOP: u64 = 1;
    pub const SA_NOCLDWAIT: u64 = 2;
    pub const SA_SIGINFO: u64 = 4;
    pub const SA_RESTORER: u64 = 0x0400_0000;
    pub const SA_ONSTACK: u64 = 0x0800_0000;
    pub const SA_RESTART: u64 = 0x1000_0000;
    pub const SA_NODEFER: u64 = 0x4000_0000;
    pub const SA_RESETHAND: u64 = 0x8000_0000;

    pub const SIG_BLOCK: i32 = 0;
    pub const SIG_UNBLOCK: i32 = 1;
    pub const SIG_SETMASK: i32 = 2;

    pub const SS_ONSTACK: i32 = 1;
    pub const SS_DISABLE: i32 = 2;
    pub const SS_AUTODISARM: i32 = 1 << 31;
    pub const MINSIGSTKSZ: u32 = 2048;

    pub const SI_USER: i32 = 0;
    pub const SI_TKILL: i32 = -6;
}

/// Bytes at the start of `siginfo_t` that mean the same to guest and host.
pub const SIGINFO_SHARED: usize = 48;
/// Size of `siginfo_t` (guest and host).
pub const SIGINFO_SIZE: usize = 128;

/// The host's number for guest signal `sig` (1 to [`guest::NSIG`]): the same number.
pub const fn host_signal(sig: i32) -> i32 {
    sig
}

/// The `sigaction` flags the host's kernel acts on for a signal itself (what `SIGCHLD`'s
/// `SA_NOCLDSTOP`/`SA_NOCLDWAIT` ask of it), as host bits. Every other flag is the runtime's
/// business: the guest's handler never becomes a host handler.
pub const fn host_kernel_flags(guest_flags: u64) -> libc::c_int {
    (guest_flags & (guest::SA_NOCLDSTOP | guest::SA_NOCLDWAIT)) as libc::c_int
}

// The facts above, checked against the host's C library when the runtime is built.
const _: () = {
    assert!(libc::SIGHUP == guest::SIGHUP);
    assert!(libc::SIGILL == guest::SIGILL);
    assert!(libc::SIGBUS == guest::SIGBUS);
    assert!(libc::SIGFPE == guest::SIGFPE);
    assert!(libc::SIGKILL == guest::SIGKILL);
    assert!(libc::SIGUSR1 == guest::SIGUSR1);
    assert!(libc::SIGSEGV == guest::SIGSEGV);
    assert!(libc::SIGALRM == guest::SIGALRM);
    assert!(libc::SIGSTKFLT == guest::SIGSTKFLT);
    assert!(libc::SIGCHLD == guest::SIGCHLD);
    assert!(libc::SIGCONT == guest::SIGCONT);
    assert!(libc::SIGSTOP == guest::SIGSTOP);
    assert!(libc::SIGTSTP == guest::SIGTSTP);
    assert!(libc::SIGTTIN == guest::SIGTTIN);
    assert!(libc::SIGTTOU == guest::SIGTTOU);
    assert!(libc::SIGURG == guest::SIGURG);
    assert!(libc::SIGWINCH == guest::SIGWINCH);
    assert!(libc::SIGSYS == guest::SIGSYS);
    assert!(libc::SA_NOCLDSTOP as u64 == guest::SA_NOCLDSTOP);
    assert!(libc::SA_NOCLDWAIT as u64 == guest::SA_NOCLDWAIT);
    assert!(libc::SIG_BLOCK == guest::SIG_BLOCK);
    assert!(libc::SIG_UNBLOCK == guest::SIG_UNBLOCK);
    assert!(libc::SIG_SETMASK == guest::SIG_SETMASK);
    assert!(libc::SI_TKILL == guest::SI_TKILL);
    assert!(libc::SI_USER == guest::SI_USER);
    assert!(core::mem::size_of::<libc::itimerval>() == 32);
    assert!(core::mem::size_of::<libc::siginfo_t>() == SIGINFO_SIZE);
};
