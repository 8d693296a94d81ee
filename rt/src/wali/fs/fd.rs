//! Descriptors: duplication, pipes and `fcntl`.
//!
//! `dup2` is `dup3` on every host, except that `dup2(fd, fd)` answers `fd` when it is open
//! (dup3 refuses equal descriptors). `pipe` is `pipe2(.., 0)`; pipe2's flags are open flags
//! (`O_DIRECT` moves on aarch64). The guest's two-int array is checked before the pipe is
//! made, so a bad pointer leaks no descriptors.
//!
//! `fcntl` accepts: `F_DUPFD`, `F_DUPFD_CLOEXEC`, `F_GETFD`, `F_SETFD`, `F_GETFL` and `F_SETFL`
//! (open flags translated both ways), `F_GETLK`, `F_SETLK`, `F_SETLKW` and their
//! open-file-description forms `F_OFD_*` (the guest's `struct flock` copied in and, for the
//! `GETLK`s, out), and `F_GETPIPE_SZ`/`F_SETPIPE_SZ`. Every other command answers `EINVAL`.

use super::{buffer, get, put, sys};
use crate::wali::arch::fcntl::{
    flock_from_guest, flock_to_guest, guest, open_flags_to_guest, open_flags_to_host, FLOCK_SIZE,
};
use crate::wali::{int, passthrough, Args, Call, Errno, Handler, SysResult};

pub(super) fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "dup" => passthrough,
        "dup2" => dup2,
        "dup3" => dup3,
        "pipe" => pipe,
        "pipe2" => pipe2,
        "fcntl" => fcntl,
        _ => return None,
    })
}

fn dup2(_call: &Call, args: &Args) -> SysResult {
    if int(args, 0) == int(args, 1) {
        sys(libc::SYS_fcntl, [args[0], libc::F_GETFD as u64])?;
        return Ok(i64::from(int(args, 1)));
    }
    sys(libc::SYS_dup3, [args[0], args[1], 0])
}

fn dup3(_call: &Call, args: &Args) -> SysResult {
    // dup3's only flag, O_CLOEXEC, has the same value everywhere.
    sys(libc::SYS_dup3, [args[0], args[1], args[2]])
}

fn make_pipe(call: &Call, ptr: u64, flags: i32) -> SysResult {
    buffer(call, ptr, 8)?;
    let mut fds = [0i32; 2];
    let flags = open_flags_to_host(flags);
    sys(
        libc::SYS_pipe2,
        [fds.as_mut_ptr() as u64, flags as u32 as u64],
    )?;
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&fds[0].to_le_bytes());
    bytes[4..].copy_from_slice(&fds[1].to_le_bytes());
    if let Err(e) = put(call, ptr, &bytes) {
        // Unreachable (memory never shrinks), but never leak the pair.
        // SAFETY: the descriptors this call made.
        unsafe { (libc::close(fds[0]), libc::close(fds[1])) };
        return Err(e);
    }
    Ok(0)
}

fn pipe(call: &Call, args: &Args) -> SysResult {
    make_pipe(call, args[0], 0)
}

fn pipe2(call: &Call, args: &Args) -> SysResult {
    make_pipe(call, args[0], int(args, 1))
}

fn fcntl(call: &Call, args: &Args) -> SysResult {
    let (fd, cmd, arg) = (args[0], int(args, 1), args[2]);
    let host = |arg: u64| sys(libc::SYS_fcntl, [fd, cmd as u64, arg]);
    match cmd {
        guest::F_DUPFD
        | guest::F_DUPFD_CLOEXEC
        | guest::F_GETFD
        | guest::F_SETFD
        | guest::F_GETPIPE_SZ
        | guest::F_SETPIPE_SZ => host(arg),
        guest::F_GETFL => host(0).map(|fl| i64::from(open_flags_to_guest(fl as i32))),
        guest::F_SETFL => host(open_flags_to_host(arg as i32) as u32 as u64),
        guest::F_GETLK
        | guest::F_SETLK
        | guest::F_SETLKW
        | guest::F_OFD_GETLK
        | guest::F_OFD_SETLK
        | guest::F_OFD_SETLKW => {
            let bytes: [u8; FLOCK_SIZE] = get(call, arg, FLOCK_SIZE as u64)?
                .try_into()
                .map_err(|_| Errno(libc::EFAULT))?;
            let mut fl = flock_from_guest(&bytes);
            let r = host(&mut fl as *mut libc::flock as u64)?;
            if matches!(cmd, guest::F_GETLK | guest::F_OFD_GETLK) {
                put(call, arg, &flock_to_guest(&fl))?;
            }
            Ok(r)
        }
        _ => Err(Errno(libc::EINVAL)),
    }
}
