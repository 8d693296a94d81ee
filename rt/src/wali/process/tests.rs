//! The process family's handlers on a fake guest memory, with hostile arguments: pointers and
//! arrays running off the end of memory, lengths that would wrap, negative counts, unknown
//! options. Only failing or harmless calls are made (the test process keeps its identity).

use super::*;
use crate::guest_mem::tests::FakeGuest;

const SIZE: usize = 0x1000;
const EFAULT: i64 = -(libc::EFAULT as i64);
const EINVAL: i64 = -(libc::EINVAL as i64);

fn call(g: &mut FakeGuest, name: &str, args: &[u64]) -> i64 {
    let vmctx = g.vmctx();
    crate::wali::run_for_test(vmctx, handler(name).unwrap(), name, args)
}

const END: u64 = SIZE as u64;

#[test]
fn out_parameters_must_fit_in_memory() {
    let mut g = FakeGuest::new(SIZE);
    for (name, args) in [
        ("uname", vec![END - 389]),
        ("sysinfo", vec![END - 111]),
        ("getrusage", vec![0, END - 143]),
        ("getrlimit", vec![7, END - 15]),
        ("setrlimit", vec![7, END - 15]),
        ("prlimit64", vec![0, 7, 0, END - 8]),
        ("prlimit64", vec![0, 7, END - 8, 0]),
        ("getrandom", vec![END - 0x10, 0x20, 0]),
        ("getrandom", vec![0xFFFF_FFF0, 0x20, 0]),
        ("getrandom", vec![0x10, 0xFFFF_FFFF, 0]),
        ("sched_getaffinity", vec![0, 128, END - 4]),
        ("wait4", vec![u64::MAX, END - 2, 0, 0]),
        ("wait4", vec![u64::MAX, 0, 0, END - 100]),
        ("execve", vec![END + 1, 0, 0]),
    ] {
        assert_eq!(call(&mut g, name, &args), EFAULT, "{name}{args:x?}");
    }
    assert!(call(&mut g, "uname", &[END - 390]) == 0);
    assert_eq!(
        call(&mut g, "sched_getaffinity", &[0, 12, 0]),
        EINVAL,
        "not whole longs"
    );
    assert_eq!(
        call(&mut g, "prlimit64", &[1, 7, 0, 0x100]),
        -(libc::EPERM as i64),
        "another process"
    );
    assert_eq!(call(&mut g, "getrlimit", &[9999, 0x100]), EINVAL);
}

#[test]
fn execve_copies_checked_strings_and_arrays() {
    let mut g = FakeGuest::new(SIZE);
    // An unterminated path at the end of memory.
    g.bytes[SIZE - 4..].copy_from_slice(b"/bin");
    assert_eq!(call(&mut g, "execve", &[END - 4, 0, 0]), EFAULT);
    g.bytes[0x100..0x10a].copy_from_slice(b"/nonexist\0");
    // argv: runs off the end without its NULL.
    g.put_u32(SIZE - 4, 0x100);
    assert_eq!(call(&mut g, "execve", &[0x100, END - 4, 0]), EFAULT);
    // argv entry pointing outside memory.
    g.put_u32(0x200, 0x10_0000);
    g.put_u32(0x204, 0);
    assert_eq!(call(&mut g, "execve", &[0x100, 0x200, 0]), EFAULT);
    // Well-formed: the kernel answers for the path.
    g.put_u32(0x200, 0x100);
    assert_eq!(
        call(&mut g, "execve", &[0x100, 0x200, 0]),
        -(libc::ENOENT as i64)
    );
}

#[test]
fn group_lists_are_bounded() {
    let mut g = FakeGuest::new(SIZE);
    assert_eq!(
        call(&mut g, "getgroups", &[0xFFFF_FFFF, 0x100]),
        EINVAL,
        "negative count"
    );
    assert_eq!(call(&mut g, "setgroups", &[0xFFFF_FFFF, 0x100]), EINVAL);
    assert_eq!(
        call(&mut g, "setgroups", &[70000, 0x100]),
        EINVAL,
        "past NGROUPS_MAX"
    );
    assert_eq!(call(&mut g, "setgroups", &[2, END - 4]), EFAULT);
    let n = call(&mut g, "getgroups", &[0, 0]);
    assert!(n >= 0);
    if n > 0 {
        // A big count with room only for the real entries: the kernel writes only those.
        let at = END - 4 * n as u64;
        assert_eq!(call(&mut g, "getgroups", &[0x7FFF_FFFF, at]), n);
        assert_eq!(call(&mut g, "getgroups", &[0x7FFF_FFFF, at + 4]), EFAULT);
    }
}

