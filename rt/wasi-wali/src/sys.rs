//! The kernel, through WALI: the `wali` imports (`SYS_<name>`, signatures exactly as
//! `rt/abi/src/wali/table.rs` gives them) and thin wrappers that turn a negative result into
//! a WASI errno. Pointers handed to the kernel are this module's own memory; structs are in
//! their x86-64 layout; flag values below are x86-64's.

#![allow(dead_code)]

use alloc::vec::Vec;

use crate::errno::{self, Errno};

mod raw {
    #[link(wasm_import_module = "wali")]
    extern "C" {
        pub fn SYS_read(fd: i32, buf: i32, count: i32) -> i64;
        pub fn SYS_write(fd: i32, buf: i32, count: i32) -> i64;
        pub fn SYS_readv(fd: i32, iov: i32, count: i32) -> i64;
        pub fn SYS_writev(fd: i32, iov: i32, count: i32) -> i64;
        pub fn SYS_pread64(fd: i32, buf: i32, count: i32, offset: i64) -> i64;
        pub fn SYS_pwrite64(fd: i32, buf: i32, count: i32, offset: i64) -> i64;
        pub fn SYS_lseek(fd: i32, offset: i64, whence: i32) -> i64;
        pub fn SYS_close(fd: i32) -> i64;
        pub fn SYS_fsync(fd: i32) -> i64;
        pub fn SYS_fdatasync(fd: i32) -> i64;
        pub fn SYS_ftruncate(fd: i32, len: i64) -> i64;
        pub fn SYS_fadvise(fd: i32, offset: i64, len: i64, advice: i32) -> i64;
        pub fn SYS_fstat(fd: i32, st: i32) -> i64;
        pub fn SYS_newfstatat(dirfd: i32, path: i32, st: i32, flags: i32) -> i64;
        pub fn SYS_openat(dirfd: i32, path: i32, flags: i32, mode: i32) -> i64;
        pub fn SYS_mkdirat(dirfd: i32, path: i32, mode: i32) -> i64;
        pub fn SYS_unlinkat(dirfd: i32, path: i32, flags: i32) -> i64;
        pub fn SYS_renameat2(od: i32, op: i32, nd: i32, np: i32, flags: i32) -> i64;
        pub fn SYS_linkat(od: i32, op: i32, nd: i32, np: i32, flags: i32) -> i64;
        pub fn SYS_symlinkat(target: i32, nd: i32, np: i32) -> i64;
        pub fn SYS_readlinkat(dirfd: i32, path: i32, buf: i32, len: i32) -> i64;
        pub fn SYS_utimensat(dirfd: i32, path: i32, times: i32, flags: i32) -> i64;
        pub fn SYS_getdents64(fd: i32, buf: i32, len: i32) -> i64;
        pub fn SYS_fcntl(fd: i32, cmd: i32, arg: i64) -> i64;
        pub fn SYS_ioctl(fd: i32, req: i32, arg: i32) -> i64;
        pub fn SYS_dup(fd: i32) -> i64;
        pub fn SYS_dup3(fd: i32, to: i32, flags: i32) -> i64;
        pub fn SYS_clock_gettime(id: i32, ts: i32) -> i64;
        pub fn SYS_clock_getres(id: i32, ts: i32) -> i64;
        pub fn SYS_clock_nanosleep(id: i32, flags: i32, req: i32, rem: i32) -> i64;
        pub fn SYS_nanosleep(req: i32, rem: i32) -> i64;
        pub fn SYS_getrandom(buf: i32, len: i32, flags: i32) -> i64;
        pub fn SYS_ppoll(fds: i32, nfds: i64, ts: i32, mask: i32, size: i32) -> i64;
        pub fn SYS_sched_yield() -> i64;
        pub fn SYS_getpid() -> i64;
        pub fn SYS_gettid() -> i64;
        pub fn SYS_kill(pid: i32, sig: i32) -> i64;
        pub fn SYS_tkill(tid: i32, sig: i32) -> i64;
        pub fn SYS_rt_sigaction(sig: i32, act: i32, old: i32, size: i32) -> i64;
        pub fn SYS_rt_sigprocmask(how: i32, set: i32, old: i32, size: i32) -> i64;
        pub fn SYS_accept4(fd: i32, addr: i32, len: i32, flags: i32) -> i64;
        pub fn SYS_recvfrom(fd: i32, buf: i32, len: i32, flags: i32, addr: i32, alen: i32) -> i64;
        pub fn SYS_sendto(fd: i32, buf: i32, len: i32, flags: i32, addr: i32, alen: i32) -> i64;
        pub fn SYS_shutdown(fd: i32, how: i32) -> i64;

        pub fn __proc_exit(status: i32);
        pub fn __cl_get_argc() -> i32;
        pub fn __cl_get_argv_len(index: i32) -> i32;
        pub fn __cl_copy_argv(buf: i32, index: i32) -> i32;
    }
}

