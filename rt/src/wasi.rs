//! WASI preview1 (`wasi_snapshot_preview1`): the subset listed in `wafer_abi::HOST_FUNCS`.
//!
//! Each function takes the calling instance's `vmctx` first and then exactly the wasm
//! parameters of its import. Only the standard streams exist (no preopened directories yet),
//! the environment is empty (it becomes a build-time capability later; the host's is never
//! exposed), and every guest pointer goes through [`GuestMemory`]'s checks.
//!
//! # Safety
//! Every `extern "C"` function here is called only by compiled wasm code, whose first argument
//! is always the live `vmctx` of the calling instance; that is the whole contract.

// The single safety contract is stated above rather than on each entry point.
#![allow(clippy::missing_safety_doc)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use wafer_abi::VmCtx;

use crate::guest_mem::GuestMemory;

/// WASI errno values (`wasi_snapshot_preview1` `errno`).
pub mod errno {
    pub type Errno = i32;
    pub const SUCCESS: Errno = 0;
    pub const TOOBIG: Errno = 1;
    pub const ACCES: Errno = 2;
    pub const AGAIN: Errno = 6;
    pub const BADF: Errno = 8;
    pub const FAULT: Errno = 21;
    pub const FBIG: Errno = 22;
    pub const INTR: Errno = 27;
    pub const INVAL: Errno = 28;
    pub const IO: Errno = 29;
    pub const ISDIR: Errno = 31;
    pub const NOMEM: Errno = 48;
    pub const NOSPC: Errno = 51;
    pub const NOSYS: Errno = 52;
    pub const NOTSUP: Errno = 58;
    pub const NXIO: Errno = 60;
    pub const OVERFLOW: Errno = 61;
    pub const PERM: Errno = 63;
    pub const PIPE: Errno = 64;
    pub const SPIPE: Errno = 70;

    /// Maps a host `errno` to WASI's numbering.
    pub fn from_host(e: i32) -> Errno {
        match e {
            libc::E2BIG => TOOBIG,
            libc::EACCES => ACCES,
            libc::EAGAIN => AGAIN,
            libc::EBADF => BADF,
            libc::EFAULT => FAULT,
            libc::EFBIG => FBIG,
            libc::EINTR => INTR,
            libc::EINVAL => INVAL,
            libc::EISDIR => ISDIR,
            libc::ENOMEM => NOMEM,
            libc::ENOSPC => NOSPC,
            libc::ENOSYS => NOSYS,
            libc::EOPNOTSUPP => NOTSUP,
            libc::ENXIO => NXIO,
            libc::EOVERFLOW => OVERFLOW,
            libc::EPERM => PERM,
            libc::EPIPE => PIPE,
            libc::ESPIPE => SPIPE,
            _ => IO,
        }
    }

