//! Metadata: the stat family, access checks, permissions, owners, umask and times.
//!
//! The kernel writes `struct stat`, `statfs` and `statx` into a runtime buffer, which is then
//! written to the guest in its layout ([`crate::wali::arch::stat`]); the call is made first,
//! as the kernel orders its errors (a missing path is `ENOENT` even with a bad buffer).
//! `utimensat`'s `struct timespec[2]` is 32 bytes on the guest and on every host (64-bit
//! seconds and nanoseconds) and is copied in; its path may be null (`futimens`).

use super::{arg, buf, get, optional_path, path, put, sys, AT_FDCWD};
use crate::wali::arch::fcntl::guest;
use crate::wali::arch::stat::{stat_to_guest, statfs_to_guest, STATFS_SIZE, STATX_SIZE};
use crate::wali::{passthrough, Args, Call, Handler, SysResult};

pub(super) fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "stat" => stat,
        "lstat" => lstat,
        "fstat" => fstat,
        "newfstatat" => newfstatat,
        "statx" => statx,
        "statfs" => statfs,
        "fstatfs" => fstatfs,
        "access" => access,
        "faccessat" => faccessat,
        "faccessat2" => faccessat2,
        "chmod" => chmod,
        "fchmodat" => fchmodat,
        "chown" => chown,
        "fchownat" => fchownat,
        "utimensat" => utimensat,
        "fchmod" | "fchown" | "umask" => passthrough,
        _ => return None,
    })
}

/// `newfstatat(dirfd, path, .., flags)` written to the guest's `struct stat` at `out`.
fn stat_at(call: &Call, dirfd: u64, path: u64, flags: u64, out: u64) -> SysResult {
    let path = optional_path(call, path)?;
    // SAFETY: plain data filled by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let r = sys(
        libc::SYS_newfstatat,
        [dirfd, arg(path.as_ref()), buf(&mut st), flags],
    )?;
    put(call, out, &stat_to_guest(&st))?;
    Ok(r)
}

fn stat(call: &Call, args: &Args) -> SysResult {
    stat_at(call, AT_FDCWD, args[0], 0, args[1])
}

fn lstat(call: &Call, args: &Args) -> SysResult {
    let nofollow = guest::AT_SYMLINK_NOFOLLOW as u64;
    stat_at(call, AT_FDCWD, args[0], nofollow, args[1])
}

fn newfstatat(call: &Call, args: &Args) -> SysResult {
    stat_at(call, args[0], args[1], args[3], args[2])
}

fn fstat(call: &Call, args: &Args) -> SysResult {
    // SAFETY: plain data filled by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let r = sys(libc::SYS_fstat, [args[0], buf(&mut st)])?;
    put(call, args[1], &stat_to_guest(&st))?;
    Ok(r)
}

fn statx(call: &Call, args: &Args) -> SysResult {
    let path = optional_path(call, args[1])?;
    let mut out = [0u64; STATX_SIZE / 8];
    let r = sys(
        libc::SYS_statx,
        [args[0], arg(path.as_ref()), args[2], args[3], buf(&mut out)],
    )?;
    let bytes: Vec<u8> = out.iter().flat_map(|w| w.to_ne_bytes()).collect();
    put(call, args[4], &bytes)?;
    Ok(r)
}

fn write_statfs(
    call: &Call,
    out: u64,
    host: &[u64; STATFS_SIZE / 8],
) -> Result<(), crate::wali::Errno> {
    let mut bytes = [0u8; STATFS_SIZE];
    for (chunk, w) in bytes.chunks_exact_mut(8).zip(host) {
        chunk.copy_from_slice(&w.to_ne_bytes());
    }
    put(call, out, &statfs_to_guest(&bytes))
}

fn statfs(call: &Call, args: &Args) -> SysResult {
    let path = path(call, args[0])?;
    let mut host = [0u64; STATFS_SIZE / 8];
    let r = sys(libc::SYS_statfs, [path.as_ptr() as u64, buf(&mut host)])?;
    write_statfs(call, args[1], &host)?;
    Ok(r)
}

fn fstatfs(call: &Call, args: &Args) -> SysResult {
    let mut host = [0u64; STATFS_SIZE / 8];
    let r = sys(libc::SYS_fstatfs, [args[0], buf(&mut host)])?;
    write_statfs(call, args[1], &host)?;
    Ok(r)
}

/// A `*at` call whose only pointer is the path in argument `at` of `args`, made with the
/// host's `nr` and `args` as given, or with `AT_FDCWD` inserted before the path when
/// `prefix_cwd` (the x86-64-only forms).
fn path_call(call: &Call, nr: libc::c_long, args: &Args, at: usize, prefix_cwd: bool) -> SysResult {
    let path = path(call, args[at])?;
    let mut host = [0u64; 6];
    let mut n = 0;
    if prefix_cwd {
        host[0] = AT_FDCWD;
        n = 1;
    }
    for (i, a) in args.iter().enumerate().take(call.syscall.args.len()) {
        host[n] = if i == at { path.as_ptr() as u64 } else { *a };
        n += 1;
    }
    sys(nr, host)
}

fn access(call: &Call, args: &Args) -> SysResult {
    path_call(call, libc::SYS_faccessat, args, 0, true)
}

fn faccessat(call: &Call, args: &Args) -> SysResult {
    path_call(call, libc::SYS_faccessat, args, 1, false)
}

fn faccessat2(call: &Call, args: &Args) -> SysResult {
    path_call(call, libc::SYS_faccessat2, args, 1, false)
}

fn chmod(call: &Call, args: &Args) -> SysResult {
    path_call(call, libc::SYS_fchmodat, args, 0, true)
}

fn fchmodat(call: &Call, args: &Args) -> SysResult {
    path_call(call, libc::SYS_fchmodat, args, 1, false)
}

fn chown(call: &Call, args: &Args) -> SysResult {
    // fchownat(AT_FDCWD, path, owner, group, 0): the unused sixth slot is already 0.
    path_call(call, libc::SYS_fchownat, args, 0, true)
}

fn fchownat(call: &Call, args: &Args) -> SysResult {
    path_call(call, libc::SYS_fchownat, args, 1, false)
}

fn utimensat(call: &Call, args: &Args) -> SysResult {
    let path = optional_path(call, args[1])?;
    let mut times = [0i64; 4];
    let times_arg = if args[2] == 0 {
        0
    } else {
        let bytes = get(call, args[2], 32)?;
        for (t, b) in times.iter_mut().zip(bytes.chunks_exact(8)) {
            *t = i64::from_le_bytes(b.try_into().unwrap_or_default());
        }
        buf(&mut times)
    };
    sys(
        libc::SYS_utimensat,
        [args[0], arg(path.as_ref()), times_arg, args[3]],
    )
}
