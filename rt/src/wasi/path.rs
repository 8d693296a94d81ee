//! The `path_*` calls: every path is relative to a directory descriptor and resolved through
//! [`sandbox`](super::sandbox), so none can leave that directory.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};

use wafer_abi::VmCtx;

use super::ctx::{self, FdEntry};
use super::errno::{self, Errno};
use super::sandbox::{self, Last, MAX_PATH};
use super::types::{self, fdflags, filetype, lookupflags, oflags, rights as r, size};
use super::{call, call_unlocked};
use crate::guest_mem::GuestMemory;

/// A guest path: in range (else `EFAULT`), at most [`MAX_PATH`] bytes (else `ENAMETOOLONG`),
/// no NUL (else `EINVAL`).
fn read_path(mem: &GuestMemory, ptr: i32, len: i32) -> Result<Vec<u8>, Errno> {
    let path = mem.read_bytes(ptr as u32, len as u32, MAX_PATH, errno::NAMETOOLONG)?;
    if path.contains(&0) {
        return Err(errno::INVAL);
    }
    Ok(path)
}

fn follows(flags: i32) -> bool {
    flags as u32 & lookupflags::SYMLINK_FOLLOW != 0
}

/// The rights of a directory a path call starts from.
#[derive(Clone, Copy)]
pub(crate) struct Rights {
    pub base: u64,
    pub inheriting: u64,
}

// The path operations themselves, shared with WASI 0.2 (`crate::wasi_p2::filesystem`): each
// takes the host directory the path is relative to, whose rights the caller checked.

pub(crate) fn create_directory(dir: RawFd, path: &[u8]) -> Result<(), Errno> {
    let p = sandbox::parent(dir, path)?;
    sandbox::require_name(&p, dir, path, errno::EXIST)?;
    errno::check(unsafe { libc::mkdirat(p.fd(), p.name.as_ptr(), 0o777) }).map(drop)
}

pub(crate) fn remove_directory(dir: RawFd, path: &[u8]) -> Result<(), Errno> {
    let p = sandbox::parent(dir, path)?;
    match p.last {
        Last::Dot => return Err(sandbox::dot_error(dir, path, errno::INVAL)),
        Last::DotDot => return Err(sandbox::dot_error(dir, path, errno::NOTEMPTY)),
        Last::Normal => {}
    }
    errno::check(unsafe { libc::unlinkat(p.fd(), p.name.as_ptr(), libc::AT_REMOVEDIR) }).map(drop)
}

pub(crate) fn unlink_file(dir: RawFd, path: &[u8]) -> Result<(), Errno> {
    let p = sandbox::parent(dir, path)?;
    sandbox::require_name(&p, dir, path, errno::ISDIR)?;
    errno::check(unsafe { libc::unlinkat(p.fd(), p.name.as_ptr(), 0) }).map(drop)
}

pub(crate) fn rename(
    old_dir: RawFd,
    old_path: &[u8],
    new_dir: RawFd,
    new_path: &[u8],
) -> Result<(), Errno> {
    let from = sandbox::parent(old_dir, old_path)?;
    let to = sandbox::parent(new_dir, new_path)?;
    sandbox::require_name(&from, old_dir, old_path, errno::BUSY)?;
    sandbox::require_name(&to, new_dir, new_path, errno::BUSY)?;
    errno::check(unsafe {
        libc::renameat(from.fd(), from.name.as_ptr(), to.fd(), to.name.as_ptr())
    })
    .map(drop)
}

/// Creates `new_path` beneath `dir` as a symlink to `target`. The target is only text stored
/// in the link: following the link later is what the sandbox checks.
pub(crate) fn symlink(target: &[u8], dir: RawFd, new_path: &[u8]) -> Result<(), Errno> {
    let target = CString::new(target).map_err(|_| errno::INVAL)?;
    let p = sandbox::parent(dir, new_path)?;
    sandbox::require_name(&p, dir, new_path, errno::EXIST)?;
    errno::check(unsafe { libc::symlinkat(target.as_ptr(), p.fd(), p.name.as_ptr()) }).map(drop)
}

