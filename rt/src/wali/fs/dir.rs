//! Names and directories: the working directory, directory listings, and creating,
//! renaming, linking and removing names.
//!
//! `chroot` is refused with `EPERM` (what an unprivileged process gets anyway): a guest
//! allowed to change the process's root could plant its own `/proc` and so blind the
//! runtime's check against process memory files ([`super::open`]), which reads
//! `/proc/thread-self/fd/<fd>`.
//!
//! The x86-64-only forms go through the generic ones: `mkdir` is `mkdirat(AT_FDCWD, ..)`,
//! `rmdir` is `unlinkat(.., AT_REMOVEDIR)`, `unlink` is `unlinkat(.., 0)`, `rename` is
//! `renameat2(.., 0)`, `link` is `linkat(.., 0)`, `symlink` is `symlinkat` and `readlink`
//! is `readlinkat`, all from the working directory.

use super::{buffer, path, sys, AT_FDCWD};
use crate::wali::arch::fcntl::guest;
use crate::wali::{passthrough, Args, Call, Errno, Handler, SysResult};

pub(super) fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "getcwd" => getcwd,
        "chdir" => chdir,
        "fchdir" => passthrough,
        "chroot" => chroot,
        "getdents64" => getdents64,
        "mkdir" => mkdir,
        "mkdirat" => mkdirat,
        "rmdir" => rmdir,
        "unlink" => unlink,
        "unlinkat" => unlinkat,
        "rename" => rename,
        "renameat2" => renameat2,
        "link" => link,
        "linkat" => linkat,
        "symlink" => symlink,
        "symlinkat" => symlinkat,
        "readlink" => readlink,
        "readlinkat" => readlinkat,
        _ => return None,
    })
}

fn getcwd(call: &Call, args: &Args) -> SysResult {
    let at = buffer(call, args[0], args[1])?;
    sys(libc::SYS_getcwd, [at, args[1]])
}

fn chdir(call: &Call, args: &Args) -> SysResult {
    let path = path(call, args[0])?;
    sys(libc::SYS_chdir, [path.as_ptr() as u64])
}

fn chroot(_call: &Call, _args: &Args) -> SysResult {
    Err(Errno(libc::EPERM))
}

fn getdents64(call: &Call, args: &Args) -> SysResult {
    // The kernel takes the count as an unsigned int.
    let count = u64::from(args[2] as u32);
    let at = buffer(call, args[1], count)?;
    sys(libc::SYS_getdents64, [args[0], at, count])
}

fn mkdir_at(call: &Call, dirfd: u64, path: u64, mode: u64) -> SysResult {
    let path = self::path(call, path)?;
    sys(libc::SYS_mkdirat, [dirfd, path.as_ptr() as u64, mode])
}

fn mkdir(call: &Call, args: &Args) -> SysResult {
    mkdir_at(call, AT_FDCWD, args[0], args[1])
}

fn mkdirat(call: &Call, args: &Args) -> SysResult {
    mkdir_at(call, args[0], args[1], args[2])
}

fn unlink_at(call: &Call, dirfd: u64, path: u64, flags: u64) -> SysResult {
    let path = self::path(call, path)?;
    sys(libc::SYS_unlinkat, [dirfd, path.as_ptr() as u64, flags])
}

fn rmdir(call: &Call, args: &Args) -> SysResult {
    unlink_at(call, AT_FDCWD, args[0], guest::AT_REMOVEDIR as u64)
}

fn unlink(call: &Call, args: &Args) -> SysResult {
    unlink_at(call, AT_FDCWD, args[0], 0)
}

fn unlinkat(call: &Call, args: &Args) -> SysResult {
    unlink_at(call, args[0], args[1], args[2])
}

/// A call on two names, `(olddirfd, old, newdirfd, new, flags)`.
fn two_names(call: &Call, nr: libc::c_long, a: [u64; 5]) -> SysResult {
    let old = path(call, a[1])?;
    let new = path(call, a[3])?;
    sys(
        nr,
        [a[0], old.as_ptr() as u64, a[2], new.as_ptr() as u64, a[4]],
    )
}

fn rename(call: &Call, args: &Args) -> SysResult {
    let a = [AT_FDCWD, args[0], AT_FDCWD, args[1], 0];
    two_names(call, libc::SYS_renameat2, a)
}

fn renameat2(call: &Call, args: &Args) -> SysResult {
    let a = [args[0], args[1], args[2], args[3], args[4]];
    two_names(call, libc::SYS_renameat2, a)
}

fn link(call: &Call, args: &Args) -> SysResult {
    let a = [AT_FDCWD, args[0], AT_FDCWD, args[1], 0];
    two_names(call, libc::SYS_linkat, a)
}

fn linkat(call: &Call, args: &Args) -> SysResult {
    let a = [args[0], args[1], args[2], args[3], args[4]];
    two_names(call, libc::SYS_linkat, a)
}

fn symlink_at(call: &Call, target: u64, dirfd: u64, name: u64) -> SysResult {
    let target = path(call, target)?;
    let name = path(call, name)?;
    sys(
        libc::SYS_symlinkat,
        [target.as_ptr() as u64, dirfd, name.as_ptr() as u64],
    )
}

fn symlink(call: &Call, args: &Args) -> SysResult {
    symlink_at(call, args[0], AT_FDCWD, args[1])
}

fn symlinkat(call: &Call, args: &Args) -> SysResult {
    symlink_at(call, args[0], args[1], args[2])
}

fn readlink_at(call: &Call, dirfd: u64, path: u64, out: u64, size: u64) -> SysResult {
    let path = self::path(call, path)?;
    let at = buffer(call, out, size)?;
    sys(
        libc::SYS_readlinkat,
        [dirfd, path.as_ptr() as u64, at, size],
    )
}

fn readlink(call: &Call, args: &Args) -> SysResult {
    readlink_at(call, AT_FDCWD, args[0], args[1], args[2])
}

fn readlinkat(call: &Call, args: &Args) -> SysResult {
    readlink_at(call, args[0], args[1], args[2], args[3])
}