// ---- x86-64 constants ------------------------------------------------------------------------

pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: i32 = 0x100;
pub const AT_REMOVEDIR: i32 = 0x200;
pub const AT_SYMLINK_FOLLOW: i32 = 0x400;
pub const AT_EMPTY_PATH: i32 = 0x1000;

pub const O_RDONLY: i32 = 0;
pub const O_WRONLY: i32 = 1;
pub const O_RDWR: i32 = 2;
pub const O_ACCMODE: i32 = 3;
pub const O_CREAT: i32 = 0o100;
pub const O_EXCL: i32 = 0o200;
pub const O_NOCTTY: i32 = 0o400;
pub const O_TRUNC: i32 = 0o1000;
pub const O_APPEND: i32 = 0o2000;
pub const O_NONBLOCK: i32 = 0o4000;
pub const O_DSYNC: i32 = 0o10000;
pub const O_SYNC: i32 = 0o4010000;
pub const O_RSYNC: i32 = O_SYNC;
pub const O_DIRECTORY: i32 = 0o200000;
pub const O_NOFOLLOW: i32 = 0o400000;
pub const O_CLOEXEC: i32 = 0o2000000;
pub const O_PATH: i32 = 0o10000000;
pub const O_TMPFILE: i32 = 0o20200000;

pub const F_GETFD: i32 = 1;
pub const F_SETFD: i32 = 2;
pub const F_GETFL: i32 = 3;
pub const F_SETFL: i32 = 4;

pub use wafer_abi::wasi_p1::linux_types::*;

pub const SEEK_SET: i32 = 0;
pub const SEEK_CUR: i32 = 1;
pub const SEEK_END: i32 = 2;

pub const CLOCK_REALTIME: i32 = 0;
pub const CLOCK_MONOTONIC: i32 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

pub const POLLIN: i16 = 0x001;
pub const POLLOUT: i16 = 0x004;
pub const POLLERR: i16 = 0x008;
pub const POLLHUP: i16 = 0x010;
pub const POLLNVAL: i16 = 0x020;

pub const FIONREAD: i32 = 0x541B;

pub const UTIME_NOW: i64 = (1 << 30) - 1;
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// Longest path the kernel takes, NUL included (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;

// ---- plumbing --------------------------------------------------------------------------------

/// A WALI result: the value, or the WASI errno for a negative one.
#[inline]
pub fn check(ret: i64) -> Result<i64, Errno> {
    if ret < 0 {
        Err(errno::from_linux(ret.wrapping_neg() as i32))
    } else {
        Ok(ret)
    }
}

/// The raw Linux errno of a WALI result, if it failed.
#[inline]
pub fn linux_errno(ret: i64) -> Option<i32> {
    (ret < 0).then(|| ret.wrapping_neg() as i32)
}

#[inline]
fn p<T>(ptr: *const T) -> i32 {
    ptr as usize as i32
}

#[inline]
fn pm<T>(ptr: *mut T) -> i32 {
    ptr as usize as i32
}

