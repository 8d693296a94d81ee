//! Limits and information: `getrlimit`, `setrlimit`, `prlimit64`, `getrusage`, `sysinfo`,
//! `uname`, `sched_getaffinity`, `prctl`, `getrandom`.
//!
//! Every struct here (`rlimit`, `rusage`, `sysinfo`, `utsname`) has the same layout on all
//! three 64-bit hosts as on x86-64, so the kernel fills a runtime buffer of the host's type
//! and its bytes are copied to the guest. Limits go through `prlimit64` on the calling process
//! (riscv64 has no `getrlimit`/`setrlimit`); `prlimit64` on another process answers `EPERM`.
//! `uname` answers the host's own (its `machine` is the host's ISA, as native programs see).
//!
//! prctl implements a listed set of options, each with its arguments translated:
//! `PR_SET_NAME`/`PR_GET_NAME` (the 16-byte name, read up to its NUL / written whole, checked
//! against guest memory), `PR_GET_DUMPABLE`, `PR_SET_NO_NEW_PRIVS` and `PR_GET_NO_NEW_PRIVS`
//! (integers only). Every other option answers `EINVAL`: many take pointers or change what the
//! runtime relies on.

use super::super::{check, int, raw, Args, Call, Errno, Handler, SysResult};
use super::{bytes_of, required, RUSAGE_SIZE};

/// `struct rlimit`: two u64, the same everywhere.
const RLIMIT_SIZE: u64 = 16;
/// `struct sysinfo` on 64-bit Linux (musl's reserves more room after it).
const SYSINFO_SIZE: usize = 112;
const _: () = assert!(std::mem::size_of::<libc::sysinfo>() >= SYSINFO_SIZE);
/// `struct utsname`: six fields of 65 bytes.
const UTSNAME_SIZE: usize = 390;
const _: () = assert!(std::mem::size_of::<libc::utsname>() == UTSNAME_SIZE);
/// The most affinity-mask bytes asked of the kernel (262144 CPUs).
const MAX_CPU_MASK: u64 = 32768;
/// `TASK_COMM_LEN`.
const NAME_LEN: usize = 16;

/// Guest prctl options (the same numbers on every host).
const PR_GET_DUMPABLE: i32 = 3;
const PR_SET_NAME: i32 = 15;
const PR_GET_NAME: i32 = 16;
const PR_SET_NO_NEW_PRIVS: i32 = 38;
const PR_GET_NO_NEW_PRIVS: i32 = 39;

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "getrlimit" => getrlimit,
        "setrlimit" => setrlimit,
        "prlimit64" => prlimit64,
        "getrusage" => getrusage,
        "sysinfo" => sysinfo,
        "uname" => uname,
        "sched_getaffinity" => sched_getaffinity,
        "prctl" => prctl,
        "getrandom" => getrandom,
        _ => return None,
    })
}

/// `prlimit64` on the calling process with runtime buffers; the old limit when asked for.
fn limits(resource: i32, new: Option<[u64; 2]>, want_old: bool) -> Result<[u64; 2], Errno> {
    let mut old = [0u64; 2];
    let new_ptr = new.as_ref().map_or(std::ptr::null(), |n| n.as_ptr());
    let old_ptr = if want_old {
        old.as_mut_ptr()
    } else {
        std::ptr::null_mut()
    };
    raw(
        libc::SYS_prlimit64,
        [
            0,
            resource as i64 as u64,
            new_ptr as u64,
            old_ptr as u64,
            0,
            0,
        ],
    )?;
    Ok(old)
}

fn read_limit(call: &Call, ptr: u64) -> Result<[u64; 2], Errno> {
    required(call, ptr, RLIMIT_SIZE)?;
    Ok([call.mem.read_u64(ptr)?, call.mem.read_u64(ptr + 8)?])
}

fn write_limit(call: &Call, ptr: u64, limit: [u64; 2]) -> Result<(), Errno> {
    required(call, ptr, RLIMIT_SIZE)?;
    call.mem.write_u64(ptr, limit[0])?;
    call.mem.write_u64(ptr + 8, limit[1])
}

fn getrlimit(call: &Call, args: &Args) -> SysResult {
    required(call, args[1], RLIMIT_SIZE)?;
    let old = limits(int(args, 0), None, true)?;
    write_limit(call, args[1], old)?;
    Ok(0)
}

fn setrlimit(call: &Call, args: &Args) -> SysResult {
    let new = read_limit(call, args[1])?;
    limits(int(args, 0), Some(new), false)?;
    Ok(0)
}

fn prlimit64(call: &Call, args: &Args) -> SysResult {
    let pid = int(args, 0);
    // SAFETY: plain syscall.
    if pid != 0 && pid != unsafe { libc::getpid() } {
        return Err(Errno(libc::EPERM));
    }
    let (new_ptr, old_ptr) = (args[2], args[3]);
    let new = if new_ptr == 0 {
        None
    } else {
        Some(read_limit(call, new_ptr)?)
    };
    call.mem.optional(old_ptr, RLIMIT_SIZE)?;
    let old = limits(int(args, 1), new, old_ptr != 0)?;
    if old_ptr != 0 {
        write_limit(call, old_ptr, old)?;
    }
    Ok(0)
}

