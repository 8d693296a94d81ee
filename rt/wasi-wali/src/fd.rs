//! The `fd_*` calls on open descriptors (`fd_readdir`'s listing lives in `dir`).
//!
//! Transfers go through a local buffer of [`CHUNK`] bytes: a write gathers the app's buffers
//! and writes chunk after chunk until one is short; a read fills one chunk with one syscall
//! and scatters it, and only a regular file (or a block device) is read further, so a pipe
//! or a terminal is never asked for more after it answered, as one native `readv` would be.

use alloc::vec::Vec;

use crate::app::{self, IoVec};
use crate::errno::{self, Errno};
use crate::sys;
use crate::table::{self, Entry};
use crate::types::{self, fdflags, filetype, rights as r, size};

/// Most iovecs one call uses (Linux's IOV_MAX); a longer list is a short transfer.
const IOV_MAX: usize = 1024;
/// Bytes moved per syscall.
const CHUNK: usize = 65536;
/// Linux's limit on one read or write (`MAX_RW_COUNT`): a longer one is short.
const MAX_RW: u64 = 0x7fff_f000;

/// A WASI file offset as a Linux `off_t`.
fn host_offset(value: i64) -> Result<i64, Errno> {
    if value < 0 {
        Err(errno::INVAL)
    } else {
        Ok(value)
    }
}

/// Where a transfer is in the app's buffers.
struct Cursor<'a> {
    vecs: &'a [IoVec],
    index: usize,
    offset: u32,
}

impl Cursor<'_> {
    /// The next piece of at most `max` bytes, advancing past it.
    fn next(&mut self, max: usize) -> Option<(u32, usize)> {
        while let Some(v) = self.vecs.get(self.index) {
            if self.offset < v.len {
                let n = ((v.len - self.offset) as usize).min(max);
                let at = v.base + self.offset;
                self.offset += n as u32;
                return Some((at, n));
            }
            self.index += 1;
            self.offset = 0;
        }
        None
    }
}

fn write_out(kfd: i32, vecs: &[IoVec], pos: Option<i64>) -> Result<u64, Errno> {
    let total: u64 = vecs.iter().map(|v| v.len as u64).sum::<u64>().min(MAX_RW);
    let mut buf = Vec::new();
    buf.try_reserve_exact((total as usize).min(CHUNK))
        .map_err(|_| errno::NOMEM)?;
    let mut cursor = Cursor {
        vecs,
        index: 0,
        offset: 0,
    };
    let mut done = 0u64;
    loop {
        // Gather up to one chunk.
        buf.clear();
        let want = ((total - done) as usize).min(CHUNK);
        while buf.len() < want {
            let Some((at, n)) = cursor.next(want - buf.len()) else {
                break;
            };
            let start = buf.len();
            buf.resize(start + n, 0);
            app::read(at, &mut buf[start..])?;
        }
        let n = buf.len();
        let r = sys::retry(|| match pos {
            None => sys::write_raw(kfd, &buf),
            Some(p) => sys::pwrite_raw(kfd, &buf, p + done as i64),
        });
        let k = match r {
            Err(e) if done == 0 => return Err(e),
            // Bytes already went out: that is a short write.
            Err(_) => break,
            Ok(k) => (k as usize).min(n),
        };
        done += k as u64;
        if k < n || done >= total {
            break;
        }
    }
    Ok(done)
}

fn read_in(kfd: i32, vecs: &[IoVec], pos: Option<i64>, kind: u8) -> Result<u64, Errno> {
    let total: u64 = vecs.iter().map(|v| v.len as u64).sum::<u64>().min(MAX_RW);
    let mut buf = Vec::new();
    buf.try_reserve_exact((total as usize).min(CHUNK))
        .map_err(|_| errno::NOMEM)?;
    buf.resize((total as usize).min(CHUNK), 0);
    let more = kind == filetype::REGULAR_FILE || kind == filetype::BLOCK_DEVICE;
    let mut cursor = Cursor {
        vecs,
        index: 0,
        offset: 0,
    };
    let mut done = 0u64;
    loop {
        let want = ((total - done) as usize).min(CHUNK);
        let chunk = &mut buf[..want];
        let r = sys::retry(|| match pos {
            None => sys::read_raw(kfd, chunk),
            Some(p) => sys::pread_raw(kfd, chunk, p + done as i64),
        });
        let k = match r {
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
            Ok(k) => (k as usize).min(want),
        };
        // Scatter what came.
        let mut given = 0;
        while given < k {
            let Some((at, n)) = cursor.next(k - given) else {
                break;
            };
            app::write(at, &buf[given..given + n])?;
            given += n;
        }
        done += k as u64;
        if k < want || done >= total || !more {
            break;
        }
    }
    Ok(done)
}