/// A NUL-terminated copy of `path` for the kernel (`EINVAL` if it holds a NUL, as the native
/// host's `CString` conversion answers).
pub fn cstr(path: &[u8]) -> Result<Vec<u8>, Errno> {
    if path.contains(&0) {
        return Err(errno::INVAL);
    }
    let mut c = Vec::new();
    c.try_reserve_exact(path.len() + 1)
        .map_err(|_| errno::NOMEM)?;
    c.extend_from_slice(path);
    c.push(0);
    Ok(c)
}

/// Runs a WALI call again while it fails with `EINTR`.
pub fn retry(mut call: impl FnMut() -> i64) -> Result<i64, Errno> {
    loop {
        let r = call();
        if linux_errno(r) != Some(errno::linux::EINTR) {
            return check(r);
        }
    }
}

// ---- kernel structs --------------------------------------------------------------------------

/// `struct timespec` (64-bit fields).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

/// `struct pollfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PollFd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}

/// `struct iovec` of wasm32: base and length, 32 bits each.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IoVec {
    pub base: *const u8,
    pub len: u32,
}

/// The fields of x86-64's 144-byte `struct stat` that anything here reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    pub atime: i64,
    pub atime_nsec: i64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub ctime: i64,
    pub ctime_nsec: i64,
}

const STAT_SIZE: usize = 144;

impl Stat {
    fn from_bytes(b: &[u8; STAT_SIZE]) -> Stat {
        let u64_at = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let u32_at = |at: usize| u64_at(at) as u32;
        Stat {
            dev: u64_at(0),
            ino: u64_at(8),
            nlink: u64_at(16),
            mode: u32_at(24),
            uid: u32_at(28),
            gid: u32_at(32),
            rdev: u64_at(40),
            size: u64_at(48) as i64,
            blksize: u64_at(56) as i64,
            blocks: u64_at(64) as i64,
            atime: u64_at(72) as i64,
            atime_nsec: u64_at(80) as i64,
            mtime: u64_at(88) as i64,
            mtime_nsec: u64_at(96) as i64,
            ctime: u64_at(104) as i64,
            ctime_nsec: u64_at(112) as i64,
        }
    }

    /// The file type bits of `mode`.
    pub fn kind(&self) -> u32 {
        self.mode & S_IFMT
    }
}

// ---- descriptors and I/O ---------------------------------------------------------------------

pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    check(unsafe { raw::SYS_read(fd, pm(buf.as_mut_ptr()), buf.len() as i32) }).map(|n| n as usize)
}

pub fn write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    check(unsafe { raw::SYS_write(fd, p(buf.as_ptr()), buf.len() as i32) }).map(|n| n as usize)
}

pub fn pread(fd: i32, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
    check(unsafe { raw::SYS_pread64(fd, pm(buf.as_mut_ptr()), buf.len() as i32, offset) })
        .map(|n| n as usize)
}

pub fn pwrite(fd: i32, buf: &[u8], offset: i64) -> Result<usize, Errno> {
    check(unsafe { raw::SYS_pwrite64(fd, p(buf.as_ptr()), buf.len() as i32, offset) })
        .map(|n| n as usize)
}

/// `readv` into buffers of this module's memory.
pub fn readv(fd: i32, iov: &[IoVec]) -> Result<usize, Errno> {
    check(unsafe { raw::SYS_readv(fd, p(iov.as_ptr()), iov.len() as i32) }).map(|n| n as usize)
}

/// `writev` from buffers of this module's memory.
pub fn writev(fd: i32, iov: &[IoVec]) -> Result<usize, Errno> {
    check(unsafe { raw::SYS_writev(fd, p(iov.as_ptr()), iov.len() as i32) }).map(|n| n as usize)
}

/// The raw result of `read`, for loops that look at `EINTR` themselves.
pub fn read_raw(fd: i32, buf: &mut [u8]) -> i64 {
    unsafe { raw::SYS_read(fd, pm(buf.as_mut_ptr()), buf.len() as i32) }
}