    pub fn last_host() -> Errno {
        from_host(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

use errno::Errno;

/// The guest's arguments (`argv` as given to the executable, program name first).
static ARGS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

/// Sets the arguments the guest sees; only the first call takes effect.
pub fn set_args(args: Vec<Vec<u8>>) {
    let _ = ARGS.set(args);
}

fn args() -> &'static [Vec<u8>] {
    ARGS.get().map_or(&[], |a| a.as_slice())
}

/// Standard streams the guest has closed with `fd_close`.
static CLOSED: [AtomicBool; 3] = [
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
];

/// The host descriptor behind a guest descriptor: only open standard streams exist.
fn host_fd(fd: i32) -> Result<i32, Errno> {
    match usize::try_from(fd) {
        Ok(i) if i < CLOSED.len() && !CLOSED[i].load(Ordering::Relaxed) => Ok(fd),
        _ => Err(errno::BADF),
    }
}

fn status(result: Result<(), Errno>) -> i32 {
    match result {
        Ok(()) => errno::SUCCESS,
        Err(e) => e,
    }
}

unsafe fn memory(vmctx: *mut VmCtx) -> Result<GuestMemory, Errno> {
    unsafe { GuestMemory::from_vmctx(vmctx) }
}

/// Writes a list of NUL-terminated strings as `args_get`/`environ_get` lay them out.
fn write_string_list(
    mem: &GuestMemory,
    list: &[Vec<u8>],
    ptrs: u32,
    buf: u32,
) -> Result<(), Errno> {
    let total: u64 = list.iter().map(|a| a.len() as u64 + 1).sum();
    mem.range(ptrs, list.len() as u64 * 4)?;
    mem.range(buf, total)?;
    let mut at = buf;
    for (i, item) in list.iter().enumerate() {
        mem.write_u32(ptrs + i as u32 * 4, at)?;
        mem.write_bytes(at, item)?;
        mem.write_bytes(at + item.len() as u32, &[0])?;
        at += item.len() as u32 + 1;
    }
    Ok(())
}

fn write_list_sizes(
    mem: &GuestMemory,
    list: &[Vec<u8>],
    count_ptr: u32,
    size_ptr: u32,
) -> Result<(), Errno> {
    let total: u64 = list.iter().map(|a| a.len() as u64 + 1).sum();
    let count = u32::try_from(list.len()).map_err(|_| errno::OVERFLOW)?;
    let total = u32::try_from(total).map_err(|_| errno::OVERFLOW)?;
    mem.range(count_ptr, 4)?;
    mem.range(size_ptr, 4)?;
    mem.write_u32(count_ptr, count)?;
    mem.write_u32(size_ptr, total)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_args_get(vmctx: *mut VmCtx, argv: i32, argv_buf: i32) -> i32 {
    status(
        unsafe { memory(vmctx) }
            .and_then(|m| write_string_list(&m, args(), argv as u32, argv_buf as u32)),
    )
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_args_sizes_get(
    vmctx: *mut VmCtx,
    argc: i32,
    buf_size: i32,
) -> i32 {
    status(
        unsafe { memory(vmctx) }
            .and_then(|m| write_list_sizes(&m, args(), argc as u32, buf_size as u32)),
    )
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_environ_get(
    vmctx: *mut VmCtx,
    environ: i32,
    environ_buf: i32,
) -> i32 {
    status(
        unsafe { memory(vmctx) }
            .and_then(|m| write_string_list(&m, &[], environ as u32, environ_buf as u32)),
    )
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_environ_sizes_get(
    vmctx: *mut VmCtx,
    count: i32,
    buf_size: i32,
) -> i32 {
    status(
        unsafe { memory(vmctx) }
            .and_then(|m| write_list_sizes(&m, &[], count as u32, buf_size as u32)),
    )
}

fn host_clock(id: i32) -> Result<libc::clockid_t, Errno> {
    match id {
        0 => Ok(libc::CLOCK_REALTIME),
        1 => Ok(libc::CLOCK_MONOTONIC),
        2 => Ok(libc::CLOCK_PROCESS_CPUTIME_ID),
        3 => Ok(libc::CLOCK_THREAD_CPUTIME_ID),
        _ => Err(errno::INVAL),
    }
}

fn timespec_nanos(ts: &libc::timespec) -> u64 {
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_clock_res_get(
    vmctx: *mut VmCtx,
    id: i32,
    resolution: i32,
) -> i32 {
    let run = || -> Result<(), Errno> {
        let mem = unsafe { memory(vmctx) }?;
        let clock = host_clock(id)?;
        mem.range(resolution as u32, 8)?;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if unsafe { libc::clock_getres(clock, &mut ts) } != 0 {
            return Err(errno::last_host());
        }
        mem.write_u64(resolution as u32, timespec_nanos(&ts))
    };
    status(run())
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_clock_time_get(
    vmctx: *mut VmCtx,
    id: i32,
    _precision: i64,
    time: i32,
) -> i32 {
    let run = || -> Result<(), Errno> {
        let mem = unsafe { memory(vmctx) }?;
        let clock = host_clock(id)?;
        mem.range(time as u32, 8)?;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
            return Err(errno::last_host());
        }
        mem.write_u64(time as u32, timespec_nanos(&ts))
    };
    status(run())
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_close(_vmctx: *mut VmCtx, fd: i32) -> i32 {
    // The real descriptor stays open: the runtime itself still reports traps on stderr.
    status(host_fd(fd).map(|fd| CLOSED[fd as usize].store(true, Ordering::Relaxed)))
}

/// WASI `filetype` of a host descriptor.
fn filetype(fd: i32) -> Result<u8, Errno> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(errno::last_host());
    }
    Ok(match st.st_mode & libc::S_IFMT {
        libc::S_IFBLK => 1,
        libc::S_IFCHR => 2,
        libc::S_IFDIR => 3,
        libc::S_IFREG => 4,
        libc::S_IFSOCK => 6,
        libc::S_IFLNK => 7,
        _ => 0, // pipes and anything else: "unknown", as other runtimes report them
    })
}

/// Rights of a standard stream: everything that applies to a readable and writable stream.
const STDIO_RIGHTS: u64 = (1 << 0) // fd_datasync
    | (1 << 1) // fd_read
    | (1 << 2) // fd_seek
    | (1 << 3) // fd_fdstat_set_flags
    | (1 << 4) // fd_sync
    | (1 << 5) // fd_tell
    | (1 << 6) // fd_write
    | (1 << 7) // fd_advise
    | (1 << 8) // fd_allocate
    | (1 << 21) // fd_filestat_get
    | (1 << 22) // fd_filestat_set_size
    | (1 << 23) // fd_filestat_set_times
    | (1 << 27); // poll_fd_readwrite

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_fdstat_get(vmctx: *mut VmCtx, fd: i32, stat: i32) -> i32 {
    let run = || -> Result<(), Errno> {
        let mem = unsafe { memory(vmctx) }?;
        let fd = host_fd(fd)?;
        mem.range(stat as u32, 24)?;
        let kind = filetype(fd)?;
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        let mut flags: u16 = 0;
        if fl >= 0 {
            if fl & libc::O_APPEND != 0 {
                flags |= 1;
            }
            if fl & libc::O_NONBLOCK != 0 {
                flags |= 4;
            }
        }
        // fdstat: filetype u8 @0, fs_flags u16 @2, rights_base u64 @8, rights_inheriting @16.
        let mut bytes = [0u8; 24];
        bytes[0] = kind;
        bytes[2..4].copy_from_slice(&flags.to_le_bytes());
        bytes[8..16].copy_from_slice(&STDIO_RIGHTS.to_le_bytes());
        bytes[16..24].copy_from_slice(&0u64.to_le_bytes());
        mem.write_bytes(stat as u32, &bytes)
    };
    status(run())
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_prestat_get(
    _vmctx: *mut VmCtx,
    _fd: i32,
    _prestat: i32,
) -> i32 {
    // No preopened directories yet: EBADF tells libc's preopen scan where the list ends.
    errno::BADF
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_prestat_dir_name(
    _vmctx: *mut VmCtx,
    _fd: i32,
    _path: i32,
    _len: i32,
) -> i32 {
    errno::BADF
}

/// Most iovecs handed to one readv/writev (Linux's IOV_MAX); a longer list is a short transfer,
/// which WASI callers handle like any partial read or write.
const IOV_MAX: usize = 1024;

/// Shared body of fd_read and fd_write.
unsafe fn transfer(
    vmctx: *mut VmCtx,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nbytes: i32,
    write: bool,
) -> Result<(), Errno> {
    let mem = unsafe { memory(vmctx) }?;
    let fd = host_fd(fd)?;
    // Check the result pointer first, so a bad one has no side effect on the stream.
    mem.range(nbytes as u32, 4)?;
    let vecs = mem.iovecs(iovs as u32, iovs_len as u32)?;
    let vecs = &vecs[..vecs.len().min(IOV_MAX)];
    let done = loop {
        let n = unsafe {
            if write {
                libc::writev(fd, vecs.as_ptr(), vecs.len() as i32)
            } else {
                libc::readv(fd, vecs.as_ptr(), vecs.len() as i32)
            }
        };
        if n >= 0 {
            break n as u64;
        }
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if e != libc::EINTR {
            return Err(errno::from_host(e));
        }
    };
    mem.write_u32(
        nbytes as u32,
        u32::try_from(done).map_err(|_| errno::OVERFLOW)?,
    )
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_read(
    vmctx: *mut VmCtx,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nread: i32,
) -> i32 {
    status(unsafe { transfer(vmctx, fd, iovs, iovs_len, nread, false) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_write(
    vmctx: *mut VmCtx,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> i32 {
    status(unsafe { transfer(vmctx, fd, iovs, iovs_len, nwritten, true) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_seek(
    vmctx: *mut VmCtx,
    fd: i32,
    offset: i64,
    whence: i32,
    newoffset: i32,
) -> i32 {
    let run = || -> Result<(), Errno> {
        let mem = unsafe { memory(vmctx) }?;
        let fd = host_fd(fd)?;
        mem.range(newoffset as u32, 8)?;
        let whence = match whence {
            0 => libc::SEEK_SET,
            1 => libc::SEEK_CUR,
            2 => libc::SEEK_END,
            _ => return Err(errno::INVAL),
        };
        let pos = unsafe { libc::lseek(fd, offset, whence) };
        if pos < 0 {
            return Err(errno::last_host());
        }
        mem.write_u64(newoffset as u32, pos as u64)
    };
    status(run())
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_proc_exit(_vmctx: *mut VmCtx, code: i32) {
    // Guest writes are unbuffered, so there is nothing to flush.
    unsafe { libc::exit(code) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_random_get(vmctx: *mut VmCtx, buf: i32, len: i32) -> i32 {
    let run = || -> Result<(), Errno> {
        let mem = unsafe { memory(vmctx) }?;
        let start = mem.range(buf as u32, len as u32 as u64)?;
        let mut filled = 0usize;
        let total = len as u32 as usize;
        while filled < total {
            let n = unsafe {
                libc::getrandom(start.add(filled) as *mut libc::c_void, total - filled, 0)
            };
            if n < 0 {
                let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
                if e == libc::EINTR {
                    continue;
                }
                return Err(errno::from_host(e));
            }
            filled += n as usize;
        }
        Ok(())
    };
    status(run())
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_sched_yield(_vmctx: *mut VmCtx) -> i32 {
    unsafe { libc::sched_yield() };
    errno::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_mem::tests::FakeGuest;

    #[test]
    fn fd_write_rejects_hostile_pointers() {
        let mut g = FakeGuest::new(0x1000);
        // iovec at 0 -> (0x100, 3)
        g.put_u32(0, 0x100);
        g.put_u32(4, 3);
        // iovec at 8 points outside memory
        g.put_u32(8, 0xFFFF_FFF0);
        g.put_u32(12, 0x20);
        let vm = g.vmctx();
        unsafe {
            // nwritten outside
            assert_eq!(wafer_wasi_fd_write(vm, 1, 0, 1, 0x0FFE), errno::FAULT);
            assert_eq!(wafer_wasi_fd_write(vm, 1, 0, 1, -16), errno::FAULT);
            // iovec count huge
            assert_eq!(wafer_wasi_fd_write(vm, 1, 0, i32::MAX, 0x200), errno::FAULT);
            assert_eq!(wafer_wasi_fd_write(vm, 1, 0, -1, 0x200), errno::FAULT);
            // iovec array itself outside
            assert_eq!(wafer_wasi_fd_write(vm, 1, -16, 2, 0x200), errno::FAULT);
            // second iovec's buffer outside
            assert_eq!(wafer_wasi_fd_write(vm, 1, 0, 2, 0x200), errno::FAULT);
            assert_eq!(wafer_wasi_fd_read(vm, 0, 8, 1, 0x200), errno::FAULT);
            // bad descriptors
            assert_eq!(wafer_wasi_fd_write(vm, 3, 0, 1, 0x200), errno::BADF);
            assert_eq!(wafer_wasi_fd_write(vm, -1, 0, 1, 0x200), errno::BADF);
        }
        assert_eq!(g.u32_at(0x200), 0, "nothing written on failure");
    }

    #[test]
    fn fd_write_zero_iovecs_writes_nothing() {
        let mut g = FakeGuest::new(0x100);
        g.put_u32(0x10, 99);
        let vm = g.vmctx();
        assert_eq!(
            unsafe { wafer_wasi_fd_write(vm, 2, 0, 0, 0x10) },
            errno::SUCCESS
        );
        assert_eq!(g.u32_at(0x10), 0);
    }

    #[test]
    fn no_memory_is_efault() {
        let mut g = FakeGuest::without_memory();
        let vm = g.vmctx();
        unsafe {
            assert_eq!(wafer_wasi_fd_write(vm, 1, 0, 0, 0), errno::FAULT);
            assert_eq!(wafer_wasi_args_sizes_get(vm, 0, 4), errno::FAULT);
            assert_eq!(wafer_wasi_random_get(vm, 0, 0), errno::FAULT);
            assert_eq!(wafer_wasi_clock_time_get(vm, 0, 0, 0), errno::FAULT);
        }
    }

    #[test]
    fn args_layout_and_bounds() {
        set_args(vec![b"prog".to_vec(), b"a b".to_vec()]);
        let mut g = FakeGuest::new(0x100);
        let vm = g.vmctx();
        unsafe {
            assert_eq!(wafer_wasi_args_sizes_get(vm, 0, 4), 0);
            assert_eq!(wafer_wasi_args_sizes_get(vm, 0, 0xFE), errno::FAULT);
            assert_eq!(wafer_wasi_args_get(vm, 0x10, 0xFC), errno::FAULT);
            assert_eq!(wafer_wasi_args_get(vm, -4, 0x20), errno::FAULT);
            assert_eq!(wafer_wasi_args_get(vm, 0x10, 0x20), 0);
        }
        assert_eq!(g.u32_at(0), 2);
        assert_eq!(g.u32_at(4), 9);
        assert_eq!(g.u32_at(0x10), 0x20);
        assert_eq!(g.u32_at(0x14), 0x25);
        assert_eq!(&g.bytes[0x20..0x29], b"prog\0a b\0");
    }

    #[test]
    fn environment_is_empty() {
        let mut g = FakeGuest::new(0x100);
        g.put_u32(0, 7);
        g.put_u32(4, 7);
        let vm = g.vmctx();
        assert_eq!(unsafe { wafer_wasi_environ_sizes_get(vm, 0, 4) }, 0);
        assert_eq!((g.u32_at(0), g.u32_at(4)), (0, 0));
        assert_eq!(unsafe { wafer_wasi_environ_get(vm, 0x10, 0x20) }, 0);
    }

    #[test]
    fn clocks_and_random() {
        let mut g = FakeGuest::new(0x100);
        let vm = g.vmctx();
        unsafe {
            for id in 0..4 {
                assert_eq!(wafer_wasi_clock_time_get(vm, id, 1, 0x10), 0);
                assert_eq!(wafer_wasi_clock_res_get(vm, id, 0x18), 0);
            }
            assert_eq!(wafer_wasi_clock_time_get(vm, 9, 1, 0x10), errno::INVAL);
            assert_eq!(wafer_wasi_clock_time_get(vm, 1, 1, 0xF9), errno::FAULT);
            assert_eq!(wafer_wasi_random_get(vm, 0x40, 0x40), 0);
            assert_eq!(wafer_wasi_random_get(vm, -16, 0x20), errno::FAULT);
            assert_eq!(wafer_wasi_random_get(vm, 0x80, 0x81), errno::FAULT);
        }
        assert_ne!(g.u32_at(0x10) as u64 | (g.u32_at(0x14) as u64) << 32, 0);
        assert!(g.bytes[0x40..0x80].iter().any(|b| *b != 0));
    }

    #[test]
    fn fdstat_and_prestat() {
        let mut g = FakeGuest::new(0x100);
        let vm = g.vmctx();
        unsafe {
            assert_eq!(wafer_wasi_fd_fdstat_get(vm, 2, 0x10), 0);
            assert_eq!(wafer_wasi_fd_fdstat_get(vm, 2, 0xF0), errno::FAULT);
            assert_eq!(wafer_wasi_fd_fdstat_get(vm, 7, 0x10), errno::BADF);
            assert_eq!(wafer_wasi_fd_prestat_get(vm, 3, 0x10), errno::BADF);
            assert_eq!(wafer_wasi_fd_prestat_dir_name(vm, 3, 0x10, 4), errno::BADF);
            assert_eq!(wafer_wasi_fd_seek(vm, 2, 0, 7, 0x10), errno::INVAL);
            assert_eq!(wafer_wasi_fd_seek(vm, 2, 0, 0, 0xFC), errno::FAULT);
            assert_eq!(wafer_wasi_sched_yield(vm), 0);
        }
        assert_eq!(
            u64::from_le_bytes(g.bytes[0x18..0x20].try_into().unwrap()),
            STDIO_RIGHTS
        );
    }

    #[test]
    fn errno_mapping() {
        assert_eq!(errno::from_host(libc::ESPIPE), 70);
        assert_eq!(errno::from_host(libc::EBADF), 8);
        assert_eq!(errno::from_host(libc::ENOSYS), 52);
        assert_eq!(errno::from_host(9999), errno::IO);
    }
}
