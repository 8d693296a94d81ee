//! The `path_*` calls, as the native host's `path.rs` makes them: every path is relative to a
//! directory descriptor and resolved through [`resolve`], so none can leave that directory.
//! Each export's function takes the export's own parameters and returns its errno.

use crate::app;
use crate::errno::{self, Errno};
use crate::resolve::{self, Fd, Last};
use crate::sys::{self, Stat, Timespec};
use crate::table::{self, Entry};
use crate::types::{self, fdflags, filetype, lookupflags, oflags, rights as r, size};

fn status(result: Result<(), Errno>) -> i32 {
    match result {
        Ok(()) => errno::SUCCESS,
        Err(e) => e,
    }
}

fn follows(flags: i32) -> bool {
    flags as u32 & lookupflags::SYMLINK_FOLLOW != 0
}

// The operations, each on the kernel directory the path is relative to (rights checked).

fn create_directory(dir: i32, path: &[u8]) -> Result<(), Errno> {
    let p = resolve::parent(dir, path)?;
    resolve::require_name(&p, dir, path, errno::EXIST)?;
    sys::mkdirat(p.fd(), &p.name, 0o777)
}

fn remove_directory(dir: i32, path: &[u8]) -> Result<(), Errno> {
    let p = resolve::parent(dir, path)?;
    match p.last {
        Last::Dot => return Err(resolve::dot_error(dir, path, errno::INVAL)),
        Last::DotDot => return Err(resolve::dot_error(dir, path, errno::NOTEMPTY)),
        Last::Normal => {}
    }
    sys::unlinkat(p.fd(), &p.name, sys::AT_REMOVEDIR)
}

fn unlink_file(dir: i32, path: &[u8]) -> Result<(), Errno> {
    let p = resolve::parent(dir, path)?;
    resolve::require_name(&p, dir, path, errno::ISDIR)?;
    sys::unlinkat(p.fd(), &p.name, 0)
}

fn rename(old_dir: i32, old_path: &[u8], new_dir: i32, new_path: &[u8]) -> Result<(), Errno> {
    let from = resolve::parent(old_dir, old_path)?;
    let to = resolve::parent(new_dir, new_path)?;
    resolve::require_name(&from, old_dir, old_path, errno::BUSY)?;
    resolve::require_name(&to, new_dir, new_path, errno::BUSY)?;
    sys::renameat2(from.fd(), &from.name, to.fd(), &to.name, 0)
}

/// The target is only text stored in the link: following it later is what is checked.
fn symlink(target: &[u8], dir: i32, new_path: &[u8]) -> Result<(), Errno> {
    if target.contains(&0) {
        return Err(errno::INVAL);
    }
    let p = resolve::parent(dir, new_path)?;
    resolve::require_name(&p, dir, new_path, errno::EXIST)?;
    sys::symlinkat(target, p.fd(), &p.name)
}

fn link(
    old_dir: i32,
    follow: bool,
    old_path: &[u8],
    new_dir: i32,
    new_path: &[u8],
) -> Result<(), Errno> {
    let from = resolve::parent(old_dir, old_path)?;
    let to = resolve::parent(new_dir, new_path)?;
    resolve::require_name(&to, new_dir, new_path, errno::EXIST)?;
    // Hard links to directories are never allowed.
    resolve::require_name(&from, old_dir, old_path, errno::PERM)?;
    if follow {
        // The kernel would follow a final symlink anywhere: resolve it here, link what it names.
        let target = resolve::open_path(old_dir, old_path, true)?;
        return sys::linkat(target.raw(), b"", to.fd(), &to.name, sys::AT_EMPTY_PATH);
    }
    sys::linkat(from.fd(), &from.name, to.fd(), &to.name, 0)
}

/// The target of the symlink `path` names beneath `dir`.
fn readlink(dir: i32, path: &[u8]) -> Result<alloc::vec::Vec<u8>, Errno> {
    let link = resolve::open_path(dir, path, false)?;
    // readlinkat(fd, "") on anything but a symlink says ENOENT; readlink(2) says EINVAL.
    if sys::fstat(link.raw())?.kind() != sys::S_IFLNK {
        return Err(errno::INVAL);
    }
    let mut target = alloc::vec![0u8; app::MAX_PATH as usize + 1];
    let n = sys::readlinkat(link.raw(), b"", &mut target)?;
    target.truncate(n);
    Ok(target)
}

fn stat_at(dir: i32, path: &[u8], follow: bool) -> Result<Stat, Errno> {
    let target = resolve::open_path(dir, path, follow)?;
    sys::fstat(target.raw())
}

fn set_times_at(dir: i32, path: &[u8], follow: bool, times: &[Timespec; 2]) -> Result<(), Errno> {
    let target = resolve::open_path(dir, path, follow)?;
    sys::utimensat(
        target.raw(),
        Some(b""),
        times,
        sys::AT_EMPTY_PATH | sys::AT_SYMLINK_NOFOLLOW,
    )
}

