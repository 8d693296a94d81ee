//! The signal syscalls against a fake guest memory, with hostile arguments. Delivery itself
//! needs compiled code; `cli/tests/wali_signals.rs` covers it.
//!
//! The tests of one binary share the process's signal state and run on parallel threads, so
//! each uses signals no other test touches and leaves them as it found them.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

use super::action::{Action, SIG_DFL, SIG_IGN};
use super::*;
use crate::guest_mem::tests::FakeGuest;
use crate::wali::arch::signal::guest::*;

const MEM: usize = 0x1000;

fn sys(g: &mut FakeGuest, name: &str, args: &[u64]) -> SysResult {
    let vmctx = g.vmctx();
    let call = Call {
        vmctx,
        // SAFETY: the fake context has a memory.
        mem: unsafe { Mem::from_vmctx(vmctx) }.unwrap(),
        syscall: wafer_abi::wali::syscall(name).unwrap(),
    };
    let mut all = [0u64; 6];
    all[..args.len()].copy_from_slice(args);
    handler(name).unwrap()(&call, &all)
}

fn put_action(g: &mut FakeGuest, at: usize, a: Action) {
    g.bytes[at..at + Action::SIZE].copy_from_slice(&a.to_bytes());
}

fn get_action(g: &FakeGuest, at: usize) -> Action {
    let mut b = [0u8; Action::SIZE];
    b.copy_from_slice(&g.bytes[at..at + Action::SIZE]);
    Action::from_bytes(&b)
}

fn host_handler(sig: i32) -> usize {
    // SAFETY: a query into a struct we own.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

fn host_blocks(sig: i32) -> bool {
    // SAFETY: a query into a set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut set);
        libc::sigismember(&set, sig) == 1
    }
}

const EINVAL: Result<i64, Errno> = Err(Errno(libc::EINVAL));
const EFAULT: Result<i64, Errno> = Err(Errno(libc::EFAULT));

#[test]
fn k_sigaction_layout_is_packed_24_bytes() {
    let a = Action {
        handler: 0x1122_3344,
        flags: 0x0102_0304_0506_0708,
        restorer: 0x5566_7788,
        mask: 0x99aa_bbcc_ddee_ff00,
    };
    let b = a.to_bytes();
    assert_eq!(&b[0..4], &0x1122_3344u32.to_le_bytes());
    assert_eq!(&b[4..12], &0x0102_0304_0506_0708u64.to_le_bytes());
    assert_eq!(&b[12..16], &0x5566_7788u32.to_le_bytes());
    assert_eq!(&b[16..24], &0x99aa_bbcc_ddee_ff00u64.to_le_bytes());
    assert_eq!(Action::from_bytes(&b), a);
}

#[test]
fn sigset_sizes_are_checked_as_linux_checks_them() {
    let mut g = FakeGuest::new(MEM);
    for size in [0, 4, 7, 9, 128, u64::from(u32::MAX)] {
        assert_eq!(sys(&mut g, "rt_sigaction", &[10, 0, 0x100, size]), EINVAL);
        assert_eq!(sys(&mut g, "rt_sigprocmask", &[0, 0, 0x100, size]), EINVAL);
        assert_eq!(sys(&mut g, "rt_sigsuspend", &[0x100, size]), EINVAL);
    }
    // rt_sigpending takes any size up to 8 and writes that many bytes.
    assert_eq!(sys(&mut g, "rt_sigpending", &[0x100, 9]), EINVAL);
    assert_eq!(sys(&mut g, "rt_sigpending", &[0x100, 128]), EINVAL);
    g.bytes[0x100..0x108].fill(0xee);
    assert_eq!(sys(&mut g, "rt_sigpending", &[0x100, 4]), Ok(0));
    assert_eq!(&g.bytes[0x104..0x108], &[0xee; 4]);
    assert_eq!(sys(&mut g, "rt_sigpending", &[0x100, 0]), Ok(0));
    assert_eq!(sys(&mut g, "rt_sigpending", &[MEM as u64 - 3, 4]), EFAULT);
    assert_eq!(sys(&mut g, "rt_sigpending", &[MEM as u64 - 8, 8]), Ok(0));
}

