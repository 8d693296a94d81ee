//! Resolving guest paths without leaving the directory they are relative to.
//!
//! Every path is resolved by the kernel with `openat2(dirfd, path, RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS)`: absolute paths, `..` above the directory, and symlinks (in any
//! component) whose target leaves it are refused during the walk itself, so a directory
//! swapped for a symlink between two calls cannot redirect the second one. Calls that do not
//! open their final component (mkdir, unlink, rename, link, symlink) open its *parent* that
//! way and then act on the final name alone with the `*at()` call, which never follows a
//! symlink in that name. Calls that look at what a path names (stat, set-times, readlink) open
//! the whole path as an `O_PATH` descriptor (following the final symlink or not, as asked)
//! and act on that descriptor. An escape is `ENOTCAPABLE`.
//!
//! A guest may create a symlink with any target (the link itself reaches nothing; following
//! it is what is checked), as POSIX programs expect to.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::errno::{self, Errno};

/// Longest path a guest may pass (Linux's `PATH_MAX` less the NUL).
pub const MAX_PATH: u64 = 4095;

/// `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` and `O_CLOEXEC`.
pub fn open_beneath(dir: RawFd, path: &[u8], flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    if path.first() == Some(&b'/') {
        return Err(errno::NOTCAPABLE);
    }
    let c = CString::new(path).map_err(|_| errno::INVAL)?;
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u32 as u64;
    // openat2 refuses a mode without O_CREAT (O_TMPFILE shares its bits with O_DIRECTORY).
    how.mode = if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        mode as u64
    } else {
        0
    };
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // EAGAIN: a concurrent rename raced the `..` check; the kernel asks to try again.
    for _ in 0..64 {
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir,
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        match errno::last_raw() {
            libc::EINTR | libc::EAGAIN => continue,
            // The walk would leave the directory.
            libc::EXDEV => return Err(errno::NOTCAPABLE),
            e => return Err(errno::from_host(e)),
        }
    }
    Err(errno::AGAIN)
}

/// What the last component of a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last {
    Normal,
    /// `.`
    Dot,
    /// `..`
    DotDot,
}

/// A path split into its opened parent directory and final name.
pub struct Parent {
    pub dir: OwnedFd,
    /// The final component, with a trailing `/` kept (it makes the kernel insist on a
    /// directory, and never makes it walk further).
    pub name: CString,
    pub last: Last,
}

impl Parent {
    pub fn fd(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.dir.as_raw_fd()
    }
}

/// Opens the parent of `path` beneath `dir`.
pub fn parent(dir: RawFd, path: &[u8]) -> Result<Parent, Errno> {
    if path.is_empty() {
        return Err(errno::NOENT);
    }
    if path[0] == b'/' {
        return Err(errno::NOTCAPABLE);
    }
    if path.contains(&0) {
        return Err(errno::INVAL);
    }
    let trimmed_len = path.len() - path.iter().rev().take_while(|&&b| b == b'/').count();
    let trimmed = &path[..trimmed_len];
    let (dir_part, last): (&[u8], &[u8]) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => (&trimmed[..i + 1], &trimmed[i + 1..]),
        None => (b".", trimmed),
    };
    let kind = match last {
        b"." => Last::Dot,
        b".." => Last::DotDot,
        _ => Last::Normal,
    };
    let parent = open_beneath(dir, dir_part, libc::O_PATH | libc::O_DIRECTORY, 0)?;
    let mut name = last.to_vec();
    if trimmed_len < path.len() {
        name.push(b'/');
    }
    Ok(Parent {
        dir: parent,
        name: CString::new(name).map_err(|_| errno::INVAL)?,
        last: kind,
    })
}

/// For a call on a final `.` or `..`: the error the kernel gives for that call (`errno`),
/// once the whole path is known to stay beneath `dir` (else `ENOTCAPABLE`). Used instead of
/// the call itself, which on `..` of a preopen would act on the directory above it.
/// Requires `p`'s final component to be a plain name: for `.` or `..` the call fails with
/// `errno`, the kernel's answer for that call, once the path is known to stay inside `dir`.
pub fn require_name(p: &Parent, dir: RawFd, path: &[u8], errno: Errno) -> Result<(), Errno> {
    if p.last == Last::Normal {
        Ok(())
    } else {
        Err(dot_error(dir, path, errno))
    }
}

pub fn dot_error(dir: RawFd, path: &[u8], errno: Errno) -> Errno {
    match open_beneath(dir, path, libc::O_PATH | libc::O_DIRECTORY, 0) {
        Ok(_) => errno,
        Err(e) => e,
    }
}

/// Opens what `path` names as an `O_PATH` descriptor, following a final symlink only if
/// `follow`.
pub fn open_path(dir: RawFd, path: &[u8], follow: bool) -> Result<OwnedFd, Errno> {
    if path.is_empty() {
        return Err(errno::NOENT);
    }
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    open_beneath(dir, path, libc::O_PATH | nofollow, 0)
}
