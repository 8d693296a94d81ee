//! The `fd_*` calls on open descriptors (`fd_readdir` lives in `dir`).

use wafer_abi::VmCtx;

use super::ctx::{self, FdEntry, Host, WasiCtx};
use super::errno::{self, Errno};
use super::types::{self, fdflags, rights as r, size};
use super::{call, call_unlocked, status};
use crate::guest_mem::GuestMemory;

/// Most iovecs handed to one readv/writev (Linux's IOV_MAX); a longer list is a short transfer,
/// which WASI callers handle like any partial read or write.
const IOV_MAX: usize = 1024;

/// A WASI file offset as the host's `off_t`.
fn host_offset(value: i64) -> Result<libc::off_t, Errno> {
    if value < 0 {
        Err(errno::INVAL)
    } else {
        Ok(value as libc::off_t)
    }
}

/// Shared body of fd_read, fd_write, fd_pread and fd_pwrite (`at`: the positioned variants).
/// The context is locked only to look the descriptor up: the transfer itself may block for
/// as long as the stream likes (a pipe, a terminal) and other threads must go on meanwhile.
fn transfer(
    mem: &GuestMemory,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    at: Option<i64>,
    nbytes: i32,
    write: bool,
) -> Result<(), Errno> {
    let mut needed = if write { r::FD_WRITE } else { r::FD_READ };
    if at.is_some() {
        needed |= r::FD_SEEK;
    }
    // Kept open by this clone until the transfer is done, even if another thread closes the
    // guest's descriptor meanwhile.
    let host = ctx::with(|c| c.get(fd)?.hold(needed))?;
    // Check the result pointer first, so a bad one has no side effect on the stream.
    mem.range(nbytes as u32, 4)?;
    // Read from the guest once: the kernel gets exactly the buffers checked here.
    let vecs = mem.iovecs(iovs as u32, iovs_len as u32)?;
    let vecs = &vecs[..vecs.len().min(IOV_MAX)];
    let pos = at.map(host_offset).transpose()?;
    let count = vecs.len() as i32;
    let raw = host.raw();
    let done = errno::retry(|| unsafe {
        match (write, pos) {
            (true, None) => libc::writev(raw, vecs.as_ptr(), count),
            (false, None) => libc::readv(raw, vecs.as_ptr(), count),
            (true, Some(p)) => libc::pwritev(raw, vecs.as_ptr(), count, p),
            (false, Some(p)) => libc::preadv(raw, vecs.as_ptr(), count, p),
        }
    })?;
    drop(host);
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
    unsafe {
        call_unlocked(vmctx, |m| {
            transfer(m, fd, iovs, iovs_len, None, nread, false)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_write(
    vmctx: *mut VmCtx,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> i32 {
    unsafe {
        call_unlocked(vmctx, |m| {
            transfer(m, fd, iovs, iovs_len, None, nwritten, true)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_pread(
    vmctx: *mut VmCtx,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    offset: i64,
    nread: i32,
) -> i32 {
    unsafe {
        call_unlocked(vmctx, |m| {
            transfer(m, fd, iovs, iovs_len, Some(offset), nread, false)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_pwrite(
    vmctx: *mut VmCtx,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    offset: i64,
    nwritten: i32,
) -> i32 {
    unsafe {
        call_unlocked(vmctx, |m| {
            transfer(m, fd, iovs, iovs_len, Some(offset), nwritten, true)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_seek(
    vmctx: *mut VmCtx,
    fd: i32,
    offset: i64,
    whence: i32,
    newoffset: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let entry = c.get(fd)?;
            // Asking where one is, is telling.
            let needed = if offset == 0 && whence == 1 {
                r::FD_TELL
            } else {
                r::FD_SEEK
            };
            let host = entry.with_rights(needed)?;
            mem.range(newoffset as u32, 8)?;
            let whence = match whence {
                0 => libc::SEEK_SET,
                1 => libc::SEEK_CUR,
                2 => libc::SEEK_END,
                _ => return Err(errno::INVAL),
            };
            let pos = errno::check(libc::lseek(host, offset, whence))?;
            mem.write_u64(newoffset as u32, pos as u64)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_tell(vmctx: *mut VmCtx, fd: i32, offset: i32) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let host = c.get(fd)?.with_rights(r::FD_TELL)?;
            mem.range(offset as u32, 8)?;
            let pos = errno::check(libc::lseek(host, 0, libc::SEEK_CUR))?;
            mem.write_u64(offset as u32, pos as u64)
        })
    }
}

/// Runs a call that needs only the descriptor table, locked for the whole call.
unsafe fn on_fd(f: impl FnOnce(&mut WasiCtx) -> Result<(), Errno>) -> i32 {
    status(ctx::with(f))
}

/// Runs a call that may take long on the host descriptor of `fd` (which must hold `needed`)
/// with the context unlocked: only the lookup locks it.
fn on_held(fd: i32, needed: u64, f: impl FnOnce(i32) -> Result<(), Errno>) -> i32 {
    status(ctx::with(|c| c.get(fd)?.hold(needed)).and_then(|host: Host| f(host.raw())))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_close(_vmctx: *mut VmCtx, fd: i32) -> i32 {
    // The entry leaves the table at once. Dropping it (after the lock is released) closes its
    // host descriptor, or, if a call on another thread still uses it, leaves that to the
    // call's end; a standard stream stays open on the host (the runtime still reports traps
    // on stderr) but is gone for the guest.
    status(ctx::with(|c| c.remove(fd)).map(drop))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_renumber(_vmctx: *mut VmCtx, from: i32, to: i32) -> i32 {
    // What was at `to` is closed as fd_close closes, after the lock is released.
    status(ctx::with(|c| c.renumber(from, to)).map(drop))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_sync(_vmctx: *mut VmCtx, fd: i32) -> i32 {
    on_held(fd, r::FD_SYNC, |host| {
        errno::retry(|| unsafe { libc::fsync(host) }).map(drop)
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_datasync(_vmctx: *mut VmCtx, fd: i32) -> i32 {
    on_held(fd, r::FD_DATASYNC, |host| {
        errno::retry(|| unsafe { libc::fdatasync(host) }).map(drop)
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_advise(
    _vmctx: *mut VmCtx,
    fd: i32,
    offset: i64,
    len: i64,
    advice: i32,
) -> i32 {
    unsafe {
        on_fd(|c| {
            let host = c.get(fd)?.with_rights(r::FD_ADVISE)?;
            let advice = match advice {
                0 => libc::POSIX_FADV_NORMAL,
                1 => libc::POSIX_FADV_SEQUENTIAL,
                2 => libc::POSIX_FADV_RANDOM,
                3 => libc::POSIX_FADV_WILLNEED,
                4 => libc::POSIX_FADV_DONTNEED,
                5 => libc::POSIX_FADV_NOREUSE,
                _ => return Err(errno::INVAL),
            };
            // posix_fadvise returns the error instead of setting errno.
            match libc::posix_fadvise(host, host_offset(offset)?, host_offset(len)?, advice) {
                0 => Ok(()),
                e => Err(errno::from_host(e)),
            }
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_allocate(
    _vmctx: *mut VmCtx,
    fd: i32,
    offset: i64,
    len: i64,
) -> i32 {
    on_held(fd, r::FD_ALLOCATE, |host| {
        if offset.checked_add(len).is_none() {
            return Err(errno::FBIG);
        }
        match unsafe { libc::posix_fallocate(host, host_offset(offset)?, host_offset(len)?) } {
            0 => Ok(()),
            e => Err(errno::from_host(e)),
        }
    })
}

/// The `fdflags` a descriptor has now.
fn current_flags(entry: &FdEntry) -> u16 {
    let fl = unsafe { libc::fcntl(entry.raw(), libc::F_GETFL) };
    let mut flags = entry.sync_flags;
    if fl >= 0 {
        if fl & libc::O_APPEND != 0 {
            flags |= fdflags::APPEND;
        }
        if fl & libc::O_NONBLOCK != 0 {
            flags |= fdflags::NONBLOCK;
        }
    }
    flags
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_fdstat_get(vmctx: *mut VmCtx, fd: i32, stat: i32) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let entry = c.get(fd)?;
            mem.range(stat as u32, size::FDSTAT)?;
            let bytes = types::fdstat(
                entry.filetype,
                current_flags(entry),
                entry.rights_base,
                entry.rights_inheriting,
            );
            mem.write_bytes(stat as u32, &bytes)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_fdstat_set_flags(
    _vmctx: *mut VmCtx,
    fd: i32,
    flags: i32,
) -> i32 {
    unsafe {
        on_fd(|c| {
            let entry = c.get(fd)?;
            let host = entry.with_rights(r::FD_FDSTAT_SET_FLAGS)?;
            let flags = u16::try_from(flags).map_err(|_| errno::INVAL)?;
            if flags & !fdflags::ALL != 0 {
                return Err(errno::INVAL);
            }
            if flags & fdflags::SYNCS != entry.sync_flags {
                return Err(errno::NOTSUP);
            }
            let mut fl = errno::check(libc::fcntl(host, libc::F_GETFL))?;
            fl &= !(libc::O_APPEND | libc::O_NONBLOCK);
            if flags & fdflags::APPEND != 0 {
                fl |= libc::O_APPEND;
            }
            if flags & fdflags::NONBLOCK != 0 {
                fl |= libc::O_NONBLOCK;
            }
            errno::check(libc::fcntl(host, libc::F_SETFL, fl)).map(drop)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_fdstat_set_rights(
    _vmctx: *mut VmCtx,
    fd: i32,
    base: i64,
    inheriting: i64,
) -> i32 {
    unsafe {
        on_fd(|c| {
            let entry = c.get_mut(fd)?;
            let (base, inheriting) = (base as u64, inheriting as u64);
            // Rights can only be dropped.
            if base & !entry.rights_base != 0 || inheriting & !entry.rights_inheriting != 0 {
                return Err(errno::NOTCAPABLE);
            }
            entry.rights_base = base;
            entry.rights_inheriting = inheriting;
            Ok(())
        })
    }
}

pub fn fstat(fd: i32) -> Result<libc::stat, Errno> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    errno::check(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_filestat_get(vmctx: *mut VmCtx, fd: i32, buf: i32) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let host = c.get(fd)?.with_rights(r::FD_FILESTAT_GET)?;
            mem.range(buf as u32, size::FILESTAT)?;
            mem.write_bytes(buf as u32, &types::filestat(&fstat(host)?))
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_filestat_set_size(
    _vmctx: *mut VmCtx,
    fd: i32,
    size: i64,
) -> i32 {
    on_held(fd, r::FD_FILESTAT_SET_SIZE, |host| {
        errno::retry(|| unsafe { libc::ftruncate(host, size) }).map(drop)
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_filestat_set_times(
    _vmctx: *mut VmCtx,
    fd: i32,
    atim: i64,
    mtim: i64,
    fst_flags: i32,
) -> i32 {
    unsafe {
        on_fd(|c| {
            let host = c.get(fd)?.with_rights(r::FD_FILESTAT_SET_TIMES)?;
            let flags = u16::try_from(fst_flags).map_err(|_| errno::INVAL)?;
            let times = types::utimens(atim as u64, mtim as u64, flags)?;
            errno::check(libc::futimens(host, times.as_ptr())).map(drop)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_prestat_get(vmctx: *mut VmCtx, fd: i32, buf: i32) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            // Not a preopen (or not open): EBADF, which is where libc's preopen scan stops.
            let name = c.get(fd)?.preopen.as_ref().ok_or(errno::BADF)?;
            mem.range(buf as u32, size::PRESTAT)?;
            let mut bytes = [0u8; size::PRESTAT as usize];
            bytes[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
            mem.write_bytes(buf as u32, &bytes)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_prestat_dir_name(
    vmctx: *mut VmCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let name = c.get(fd)?.preopen.as_ref().ok_or(errno::BADF)?;
            mem.range(path as u32, len as u32 as u64)?;
            if (len as u32 as usize) < name.len() {
                return Err(errno::NAMETOOLONG);
            }
            mem.write_bytes(path as u32, name)
        })
    }
}