#[test]
fn sigaction_pointers_are_checked() {
    let mut g = FakeGuest::new(MEM);
    let sig = SIGWINCH as u64;
    // The struct straddles the end of memory, or lies past 4 GiB, or wraps.
    for act in [MEM as u64 - 23, MEM as u64, 1 << 32, u64::from(u32::MAX)] {
        assert_eq!(sys(&mut g, "rt_sigaction", &[sig, act, 0, 8]), EFAULT);
    }
    // A bad oldact fails after the action is set, as Linux's copy-out does.
    let new = Action {
        handler: SIG_IGN,
        flags: SA_RESTART,
        ..Action::default()
    };
    put_action(&mut g, 0x200, new);
    assert_eq!(
        sys(&mut g, "rt_sigaction", &[sig, 0x200, MEM as u64 - 1, 8]),
        EFAULT
    );
    assert_eq!(sys(&mut g, "rt_sigaction", &[sig, 0, 0x300, 8]), Ok(0));
    assert_eq!(get_action(&g, 0x300), new);
    assert_eq!(host_handler(libc::SIGWINCH), libc::SIG_IGN);
    put_action(&mut g, 0x200, Action::default());
    assert_eq!(sys(&mut g, "rt_sigaction", &[sig, 0x200, 0, 8]), Ok(0));
    assert_eq!(host_handler(libc::SIGWINCH), libc::SIG_DFL);
}

#[test]
fn sigaction_refuses_what_linux_refuses() {
    let mut g = FakeGuest::new(MEM);
    put_action(
        &mut g,
        0x200,
        Action {
            handler: SIG_IGN,
            ..Action::default()
        },
    );
    for sig in [0, 65, 9999, -1i64 as u64, u64::from(u32::MAX)] {
        assert_eq!(sys(&mut g, "rt_sigaction", &[sig, 0x200, 0, 8]), EINVAL);
        assert_eq!(sys(&mut g, "rt_sigaction", &[sig, 0, 0x300, 8]), EINVAL);
    }
    for sig in [SIGKILL, SIGSTOP] {
        assert_eq!(
            sys(&mut g, "rt_sigaction", &[sig as u64, 0x200, 0, 8]),
            EINVAL
        );
        // Reading their action is fine.
        assert_eq!(
            sys(&mut g, "rt_sigaction", &[sig as u64, 0, 0x300, 8]),
            Ok(0)
        );
        assert_eq!(get_action(&g, 0x300).handler, SIG_DFL);
    }
}

#[test]
fn handlers_become_the_runtime_handler_on_the_host() {
    let mut g = FakeGuest::new(MEM);
    let handler = Action {
        handler: 7,
        flags: SA_SIGINFO | SA_RESTORER,
        restorer: 3,
        mask: u64::MAX,
    };
    put_action(&mut g, 0x200, handler);
    assert_eq!(
        sys(&mut g, "rt_sigaction", &[SIGURG as u64, 0x200, 0x300, 8]),
        Ok(0)
    );
    assert_eq!(get_action(&g, 0x300).handler, SIG_DFL);
    assert_eq!(
        host_handler(libc::SIGURG),
        state::on_host_signal as *const () as usize
    );
    assert_eq!(
        sys(&mut g, "rt_sigaction", &[SIGURG as u64, 0, 0x300, 8]),
        Ok(0)
    );
    // Read back as set, except that SIGKILL and SIGSTOP never join a handler's mask.
    assert_eq!(
        get_action(&g, 0x300),
        Action {
            mask: !UNBLOCKABLE,
            ..handler
        }
    );
    put_action(&mut g, 0x200, Action::default());
    assert_eq!(
        sys(&mut g, "rt_sigaction", &[SIGURG as u64, 0x200, 0, 8]),
        Ok(0)
    );
    assert_eq!(host_handler(libc::SIGURG), libc::SIG_DFL);
}

#[test]
fn the_runtimes_fault_signals_are_only_recorded() {
    let mut g = FakeGuest::new(MEM);
    crate::trap::install_handlers();
    let before: Vec<usize> = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE]
        .iter()
        .map(|&s| host_handler(s))
        .collect();
    // (SIGILL and SIGFPE are the next test's.)
    for (i, sig) in [SIGSEGV, SIGBUS].into_iter().enumerate() {
        let a = Action {
            handler: 40 + i as u32,
            flags: SA_SIGINFO,
            ..Action::default()
        };
        put_action(&mut g, 0x200, a);
        assert_eq!(
            sys(&mut g, "rt_sigaction", &[sig as u64, 0x200, 0, 8]),
            Ok(0)
        );
        assert_eq!(
            sys(&mut g, "rt_sigaction", &[sig as u64, 0, 0x300, 8]),
            Ok(0)
        );
        assert_eq!(get_action(&g, 0x300), a);
        // And blocking it is virtual too.
        g.bytes[0x400..0x408].copy_from_slice(&bit(sig).to_le_bytes());
        assert_eq!(sys(&mut g, "rt_sigprocmask", &[0, 0x400, 0, 8]), Ok(0));
        assert!(!host_blocks(sig));
        assert_eq!(sys(&mut g, "rt_sigprocmask", &[1, 0x400, 0, 8]), Ok(0));
        put_action(&mut g, 0x200, Action::default());
        assert_eq!(
            sys(&mut g, "rt_sigaction", &[sig as u64, 0x200, 0, 8]),
            Ok(0)
        );
    }
    let after: Vec<usize> = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE]
        .iter()
        .map(|&s| host_handler(s))
        .collect();
    assert_eq!(before, after);
    assert_ne!(after[0], libc::SIG_DFL);
}

