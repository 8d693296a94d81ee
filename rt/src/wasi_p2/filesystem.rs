//! `wasi:filesystem`: `types` (descriptors, directory-entry streams, error codes) and
//! `preopens`.
//!
//! A descriptor carries preview1's rights, and every path call goes through preview1's path
//! operations ([`crate::wasi::path`]) and sandbox: the same `--dir` / `--ro-dir` preopens,
//! the same resolution beneath the directory, the same read-only grants. What preview1
//! refuses with `ENOTCAPABLE` (a path leaving its directory, a write under a read-only grant)
//! is `not-permitted` here; reading or writing a descriptor not opened for it is
//! `bad-descriptor`; every other host error maps as wasmtime maps it.

use super::WasiP2;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::RawFd;
use std::sync::{Arc, OnceLock};

use wafer_abi::{TrapKind, VmCtx};

use super::io::Stream;
use super::table::{Kind, Resource};
use super::{drop_resource, insert, with_table, IFACE};
use crate::canon::{self, fault, finish, lift_string, memory, read_list, ret_area, Area, Fault};
use crate::guest_mem::GuestMemory;
use crate::wasi::ctx::Host;
use crate::wasi::dir::Listing;
use crate::wasi::errno::{self, Errno};
use crate::wasi::path::{self, Rights};
use crate::wasi::sandbox::MAX_PATH;
use crate::wasi::types::{filetype, rights as r};

/// `descriptor-flags` bits.
mod flags {
    pub const READ: u8 = 1 << 0;
    pub const WRITE: u8 = 1 << 1;
    pub const FILE_INTEGRITY_SYNC: u8 = 1 << 2;
    pub const DATA_INTEGRITY_SYNC: u8 = 1 << 3;
    pub const REQUESTED_WRITE_SYNC: u8 = 1 << 4;
    pub const MUTATE_DIRECTORY: u8 = 1 << 5;
    pub const ALL: u8 = 0x3f;
}

/// An open file or directory.
#[derive(Clone)]
pub struct Descriptor {
    host: Host,
    filetype: u8,
    rights: Rights,
    flags: u8,
}

impl Descriptor {
    /// The directory a path call starts from, if it holds `needed`.
    fn dir(&self, needed: u64) -> Result<RawFd, Errno> {
        if self.filetype != filetype::DIRECTORY {
            return Err(errno::NOTDIR);
        }
        self.may(needed)
    }

    /// The host descriptor, if this one holds `needed` (`not-permitted` otherwise).
    fn may(&self, needed: u64) -> Result<RawFd, Errno> {
        if self.rights.base & needed == needed {
            Ok(self.host.raw())
        } else {
            Err(errno::NOTCAPABLE)
        }
    }

    /// The host descriptor for reading or writing data (`bad-descriptor` if not opened so).
    fn data(&self, needed: u64) -> Result<RawFd, Errno> {
        self.may(needed).map_err(|_| errno::BADF)
    }
}

/// A directory's entries, read in full by `read-directory`, handed out one by one.
pub struct DirEntries {
    entries: std::vec::IntoIter<Listing>,
}

/// `error-code` for a preview1 errno, as wasmtime maps host errors.
fn code(e: Errno) -> u8 {
    use errno::*;
    match e {
        ACCES => 0,
        AGAIN => 1,
        ALREADY => 2,
        BADF => 3,
        BUSY => 4,
        DEADLK => 5,
        DQUOT => 6,
        EXIST => 7,
        FBIG => 8,
        ILSEQ => 9,
        INPROGRESS => 10,
        INTR => 11,
        INVAL => 12,
        ISDIR => 14,
        LOOP => 15,
        MLINK => 16,
        MSGSIZE => 17,
        NAMETOOLONG => 18,
        NODEV => 19,
        NOENT => 20,
        NOLCK => 21,
        NOMEM => 22,
        NOSPC => 23,
        NOTDIR => 24,
        NOTEMPTY => 25,
        NOTRECOVERABLE => 26,
        NOTSUP | NOSYS => 27,
        NOTTY => 28,
        NXIO => 29,
        OVERFLOW => 30,
        PERM | NOTCAPABLE => 31,
        PIPE => 32,
        ROFS => 33,
        SPIPE => 34,
        TXTBSY => 35,
        XDEV => 36,
        _ => 13, // io
    }
}