pub(crate) fn link(
    old_dir: RawFd,
    follow: bool,
    old_path: &[u8],
    new_dir: RawFd,
    new_path: &[u8],
) -> Result<(), Errno> {
    let from = sandbox::parent(old_dir, old_path)?;
    let to = sandbox::parent(new_dir, new_path)?;
    sandbox::require_name(&to, new_dir, new_path, errno::EXIST)?;
    // Hard links to directories are never allowed.
    sandbox::require_name(&from, old_dir, old_path, errno::PERM)?;
    if follow {
        // The kernel would follow a final symlink wherever it points: resolve it beneath the
        // directory first and link what it names.
        let target = sandbox::open_path(old_dir, old_path, true)?;
        return errno::check(unsafe {
            libc::linkat(
                target.as_raw_fd(),
                c"".as_ptr(),
                to.fd(),
                to.name.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        })
        .map(drop);
    }
    errno::check(unsafe {
        libc::linkat(from.fd(), from.name.as_ptr(), to.fd(), to.name.as_ptr(), 0)
    })
    .map(drop)
}

/// The target of the symlink `path` names beneath `dir`.
pub(crate) fn readlink(dir: RawFd, path: &[u8]) -> Result<Vec<u8>, Errno> {
    let link = sandbox::open_path(dir, path, false)?;
    // readlinkat(fd, "") on anything but a symlink says ENOENT; readlink(2) says EINVAL.
    let st = super::fd::fstat(link.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        return Err(errno::INVAL);
    }
    let mut target = vec![0u8; MAX_PATH as usize + 1];
    let n = errno::check(unsafe {
        libc::readlinkat(
            link.as_raw_fd(),
            c"".as_ptr(),
            target.as_mut_ptr() as *mut libc::c_char,
            target.len(),
        )
    })?;
    target.truncate(n as usize);
    Ok(target)
}

/// What `path` beneath `dir` names (a final symlink followed only if `follow`).
pub(crate) fn stat_at(dir: RawFd, path: &[u8], follow: bool) -> Result<libc::stat, Errno> {
    let target = sandbox::open_path(dir, path, follow)?;
    super::fd::fstat(target.as_raw_fd())
}

pub(crate) fn set_times_at(
    dir: RawFd,
    path: &[u8],
    follow: bool,
    times: &[libc::timespec; 2],
) -> Result<(), Errno> {
    let target = sandbox::open_path(dir, path, follow)?;
    errno::check(unsafe {
        libc::utimensat(
            target.as_raw_fd(),
            c"".as_ptr(),
            times.as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_create_directory(
    vmctx: *mut VmCtx,
    fd: i32,
    path: i32,
    path_len: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let dir = c.get(fd)?.dir(r::PATH_CREATE_DIRECTORY)?;
            create_directory(dir, &read_path(mem, path, path_len)?)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_remove_directory(
    vmctx: *mut VmCtx,
    fd: i32,
    path: i32,
    path_len: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let dir = c.get(fd)?.dir(r::PATH_REMOVE_DIRECTORY)?;
            remove_directory(dir, &read_path(mem, path, path_len)?)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_unlink_file(
    vmctx: *mut VmCtx,
    fd: i32,
    path: i32,
    path_len: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let dir = c.get(fd)?.dir(r::PATH_UNLINK_FILE)?;
            unlink_file(dir, &read_path(mem, path, path_len)?)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_rename(
    vmctx: *mut VmCtx,
    fd: i32,
    old_path: i32,
    old_len: i32,
    new_fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let old_dir = c.get(fd)?.dir(r::PATH_RENAME_SOURCE)?;
            let new_dir = c.get(new_fd)?.dir(r::PATH_RENAME_TARGET)?;
            let old_path = read_path(mem, old_path, old_len)?;
            let new_path = read_path(mem, new_path, new_len)?;
            rename(old_dir, &old_path, new_dir, &new_path)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_symlink(
    vmctx: *mut VmCtx,
    old_path: i32,
    old_len: i32,
    fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let dir = c.get(fd)?.dir(r::PATH_SYMLINK)?;
            let target = read_path(mem, old_path, old_len)?;
            symlink(&target, dir, &read_path(mem, new_path, new_len)?)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_link(
    vmctx: *mut VmCtx,
    old_fd: i32,
    old_flags: i32,
    old_path: i32,
    old_len: i32,
    new_fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let old_dir = c.get(old_fd)?.dir(r::PATH_LINK_SOURCE)?;
            let new_dir = c.get(new_fd)?.dir(r::PATH_LINK_TARGET)?;
            let old_path = read_path(mem, old_path, old_len)?;
            let new_path = read_path(mem, new_path, new_len)?;
            link(old_dir, follows(old_flags), &old_path, new_dir, &new_path)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_readlink(
    vmctx: *mut VmCtx,
    fd: i32,
    path: i32,
    path_len: i32,
    buf: i32,
    buf_len: i32,
    bufused: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let dir = c.get(fd)?.dir(r::PATH_READLINK)?;
            let path = read_path(mem, path, path_len)?;
            mem.range(buf as u32, buf_len as u32 as u64)?;
            mem.range(bufused as u32, 4)?;
            let target = readlink(dir, &path)?;
            // A buffer too small gets the start of the target, as readlink(2) does.
            let used = mem.write_truncated(buf as u32, buf_len as u32, &target)?;
            mem.write_u32(bufused as u32, used)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_filestat_get(
    vmctx: *mut VmCtx,
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    buf: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let dir = c.get(fd)?.dir(r::PATH_FILESTAT_GET)?;
            let path = read_path(mem, path, path_len)?;
            mem.range(buf as u32, size::FILESTAT)?;
            let st = stat_at(dir, &path, follows(flags))?;
            mem.write_bytes(buf as u32, &types::filestat(&st))
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_filestat_set_times(
    vmctx: *mut VmCtx,
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    atim: i64,
    mtim: i64,
    fst_flags: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let dir = c.get(fd)?.dir(r::PATH_FILESTAT_SET_TIMES)?;
            let path = read_path(mem, path, path_len)?;
            let fst = u16::try_from(fst_flags).map_err(|_| errno::INVAL)?;
            let times = types::utimens(atim as u64, mtim as u64, fst)?;
            set_times_at(dir, &path, follows(flags), &times)
        })
    }
}

/// The host `open` flags and the rights of a descriptor `path_open` is asked for.
pub(crate) struct OpenRequest {
    flags: i32,
    base: u64,
    inheriting: u64,
    sync_flags: u16,
}

/// What opening beneath a directory holding `dir` rights asks of the host, or why it may not.
pub(crate) fn open_request(
    dir: Rights,
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
    if dir.base & needed != needed {
        return Err(errno::NOTCAPABLE);
    }
    // Writing where the directory hands down no write right is refused outright; any other
    // right asked for but not handed down is simply not granted (wasi-libc and Rust's std ask
    // for more than they need).
    if base & r::FD_WRITE != 0 && dir.inheriting & r::FD_WRITE == 0 {
        return Err(errno::NOTCAPABLE);
    }
    let base = base & dir.inheriting;
    let inheriting = inheriting & dir.inheriting;
    let read = base & (r::FD_READ | r::FD_READDIR) != 0;
    let write = base & r::FD_WRITE != 0;
    // Writing a directory is EISDIR, from the kernel, as open(2) answers.
    let mut flags = match (read, write) {
        (true, true) => libc::O_RDWR,
        (false, true) => libc::O_WRONLY,
        _ => libc::O_RDONLY,
    };
    flags |= libc::O_NOCTTY;
    if dirflags as u32 & lookupflags::SYMLINK_FOLLOW == 0 {
        flags |= libc::O_NOFOLLOW;
    }
    for (bit, host) in [
        (oflags::CREAT, libc::O_CREAT),
        (oflags::DIRECTORY, libc::O_DIRECTORY),
        (oflags::EXCL, libc::O_EXCL),
        (oflags::TRUNC, libc::O_TRUNC),
    ] {
        if of & bit != 0 {
            flags |= host;
        }
    }
    for (bit, host) in [
        (fdflags::APPEND, libc::O_APPEND),
        (fdflags::DSYNC, libc::O_DSYNC),
        (fdflags::NONBLOCK, libc::O_NONBLOCK),
        (fdflags::RSYNC, libc::O_RSYNC),
        (fdflags::SYNC, libc::O_SYNC),
    ] {
        if ff & bit != 0 {
            flags |= host;
        }
    }
    Ok(OpenRequest {
        flags,
        base,
        inheriting,
        sync_flags: ff & fdflags::SYNCS,
    })
}

/// `path_open` locks the context only to look the directory up and to add the new
/// descriptor: opening may wait indefinitely (a FIFO waits for its other end, which another
/// thread may be about to open). `dir` keeps the directory open meanwhile.
#[allow(clippy::too_many_arguments)] // path_open's parameters, in their order
fn open(
    fd: i32,
    dirflags: i32,
    path: &[u8],
    oflags_: i32,
    base: u64,
    inheriting: u64,
    fdflags_: i32,
) -> Result<u32, Errno> {
    let (dir, req) = ctx::with(|c| {
        let dir_entry = c.get(fd)?;
        if dir_entry.filetype != filetype::DIRECTORY {
            return Err(errno::NOTDIR);
        }
        let dir = dir_entry.hold(r::PATH_OPEN)?;
        let rights = Rights {
            base: dir_entry.rights_base,
            inheriting: dir_entry.rights_inheriting,
        };
        let req = open_request(rights, dirflags, oflags_, base, inheriting, fdflags_)?;
        Ok((dir, req))
    })?;
    let entry = open_beneath(dir.raw(), path, &req)?;
    drop(dir);
    ctx::with(|c| c.insert(entry))
}

/// Opens `path` beneath `dir` as `req` asks: the new descriptor's table entry, with the rights
/// it was granted (narrowed to what its file type can use).
pub(crate) fn open_beneath(dir: RawFd, path: &[u8], req: &OpenRequest) -> Result<FdEntry, Errno> {
    let file = sandbox::open_beneath(dir, path, req.flags, 0o666)?;
    let st = super::fd::fstat(file.as_raw_fd())?;
    let kind = filetype::from_mode(st.st_mode);
    let (base, inheriting) = if kind == filetype::DIRECTORY {
        (req.base & r::DIR, req.inheriting)
    } else {
        (req.base & r::FILE, 0)
    };
    let mut entry = FdEntry::new(file, kind, base, inheriting);
    entry.sync_flags = req.sync_flags;
    Ok(entry)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_path_open(
    vmctx: *mut VmCtx,
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
    unsafe {
        call_unlocked(vmctx, |mem| {
            let path = read_path(mem, path, path_len)?;
            mem.range(opened as u32, 4)?;
            let new = open(
                fd,
                dirflags,
                &path,
                oflags,
                fs_rights_base as u64,
                fs_rights_inheriting as u64,
                fdflags,
            )?;
            mem.write_u32(opened as u32, new)
        })
    }
}
