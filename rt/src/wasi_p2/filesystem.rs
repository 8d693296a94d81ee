//! `wasi:filesystem`: `types` (descriptors, directory-entry streams, error codes) and
//! `preopens`, as the generated `Host` traits of [`crate::glue::wasi_filesystem`].
//!
//! A descriptor carries preview1's rights, and every path call goes through preview1's path
//! operations ([`crate::wasi::path`]) and sandbox: the same `--dir` / `--ro-dir` preopens,
//! the same resolution beneath the directory, the same read-only grants. What preview1
//! refuses with `ENOTCAPABLE` (a path leaving its directory, a write under a read-only grant)
//! is `not-permitted` here; reading or writing a descriptor not opened for it is
//! `bad-descriptor`; every other host error maps as wasmtime maps it.
//!
//! The glue has checked the return area and lifted every argument (paths are valid UTF-8 by
//! then) before a method runs; a method looks its handles up, copies what it needs out of the
//! table and releases the lock before any file-system call (see [`super`]'s threads rules).

use std::hash::{BuildHasher, Hasher};
use std::os::fd::RawFd;
use std::sync::{Arc, OnceLock};

use super::io::Stream;
use super::table::{Kind, Resource};
use super::{insert, remove_resource, with_table, WasiP2};
use crate::canon::typed::{Borrow, Cx, Own};
use crate::canon::{Buffer, Fault};
use crate::glue::wasi_clocks::wall_clock::Datetime;
use crate::glue::wasi_filesystem::preopens;
use crate::glue::wasi_filesystem::types::{
    self, Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode,
    Filesize, MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};
use crate::glue::wasi_io::streams::{InputStream, OutputStream};
use crate::wasi::ctx::Host;
use crate::wasi::dir::Listing;
use crate::wasi::errno::{self, Errno};
use crate::wasi::path::{self, Rights};
use crate::wasi::sandbox::MAX_PATH;
use crate::wasi::types::{fdflags, filetype, rights as r};