/// The names of the `error-code` cases, in their order.
const CODE_NAMES: [&str; 37] = [
    "access",
    "would-block",
    "already",
    "bad-descriptor",
    "busy",
    "deadlock",
    "quota",
    "exist",
    "file-too-large",
    "illegal-byte-sequence",
    "in-progress",
    "interrupted",
    "invalid",
    "io",
    "is-directory",
    "loop",
    "too-many-links",
    "message-size",
    "name-too-long",
    "no-device",
    "no-entry",
    "no-lock",
    "insufficient-memory",
    "insufficient-space",
    "not-directory",
    "not-empty",
    "not-recoverable",
    "unsupported",
    "no-tty",
    "no-such-device",
    "overflow",
    "not-permitted",
    "pipe",
    "read-only",
    "invalid-seek",
    "text-file-busy",
    "cross-device",
];

/// The `error-code` name a preview1 errno maps to (for `error.to-debug-string`).
pub(crate) fn code_name(e: Errno) -> &'static str {
    CODE_NAMES[code(e) as usize]
}

/// `descriptor-type` of a host `st_mode`.
fn type_of_mode(mode: libc::mode_t) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFBLK => 1,
        libc::S_IFCHR => 2,
        libc::S_IFDIR => 3,
        libc::S_IFIFO => 4,
        libc::S_IFLNK => 5,
        libc::S_IFREG => 6,
        libc::S_IFSOCK => 7,
        _ => 0,
    }
}

/// `descriptor-type` of a preview1 filetype (directory listings; a FIFO is `unknown` there).
fn type_of_filetype(t: u8) -> u8 {
    match t {
        filetype::BLOCK_DEVICE => 1,
        filetype::CHARACTER_DEVICE => 2,
        filetype::DIRECTORY => 3,
        filetype::SYMBOLIC_LINK => 5,
        filetype::REGULAR_FILE => 6,
        5 | filetype::SOCKET_STREAM => 7,
        _ => 0,
    }
}

fn fstat(fd: RawFd) -> Result<libc::stat, Errno> {
    crate::wasi::fd::fstat(fd)
}

fn descriptor(vmctx: *mut VmCtx, handle: i32) -> Result<Descriptor, Fault> {
    with_table(vmctx, |t| t.descriptor(handle))
}

/// A path argument: a string (else a trap), at most `PATH_MAX` bytes (else `name-too-long`).
fn lift_path(mem: &GuestMemory, ptr: i32, len: i32) -> Result<Result<String, Errno>, Fault> {
    let s = lift_string(mem, ptr, len)?;
    Ok(if s.len() as u64 > MAX_PATH {
        Err(errno::NAMETOOLONG)
    } else {
        Ok(s)
    })
}

/// Runs a call returning `result<T, error-code>` in a return area of `size` bytes aligned to
/// `align` (which is `T`'s alignment): `body` computes the value, `ok` lowers it at the
/// payload offset it is given.
unsafe fn call<T>(
    vmctx: *mut VmCtx,
    retptr: i32,
    (size, align): (usize, usize),
    body: impl FnOnce(&GuestMemory) -> Result<Result<T, Errno>, Fault>,
    ok: impl FnOnce(*mut VmCtx, &mut Area, usize, T) -> Result<(), Fault>,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let ret = ret_area(&mem, retptr, size as u64, align as u32)?;
    let r = body(&mem)?;
    let mut a = Area::new(size);
    match r {
        Ok(v) => {
            let at = a.case(0, 0, align);
            ok(vmctx, &mut a, at, v)?;
        }
        Err(e) => {
            let at = a.case(0, 1, align);
            a.u8(at, code(e));
        }
    }
    a.store(&unsafe { memory(vmctx) }?, ret)
}

/// `result<_, error-code>`.
const UNIT: (usize, usize) = (2, 1);
/// `result<u8-sized, error-code>` (flags, enums).
const BYTE: (usize, usize) = (2, 1);
/// `result<own<_>, error-code>`.
const HANDLE: (usize, usize) = (8, 4);

fn unit(_: *mut VmCtx, _: &mut Area, _: usize, (): ()) -> Result<(), Fault> {
    Ok(())
}