/// A path call's directory: its kernel descriptor if `fd` is a directory holding `needed`.
fn dir_of(fd: i32, needed: u64) -> Result<i32, Errno> {
    table::with(|t| t.get(fd)?.dir(needed))
}

// The exports.

/// `path_create_directory(fd, path, path_len)`.
pub fn path_create_directory(fd: i32, path: i32, path_len: i32) -> i32 {
    status((|| {
        let dir = dir_of(fd, r::PATH_CREATE_DIRECTORY)?;
        create_directory(dir, &app::read_path(path, path_len)?)
    })())
}

/// `path_remove_directory(fd, path, path_len)`.
pub fn path_remove_directory(fd: i32, path: i32, path_len: i32) -> i32 {
    status((|| {
        let dir = dir_of(fd, r::PATH_REMOVE_DIRECTORY)?;
        remove_directory(dir, &app::read_path(path, path_len)?)
    })())
}

/// `path_unlink_file(fd, path, path_len)`.
pub fn path_unlink_file(fd: i32, path: i32, path_len: i32) -> i32 {
    status((|| {
        let dir = dir_of(fd, r::PATH_UNLINK_FILE)?;
        unlink_file(dir, &app::read_path(path, path_len)?)
    })())
}

/// `path_rename(fd, old_path, old_len, new_fd, new_path, new_len)`.
pub fn path_rename(
    fd: i32,
    old_path: i32,
    old_len: i32,
    new_fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    status((|| {
        let old_dir = dir_of(fd, r::PATH_RENAME_SOURCE)?;
        let new_dir = dir_of(new_fd, r::PATH_RENAME_TARGET)?;
        let old_path = app::read_path(old_path, old_len)?;
        let new_path = app::read_path(new_path, new_len)?;
        rename(old_dir, &old_path, new_dir, &new_path)
    })())
}

/// `path_symlink(old_path, old_len, fd, new_path, new_len)`.
pub fn path_symlink(old_path: i32, old_len: i32, fd: i32, new_path: i32, new_len: i32) -> i32 {
    status((|| {
        let dir = dir_of(fd, r::PATH_SYMLINK)?;
        let target = app::read_path(old_path, old_len)?;
        symlink(&target, dir, &app::read_path(new_path, new_len)?)
    })())
}

/// `path_link(old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len)`.
pub fn path_link(
    old_fd: i32,
    old_flags: i32,
    old_path: i32,
    old_len: i32,
    new_fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    status((|| {
        let old_dir = dir_of(old_fd, r::PATH_LINK_SOURCE)?;
        let new_dir = dir_of(new_fd, r::PATH_LINK_TARGET)?;
        let old_path = app::read_path(old_path, old_len)?;
        let new_path = app::read_path(new_path, new_len)?;
        link(old_dir, follows(old_flags), &old_path, new_dir, &new_path)
    })())
}

/// `path_readlink(fd, path, path_len, buf, buf_len, bufused)`.
pub fn path_readlink(
    fd: i32,
    path: i32,
    path_len: i32,
    buf: i32,
    buf_len: i32,
    bufused: i32,
) -> i32 {
    status((|| {
        let dir = dir_of(fd, r::PATH_READLINK)?;
        let path = app::read_path(path, path_len)?;
        app::range(buf as u32, buf_len as u32 as u64)?;
        app::range(bufused as u32, 4)?;
        let target = readlink(dir, &path)?;
        // A buffer too small gets the start of the target, as readlink(2) does.
        let used = app::write_truncated(buf as u32, buf_len as u32, &target)?;
        app::write_u32(bufused as u32, used)
    })())
}

/// `path_filestat_get(fd, flags, path, path_len, buf)`.
pub fn path_filestat_get(fd: i32, flags: i32, path: i32, path_len: i32, buf: i32) -> i32 {
    status((|| {
        let dir = dir_of(fd, r::PATH_FILESTAT_GET)?;
        let path = app::read_path(path, path_len)?;
        app::range(buf as u32, size::FILESTAT)?;
        let st = stat_at(dir, &path, follows(flags))?;
        app::write(buf as u32, &types::filestat(&st))
    })())
}

/// `path_filestat_set_times(fd, flags, path, path_len, atim, mtim, fst_flags)`.
pub fn path_filestat_set_times(
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    atim: i64,
    mtim: i64,
    fst_flags: i32,
) -> i32 {
    status((|| {
        let dir = dir_of(fd, r::PATH_FILESTAT_SET_TIMES)?;
        let path = app::read_path(path, path_len)?;
        let fst = u16::try_from(fst_flags).map_err(|_| errno::INVAL)?;
        let times = types::utimens(atim as u64, mtim as u64, fst)?;
        set_times_at(dir, &path, follows(flags), &times)
    })())
}

/// The `open` flags and the rights of a descriptor `path_open` is asked for.
struct OpenRequest {
    flags: i32,
    base: u64,
    inheriting: u64,
    sync_flags: u16,
}