/// An open file or directory.
#[derive(Clone)]
pub struct Descriptor {
    host: Host,
    filetype: u8,
    rights: Rights,
    flags: DescriptorFlags,
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

/// What most calls answer: a trap, or `result<T, error-code>`.
type Answer<T> = Result<Result<T, ErrorCode>, Fault>;

/// `error-code` for a preview1 errno, as wasmtime maps host errors.
fn code(e: Errno) -> ErrorCode {
    use errno::*;
    use ErrorCode as C;
    match e {
        ACCES => C::Access,
        AGAIN => C::WouldBlock,
        ALREADY => C::Already,
        BADF => C::BadDescriptor,
        BUSY => C::Busy,
        DEADLK => C::Deadlock,
        DQUOT => C::Quota,
        EXIST => C::Exist,
        FBIG => C::FileTooLarge,
        ILSEQ => C::IllegalByteSequence,
        INPROGRESS => C::InProgress,
        INTR => C::Interrupted,
        INVAL => C::Invalid,
        ISDIR => C::IsDirectory,
        LOOP => C::Loop,
        MLINK => C::TooManyLinks,
        MSGSIZE => C::MessageSize,
        NAMETOOLONG => C::NameTooLong,
        NODEV => C::NoDevice,
        NOENT => C::NoEntry,
        NOLCK => C::NoLock,
        NOMEM => C::InsufficientMemory,
        NOSPC => C::InsufficientSpace,
        NOTDIR => C::NotDirectory,
        NOTEMPTY => C::NotEmpty,
        NOTRECOVERABLE => C::NotRecoverable,
        NOTSUP | NOSYS => C::Unsupported,
        NOTTY => C::NoTty,
        NXIO => C::NoSuchDevice,
        OVERFLOW => C::Overflow,
        PERM | NOTCAPABLE => C::NotPermitted,
        PIPE => C::Pipe,
        ROFS => C::ReadOnly,
        SPIPE => C::InvalidSeek,
        TXTBSY => C::TextFileBusy,
        XDEV => C::CrossDevice,
        _ => C::Io,
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
fn type_of_mode(mode: libc::mode_t) -> DescriptorType {
    match mode & libc::S_IFMT {
        libc::S_IFBLK => DescriptorType::BlockDevice,
        libc::S_IFCHR => DescriptorType::CharacterDevice,
        libc::S_IFDIR => DescriptorType::Directory,
        libc::S_IFIFO => DescriptorType::Fifo,
        libc::S_IFLNK => DescriptorType::SymbolicLink,
        libc::S_IFREG => DescriptorType::RegularFile,
        libc::S_IFSOCK => DescriptorType::Socket,
        _ => DescriptorType::Unknown,
    }
}

/// `descriptor-type` of a preview1 filetype (directory listings; a FIFO is `unknown` there).
fn type_of_filetype(t: u8) -> DescriptorType {
    match t {
        filetype::BLOCK_DEVICE => DescriptorType::BlockDevice,
        filetype::CHARACTER_DEVICE => DescriptorType::CharacterDevice,
        filetype::DIRECTORY => DescriptorType::Directory,
        filetype::SYMBOLIC_LINK => DescriptorType::SymbolicLink,
        filetype::REGULAR_FILE => DescriptorType::RegularFile,
        5 | filetype::SOCKET_STREAM => DescriptorType::Socket,
        _ => DescriptorType::Unknown,
    }
}

fn fstat(fd: RawFd) -> Result<libc::stat, Errno> {
    crate::wasi::fd::fstat(fd)
}

/// The descriptor `this` names, cloned out of the table.
fn descriptor(cx: &Cx, this: Borrow<types::Descriptor>) -> Result<Descriptor, Fault> {
    with_table(cx.vmctx, |t| t.descriptor(this.index()))
}

/// Runs `f` on the descriptor `this` names, once the table is unlocked.
fn on_descriptor<T>(
    cx: &Cx,
    this: Borrow<types::Descriptor>,
    f: impl FnOnce(Descriptor) -> Result<T, Errno>,
) -> Answer<T> {
    let d = descriptor(cx, this)?;
    Ok(f(d).map_err(code))
}

/// A path argument: at most `PATH_MAX` bytes (else `name-too-long`).
fn path_arg(p: &str) -> Result<&[u8], Errno> {
    if p.len() as u64 > MAX_PATH {
        Err(errno::NAMETOOLONG)
    } else {
        Ok(p.as_bytes())
    }
}

fn follows(path_flags: PathFlags) -> bool {
    path_flags.contains(PathFlags::SYMLINK_FOLLOW)
}

/// A `new-timestamp` as a `utimensat` time (`invalid` for nanoseconds past a second).
fn timespec(t: NewTimestamp) -> Result<libc::timespec, Errno> {
    let (sec, nsec) = match t {
        NewTimestamp::NoChange => (0, libc::UTIME_OMIT),
        NewTimestamp::Now => (0, libc::UTIME_NOW),
        NewTimestamp::Timestamp(d) if d.nanoseconds < 1_000_000_000 => {
            (d.seconds as libc::time_t, d.nanoseconds as libc::c_long)
        }
        NewTimestamp::Timestamp(_) => return Err(errno::INVAL),
    };
    Ok(libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    })
}

fn times(a: NewTimestamp, m: NewTimestamp) -> Result<[libc::timespec; 2], Errno> {
    Ok([timespec(a)?, timespec(m)?])
}

/// A new resource's handle, as `T` (the guest's type for it).
fn own<T>(cx: &Cx, r: Resource) -> Result<Own<T>, Fault> {
    insert(cx.vmctx, r).map(|h| Own::new(h as u32))
}

/// Inserts the resource a call made, if it made one.
fn own_answer<T>(cx: &Cx, made: Result<Resource, ErrorCode>) -> Answer<Own<T>> {
    Ok(match made {
        Ok(r) => Ok(own(cx, r)?),
        Err(e) => Err(e),
    })
}

// ---- streams ----------------------------------------------------------------------------------

/// A stream over the descriptor's file: at `offset`, or appending when `None`.
fn via_stream(
    cx: &Cx,
    this: Borrow<types::Descriptor>,
    offset: Option<u64>,
    write: bool,
) -> Answer<Resource> {
    let needed = if write { r::FD_WRITE } else { r::FD_READ };
    on_descriptor(cx, this, |d| {
        d.data(needed)?;
        let stream = Arc::new(Stream::file(
            d.host.clone(),
            offset.unwrap_or(0),
            offset.is_none(),
        ));
        Ok(if write {
            Resource::OutputStream(stream)
        } else {
            Resource::InputStream(stream)
        })
    })
}

// ---- data -------------------------------------------------------------------------------------

/// The most one `read` returns.
const READ_MAX: u64 = 1 << 20;

/// Up to `len` bytes at `offset`; the flag says the end of the file was reached (nothing was
/// left to read).
fn read_at(fd: RawFd, len: u64, offset: u64) -> Result<(Buffer, bool), Errno> {
    let mut buf = vec![0u8; len.min(READ_MAX) as usize];
    let n = errno::retry(|| unsafe {
        libc::pread(
            fd,
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            offset as libc::off_t,
        )
    })?;
    buf.truncate(n as usize);
    let end = buf.is_empty();
    Ok((Buffer::from(buf), end))
}

fn write_at(fd: RawFd, data: &[u8], offset: u64) -> Result<Filesize, Errno> {
    errno::retry(|| unsafe {
        libc::pwrite(
            fd,
            data.as_ptr() as *const libc::c_void,
            data.len(),
            offset as libc::off_t,
        )
    })
    .map(|n| n as u64)
}

fn fadvise(fd: RawFd, offset: u64, len: u64, advice: Advice) -> Result<(), Errno> {
    let advice = match advice {
        Advice::Normal => libc::POSIX_FADV_NORMAL,
        Advice::Sequential => libc::POSIX_FADV_SEQUENTIAL,
        Advice::Random => libc::POSIX_FADV_RANDOM,
        Advice::WillNeed => libc::POSIX_FADV_WILLNEED,
        Advice::DontNeed => libc::POSIX_FADV_DONTNEED,
        Advice::NoReuse => libc::POSIX_FADV_NOREUSE,
    };
    match unsafe { libc::posix_fadvise(fd, offset as libc::off_t, len as libc::off_t, advice) } {
        0 => Ok(()),
        e => Err(errno::from_host(e)),
    }
}

// ---- metadata ---------------------------------------------------------------------------------

/// A `descriptor-stat` of a host stat.
#[allow(clippy::unnecessary_cast)] // the types of st_* fields differ between targets
fn stat(st: libc::stat) -> DescriptorStat {
    let at = |sec, nsec| {
        Some(Datetime {
            seconds: sec as u64,
            nanoseconds: nsec as u32,
        })
    };
    DescriptorStat {
        type_: type_of_mode(st.st_mode),
        link_count: st.st_nlink as u64,
        size: st.st_size as u64,
        data_access_timestamp: at(st.st_atime, st.st_atime_nsec),
        data_modification_timestamp: at(st.st_mtime, st.st_mtime_nsec),
        status_change_timestamp: at(st.st_ctime, st.st_ctime_nsec),
    }
}

/// `metadata-hash-value` of a stat: a keyed hash (per process) of the device and inode, so
/// equal for the same object and telling nothing about the host's numbering.
#[allow(clippy::unnecessary_cast)] // the types of st_* fields differ between targets
fn hash(st: libc::stat) -> MetadataHashValue {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let key = KEY.get_or_init(Default::default);
    let one = |tag: u8| {
        let mut h = key.build_hasher();
        h.write_u8(tag);
        h.write_u64(st.st_dev as u64);
        h.write_u64(st.st_ino as u64);
        h.finish()
    };
    MetadataHashValue {
        lower: one(0),
        upper: one(1),
    }
}

// ---- opening ----------------------------------------------------------------------------------

/// The preview1 request of an `open-at`: rights for what `descriptor-flags` ask (reading,
/// writing), as preview1's `path_open` would be asked. A directory gets what its parent
/// hands down, as under wasmtime: `mutate-directory` is not needed to change it, but asking
/// for it where the parent hands no such right down is refused (`not-permitted`), as asking
/// for `write` is.
fn open_request(
    d: &Descriptor,
    path_flags: PathFlags,
    open_flags: OpenFlags,
    want: DescriptorFlags,
) -> Result<path::OpenRequest, Errno> {
    let mut base = r::DIR & !r::FD_READDIR;
    if want.contains(DescriptorFlags::READ) {
        base |= r::FILE_READ | r::FD_READDIR;
    }
    if want.contains(DescriptorFlags::WRITE) {
        base |= r::FILE & !r::FD_READ;
    }
    if want.contains(DescriptorFlags::MUTATE_DIRECTORY)
        && d.rights.inheriting & r::PATH_CREATE_FILE == 0
    {
        return Err(errno::NOTCAPABLE);
    }
    let mut p1_fdflags = 0;
    for (flag, p1) in [
        (DescriptorFlags::FILE_INTEGRITY_SYNC, fdflags::SYNC),
        (DescriptorFlags::DATA_INTEGRITY_SYNC, fdflags::DSYNC),
        (DescriptorFlags::REQUESTED_WRITE_SYNC, fdflags::RSYNC),
    ] {
        if want.contains(flag) {
            p1_fdflags |= p1;
        }
    }
    // The flag bits have preview1's values (symlink-follow; create, directory, exclusive,
    // truncate); the glue has dropped the bits the WIT does not define.
    path::open_request(
        d.rights,
        path_flags.0 as i32,
        open_flags.0 as i32,
        base,
        r::DIR | r::FILE,
        p1_fdflags as i32,
    )
}

/// `open-at` beneath the directory `d`: the new descriptor, whose `get-flags` are what was
/// asked for and, for a directory, `mutate-directory` when it may be changed.
fn open_at(
    d: &Descriptor,
    path_flags: PathFlags,
    path: &str,
    open_flags: OpenFlags,
    want: DescriptorFlags,
) -> Result<Descriptor, Errno> {
    let p = path_arg(path)?;
    let dir = d.dir(r::PATH_OPEN)?;
    let req = open_request(d, path_flags, open_flags, want)?;
    let entry = path::open_beneath(dir, p, &req)?;
    let mut granted = want.remove(DescriptorFlags::MUTATE_DIRECTORY);
    if entry.filetype == filetype::DIRECTORY && entry.rights_base & r::PATH_CREATE_FILE != 0 {
        granted = granted | DescriptorFlags::MUTATE_DIRECTORY;
    }
    Ok(Descriptor {
        host: entry.host.clone(),
        filetype: entry.filetype,
        rights: Rights {
            base: entry.rights_base,
            inheriting: entry.rights_inheriting,
        },
        flags: granted,
    })
}

/// A call taking one path beneath the descriptor (which must hold `needed`).
fn at_path(
    cx: &Cx,
    this: Borrow<types::Descriptor>,
    path: &str,
    needed: u64,
    op: fn(RawFd, &[u8]) -> Result<(), Errno>,
) -> Answer<()> {
    on_descriptor(cx, this, |d| {
        let p = path_arg(path)?;
        op(d.dir(needed)?, p)
    })
}

/// A call taking a path beneath each of two descriptors.
fn two_paths(
    cx: &Cx,
    (this, old): (Borrow<types::Descriptor>, &str),
    (other, new): (Borrow<types::Descriptor>, &str),
    op: impl FnOnce(&Descriptor, &[u8], &Descriptor, &[u8]) -> Result<(), Errno>,
) -> Answer<()> {
    let d = descriptor(cx, this)?;
    let nd = descriptor(cx, other)?;
    let run = || op(&d, path_arg(old)?, &nd, path_arg(new)?);
    Ok(run().map_err(code))
}

// ---- the interfaces ---------------------------------------------------------------------------

impl types::Host for WasiP2 {
    fn descriptor_read_via_stream(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        offset: Filesize,
    ) -> Answer<Own<InputStream>> {
        let made = via_stream(cx, this, Some(offset), false)?;
        own_answer(cx, made)
    }

    fn descriptor_write_via_stream(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        offset: Filesize,
    ) -> Answer<Own<OutputStream>> {
        let made = via_stream(cx, this, Some(offset), true)?;
        own_answer(cx, made)
    }

    fn descriptor_append_via_stream(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
    ) -> Answer<Own<OutputStream>> {
        let made = via_stream(cx, this, None, true)?;
        own_answer(cx, made)
    }

    fn descriptor_advise(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        offset: Filesize,
        length: Filesize,
        advice: Advice,
    ) -> Answer<()> {
        on_descriptor(cx, this, |d| {
            fadvise(d.may(r::FD_ADVISE)?, offset, length, advice)
        })
    }

    fn descriptor_sync_data(cx: &mut Cx, this: Borrow<types::Descriptor>) -> Answer<()> {
        on_descriptor(cx, this, |d| {
            errno::retry(|| unsafe { libc::fdatasync(d.host.raw()) }).map(drop)
        })
    }

    fn descriptor_sync(cx: &mut Cx, this: Borrow<types::Descriptor>) -> Answer<()> {
        on_descriptor(cx, this, |d| {
            errno::retry(|| unsafe { libc::fsync(d.host.raw()) }).map(drop)
        })
    }

    fn descriptor_get_flags(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
    ) -> Answer<DescriptorFlags> {
        on_descriptor(cx, this, |d| Ok(d.flags))
    }

    fn descriptor_get_type(cx: &mut Cx, this: Borrow<types::Descriptor>) -> Answer<DescriptorType> {
        on_descriptor(cx, this, |d| {
            fstat(d.host.raw()).map(|st| type_of_mode(st.st_mode))
        })
    }

    fn descriptor_set_size(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        size: Filesize,
    ) -> Answer<()> {
        on_descriptor(cx, this, |d| {
            let fd = d.may(r::FD_FILESTAT_SET_SIZE)?;
            errno::retry(|| unsafe { libc::ftruncate(fd, size as libc::off_t) }).map(drop)
        })
    }

    fn descriptor_set_times(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        data_access_timestamp: NewTimestamp,
        data_modification_timestamp: NewTimestamp,
    ) -> Answer<()> {
        on_descriptor(cx, this, |d| {
            let t = times(data_access_timestamp, data_modification_timestamp)?;
            let fd = d.may(r::FD_FILESTAT_SET_TIMES)?;
            errno::check(unsafe { libc::futimens(fd, t.as_ptr()) }).map(drop)
        })
    }

    fn descriptor_read(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        length: Filesize,
        offset: Filesize,
    ) -> Answer<(Buffer, bool)> {
        on_descriptor(cx, this, |d| read_at(d.data(r::FD_READ)?, length, offset))
    }

    fn descriptor_write(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        buffer: Buffer,
        offset: Filesize,
    ) -> Answer<Filesize> {
        on_descriptor(cx, this, |d| {
            write_at(d.data(r::FD_WRITE)?, &buffer, offset)
        })
    }

    fn descriptor_read_directory(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
    ) -> Answer<Own<types::DirectoryEntryStream>> {
        let made = on_descriptor(cx, this, |d| {
            let mut list = crate::wasi::dir::list(d.dir(r::FD_READDIR)?)?;
            list.retain(|e| e.name != b"." && e.name != b"..");
            Ok(Resource::DirectoryEntryStream(DirEntries {
                entries: list.into_iter(),
            }))
        })?;
        own_answer(cx, made)
    }

    fn descriptor_create_directory_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        path: String,
    ) -> Answer<()> {
        at_path(
            cx,
            this,
            &path,
            r::PATH_CREATE_DIRECTORY,
            path::create_directory,
        )
    }

    fn descriptor_stat(cx: &mut Cx, this: Borrow<types::Descriptor>) -> Answer<DescriptorStat> {
        on_descriptor(cx, this, |d| fstat(d.host.raw()).map(stat))
    }

    fn descriptor_stat_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> Answer<DescriptorStat> {
        on_descriptor(cx, this, |d| {
            let p = path_arg(&path)?;
            path::stat_at(d.dir(r::PATH_FILESTAT_GET)?, p, follows(path_flags)).map(stat)
        })
    }

    fn descriptor_set_times_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        path_flags: PathFlags,
        path: String,
        data_access_timestamp: NewTimestamp,
        data_modification_timestamp: NewTimestamp,
    ) -> Answer<()> {
        on_descriptor(cx, this, |d| {
            let p = path_arg(&path)?;
            let t = times(data_access_timestamp, data_modification_timestamp)?;
            let dir = d.dir(r::PATH_FILESTAT_SET_TIMES)?;
            path::set_times_at(dir, p, follows(path_flags), &t)
        })
    }