fn byte(_: *mut VmCtx, a: &mut Area, at: usize, v: u8) -> Result<(), Fault> {
    a.u8(at, v);
    Ok(())
}

/// Lowers a new resource's handle.
fn handle(vmctx: *mut VmCtx, a: &mut Area, at: usize, r: Resource) -> Result<(), Fault> {
    let h = insert(vmctx, r)?;
    a.u32(at, h as u32);
    Ok(())
}

/// Turns a unit call on a descriptor into the extern body.
unsafe fn on_descriptor(
    vmctx: *mut VmCtx,
    this: i32,
    retptr: i32,
    f: impl FnOnce(&GuestMemory, Descriptor) -> Result<Result<(), Errno>, Fault>,
) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            UNIT,
            |mem| {
                let d = descriptor(vmctx, this)?;
                f(mem, d)
            },
            unit,
        )
    };
    finish(IFACE, run)
}

// ---- streams ----------------------------------------------------------------------------------

unsafe fn via_stream(vmctx: *mut VmCtx, this: i32, offset: Option<u64>, write: bool, retptr: i32) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            HANDLE,
            |_| {
                let d = descriptor(vmctx, this)?;
                let needed = if write { r::FD_WRITE } else { r::FD_READ };
                Ok(d.data(needed).map(|_| {
                    let stream = Arc::new(Stream::file(
                        d.host.clone(),
                        offset.unwrap_or(0),
                        offset.is_none(),
                    ));
                    if write {
                        Resource::OutputStream(stream)
                    } else {
                        Resource::InputStream(stream)
                    }
                }))
            },
            handle,
        )
    };
    finish(IFACE, run)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_read_via_stream(
    vmctx: *mut VmCtx,
    this: i32,
    offset: i64,
    ret: i32,
) {
    unsafe { via_stream(vmctx, this, Some(offset as u64), false, ret) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_write_via_stream(
    vmctx: *mut VmCtx,
    this: i32,
    offset: i64,
    ret: i32,
) {
    unsafe { via_stream(vmctx, this, Some(offset as u64), true, ret) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_append_via_stream(
    vmctx: *mut VmCtx,
    this: i32,
    ret: i32,
) {
    unsafe { via_stream(vmctx, this, None, true, ret) }
}

// ---- calls on the descriptor itself -----------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_advise(
    vmctx: *mut VmCtx,
    this: i32,
    offset: i64,
    len: i64,
    advice: i32,
    ret: i32,
) {
    unsafe {
        on_descriptor(vmctx, this, ret, |_, d| {
            let advice = match advice {
                0 => libc::POSIX_FADV_NORMAL,
                1 => libc::POSIX_FADV_SEQUENTIAL,
                2 => libc::POSIX_FADV_RANDOM,
                3 => libc::POSIX_FADV_WILLNEED,
                4 => libc::POSIX_FADV_DONTNEED,
                5 => libc::POSIX_FADV_NOREUSE,
                other => {
                    return Err(fault(
                        TrapKind::Unreachable,
                        format!("advise: {other} is not an advice case"),
                    ))
                }
            };
            Ok(d.may(r::FD_ADVISE).and_then(|fd| {
                match libc::posix_fadvise(fd, offset as libc::off_t, len as libc::off_t, advice) {
                    0 => Ok(()),
                    e => Err(errno::from_host(e)),
                }
            }))
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_sync_data(vmctx: *mut VmCtx, this: i32, ret: i32) {
    unsafe {
        on_descriptor(vmctx, this, ret, |_, d| {
            Ok(errno::retry(|| libc::fdatasync(d.host.raw())).map(drop))
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_sync(vmctx: *mut VmCtx, this: i32, ret: i32) {
    unsafe {
        on_descriptor(vmctx, this, ret, |_, d| {
            Ok(errno::retry(|| libc::fsync(d.host.raw())).map(drop))
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_get_flags(vmctx: *mut VmCtx, this: i32, retptr: i32) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            BYTE,
            |_| Ok(Ok(descriptor(vmctx, this)?.flags)),
            byte,
        )
    };
    finish(IFACE, run)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_get_type(vmctx: *mut VmCtx, this: i32, retptr: i32) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            BYTE,
            |_| Ok(fstat(descriptor(vmctx, this)?.host.raw()).map(|st| type_of_mode(st.st_mode))),
            byte,
        )
    };
    finish(IFACE, run)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_set_size(
    vmctx: *mut VmCtx,
    this: i32,
    size: i64,
    ret: i32,
) {
    unsafe {
        on_descriptor(vmctx, this, ret, |_, d| {
            Ok(d.may(r::FD_FILESTAT_SET_SIZE)
                .and_then(|fd| errno::retry(|| libc::ftruncate(fd, size as libc::off_t)).map(drop)))
        })
    }
}

/// A `new-timestamp` (flattened: case, seconds, nanoseconds) as a `utimensat` time.
fn new_timestamp(
    case: i32,
    seconds: i64,
    nanos: i32,
) -> Result<Result<libc::timespec, Errno>, Fault> {
    let (sec, nsec) = match case {
        0 => (0, libc::UTIME_OMIT),
        1 => (0, libc::UTIME_NOW),
        2 if (nanos as u32) < 1_000_000_000 => {
            (seconds as libc::time_t, nanos as u32 as libc::c_long)
        }
        2 => return Ok(Err(errno::INVAL)),
        other => {
            return Err(fault(
                TrapKind::Unreachable,
                format!("{other} is not a new-timestamp case"),
            ))
        }
    };
    Ok(Ok(libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    }))
}

fn times(
    a: (i32, i64, i32),
    m: (i32, i64, i32),
) -> Result<Result<[libc::timespec; 2], Errno>, Fault> {
    let a = new_timestamp(a.0, a.1, a.2)?;
    let m = new_timestamp(m.0, m.1, m.2)?;
    Ok(a.and_then(|a| m.map(|m| [a, m])))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_set_times(
    vmctx: *mut VmCtx,
    this: i32,
    a_case: i32,
    a_sec: i64,
    a_ns: i32,
    m_case: i32,
    m_sec: i64,
    m_ns: i32,
    ret: i32,
) {
    unsafe {
        on_descriptor(vmctx, this, ret, |_, d| {
            let t = times((a_case, a_sec, a_ns), (m_case, m_sec, m_ns))?;
            Ok(t.and_then(|t| {
                let fd = d.may(r::FD_FILESTAT_SET_TIMES)?;
                errno::check(libc::futimens(fd, t.as_ptr())).map(drop)
            }))
        })
    }
}

/// The most one `read` returns.
const READ_MAX: u64 = 1 << 20;

/// `read`: `result<tuple<list<u8>, bool>, error-code>` (16 bytes, align 4); the flag says the
/// end of the file was reached (nothing was left to read).
#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_read(
    vmctx: *mut VmCtx,
    this: i32,
    len: i64,
    offset: i64,
    retptr: i32,
) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            (16, 4),
            |_| {
                let d = descriptor(vmctx, this)?;
                Ok(d.data(r::FD_READ).and_then(|fd| {
                    let mut buf = vec![0u8; (len as u64).min(READ_MAX) as usize];
                    let n = errno::retry(|| {
                        libc::pread(
                            fd,
                            buf.as_mut_ptr() as *mut libc::c_void,
                            buf.len(),
                            offset as libc::off_t,
                        )
                    })?;
                    buf.truncate(n as usize);
                    Ok(buf)
                }))
            },
            |vmctx, a, at, buf| {
                let l = canon::lower_bytes(vmctx, &buf)?;
                a.list(at, l).u8(at + 8, buf.is_empty() as u8);
                Ok(())
            },
        )
    };
    finish(IFACE, run)
}

/// `write`: `result<filesize, error-code>` (16 bytes, align 8).
#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_write(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    offset: i64,
    retptr: i32,
) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            (16, 8),
            |mem| {
                let data = read_list(mem, ptr as u32, len as u32)?;
                let d = descriptor(vmctx, this)?;
                Ok(d.data(r::FD_WRITE).and_then(|fd| {
                    errno::retry(|| {
                        libc::pwrite(
                            fd,
                            data.as_ptr() as *const libc::c_void,
                            data.len(),
                            offset as libc::off_t,
                        )
                    })
                    .map(|n| n as u64)
                }))
            },
            |_, a, at, n| {
                a.u64(at, n);
                Ok(())
            },
        )
    };
    finish(IFACE, run)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_read_directory(
    vmctx: *mut VmCtx,
    this: i32,
    retptr: i32,
) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            HANDLE,
            |_| {
                let d = descriptor(vmctx, this)?;
                Ok(d.dir(r::FD_READDIR)
                    .and_then(crate::wasi::dir::list)
                    .map(|mut list| {
                        list.retain(|e| e.name != b"." && e.name != b"..");
                        Resource::DirectoryEntryStream(DirEntries {
                            entries: list.into_iter(),
                        })
                    }))
            },
            handle,
        )
    };
    finish(IFACE, run)
}

/// A `descriptor-stat` (96 bytes, align 8) at `at`.
#[allow(clippy::unnecessary_cast)] // the types of st_* fields differ between targets
fn store_stat(a: &mut Area, at: usize, st: &libc::stat) {
    a.u8(at, type_of_mode(st.st_mode));
    a.u64(at + 8, st.st_nlink as u64);
    a.u64(at + 16, st.st_size as u64);
    let stamps = [
        (st.st_atime, st.st_atime_nsec),
        (st.st_mtime, st.st_mtime_nsec),
        (st.st_ctime, st.st_ctime_nsec),
    ];
    for (i, (sec, nsec)) in stamps.into_iter().enumerate() {
        // option<datetime>: 24 bytes, align 8.
        let base = at + 24 + i * 24;
        let p = a.case(base, 1, 8);
        a.u64(p, sec as u64).u32(p + 8, nsec as u32);
    }
}

fn stat_ok(_: *mut VmCtx, a: &mut Area, at: usize, st: libc::stat) -> Result<(), Fault> {
    store_stat(a, at, &st);
    Ok(())
}

const STAT: (usize, usize) = (104, 8);

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_stat(vmctx: *mut VmCtx, this: i32, retptr: i32) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            STAT,
            |_| Ok(fstat(descriptor(vmctx, this)?.host.raw())),
            stat_ok,
        )
    };
    finish(IFACE, run)
}