#[test]
fn sigprocmask_is_virtual_and_mirrored() {
    let mut g = FakeGuest::new(MEM);
    let set = bit(SIGTTIN) | bit(SIGKILL) | bit(SIGSTOP);
    g.bytes[0x100..0x108].copy_from_slice(&set.to_le_bytes());
    // An unknown `how` is refused only when there is a set to apply.
    assert_eq!(sys(&mut g, "rt_sigprocmask", &[9999, 0x100, 0, 8]), EINVAL);
    assert_eq!(sys(&mut g, "rt_sigprocmask", &[9999, 0, 0x200, 8]), Ok(0));
    assert_eq!(
        sys(&mut g, "rt_sigprocmask", &[0, MEM as u64 - 7, 0, 8]),
        EFAULT
    );
    assert_eq!(sys(&mut g, "rt_sigprocmask", &[0, 1 << 32, 0, 8]), EFAULT);

    assert_eq!(sys(&mut g, "rt_sigprocmask", &[0, 0x100, 0x200, 8]), Ok(0));
    let old = u64::from_le_bytes(g.bytes[0x200..0x208].try_into().unwrap());
    assert_eq!(old & bit(SIGTTIN), 0);
    assert_eq!(sys(&mut g, "rt_sigprocmask", &[0, 0, 0x200, 8]), Ok(0));
    let now = u64::from_le_bytes(g.bytes[0x200..0x208].try_into().unwrap());
    // SIGKILL and SIGSTOP cannot be blocked.
    assert_eq!(now & set, bit(SIGTTIN));
    assert!(host_blocks(libc::SIGTTIN));
    // A bad oldset fails after the mask changed, as on Linux.
    assert_eq!(
        sys(&mut g, "rt_sigprocmask", &[1, 0x100, MEM as u64 - 4, 8]),
        EFAULT
    );
    assert!(!host_blocks(libc::SIGTTIN));
    assert_eq!(state::current().mask.load(SeqCst) & bit(SIGTTIN), 0);
}

#[test]
fn a_virtual_kill_stays_pending_while_blocked() {
    let mut g = FakeGuest::new(MEM);
    // SAFETY: plain syscalls.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    g.bytes[0x100..0x108].copy_from_slice(&(bit(SIGFPE) | bit(SIGILL)).to_le_bytes());
    assert_eq!(sys(&mut g, "rt_sigprocmask", &[0, 0x100, 0, 8]), Ok(0));
    assert_eq!(sys(&mut g, "kill", &[pid as u64, SIGFPE as u64]), Ok(0));
    assert_eq!(sys(&mut g, "tkill", &[tid as u64, SIGILL as u64]), Ok(0));
    assert_eq!(sys(&mut g, "rt_sigpending", &[0x200, 8]), Ok(0));
    let pending = u64::from_le_bytes(g.bytes[0x200..0x208].try_into().unwrap());
    assert_eq!(
        pending & (bit(SIGFPE) | bit(SIGILL)),
        bit(SIGFPE) | bit(SIGILL)
    );
    // The kernel never saw them: this process is alive, and nothing is pending there.
    assert_eq!(state::host_pending() & (bit(SIGFPE) | bit(SIGILL)), 0);
    // Ignoring discards them, blocked or not.
    let ignore = Action {
        handler: SIG_IGN,
        ..Action::default()
    };
    put_action(&mut g, 0x300, ignore);
    for sig in [SIGFPE, SIGILL] {
        assert_eq!(
            sys(&mut g, "rt_sigaction", &[sig as u64, 0x300, 0, 8]),
            Ok(0)
        );
    }
    assert_eq!(sys(&mut g, "rt_sigpending", &[0x200, 8]), Ok(0));
    let pending = u64::from_le_bytes(g.bytes[0x200..0x208].try_into().unwrap());
    assert_eq!(pending & (bit(SIGFPE) | bit(SIGILL)), 0);
    put_action(&mut g, 0x300, Action::default());
    for sig in [SIGFPE, SIGILL] {
        assert_eq!(
            sys(&mut g, "rt_sigaction", &[sig as u64, 0x300, 0, 8]),
            Ok(0)
        );
    }
    assert_eq!(sys(&mut g, "rt_sigprocmask", &[1, 0x100, 0, 8]), Ok(0));
    // A whole process group that includes this process would get the runtime's signal.
    assert_eq!(sys(&mut g, "kill", &[0, SIGFPE as u64]), EINVAL);
}

