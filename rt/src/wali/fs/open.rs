//! `open` and `openat`, and the refusal of process memory files.
//!
//! A process's memory file (`/proc/<pid>/mem`, `/proc/<pid>/task/<tid>/mem`) reads and writes
//! any address of that process, whatever its page protections: for this process (or a
//! child forked from it) that is the runtime's own code and data, so no guest may hold one
//! open. The path cannot tell (`/proc/self/mem`, `//proc/./self/mem`, `/proc/thread-self/mem`,
//! `/proc/self/task/N/mem`, a symlink to any of them, `/proc/self/fd/N`, `openat` from a
//! descriptor of `/proc/self`, `/proc/self/root/proc/...`), so the runtime opens first and
//! looks at what it got ([`is_process_mem`]): a regular file of procfs named `mem` (the
//! kernel's own name for it, read back through `/proc/thread-self/fd/<fd>`), or this
//! process's memory file by identity wherever it is mounted, is closed and answered with
//! `EACCES`. When the check itself cannot be made, the open is refused too.
//!
//! Every descriptor in the process's table is usable by every guest thread the moment the
//! kernel installs it, so with other threads alive a check after the open would leave a
//! window in which another thread could write through (or duplicate) the fresh descriptor.
//! So the runtime opens in the shared table only when the calling thread is the process's
//! only thread ([`alone`]: nobody else can use the descriptor, and only this thread could
//! start another). Otherwise the open is made by a short-lived helper thread with a private
//! copy of the descriptor table (`unshare(CLONE_FILES)`; it shares the working directory,
//! root, umask and credentials of the caller), checked there, and only a descriptor that
//! passed is handed to the shared table (`SCM_RIGHTS` over a socket pair). Closing the
//! helper's copies cannot drop the guest's POSIX locks: the kernel owns those by table.
//! Measured on x86-64: the single-thread path adds about 2 µs to an open (the thread count,
//! `fstatfs`, and for procfs files the name and identity), the helper path about 70 µs
//! (mostly starting the thread). Under qemu-user the emulator's own thread always makes it
//! the helper path.
//!
//! The single-thread path assumes that no guest code runs on this thread while the call is
//! in progress (guest signal handlers run between guest instructions, never inside a host
//! call).
//!
//! `chroot` is refused (see [`super::dir`]) because the check trusts `/proc` to be procfs.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use super::{path, sys, AT_FDCWD};
use crate::wali::arch::fcntl::{guest, open_flags_to_host};
use crate::wali::{int, Args, Call, Errno, Handler, SysResult};

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

pub(super) fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "open" => open,
        "openat" => openat,
        _ => return None,
    })
}

fn open(call: &Call, args: &Args) -> SysResult {
    let path = path(call, args[0])?;
    open_checked(AT_FDCWD, &path, int(args, 1), args[2])
}

fn openat(call: &Call, args: &Args) -> SysResult {
    let path = path(call, args[1])?;
    open_checked(args[0], &path, int(args, 2), args[3])
}

/// `openat(dirfd, path, flags, mode)` with the guest's flags, refusing process memory files.
pub fn open_checked(dirfd: u64, path: &CStr, flags: i32, mode: u64) -> SysResult {
    let host_flags = open_flags_to_host(flags);
    if alone() {
        open_here(dirfd, path, host_flags, mode)
    } else {
        open_aside(dirfd, path, host_flags, mode, flags & guest::O_CLOEXEC != 0)
    }
}

/// Whether the calling thread is the only thread of the process (procfs counts a process's
/// threads in the link count of `/proc/self/task`: two plus one per thread). When it cannot
/// tell, it answers no, and the open takes the slower path.
fn alone() -> bool {
    // SAFETY: plain data filled by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a static path and our own buffer.
    let r = unsafe { libc::stat(c"/proc/self/task".as_ptr(), &mut st) };
    r == 0 && st.st_nlink == 3
}

/// Opens in the process's table and checks the descriptor there (no other thread exists).
pub(super) fn open_here(dirfd: u64, path: &CStr, flags: i32, mode: u64) -> SysResult {
    let fd = sys(
        libc::SYS_openat,
        [dirfd, path.as_ptr() as u64, flags as u64, mode],
    )? as i32;
    // SAFETY: a descriptor the kernel just gave this call.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    if is_process_mem(fd) {
        return Err(Errno(libc::EACCES)); // `owned` closes it
    }
    std::mem::forget(owned);
    Ok(i64::from(fd))
}