/// Shared body of fd_read, fd_write, fd_pread and fd_pwrite (`at`: the positioned ones),
/// with the native host's order of checks: the descriptor and its rights, the result
/// pointer, the iovecs, the offset.
fn transfer(
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
    let (kfd, kind) = table::with(|t| {
        let e = t.get(fd)?;
        Ok::<_, Errno>((e.with_rights(needed)?, e.filetype))
    })?;
    app::range(nbytes as u32, 4)?;
    let vecs = app::iovecs(iovs as u32, iovs_len as u32, IOV_MAX)?;
    let pos = at.map(host_offset).transpose()?;
    let done = if write {
        write_out(kfd, &vecs, pos)?
    } else {
        read_in(kfd, &vecs, pos, kind)?
    };
    app::write_u32(
        nbytes as u32,
        u32::try_from(done).map_err(|_| errno::OVERFLOW)?,
    )
}

pub fn fd_read(fd: i32, iovs: i32, iovs_len: i32, nread: i32) -> Result<(), Errno> {
    transfer(fd, iovs, iovs_len, None, nread, false)
}

pub fn fd_write(fd: i32, iovs: i32, iovs_len: i32, nwritten: i32) -> Result<(), Errno> {
    transfer(fd, iovs, iovs_len, None, nwritten, true)
}

pub fn fd_pread(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nread: i32) -> Result<(), Errno> {
    transfer(fd, iovs, iovs_len, Some(offset), nread, false)
}

pub fn fd_pwrite(
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    offset: i64,
    nwritten: i32,
) -> Result<(), Errno> {
    transfer(fd, iovs, iovs_len, Some(offset), nwritten, true)
}

pub fn fd_seek(fd: i32, offset: i64, whence: i32, newoffset: i32) -> Result<(), Errno> {
    let kfd = table::with(|t| {
        // Asking where one is, is telling.
        let needed = if offset == 0 && whence == types::whence::CUR {
            r::FD_TELL
        } else {
            r::FD_SEEK
        };
        t.get(fd)?.with_rights(needed)
    })?;
    app::range(newoffset as u32, 8)?;
    let whence = match whence {
        types::whence::SET => sys::SEEK_SET,
        types::whence::CUR => sys::SEEK_CUR,
        types::whence::END => sys::SEEK_END,
        _ => return Err(errno::INVAL),
    };
    let pos = sys::lseek(kfd, offset, whence)?;
    app::write_u64(newoffset as u32, pos as u64)
}

pub fn fd_tell(fd: i32, offset: i32) -> Result<(), Errno> {
    let kfd = table::with(|t| t.get(fd)?.with_rights(r::FD_TELL))?;
    app::range(offset as u32, 8)?;
    let pos = sys::lseek(kfd, 0, sys::SEEK_CUR)?;
    app::write_u64(offset as u32, pos as u64)
}

pub fn fd_close(fd: i32) -> Result<(), Errno> {
    // Dropped after the table is let go: closes the kernel descriptor (a standard stream
    // stays open for the runtime, gone for the app).
    table::with(|t| t.remove(fd)).map(drop)
}

pub fn fd_renumber(from: i32, to: i32) -> Result<(), Errno> {
    table::with(|t| t.renumber(from, to)).map(drop)
}

/// The kernel descriptor of `fd` if it holds `needed`.
fn held(fd: i32, needed: u64) -> Result<i32, Errno> {
    table::with(|t| t.get(fd)?.with_rights(needed))
}

pub fn fd_sync(fd: i32) -> Result<(), Errno> {
    sys::fsync(held(fd, r::FD_SYNC)?)
}

pub fn fd_datasync(fd: i32) -> Result<(), Errno> {
    sys::fdatasync(held(fd, r::FD_DATASYNC)?)
}

pub fn fd_advise(fd: i32, offset: i64, len: i64, advice: i32) -> Result<(), Errno> {
    let kfd = held(fd, r::FD_ADVISE)?;
    // Linux numbers RANDOM 1 and SEQUENTIAL 2, the other way round from WASI.
    let advice = match advice {
        0 => 0,
        1 => 2,
        2 => 1,
        3 => 3,
        4 => 4,
        5 => 5,
        _ => return Err(errno::INVAL),
    };
    sys::fadvise(kfd, host_offset(offset)?, host_offset(len)?, advice)
}

/// `posix_fallocate` without the `fallocate` syscall (WALI lacks it): the kernel's checks
/// in its order, then the file grows to `offset + len` if shorter, which is what a mode-0
/// `fallocate` shows.
pub fn fd_allocate(fd: i32, offset: i64, len: i64) -> Result<(), Errno> {
    let kfd = held(fd, r::FD_ALLOCATE)?;
    let end = offset.checked_add(len).ok_or(errno::FBIG)?;
    let (_, len) = (host_offset(offset)?, host_offset(len)?);
    if len == 0 {
        return Err(errno::INVAL);
    }
    let fl = sys::fcntl(kfd, sys::F_GETFL, 0)? as i32;
    if fl & sys::O_ACCMODE == sys::O_RDONLY || fl & sys::O_PATH != 0 {
        return Err(errno::BADF);
    }
    let st = sys::fstat(kfd)?;
    match st.kind() {
        sys::S_IFIFO => return Err(errno::SPIPE),
        sys::S_IFDIR => return Err(errno::ISDIR),
        sys::S_IFREG => {}
        sys::S_IFBLK => return Ok(()),
        _ => return Err(errno::NODEV),
    }
    if st.size < end {
        sys::ftruncate(kfd, end)?;
    }
    Ok(())
}