#[test]
fn prctl_translates_its_few_options_and_refuses_the_rest() {
    let mut g = FakeGuest::new(SIZE);
    const SET_NAME: u64 = 15;
    const GET_NAME: u64 = 16;
    // A short name right at the end of memory is fine; one that runs off it is not.
    g.bytes[SIZE - 3..].copy_from_slice(b"ab\0");
    assert_eq!(call(&mut g, "prctl", &[SET_NAME, END - 3]), 0);
    g.bytes[SIZE - 3..].copy_from_slice(b"abc");
    assert_eq!(call(&mut g, "prctl", &[SET_NAME, END - 3]), EFAULT);
    assert_eq!(
        call(&mut g, "prctl", &[SET_NAME, 1 << 40]),
        EFAULT,
        "a 64-bit pointer"
    );
    assert_eq!(call(&mut g, "prctl", &[GET_NAME, END - 15]), EFAULT);
    assert_eq!(call(&mut g, "prctl", &[GET_NAME, END - 16]), 0);
    assert_eq!(&g.bytes[SIZE - 16..SIZE - 13], b"ab\0");
    // PR_SET_MM, PR_SET_SECCOMP, PR_SET_PDEATHSIG, PR_SET_PTRACER, unknown.
    for option in [35, 22, 1, 0x5961_6d61, 99999] {
        assert_eq!(call(&mut g, "prctl", &[option, 0x100]), EINVAL, "{option}");
    }
    assert!(call(&mut g, "prctl", &[3]) >= 0, "PR_GET_DUMPABLE");
}

#[test]
fn futex_words_and_timeouts_are_checked() {
    let mut g = FakeGuest::new(SIZE);
    const WAIT: u64 = 0;
    const WAKE: u64 = 1;
    const REQUEUE: u64 = 3;
    const LOCK_PI: u64 = 6;
    const PRIVATE: u64 = 128;
    assert_eq!(
        call(&mut g, "futex", &[0x102, WAKE, 1]),
        EINVAL,
        "misaligned"
    );
    assert_eq!(call(&mut g, "futex", &[END, WAKE, 1]), EFAULT);
    assert_eq!(call(&mut g, "futex", &[0xFFFF_FFFC, WAKE, 1]), EFAULT);
    assert_eq!(call(&mut g, "futex", &[0x100, WAKE | PRIVATE, 1]), 0);
    assert_eq!(
        call(&mut g, "futex", &[0x100, WAIT, 0, END - 8]),
        EFAULT,
        "timeout off the end"
    );
    assert_eq!(
        call(&mut g, "futex", &[0x100, WAIT, 1]),
        -(libc::EAGAIN as i64),
        "the word is 0, not 1"
    );
    // {0 s, 1 ms}
    g.bytes[0x200..0x210]
        .copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x42, 0x0f, 0, 0, 0, 0, 0]);
    assert_eq!(
        call(&mut g, "futex", &[0x100, WAIT | PRIVATE, 0, 0x200]),
        -(libc::ETIMEDOUT as i64)
    );
    assert_eq!(
        call(&mut g, "futex", &[0x100, REQUEUE, 1, 1, END]),
        EFAULT,
        "second word"
    );
    assert_eq!(call(&mut g, "futex", &[0x100, REQUEUE, 1, 1, 0x104]), 0);
    assert_eq!(
        call(&mut g, "futex", &[0x100, LOCK_PI, 0]),
        -(libc::ENOSYS as i64)
    );
}

#[test]
fn set_tid_address_answers_the_thread_id() {
    let mut g = FakeGuest::new(SIZE);
    let tid = call(&mut g, "set_tid_address", &[0x100]);
    assert_eq!(tid, i64::from(unsafe { libc::gettid() }));
    assert_eq!(
        TID_ADDRESS.with(Cell::get),
        0x100,
        "recorded for this thread"
    );
    assert_eq!(
        call(&mut g, "set_tid_address", &[0xFFFF_FFFF]),
        tid,
        "not checked until used"
    );
}

#[test]
fn null_objects_are_efault_as_natively() {
    let mut g = FakeGuest::new(SIZE);
    for (name, args) in [
        ("uname", vec![0]),
        ("sysinfo", vec![0]),
        ("getrusage", vec![0, 0]),
        ("getrlimit", vec![7, 0]),
        ("setrlimit", vec![7, 0]),
        ("getrandom", vec![0, 16, 0]),
        ("sched_getaffinity", vec![0, 128, 0]),
        ("prctl", vec![15, 0]),
        ("prctl", vec![16, 0]),
        ("futex", vec![0, 1, 1]),
        ("execve", vec![0, 0, 0]),
        ("setgroups", vec![1, 0]),
    ] {
        assert_eq!(call(&mut g, name, &args), EFAULT, "{name}{args:x?}");
    }
    // Optional ones stay optional.
    assert_eq!(call(&mut g, "getrandom", &[0, 0, 0]), 0);
    assert_eq!(call(&mut g, "prlimit64", &[0, 7, 0, 0]), 0);
    assert!(call(&mut g, "getgroups", &[0, 0]) >= 0);
}