#[test]
fn kill_and_tkill_leave_the_rest_to_the_kernel() {
    let mut g = FakeGuest::new(MEM);
    // SAFETY: plain syscalls.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    assert_eq!(sys(&mut g, "kill", &[pid as u64, 0]), Ok(0));
    assert_eq!(sys(&mut g, "tkill", &[tid as u64, 0]), Ok(0));
    for bad in [65u64, 999, -1i64 as u64] {
        assert_eq!(sys(&mut g, "kill", &[pid as u64, bad]), EINVAL);
        assert_eq!(sys(&mut g, "tkill", &[tid as u64, bad]), EINVAL);
    }
    assert_eq!(sys(&mut g, "tkill", &[0, 0]), EINVAL);
    assert_eq!(
        sys(&mut g, "tkill", &[-5i64 as u64, SIGSEGV as u64]),
        EINVAL
    );
    assert_eq!(
        sys(&mut g, "kill", &[2147483640, 0]),
        Err(Errno(libc::ESRCH))
    );
    assert_eq!(
        sys(&mut g, "tkill", &[2147483640, SIGSEGV as u64]),
        Err(Errno(libc::ESRCH))
    );
}

#[test]
fn sigaltstack_is_virtual() {
    let mut g = FakeGuest::new(MEM);
    // SAFETY: a query into a struct we own.
    let host = || unsafe {
        let mut s: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut s);
        (s.ss_sp as usize, s.ss_size, s.ss_flags)
    };
    let before = host();
    let put = |g: &mut FakeGuest, at: usize, sp: u32, flags: i32, size: u32| {
        g.put_u32(at, sp);
        g.put_u32(at + 4, flags as u32);
        g.put_u32(at + 8, size);
    };
    // Initially disabled.
    assert_eq!(sys(&mut g, "sigaltstack", &[0, 0x100]), Ok(0));
    assert_eq!(g.u32_at(0x104) as i32, SS_DISABLE);
    assert_eq!((g.u32_at(0x100), g.u32_at(0x108)), (0, 0));
    for bad in [MEM as u64 - 11, 1 << 32, u64::from(u32::MAX)] {
        assert_eq!(sys(&mut g, "sigaltstack", &[bad, 0]), EFAULT);
        assert_eq!(sys(&mut g, "sigaltstack", &[0, bad]), EFAULT);
    }
    put(&mut g, 0x200, 0x800, 5, 4096);
    assert_eq!(sys(&mut g, "sigaltstack", &[0x200, 0]), EINVAL);
    put(&mut g, 0x200, 0x800, 0, MINSIGSTKSZ - 1);
    assert_eq!(
        sys(&mut g, "sigaltstack", &[0x200, 0]),
        Err(Errno(libc::ENOMEM))
    );
    // A stack anywhere in the guest's address space is only recorded: even one that is not
    // inside its memory.
    put(&mut g, 0x200, 0xffff_0000, SS_AUTODISARM, 8192);
    assert_eq!(sys(&mut g, "sigaltstack", &[0x200, 0x100]), Ok(0));
    assert_eq!(g.u32_at(0x104) as i32, SS_DISABLE);
    assert_eq!(sys(&mut g, "sigaltstack", &[0, 0x100]), Ok(0));
    assert_eq!(
        (g.u32_at(0x100), g.u32_at(0x104) as i32, g.u32_at(0x108)),
        (0xffff_0000, SS_AUTODISARM, 8192)
    );
    put(&mut g, 0x200, 0x800, SS_DISABLE, 0);
    assert_eq!(sys(&mut g, "sigaltstack", &[0x200, 0x100]), Ok(0));
    assert_eq!(sys(&mut g, "sigaltstack", &[0, 0x100]), Ok(0));
    assert_eq!(g.u32_at(0x104) as i32, SS_DISABLE);
    assert_eq!(host(), before);
}