/// What opening beneath a directory holding `dir_base`/`dir_inheriting` asks of the kernel,
/// or why it may not.
fn open_request(
    dir_base: u64,
    dir_inheriting: u64,
    dirflags: i32,
    oflags_: i32,
    base: u64,
    inheriting: u64,
    fdflags_: i32,
) -> Result<OpenRequest, Errno> {
    let of = u16::try_from(oflags_).map_err(|_| errno::INVAL)?;
    let ff = u16::try_from(fdflags_).map_err(|_| errno::INVAL)?;
    if of & !oflags::ALL != 0 || ff & !fdflags::ALL != 0 {
        return Err(errno::INVAL);
    }
    let mut needed = r::PATH_OPEN;
    if of & oflags::CREAT != 0 {
        needed |= r::PATH_CREATE_FILE;
    }
    if of & oflags::TRUNC != 0 {
        needed |= r::PATH_FILESTAT_SET_SIZE;
    }
    if dir_base & needed != needed {
        return Err(errno::NOTCAPABLE);
    }
    // Writing where the directory hands down no write right is refused outright; any other
    // right asked for but not handed down is simply not granted.
    if base & r::FD_WRITE != 0 && dir_inheriting & r::FD_WRITE == 0 {
        return Err(errno::NOTCAPABLE);
    }
    let base = base & dir_inheriting;
    let inheriting = inheriting & dir_inheriting;
    let read = base & (r::FD_READ | r::FD_READDIR) != 0;
    let write = base & r::FD_WRITE != 0;
    // Writing a directory is EISDIR, from the kernel.
    let mut flags = match (read, write) {
        (true, true) => sys::O_RDWR,
        (false, true) => sys::O_WRONLY,
        _ => sys::O_RDONLY,
    };
    flags |= sys::O_NOCTTY;
    if dirflags as u32 & lookupflags::SYMLINK_FOLLOW == 0 {
        flags |= sys::O_NOFOLLOW;
    }
    for (bit, kernel) in [
        (oflags::CREAT, sys::O_CREAT),
        (oflags::DIRECTORY, sys::O_DIRECTORY),
        (oflags::EXCL, sys::O_EXCL),
        (oflags::TRUNC, sys::O_TRUNC),
    ] {
        if of & bit != 0 {
            flags |= kernel;
        }
    }
    for (bit, kernel) in [
        (fdflags::APPEND, sys::O_APPEND),
        (fdflags::DSYNC, sys::O_DSYNC),
        (fdflags::NONBLOCK, sys::O_NONBLOCK),
        (fdflags::RSYNC, sys::O_RSYNC),
        (fdflags::SYNC, sys::O_SYNC),
    ] {
        if ff & bit != 0 {
            flags |= kernel;
        }
    }
    Ok(OpenRequest {
        flags,
        base,
        inheriting,
        sync_flags: ff & fdflags::SYNCS,
    })
}

/// Opens `path` beneath `dir` as `req` asks: the new table entry, with the rights it was
/// granted narrowed to what its file type can use.
fn open_entry(dir: i32, path: &[u8], req: &OpenRequest) -> Result<Entry, Errno> {
    let file: Fd = resolve::open_beneath(dir, path, req.flags, 0o666)?;
    let st = sys::fstat(file.raw())?;
    let kind = filetype::from_mode(st.mode);
    let (base, inheriting) = if kind == filetype::DIRECTORY {
        (req.base & r::DIR, req.inheriting)
    } else {
        (req.base & r::FILE, 0)
    };
    let mut entry = Entry::new(file.into_raw(), kind, base, inheriting);
    entry.sync_flags = req.sync_flags;
    Ok(entry)
}

/// `path_open(fd, dirflags, path, path_len, oflags, fs_rights_base, fs_rights_inheriting,
/// fdflags, opened)`.
#[allow(clippy::too_many_arguments)] // path_open's parameters, in their order
pub fn path_open(
    fd: i32,
    dirflags: i32,
    path: i32,
    path_len: i32,
    oflags: i32,
    fs_rights_base: i64,
    fs_rights_inheriting: i64,
    fdflags: i32,
    opened: i32,
) -> i32 {
    status((|| {
        let path = app::read_path(path, path_len)?;
        app::range(opened as u32, 4)?;
        let (dir, req) = table::with(|t| {
            let e = t.get(fd)?;
            if e.filetype != filetype::DIRECTORY {
                return Err(errno::NOTDIR);
            }
            let dir = e.with_rights(r::PATH_OPEN)?;
            let req = open_request(
                e.rights_base,
                e.rights_inheriting,
                dirflags,
                oflags,
                fs_rights_base as u64,
                fs_rights_inheriting as u64,
                fdflags,
            )?;
            Ok((dir, req))
        })?;
        // The table is not held while opening (a FIFO waits for its other end); this module
        // is single-threaded, so `dir` stays open meanwhile.
        let entry = open_entry(dir, &path, &req)?;
        let new = table::with(|t| t.insert(entry))?;
        app::write_u32(opened as u32, new)
    })())
}