fn getrusage(call: &Call, args: &Args) -> SysResult {
    required(call, args[1], RUSAGE_SIZE as u64)?;
    // SAFETY: zero is a valid rusage, which the kernel fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    raw(
        libc::SYS_getrusage,
        [args[0], &mut usage as *mut libc::rusage as u64, 0, 0, 0, 0],
    )?;
    call.mem
        .write_bytes(args[1], bytes_of(&usage, RUSAGE_SIZE))?;
    Ok(0)
}

fn sysinfo(call: &Call, args: &Args) -> SysResult {
    required(call, args[0], SYSINFO_SIZE as u64)?;
    // SAFETY: zero is a valid sysinfo, which the kernel fills.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    check(unsafe { libc::sysinfo(&mut info) } as libc::c_long)?;
    call.mem
        .write_bytes(args[0], bytes_of(&info, SYSINFO_SIZE))?;
    Ok(0)
}

fn uname(call: &Call, args: &Args) -> SysResult {
    required(call, args[0], UTSNAME_SIZE as u64)?;
    // SAFETY: zero is a valid utsname, which the kernel fills.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    check(unsafe { libc::uname(&mut name) } as libc::c_long)?;
    call.mem
        .write_bytes(args[0], bytes_of(&name, UTSNAME_SIZE))?;
    Ok(0)
}

fn sched_getaffinity(call: &Call, args: &Args) -> SysResult {
    let (pid, len, mask) = (int(args, 0), args[1], args[2]);
    // The kernel wants whole `unsigned long`s; it writes as many bytes as it has CPUs for.
    if !len.is_multiple_of(8) {
        return Err(Errno(libc::EINVAL));
    }
    let room = len.min(MAX_CPU_MASK);
    let mut bytes = vec![0u8; room as usize];
    let n = raw(
        libc::SYS_sched_getaffinity,
        [pid as i64 as u64, room, bytes.as_mut_ptr() as u64, 0, 0, 0],
    )?;
    let n = (n as u64).min(room) as usize;
    required(call, mask, n as u64)?;
    call.mem.write_bytes(mask, &bytes[..n])?;
    Ok(n as i64)
}

fn prctl(call: &Call, args: &Args) -> SysResult {
    let option = int(args, 0);
    let ints = |opt: i32| {
        raw(
            libc::SYS_prctl,
            [opt as i64 as u64, args[1], args[2], args[3], args[4], 0],
        )
    };
    match option {
        PR_SET_NAME => {
            let name = thread_name(call, args[1])?;
            raw(
                libc::SYS_prctl,
                [PR_SET_NAME as u64, name.as_ptr() as u64, 0, 0, 0, 0],
            )
        }
        PR_GET_NAME => {
            required(call, args[1], NAME_LEN as u64)?;
            let mut name = [0u8; NAME_LEN];
            raw(
                libc::SYS_prctl,
                [PR_GET_NAME as u64, name.as_mut_ptr() as u64, 0, 0, 0, 0],
            )?;
            call.mem.write_bytes(args[1], &name)?;
            Ok(0)
        }
        PR_GET_DUMPABLE | PR_SET_NO_NEW_PRIVS | PR_GET_NO_NEW_PRIVS => ints(option),
        _ => Err(Errno(libc::EINVAL)),
    }
}

/// The name `PR_SET_NAME` reads at `ptr`: up to 15 bytes, ending at a NUL if one comes
/// first (so a short name near the end of memory is fine), NUL-terminated.
fn thread_name(call: &Call, ptr: u64) -> Result<[u8; NAME_LEN], Errno> {
    required(call, ptr, 1)?;
    let available = call.mem.len().checked_sub(ptr).ok_or(Errno(libc::EFAULT))?;
    let take = available.min(NAME_LEN as u64 - 1);
    let bytes = call.mem.read_bytes(ptr, take)?;
    let end = bytes.iter().position(|&b| b == 0);
    if end.is_none() && take < NAME_LEN as u64 - 1 {
        return Err(Errno(libc::EFAULT)); // the name runs off the end of memory
    }
    let mut name = [0u8; NAME_LEN];
    let end = end.unwrap_or(bytes.len());
    name[..end].copy_from_slice(&bytes[..end]);
    Ok(name)
}

fn getrandom(call: &Call, args: &Args) -> SysResult {
    let (ptr, len, flags) = (args[0], args[1], int(args, 2) as u32);
    // A zero-length request touches no memory, wherever it points (the kernel still checks
    // the flags): give it a buffer of ours rather than null, which emulators refuse.
    let mut none = [0u8; 1];
    let buf = if len == 0 {
        none.as_mut_ptr()
    } else {
        required(call, ptr, len)?
    };
    raw(
        libc::SYS_getrandom,
        [buf as u64, len, u64::from(flags), 0, 0, 0],
    )
}