pub fn write_raw(fd: i32, buf: &[u8]) -> i64 {
    unsafe { raw::SYS_write(fd, p(buf.as_ptr()), buf.len() as i32) }
}

pub fn pread_raw(fd: i32, buf: &mut [u8], offset: i64) -> i64 {
    unsafe { raw::SYS_pread64(fd, pm(buf.as_mut_ptr()), buf.len() as i32, offset) }
}

pub fn pwrite_raw(fd: i32, buf: &[u8], offset: i64) -> i64 {
    unsafe { raw::SYS_pwrite64(fd, p(buf.as_ptr()), buf.len() as i32, offset) }
}

pub fn lseek(fd: i32, offset: i64, whence: i32) -> Result<i64, Errno> {
    check(unsafe { raw::SYS_lseek(fd, offset, whence) })
}

/// Closes a kernel descriptor; the result is ignored by every caller here (the descriptor is
/// gone either way on Linux).
pub fn close(fd: i32) -> Result<(), Errno> {
    check(unsafe { raw::SYS_close(fd) }).map(drop)
}

pub fn fsync(fd: i32) -> Result<(), Errno> {
    retry(|| unsafe { raw::SYS_fsync(fd) }).map(drop)
}

pub fn fdatasync(fd: i32) -> Result<(), Errno> {
    retry(|| unsafe { raw::SYS_fdatasync(fd) }).map(drop)
}

pub fn ftruncate(fd: i32, len: i64) -> Result<(), Errno> {
    retry(|| unsafe { raw::SYS_ftruncate(fd, len) }).map(drop)
}

/// `fadvise64` with Linux's advice numbers.
pub fn fadvise(fd: i32, offset: i64, len: i64, advice: i32) -> Result<(), Errno> {
    check(unsafe { raw::SYS_fadvise(fd, offset, len, advice) }).map(drop)
}

pub fn fstat(fd: i32) -> Result<Stat, Errno> {
    let mut b = [0u8; STAT_SIZE];
    check(unsafe { raw::SYS_fstat(fd, pm(b.as_mut_ptr())) })?;
    Ok(Stat::from_bytes(&b))
}

/// `newfstatat(dirfd, path, .., flags)`; `path` without its NUL.
pub fn fstatat(dirfd: i32, path: &[u8], flags: i32) -> Result<Stat, Errno> {
    let c = cstr(path)?;
    let mut b = [0u8; STAT_SIZE];
    check(unsafe { raw::SYS_newfstatat(dirfd, p(c.as_ptr()), pm(b.as_mut_ptr()), flags) })?;
    Ok(Stat::from_bytes(&b))
}

/// `openat(dirfd, path, flags, mode)`, retried on `EINTR`; `path` without its NUL.
pub fn openat(dirfd: i32, path: &[u8], flags: i32, mode: u32) -> Result<i32, Errno> {
    let c = cstr(path)?;
    retry(|| unsafe { raw::SYS_openat(dirfd, p(c.as_ptr()), flags, mode as i32) })
        .map(|fd| fd as i32)
}

/// The raw result of `openat` (no retry), for callers that look at the Linux errno.
pub fn openat_raw(dirfd: i32, path: &[u8], flags: i32, mode: u32) -> Result<i64, Errno> {
    let c = cstr(path)?;
    Ok(unsafe { raw::SYS_openat(dirfd, p(c.as_ptr()), flags, mode as i32) })
}

pub fn mkdirat(dirfd: i32, path: &[u8], mode: u32) -> Result<(), Errno> {
    let c = cstr(path)?;
    check(unsafe { raw::SYS_mkdirat(dirfd, p(c.as_ptr()), mode as i32) }).map(drop)
}

pub fn unlinkat(dirfd: i32, path: &[u8], flags: i32) -> Result<(), Errno> {
    let c = cstr(path)?;
    check(unsafe { raw::SYS_unlinkat(dirfd, p(c.as_ptr()), flags) }).map(drop)
}