fn follows(path_flags: i32) -> bool {
    path_flags & 1 != 0
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_stat_at(
    vmctx: *mut VmCtx,
    this: i32,
    path_flags: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            STAT,
            |mem| {
                let p = lift_path(mem, ptr, len)?;
                let d = descriptor(vmctx, this)?;
                Ok(p.and_then(|p| {
                    path::stat_at(
                        d.dir(r::PATH_FILESTAT_GET)?,
                        p.as_bytes(),
                        follows(path_flags),
                    )
                }))
            },
            stat_ok,
        )
    };
    finish(IFACE, run)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_set_times_at(
    vmctx: *mut VmCtx,
    this: i32,
    path_flags: i32,
    ptr: i32,
    len: i32,
    a_case: i32,
    a_sec: i64,
    a_ns: i32,
    m_case: i32,
    m_sec: i64,
    m_ns: i32,
    ret: i32,
) {
    unsafe {
        on_descriptor(vmctx, this, ret, |mem, d| {
            let p = lift_path(mem, ptr, len)?;
            let t = times((a_case, a_sec, a_ns), (m_case, m_sec, m_ns))?;
            Ok(p.and_then(|p| {
                let t = t?;
                path::set_times_at(
                    d.dir(r::PATH_FILESTAT_SET_TIMES)?,
                    p.as_bytes(),
                    follows(path_flags),
                    &t,
                )
            }))
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_link_at(
    vmctx: *mut VmCtx,
    this: i32,
    old_flags: i32,
    old_ptr: i32,
    old_len: i32,
    new_dir: i32,
    new_ptr: i32,
    new_len: i32,
    ret: i32,
) {
    unsafe {
        on_descriptor(vmctx, this, ret, |mem, d| {
            let old = lift_path(mem, old_ptr, old_len)?;
            let new = lift_path(mem, new_ptr, new_len)?;
            let nd = descriptor(vmctx, new_dir)?;
            Ok(old.and_then(|old| {
                let new = new?;
                path::link(
                    d.dir(r::PATH_LINK_SOURCE)?,
                    follows(old_flags),
                    old.as_bytes(),
                    nd.dir(r::PATH_LINK_TARGET)?,
                    new.as_bytes(),
                )
            }))
        })
    }
}

/// The preview1 request of an `open-at`: rights for what `descriptor-flags` ask (reading,
/// writing), as preview1's `path_open` would be asked. A directory gets what its parent
/// hands down, as under wasmtime: `mutate-directory` is not needed to change it, but asking
/// for it where the parent hands no such right down is refused (`not-permitted`), as asking
/// for `write` is.
fn open_request(
    d: &Descriptor,
    path_flags: i32,
    open_flags: i32,
    want: u8,
) -> Result<path::OpenRequest, Errno> {
    let mut base = r::DIR & !r::FD_READDIR;
    if want & flags::READ != 0 {
        base |= r::FILE_READ | r::FD_READDIR;
    }
    if want & flags::WRITE != 0 {
        base |= r::FILE & !r::FD_READ;
    }
    if want & flags::MUTATE_DIRECTORY != 0 && d.rights.inheriting & r::PATH_CREATE_FILE == 0 {
        return Err(errno::NOTCAPABLE);
    }
    let mut fdflags = 0;
    for (bit, p1) in [
        (
            flags::FILE_INTEGRITY_SYNC,
            crate::wasi::types::fdflags::SYNC,
        ),
        (
            flags::DATA_INTEGRITY_SYNC,
            crate::wasi::types::fdflags::DSYNC,
        ),
        (
            flags::REQUESTED_WRITE_SYNC,
            crate::wasi::types::fdflags::RSYNC,
        ),
    ] {
        if want & bit != 0 {
            fdflags |= p1;
        }
    }
    // The flag bits have preview1's values (symlink-follow; create, directory, exclusive,
    // truncate); bits the WIT does not define are ignored, as the canonical ABI lifts flags.
    path::open_request(
        d.rights,
        path_flags & 1,
        open_flags & 0xf,
        base,
        r::DIR | r::FILE,
        fdflags as i32,
    )
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_open_at(
    vmctx: *mut VmCtx,
    this: i32,
    path_flags: i32,
    ptr: i32,
    len: i32,
    open_flags: i32,
    want: i32,
    retptr: i32,
) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            HANDLE,
            |mem| {
                let p = lift_path(mem, ptr, len)?;
                let d = descriptor(vmctx, this)?;
                let want = want as u8 & flags::ALL;
                Ok(p.and_then(|p| {
                    let dir = d.dir(r::PATH_OPEN)?;
                    let req = open_request(&d, path_flags, open_flags, want)?;
                    let entry = path::open_beneath(dir, p.as_bytes(), &req)?;
                    // get-flags: what was asked for; for a directory, mutate-directory when it
                    // may be changed.
                    let mut granted = want & !flags::MUTATE_DIRECTORY;
                    if entry.filetype == filetype::DIRECTORY
                        && entry.rights_base & r::PATH_CREATE_FILE != 0
                    {
                        granted |= flags::MUTATE_DIRECTORY;
                    }
                    Ok(Resource::Descriptor(Descriptor {
                        host: entry.host.clone(),
                        filetype: entry.filetype,
                        rights: Rights {
                            base: entry.rights_base,
                            inheriting: entry.rights_inheriting,
                        },
                        flags: granted,
                    }))
                }))
            },
            handle,
        )
    };
    finish(IFACE, run)
}

/// `readlink-at`: `result<string, error-code>` (12 bytes, align 4); a target that is not
/// UTF-8 is `illegal-byte-sequence`.
#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_readlink_at(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            (12, 4),
            |mem| {
                let p = lift_path(mem, ptr, len)?;
                let d = descriptor(vmctx, this)?;
                Ok(p.and_then(|p| {
                    let target = path::readlink(d.dir(r::PATH_READLINK)?, p.as_bytes())?;
                    String::from_utf8(target).map_err(|_| errno::ILSEQ)
                }))
            },
            |vmctx, a, at, s| {
                let l = canon::lower_string(vmctx, &s)?;
                a.list(at, l);
                Ok(())
            },
        )
    };
    finish(IFACE, run)
}