/// The `fdflags` a descriptor has now.
fn current_flags(entry: &Entry) -> u16 {
    let mut flags = entry.sync_flags;
    if let Ok(fl) = sys::fcntl(entry.raw(), sys::F_GETFL, 0) {
        let fl = fl as i32;
        if fl & sys::O_APPEND != 0 {
            flags |= fdflags::APPEND;
        }
        if fl & sys::O_NONBLOCK != 0 {
            flags |= fdflags::NONBLOCK;
        }
    }
    flags
}

pub fn fd_fdstat_get(fd: i32, stat: i32) -> Result<(), Errno> {
    let bytes = table::with(|t| {
        let e = t.get(fd)?;
        app::range(stat as u32, size::FDSTAT)?;
        Ok::<_, Errno>(types::fdstat(
            e.filetype,
            current_flags(e),
            e.rights_base,
            e.rights_inheriting,
        ))
    })?;
    app::write(stat as u32, &bytes)
}

pub fn fd_fdstat_set_flags(fd: i32, flags: i32) -> Result<(), Errno> {
    let (kfd, sync_flags) = table::with(|t| {
        let e = t.get(fd)?;
        Ok::<_, Errno>((e.with_rights(r::FD_FDSTAT_SET_FLAGS)?, e.sync_flags))
    })?;
    let flags = u16::try_from(flags).map_err(|_| errno::INVAL)?;
    if flags & !fdflags::ALL != 0 {
        return Err(errno::INVAL);
    }
    if flags & fdflags::SYNCS != sync_flags {
        return Err(errno::NOTSUP);
    }
    let mut fl = sys::fcntl(kfd, sys::F_GETFL, 0)? as i32;
    fl &= !(sys::O_APPEND | sys::O_NONBLOCK);
    if flags & fdflags::APPEND != 0 {
        fl |= sys::O_APPEND;
    }
    if flags & fdflags::NONBLOCK != 0 {
        fl |= sys::O_NONBLOCK;
    }
    sys::fcntl(kfd, sys::F_SETFL, fl as i64).map(drop)
}

pub fn fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64) -> Result<(), Errno> {
    table::with(|t| {
        let e = t.get_mut(fd)?;
        let (base, inheriting) = (base as u64, inheriting as u64);
        // Rights can only be dropped.
        if base & !e.rights_base != 0 || inheriting & !e.rights_inheriting != 0 {
            return Err(errno::NOTCAPABLE);
        }
        e.rights_base = base;
        e.rights_inheriting = inheriting;
        Ok(())
    })
}

pub fn fd_filestat_get(fd: i32, buf: i32) -> Result<(), Errno> {
    let kfd = held(fd, r::FD_FILESTAT_GET)?;
    app::range(buf as u32, size::FILESTAT)?;
    app::write(buf as u32, &types::filestat(&sys::fstat(kfd)?))
}

pub fn fd_filestat_set_size(fd: i32, size: i64) -> Result<(), Errno> {
    sys::ftruncate(held(fd, r::FD_FILESTAT_SET_SIZE)?, size)
}

pub fn fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, fst_flags: i32) -> Result<(), Errno> {
    let kfd = held(fd, r::FD_FILESTAT_SET_TIMES)?;
    let flags = u16::try_from(fst_flags).map_err(|_| errno::INVAL)?;
    let times = types::utimens(atim as u64, mtim as u64, flags)?;
    sys::utimensat(kfd, None, &times, 0)
}

pub fn fd_prestat_get(fd: i32, buf: i32) -> Result<(), Errno> {
    let len = table::with(|t| {
        // Not a preopen (or not open): EBADF, which is where libc's preopen scan stops.
        let name = t.get(fd)?.preopen.as_ref().ok_or(errno::BADF)?;
        Ok::<_, Errno>(name.len() as u32)
    })?;
    app::range(buf as u32, size::PRESTAT)?;
    let mut bytes = [0u8; size::PRESTAT as usize];
    bytes[4..8].copy_from_slice(&len.to_le_bytes());
    app::write(buf as u32, &bytes)
}

pub fn fd_prestat_dir_name(fd: i32, path: i32, len: i32) -> Result<(), Errno> {
    table::with(|t| {
        let name = t.get(fd)?.preopen.as_ref().ok_or(errno::BADF)?;
        app::range(path as u32, len as u32 as u64)?;
        if (len as u32 as usize) < name.len() {
            return Err(errno::NAMETOOLONG);
        }
        app::write(path as u32, name)
    })
}