pub fn renameat2(od: i32, op: &[u8], nd: i32, np: &[u8], flags: u32) -> Result<(), Errno> {
    let (o, n) = (cstr(op)?, cstr(np)?);
    check(unsafe { raw::SYS_renameat2(od, p(o.as_ptr()), nd, p(n.as_ptr()), flags as i32) })
        .map(drop)
}

pub fn linkat(od: i32, op: &[u8], nd: i32, np: &[u8], flags: i32) -> Result<(), Errno> {
    let (o, n) = (cstr(op)?, cstr(np)?);
    check(unsafe { raw::SYS_linkat(od, p(o.as_ptr()), nd, p(n.as_ptr()), flags) }).map(drop)
}

pub fn symlinkat(target: &[u8], nd: i32, np: &[u8]) -> Result<(), Errno> {
    let (t, n) = (cstr(target)?, cstr(np)?);
    check(unsafe { raw::SYS_symlinkat(p(t.as_ptr()), nd, p(n.as_ptr())) }).map(drop)
}

/// `readlinkat(dirfd, path, buf)`: the number of bytes of the target written to `buf`.
pub fn readlinkat(dirfd: i32, path: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
    let c = cstr(path)?;
    check(unsafe {
        raw::SYS_readlinkat(dirfd, p(c.as_ptr()), pm(buf.as_mut_ptr()), buf.len() as i32)
    })
    .map(|n| n as usize)
}

/// `utimensat(dirfd, path, times, flags)`; `None` for a null path (`futimens`).
pub fn utimensat(
    dirfd: i32,
    path: Option<&[u8]>,
    times: &[Timespec; 2],
    flags: i32,
) -> Result<(), Errno> {
    let c = path.map(cstr).transpose()?;
    let path_ptr = c.as_ref().map_or(0, |c| p(c.as_ptr()));
    check(unsafe { raw::SYS_utimensat(dirfd, path_ptr, p(times.as_ptr()), flags) }).map(drop)
}

/// `getdents64` into `buf`: the number of bytes of `linux_dirent64` records written.
pub fn getdents64(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    check(unsafe { raw::SYS_getdents64(fd, pm(buf.as_mut_ptr()), buf.len() as i32) })
        .map(|n| n as usize)
}

pub fn fcntl(fd: i32, cmd: i32, arg: i64) -> Result<i64, Errno> {
    check(unsafe { raw::SYS_fcntl(fd, cmd, arg) })
}

/// `ioctl(fd, FIONREAD)`: bytes waiting to be read.
pub fn fionread(fd: i32) -> Result<i32, Errno> {
    let mut n: i32 = 0;
    check(unsafe { raw::SYS_ioctl(fd, FIONREAD, pm(&mut n)) })?;
    Ok(n)
}

pub fn dup(fd: i32) -> Result<i32, Errno> {
    check(unsafe { raw::SYS_dup(fd) }).map(|fd| fd as i32)
}

pub fn dup3(fd: i32, to: i32, flags: i32) -> Result<i32, Errno> {
    check(unsafe { raw::SYS_dup3(fd, to, flags) }).map(|fd| fd as i32)
}

// ---- time, randomness, waiting ---------------------------------------------------------------

pub fn clock_gettime(id: i32) -> Result<Timespec, Errno> {
    let mut ts = Timespec::default();
    check(unsafe { raw::SYS_clock_gettime(id, pm(&mut ts)) })?;
    Ok(ts)
}

pub fn clock_getres(id: i32) -> Result<Timespec, Errno> {
    let mut ts = Timespec::default();
    check(unsafe { raw::SYS_clock_getres(id, pm(&mut ts)) })?;
    Ok(ts)
}

pub fn nanosleep(ts: &Timespec) -> Result<(), Errno> {
    check(unsafe { raw::SYS_nanosleep(p(ts), 0) }).map(drop)
}

