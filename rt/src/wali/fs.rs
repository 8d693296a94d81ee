//! WALI syscalls on files, descriptors and directories.
//!
//! One submodule per kind of call:
//! - [`io`]: reading and writing (`read`, `write`, `pread64`, `pwrite64`, `readv`, `writev`)
//!   and the integer-only calls on an open file (`lseek`, `close`, `fsync`, `fdatasync`,
//!   `ftruncate`, `fadvise`, `flock`);
//! - [`open`]: `open`, `openat`, and the refusal of every process memory file
//!   (`/proc/<pid>/mem`) however it is named;
//! - [`fd`]: descriptor tables and flags (`dup`, `dup2`, `dup3`, `pipe`, `pipe2`, `fcntl`);
//! - [`ioctl`]: the `ioctl` requests the runtime accepts, each with its argument size;
//! - [`meta`]: metadata (`stat`, `fstat`, `lstat`, `newfstatat`, `statx`, `statfs`,
//!   `fstatfs`, `access`, `faccessat`, `faccessat2`, `chmod`, `fchmod`, `fchmodat`, `chown`,
//!   `fchown`, `fchownat`, `umask`, `utimensat`);
//! - [`dir`]: names and directories (`getcwd`, `chdir`, `fchdir`, `chroot`, `getdents64`,
//!   `mkdir`, `mkdirat`, `rmdir`, `rename`, `renameat2`, `link`, `linkat`, `unlink`,
//!   `unlinkat`, `symlink`, `symlinkat`, `readlink`, `readlinkat`).
//!
//! The x86-64-only calls (`open`, `stat`, `lstat`, `access`, `pipe`, `dup2`, `rename`,
//! `mkdir`, `rmdir`, `link`, `unlink`, `symlink`, `readlink`, `chmod`, `chown`) are made
//! through their generic `*at` forms on every host, so one path is tested everywhere;
//! flag values and struct layouts that differ are translated in [`super::arch::fcntl`] and
//! [`super::arch::stat`]. Paths are the guest's own: WALI gives the guest the process's view
//! of the file system, as a native program has.

mod dir;
mod fd;
mod io;
mod ioctl;
mod meta;
mod open;
#[cfg(test)]
mod tests;

use std::ffi::CString;

use super::arch::fcntl::guest;
use super::{raw, Call, Errno, Handler, SysResult};

/// The handler for the syscall named `name`, if this family implements it.
pub fn handler(name: &str) -> Option<Handler> {
    io::handler(name)
        .or_else(|| open::handler(name))
        .or_else(|| fd::handler(name))
        .or_else(|| ioctl::handler(name))
        .or_else(|| meta::handler(name))
        .or_else(|| dir::handler(name))
}

/// `AT_FDCWD` as a syscall argument.
const AT_FDCWD: u64 = guest::AT_FDCWD as i64 as u64;

/// Makes the host syscall `nr` with up to six arguments (the rest are 0).
fn sys<const N: usize>(nr: libc::c_long, args: [u64; N]) -> SysResult {
    let mut all = [0u64; wafer_abi::wali::MAX_ARGS];
    all[..N].copy_from_slice(&args);
    raw(nr, all)
}

// A null guest pointer: guest address 0 is ordinary linear memory, but a C program passes
// NULL meaning "no object", and a native kernel answers `EFAULT` for it where an object is
// required. The helpers below do the same, so such calls fail as they do natively instead
// of reading or writing the guest's first bytes. A null buffer of length 0 reaches the
// kernel as NULL, which never touches it.

/// The host address of the guest buffer `[ptr, ptr + len)` as a syscall argument.
fn buffer(call: &Call, ptr: u64, len: u64) -> Result<u64, Errno> {
    match (ptr, len) {
        (0, 0) => Ok(0),
        (0, _) => Err(Errno(libc::EFAULT)),
        _ => Ok(call.mem.range(ptr, len)? as u64),
    }
}

/// A copy of the `len` bytes the guest passes at `ptr`.
fn get(call: &Call, ptr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    buffer(call, ptr, len)?;
    call.mem.read_bytes(ptr, len)
}

/// Writes `bytes` to the guest's out-parameter at `ptr`.
fn put(call: &Call, ptr: u64, bytes: &[u8]) -> Result<(), Errno> {
    buffer(call, ptr, bytes.len() as u64)?;
    call.mem.write_bytes(ptr, bytes)
}

/// A copy of the guest's NUL-terminated path at `ptr`.
fn path(call: &Call, ptr: u64) -> Result<CString, Errno> {
    if ptr == 0 {
        return Err(Errno(libc::EFAULT));
    }
    call.mem.string(ptr)
}

/// A path the kernel accepts as NULL (`utimensat`, and `statx`/`newfstatat` with
/// `AT_EMPTY_PATH`): `None` for a null guest pointer.
fn optional_path(call: &Call, ptr: u64) -> Result<Option<CString>, Errno> {
    (ptr != 0).then(|| path(call, ptr)).transpose()
}

/// A path as a syscall argument (null for `None`).
fn arg(path: Option<&CString>) -> u64 {
    path.map_or(0, |p| p.as_ptr() as u64)
}

/// A host buffer as a syscall argument.
fn buf<T>(b: &mut T) -> u64 {
    b as *mut T as u64
}