#[test]
fn setitimer_copies_both_structs() {
    let mut g = FakeGuest::new(MEM);
    let put = |g: &mut FakeGuest, at: usize, words: [i64; 4]| {
        for (i, w) in words.iter().enumerate() {
            g.bytes[at + 8 * i..at + 8 * i + 8].copy_from_slice(&w.to_le_bytes());
        }
    };
    let word =
        |g: &FakeGuest, at: usize| i64::from_le_bytes(g.bytes[at..at + 8].try_into().unwrap());
    put(&mut g, 0x100, [0, 0, 0, 0]);
    assert_eq!(sys(&mut g, "setitimer", &[9999, 0x100, 0]), EINVAL);
    assert_eq!(sys(&mut g, "setitimer", &[0, MEM as u64 - 31, 0]), EFAULT);
    assert_eq!(sys(&mut g, "setitimer", &[0, 1 << 32, 0]), EFAULT);
    // Negative microseconds are the kernel's to refuse.
    put(&mut g, 0x100, [0, 0, 0, -1]);
    assert_eq!(sys(&mut g, "setitimer", &[0, 0x100, 0]), EINVAL);
    // A profiling timer far in the future (never fires during the test), read back.
    put(&mut g, 0x100, [0, 0, 1000, 0]);
    assert_eq!(
        sys(&mut g, "setitimer", &[libc::ITIMER_PROF as u64, 0x100, 0]),
        Ok(0)
    );
    put(&mut g, 0x100, [0, 0, 0, 0]);
    // Disarming with a bad `old` still disarms (the copy-out comes last) and fails.
    assert_eq!(
        sys(
            &mut g,
            "setitimer",
            &[libc::ITIMER_PROF as u64, 0x100, MEM as u64 - 8]
        ),
        EFAULT
    );
    assert_eq!(
        sys(
            &mut g,
            "setitimer",
            &[libc::ITIMER_PROF as u64, 0x100, 0x200]
        ),
        Ok(0)
    );
    assert_eq!(word(&g, 0x210), 0);
    assert_eq!(word(&g, 0x218), 0);
    put(&mut g, 0x100, [0, 0, 1000, 0]);
    assert_eq!(
        sys(&mut g, "setitimer", &[libc::ITIMER_PROF as u64, 0x100, 0]),
        Ok(0)
    );
    put(&mut g, 0x100, [0, 0, 0, 0]);
    assert_eq!(
        sys(
            &mut g,
            "setitimer",
            &[libc::ITIMER_PROF as u64, 0x100, 0x200]
        ),
        Ok(0)
    );
    let left = word(&g, 0x210);
    assert!((990..=1000).contains(&left), "{left}");
}

#[test]
fn rt_sigreturn_traps() {
    let mut g = FakeGuest::new(MEM);
    let trap = crate::trap::catch_traps(|| {
        let _ = sys(&mut g, "rt_sigreturn", &[0]);
    })
    .unwrap_err();
    assert_eq!(trap.kind, TrapKind::SignalReturn);
}

#[test]
fn sigsuspend_reads_its_mask_first() {
    let mut g = FakeGuest::new(MEM);
    assert_eq!(sys(&mut g, "rt_sigsuspend", &[MEM as u64 - 4, 8]), EFAULT);
    assert_eq!(sys(&mut g, "rt_sigsuspend", &[1 << 32, 8]), EFAULT);
}

#[test]
fn the_instance_word_follows_the_threads_flag_until_detached() {
    let slot = state::current();
    // Blocks everything, so no other test's process-wide signal raises this thread's flag.
    let before = slot.mask.load(SeqCst);
    state::set_mask(slot, u64::MAX);
    slot.lower();
    let word = Box::new(AtomicU32::new(0));
    state::attach(&*word);
    assert_eq!(word.load(SeqCst), 0);
    slot.raise();
    assert_eq!(word.load(SeqCst), 1);
    slot.lower();
    assert_eq!(word.load(SeqCst), 0);
    // A thread-directed signal this thread blocks does not raise it either.
    state::post_thread(slot, SIGTTOU);
    assert_eq!(word.load(SeqCst), 0);
    assert!(state::take(slot, SIGTTOU));
    state::detach(&*word);
    slot.raise();
    assert_eq!(word.load(SeqCst), 0, "a detached word is never written");
    slot.lower();
    state::set_mask(slot, before);
}