/// `getrandom(buf, len, 0)`, retried on `EINTR`: how many bytes it filled.
pub fn getrandom(buf: &mut [u8]) -> Result<usize, Errno> {
    retry(|| unsafe { raw::SYS_getrandom(pm(buf.as_mut_ptr()), buf.len() as i32, 0) })
        .map(|n| n as usize)
}

/// The raw result of `ppoll(fds, nfds, timeout, NULL, 8)` (`None`: no timeout).
pub fn ppoll_raw(fds: &mut [PollFd], timeout: Option<&Timespec>) -> i64 {
    let ts = timeout.map_or(0, |t| p(t));
    unsafe { raw::SYS_ppoll(pm(fds.as_mut_ptr()), fds.len() as i64, ts, 0, 8) }
}

pub fn sched_yield() -> Result<(), Errno> {
    check(unsafe { raw::SYS_sched_yield() }).map(drop)
}

// ---- process ---------------------------------------------------------------------------------

pub fn getpid() -> i32 {
    unsafe { raw::SYS_getpid() as i32 }
}

pub fn gettid() -> i32 {
    unsafe { raw::SYS_gettid() as i32 }
}

pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    check(unsafe { raw::SYS_kill(pid, sig) }).map(drop)
}

pub fn tkill(tid: i32, sig: i32) -> Result<(), Errno> {
    check(unsafe { raw::SYS_tkill(tid, sig) }).map(drop)
}

/// `rt_sigaction(sig, SIG_DFL)` with WALI's 24-byte `k_sigaction` (handler 0, no flags,
/// empty mask).
pub fn signal_default(sig: i32) -> Result<(), Errno> {
    let act = [0u8; 24];
    check(unsafe { raw::SYS_rt_sigaction(sig, p(act.as_ptr()), 0, 8) }).map(drop)
}

/// `rt_sigprocmask(SIG_UNBLOCK, {sig}, NULL, 8)`.
pub fn unblock_signal(sig: i32) -> Result<(), Errno> {
    let set: u64 = 1u64 << ((sig - 1) as u32 & 63);
    check(unsafe { raw::SYS_rt_sigprocmask(1, p(&set), 0, 8) }).map(drop)
}

/// Ends the process with `status` (WALI's `__proc_exit`).
pub fn exit(status: i32) -> ! {
    unsafe { raw::__proc_exit(status) };
    core::arch::wasm32::unreachable()
}

// ---- command line ----------------------------------------------------------------------------

/// The process's arguments, `argv[0]` first.
pub fn args() -> Vec<Vec<u8>> {
    let argc = unsafe { raw::__cl_get_argc() }.max(0);
    let mut out = Vec::new();
    for i in 0..argc {
        let len = unsafe { raw::__cl_get_argv_len(i) }.max(0) as usize;
        let mut buf = alloc::vec![0u8; len + 1];
        if unsafe { raw::__cl_copy_argv(pm(buf.as_mut_ptr()), i) } != 0 {
            buf.clear();
        } else {
            buf.truncate(len);
        }
        out.push(buf);
    }
    out
}

// ---- sockets (unused: the native host answers ENOTSUP without a syscall) ---------------------

pub fn shutdown(fd: i32, how: i32) -> Result<(), Errno> {
    check(unsafe { raw::SYS_shutdown(fd, how) }).map(drop)
}

pub fn accept4(fd: i32, flags: i32) -> Result<i32, Errno> {
    check(unsafe { raw::SYS_accept4(fd, 0, 0, flags) }).map(|fd| fd as i32)
}

pub fn recvfrom(fd: i32, buf: &mut [u8], flags: i32) -> Result<usize, Errno> {
    check(unsafe { raw::SYS_recvfrom(fd, pm(buf.as_mut_ptr()), buf.len() as i32, flags, 0, 0) })
        .map(|n| n as usize)
}

pub fn sendto(fd: i32, buf: &[u8], flags: i32) -> Result<usize, Errno> {
    check(unsafe { raw::SYS_sendto(fd, p(buf.as_ptr()), buf.len() as i32, flags, 0, 0) })
        .map(|n| n as usize)
}

// path calls