/// A call taking one path beneath the descriptor (which must hold `needed`).
unsafe fn at_path(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    ret: i32,
    needed: u64,
    op: fn(RawFd, &[u8]) -> Result<(), Errno>,
) {
    unsafe {
        on_descriptor(vmctx, this, ret, |mem, d| {
            let p = lift_path(mem, ptr, len)?;
            Ok(p.and_then(|p| op(d.dir(needed)?, p.as_bytes())))
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_create_directory_at(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    ret: i32,
) {
    unsafe {
        at_path(
            vmctx,
            this,
            ptr,
            len,
            ret,
            r::PATH_CREATE_DIRECTORY,
            path::create_directory,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_remove_directory_at(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    ret: i32,
) {
    unsafe {
        at_path(
            vmctx,
            this,
            ptr,
            len,
            ret,
            r::PATH_REMOVE_DIRECTORY,
            path::remove_directory,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_unlink_file_at(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    ret: i32,
) {
    unsafe {
        at_path(
            vmctx,
            this,
            ptr,
            len,
            ret,
            r::PATH_UNLINK_FILE,
            path::unlink_file,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_rename_at(
    vmctx: *mut VmCtx,
    this: i32,
    old_ptr: i32,
    old_len: i32,
    new_dir: i32,
    new_ptr: i32,
    new_len: i32,
    ret: i32,
) {
    unsafe {
        on_descriptor(vmctx, this, ret, |mem, d| {
            let old = lift_path(mem, old_ptr, old_len)?;
            let new = lift_path(mem, new_ptr, new_len)?;
            let nd = descriptor(vmctx, new_dir)?;
            Ok(old.and_then(|old| {
                let new = new?;
                path::rename(
                    d.dir(r::PATH_RENAME_SOURCE)?,
                    old.as_bytes(),
                    nd.dir(r::PATH_RENAME_TARGET)?,
                    new.as_bytes(),
                )
            }))
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_symlink_at(
    vmctx: *mut VmCtx,
    this: i32,
    old_ptr: i32,
    old_len: i32,
    new_ptr: i32,
    new_len: i32,
    ret: i32,
) {
    unsafe {
        on_descriptor(vmctx, this, ret, |mem, d| {
            let target = lift_path(mem, old_ptr, old_len)?;
            let new = lift_path(mem, new_ptr, new_len)?;
            Ok(target.and_then(|target| {
                let new = new?;
                path::symlink(target.as_bytes(), d.dir(r::PATH_SYMLINK)?, new.as_bytes())
            }))
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_is_same_object(
    vmctx: *mut VmCtx,
    this: i32,
    other: i32,
) -> i32 {
    let pair = with_table(vmctx, |t| {
        Ok::<_, Fault>((t.descriptor(this)?, t.descriptor(other)?))
    });
    let (a, b) = finish(IFACE, pair);
    match (fstat(a.host.raw()), fstat(b.host.raw())) {
        (Ok(x), Ok(y)) => (x.st_dev == y.st_dev && x.st_ino == y.st_ino) as i32,
        _ => 0,
    }
}

/// `metadata-hash-value` of a stat: a keyed hash (per process) of the device and inode, so
/// equal for the same object and telling nothing about the host's numbering.
#[allow(clippy::unnecessary_cast)] // the types of st_* fields differ between targets
fn hash(st: &libc::stat) -> (u64, u64) {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let key = KEY.get_or_init(Default::default);
    let one = |tag: u8| {
        let mut h = key.build_hasher();
        h.write_u8(tag);
        h.write_u64(st.st_dev as u64);
        h.write_u64(st.st_ino as u64);
        h.finish()
    };
    (one(0), one(1))
}

fn hash_ok(_: *mut VmCtx, a: &mut Area, at: usize, st: libc::stat) -> Result<(), Fault> {
    let (lower, upper) = hash(&st);
    a.u64(at, lower).u64(at + 8, upper);
    Ok(())
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_metadata_hash(
    vmctx: *mut VmCtx,
    this: i32,
    retptr: i32,
) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            (24, 8),
            |_| Ok(fstat(descriptor(vmctx, this)?.host.raw())),
            hash_ok,
        )
    };
    finish(IFACE, run)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_descriptor_metadata_hash_at(
    vmctx: *mut VmCtx,
    this: i32,
    path_flags: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            (24, 8),
            |mem| {
                let p = lift_path(mem, ptr, len)?;
                let d = descriptor(vmctx, this)?;
                Ok(p.and_then(|p| {
                    path::stat_at(
                        d.dir(r::PATH_FILESTAT_GET)?,
                        p.as_bytes(),
                        follows(path_flags),
                    )
                }))
            },
            hash_ok,
        )
    };
    finish(IFACE, run)
}

/// `read-directory-entry`: `result<option<directory-entry>, error-code>` (20 bytes, align 4);
/// a name that is not UTF-8 is `illegal-byte-sequence`.
#[no_mangle]
pub unsafe extern "C" fn wafer_p2_read_directory_entry(vmctx: *mut VmCtx, this: i32, retptr: i32) {
    let run = unsafe {
        call(
            vmctx,
            retptr,
            (20, 4),
            |_| {
                let next = with_table(vmctx, |t| t.dir_entries(this).map(|d| d.entries.next()))?;
                Ok(match next {
                    None => Ok(None),
                    Some(e) => String::from_utf8(e.name)
                        .map(|n| Some((type_of_filetype(e.filetype), n)))
                        .map_err(|_| errno::ILSEQ),
                })
            },
            |vmctx, a, at, entry| {
                if let Some((kind, name)) = entry {
                    let p = a.case(at, 1, 4);
                    let l = canon::lower_string(vmctx, &name)?;
                    a.u8(p, kind).list(p + 4, l);
                }
                Ok(())
            },
        )
    };
    finish(IFACE, run)
}

/// `filesystem-error-code`: `option<error-code>` (2 bytes): `some` for an error that came
/// from the host (a stream's read or write).
#[no_mangle]
pub unsafe extern "C" fn wafer_p2_filesystem_error_code(vmctx: *mut VmCtx, err: i32, retptr: i32) {
    let run = || -> Result<(), Fault> {
        let mem = unsafe { memory(vmctx) }?;
        let ret = ret_area(&mem, retptr, 2, 1)?;
        let e = with_table(vmctx, |t| t.error(err).map(|e| e.errno))?;
        let mut a = Area::new(2);
        if let Some(e) = e {
            let at = a.case(0, 1, 1);
            a.u8(at, code(e));
        }
        a.store(&mem, ret)
    };
    finish(IFACE, run())
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_drop_descriptor(vmctx: *mut VmCtx, handle: i32) {
    drop_resource(vmctx, handle, Kind::Descriptor)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_drop_directory_entry_stream(vmctx: *mut VmCtx, handle: i32) {
    drop_resource(vmctx, handle, Kind::DirectoryEntryStream)
}

// ---- preopens ---------------------------------------------------------------------------------

/// `get-directories`: `list<tuple<descriptor, string>>` (elements 12 bytes, align 4), one new
/// descriptor per preopen on every call.
unsafe fn get_directories(vmctx: *mut VmCtx, retptr: i32) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 8, 4)?;
    let preopens: Vec<(Descriptor, String)> = crate::wasi::ctx::with(|c| {
        c.preopens()
            .map(|e| {
                let flags = if e.rights_base & r::PATH_CREATE_FILE != 0 {
                    flags::READ | flags::MUTATE_DIRECTORY
                } else {
                    flags::READ
                };
                let d = Descriptor {
                    host: e.host.clone(),
                    filetype: e.filetype,
                    rights: Rights {
                        base: e.rights_base,
                        inheriting: e.rights_inheriting,
                    },
                    flags,
                };
                let name =
                    String::from_utf8_lossy(e.preopen.as_deref().unwrap_or_default()).into_owned();
                (d, name)
            })
            .collect()
    });
    let mut array = Vec::with_capacity(preopens.len() * 12);
    for (d, name) in preopens {
        let h = insert(vmctx, Resource::Descriptor(d))?;
        let (p, l) = unsafe { canon::lower_string(vmctx, &name) }?;
        for v in [h as u32, p, l] {
            array.extend_from_slice(&v.to_le_bytes());
        }
    }
    let l = unsafe { canon::lower_array(vmctx, 4, 12, &array) }?;
    Area::new(8)
        .list(0, l)
        .store(&unsafe { memory(vmctx) }?, ret)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_directories(vmctx: *mut VmCtx, ret: i32) {
    finish(IFACE, unsafe { get_directories(vmctx, ret) })
}

impl crate::glue::wasi_filesystem::types::Host for WasiP2 {}
impl crate::glue::wasi_filesystem::preopens::Host for WasiP2 {}
