//! Reading and writing, and the integer-only calls on an open file.
//!
//! Buffers are checked against linear memory for their whole length (64-bit arithmetic)
//! and handed to the kernel as host addresses inside the memory. An iovec array (`{u32
//! base, u32 len}` in the guest) is copied once, at most [`IOV_MAX`] entries, and every
//! entry is checked before the kernel sees the host's `struct iovec` array built from the
//! copy, so a guest thread rewriting the array meanwhile changes nothing.

use super::{buffer, sys};
use crate::wali::{int, passthrough, Args, Call, Errno, Handler, SysResult};

/// The kernel's limit on iovec entries (`UIO_MAXIOV`).
pub const IOV_MAX: i32 = 1024;
/// Size of the guest's `struct iovec`.
const GUEST_IOVEC: u64 = 8;

pub(super) fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "read" => read,
        "write" => write,
        "pread64" => pread64,
        "pwrite64" => pwrite64,
        "readv" => readv,
        "writev" => writev,
        "lseek" | "close" | "fsync" | "fdatasync" | "ftruncate" | "fadvise" | "flock" => {
            passthrough
        }
        _ => return None,
    })
}

/// `fd, buf, count` with `buf` checked for `count` bytes, plus the offset of the positioned
/// forms.
fn transfer(call: &Call, args: &Args, nr: libc::c_long, offset: Option<u64>) -> SysResult {
    let at = buffer(call, args[1], args[2])?;
    match offset {
        None => sys(nr, [args[0], at, args[2]]),
        Some(offset) => sys(nr, [args[0], at, args[2], offset]),
    }
}

fn read(call: &Call, args: &Args) -> SysResult {
    transfer(call, args, libc::SYS_read, None)
}

fn write(call: &Call, args: &Args) -> SysResult {
    transfer(call, args, libc::SYS_write, None)
}

fn pread64(call: &Call, args: &Args) -> SysResult {
    transfer(call, args, libc::SYS_pread64, Some(args[3]))
}

fn pwrite64(call: &Call, args: &Args) -> SysResult {
    transfer(call, args, libc::SYS_pwrite64, Some(args[3]))
}

/// The host's iovec array for the guest's `count` entries at `ptr`.
pub fn iovecs(call: &Call, ptr: u64, count: i32) -> Result<Vec<libc::iovec>, Errno> {
    if !(0..=IOV_MAX).contains(&count) {
        return Err(Errno(libc::EINVAL));
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    let entries = super::get(call, ptr, count as u64 * GUEST_IOVEC)?;
    entries
        .chunks_exact(GUEST_IOVEC as usize)
        .map(|e| {
            let base = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            let len = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            let at = buffer(call, u64::from(base), u64::from(len))?;
            Ok(libc::iovec {
                iov_base: at as *mut libc::c_void,
                iov_len: len as usize,
            })
        })
        .collect()
}

fn vectored(call: &Call, args: &Args, nr: libc::c_long) -> SysResult {
    let iov = iovecs(call, args[1], int(args, 2))?;
    sys(nr, [args[0], iov.as_ptr() as u64, iov.len() as u64])
}

fn readv(call: &Call, args: &Args) -> SysResult {
    vectored(call, args, libc::SYS_readv)
}

fn writev(call: &Call, args: &Args) -> SysResult {
    vectored(call, args, libc::SYS_writev)
}