/// Opens in a helper thread's private copy of the table, checks there, and moves only a
/// descriptor that passed into the process's table.
pub(super) fn open_aside(
    dirfd: u64,
    path: &CStr,
    flags: i32,
    mode: u64,
    cloexec: bool,
) -> SysResult {
    let mut pair = [0i32; 2];
    // SAFETY: our own array of two ints.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh descriptors of our own; both are closed when this call returns.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
    let sender = theirs.as_raw_fd();
    let path = path.to_owned();
    let helper = std::thread::Builder::new()
        .name("wafer-open".into())
        .stack_size(64 << 10)
        .spawn(move || -> Result<(), Errno> {
            // SAFETY: affects this helper thread only.
            if unsafe { libc::unshare(libc::CLONE_FILES) } != 0 {
                return Err(Errno::last());
            }
            let fd = open_here(dirfd, &path, flags | libc::O_CLOEXEC, mode)? as i32;
            // SAFETY: the helper's own copy of the new descriptor.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            send_fd(sender, fd.as_raw_fd())
        })
        .map_err(|_| Errno(libc::EAGAIN))?;
    helper.join().map_err(|_| Errno(libc::EIO))??;
    recv_fd(ours.as_raw_fd(), cloexec)
}

/// Sends descriptor `fd` over the socket `sock`.
fn send_fd(sock: i32, fd: i32) -> Result<(), Errno> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut space = [0u64; 4];
    // SAFETY: msghdr is plain data; the buffers it names live through the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    // SAFETY: CMSG_* compute sizes and positions inside `space`, which is large enough.
    unsafe {
        msg.msg_controllen = libc::CMSG_SPACE(4) as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as _;
        libc::CMSG_DATA(c).cast::<i32>().write_unaligned(fd);
    }
    // SAFETY: as above.
    let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if n == 1 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Receives the one descriptor the helper sent; anything else is closed and is an error.
fn recv_fd(sock: i32, cloexec: bool) -> SysResult {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut space = [0u64; 4];
    // SAFETY: as in `send_fd`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&space) as _;
    let flags = libc::MSG_DONTWAIT | if cloexec { libc::MSG_CMSG_CLOEXEC } else { 0 };
    // SAFETY: as above.
    if unsafe { libc::recvmsg(sock, &mut msg, flags) } < 0 {
        return Err(Errno::last());
    }
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel wrote into `space`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c).cast::<i32>();
                let count = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if fds.len() != 1 || msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(Errno(libc::EIO)); // dropping `fds` closes whatever came
    }
    let fd = fds.pop().map_or(-1, IntoRawFd::into_raw_fd);
    Ok(i64::from(fd))
}

/// Whether `fd` is a process's memory file (see the module's documentation). Fails closed:
/// a procfs regular file the runtime cannot name counts as one.
pub fn is_process_mem(fd: i32) -> bool {
    // SAFETY: plain data filled by the kernel.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: our own buffer.
    if unsafe { libc::fstatfs(fd, &mut fs) } != 0 {
        return true;
    }
    if fs.f_type as i64 != PROC_SUPER_MAGIC {
        return false;
    }
    // SAFETY: as above.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: our own buffer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return true;
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return false; // directories, symlinks (O_PATH|O_NOFOLLOW): not memory
    }
    let Some(name) = kernel_path(fd) else {
        return true;
    };
    let name = name.strip_suffix(b" (deleted)").unwrap_or(&name);
    if name.rsplit(|&b| b == b'/').next() == Some(b"mem") {
        return true;
    }
    // This process's own memory file, wherever it may have been bind-mounted.
    // SAFETY: as above.
    let mut own: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a static path and our own buffer.
    let r = unsafe { libc::stat(c"/proc/self/mem".as_ptr(), &mut own) };
    r != 0 || (own.st_dev == st.st_dev && own.st_ino == st.st_ino)
}

/// The kernel's name for what `fd` refers to.
fn kernel_path(fd: i32) -> Option<Vec<u8>> {
    let link = std::ffi::CString::new(format!("/proc/thread-self/fd/{fd}")).ok()?;
    let mut out = vec![0u8; libc::PATH_MAX as usize + 64];
    // SAFETY: our own path and buffer.
    let n = unsafe { libc::readlink(link.as_ptr(), out.as_mut_ptr().cast(), out.len()) };
    if n < 0 || n as usize >= out.len() {
        return None;
    }
    out.truncate(n as usize);
    Some(out)
}