    fn descriptor_link_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        old_path_flags: PathFlags,
        old_path: String,
        new_descriptor: Borrow<types::Descriptor>,
        new_path: String,
    ) -> Answer<()> {
        two_paths(
            cx,
            (this, &old_path),
            (new_descriptor, &new_path),
            |d, old, nd, new| {
                path::link(
                    d.dir(r::PATH_LINK_SOURCE)?,
                    follows(old_path_flags),
                    old,
                    nd.dir(r::PATH_LINK_TARGET)?,
                    new,
                )
            },
        )
    }

    fn descriptor_open_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        path_flags: PathFlags,
        path: String,
        open_flags: OpenFlags,
        flags: DescriptorFlags,
    ) -> Answer<Own<types::Descriptor>> {
        let made = on_descriptor(cx, this, |d| {
            open_at(&d, path_flags, &path, open_flags, flags).map(Resource::Descriptor)
        })?;
        own_answer(cx, made)
    }

    /// A target that is not UTF-8 is `illegal-byte-sequence`.
    fn descriptor_readlink_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        path: String,
    ) -> Answer<String> {
        on_descriptor(cx, this, |d| {
            let p = path_arg(&path)?;
            let target = path::readlink(d.dir(r::PATH_READLINK)?, p)?;
            String::from_utf8(target).map_err(|_| errno::ILSEQ)
        })
    }

    fn descriptor_remove_directory_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        path: String,
    ) -> Answer<()> {
        at_path(
            cx,
            this,
            &path,
            r::PATH_REMOVE_DIRECTORY,
            path::remove_directory,
        )
    }

    fn descriptor_rename_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        old_path: String,
        new_descriptor: Borrow<types::Descriptor>,
        new_path: String,
    ) -> Answer<()> {
        two_paths(
            cx,
            (this, &old_path),
            (new_descriptor, &new_path),
            |d, old, nd, new| {
                path::rename(
                    d.dir(r::PATH_RENAME_SOURCE)?,
                    old,
                    nd.dir(r::PATH_RENAME_TARGET)?,
                    new,
                )
            },
        )
    }

    fn descriptor_symlink_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        old_path: String,
        new_path: String,
    ) -> Answer<()> {
        on_descriptor(cx, this, |d| {
            let target = path_arg(&old_path)?;
            let new = path_arg(&new_path)?;
            path::symlink(target, d.dir(r::PATH_SYMLINK)?, new)
        })
    }

    fn descriptor_unlink_file_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        path: String,
    ) -> Answer<()> {
        at_path(cx, this, &path, r::PATH_UNLINK_FILE, path::unlink_file)
    }

    /// Whether both name the same host object; `false` when either cannot be looked at.
    fn descriptor_is_same_object(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        other: Borrow<types::Descriptor>,
    ) -> Result<bool, Fault> {
        let (a, b) = with_table(cx.vmctx, |t| {
            Ok::<_, Fault>((t.descriptor(this.index())?, t.descriptor(other.index())?))
        })?;
        Ok(match (fstat(a.host.raw()), fstat(b.host.raw())) {
            (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
            _ => false,
        })
    }

    fn descriptor_metadata_hash(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
    ) -> Answer<MetadataHashValue> {
        on_descriptor(cx, this, |d| fstat(d.host.raw()).map(hash))
    }

    fn descriptor_metadata_hash_at(
        cx: &mut Cx,
        this: Borrow<types::Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> Answer<MetadataHashValue> {
        on_descriptor(cx, this, |d| {
            let p = path_arg(&path)?;
            path::stat_at(d.dir(r::PATH_FILESTAT_GET)?, p, follows(path_flags)).map(hash)
        })
    }

    /// The next entry; a name that is not UTF-8 is `illegal-byte-sequence`.
    fn directory_entry_stream_read_directory_entry(
        cx: &mut Cx,
        this: Borrow<types::DirectoryEntryStream>,
    ) -> Answer<Option<DirectoryEntry>> {
        let next = with_table(cx.vmctx, |t| {
            t.dir_entries(this.index()).map(|d| d.entries.next())
        })?;
        Ok(match next {
            None => Ok(None),
            Some(e) => String::from_utf8(e.name)
                .map(|name| {
                    Some(DirectoryEntry {
                        type_: type_of_filetype(e.filetype),
                        name,
                    })
                })
                .map_err(|_| ErrorCode::IllegalByteSequence),
        })
    }

    /// `some` for an error that came from the host (a stream's read or write).
    fn filesystem_error_code(
        cx: &mut Cx,
        err: Borrow<crate::glue::wasi_io::error::Error>,
    ) -> Result<Option<ErrorCode>, Fault> {
        let e = with_table(cx.vmctx, |t| t.error(err.index()).map(|e| e.errno))?;
        Ok(e.map(code))
    }

    fn drop_descriptor(cx: &mut Cx, handle: Own<types::Descriptor>) -> Result<(), Fault> {
        remove_resource(cx.vmctx, handle.index(), Kind::Descriptor)
    }

    fn drop_directory_entry_stream(
        cx: &mut Cx,
        handle: Own<types::DirectoryEntryStream>,
    ) -> Result<(), Fault> {
        remove_resource(cx.vmctx, handle.index(), Kind::DirectoryEntryStream)
    }
}

/// The descriptor of a preopen and the name the guest sees it by.
fn preopen(e: &crate::wasi::ctx::FdEntry) -> (Descriptor, String) {
    let flags = if e.rights_base & r::PATH_CREATE_FILE != 0 {
        DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY
    } else {
        DescriptorFlags::READ
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
    let name = String::from_utf8_lossy(e.preopen.as_deref().unwrap_or_default()).into_owned();
    (d, name)
}

impl preopens::Host for WasiP2 {
    /// One new descriptor per preopen on every call.
    fn get_directories(cx: &mut Cx) -> Result<Vec<(Own<types::Descriptor>, String)>, Fault> {
        let preopens: Vec<_> = crate::wasi::ctx::with(|c| c.preopens().map(preopen).collect());
        preopens
            .into_iter()
            .map(|(d, name)| Ok((own(cx, Resource::Descriptor(d))?, name)))
            .collect()
    }
}
