//! The app's memory, reached only through the `wafer:wasi-over-wali` channel: every access is
//! a copy the runtime checks against the app's memory (`EFAULT`, 21, when out of bounds, with
//! nothing copied). App addresses are plain `u32` values here and are never dereferenced.
//!
//! The checks mirror the native host's `GuestMemory`: a range `[ptr, ptr + len)` is valid when
//! it ends within the memory (64-bit arithmetic, so no wrap-around).

use alloc::vec::Vec;

use crate::errno::{self, Errno};

mod raw {
    #[link(wasm_import_module = "wafer:wasi-over-wali")]
    extern "C" {
        pub fn app_read(local: *mut u8, app: u32, len: u32) -> i32;
        pub fn app_write(app: u32, local: *const u8, len: u32) -> i32;
        pub fn grants(buf: *mut u8, cap: u32) -> i32;
    }
}

/// Longest path an app may pass (Linux's `PATH_MAX` less the NUL), as natively.
pub const MAX_PATH: u64 = 4095;

fn status(r: i32) -> Result<(), Errno> {
    if r == 0 {
        Ok(())
    } else {
        Err(errno::FAULT)
    }
}

/// Checks that `[ptr, ptr + len)` lies in the app's memory, without side effects.
pub fn range(ptr: u32, len: u64) -> Result<(), Errno> {
    let end = (ptr as u64).checked_add(len).ok_or(errno::FAULT)?;
    if end > 1 << 32 {
        return Err(errno::FAULT);
    }
    let mut probe = [0u8; 1];
    // Reading the last byte checks the whole range (it ends where the range ends); an empty
    // range is checked by an empty copy at its start.
    let r = if len == 0 {
        unsafe { raw::app_read(probe.as_mut_ptr(), ptr, 0) }
    } else {
        unsafe { raw::app_read(probe.as_mut_ptr(), (end - 1) as u32, 1) }
    };
    status(r)
}

/// Copies `buf.len()` bytes from the app at `ptr` into `buf`.
pub fn read(ptr: u32, buf: &mut [u8]) -> Result<(), Errno> {
    let len = u32::try_from(buf.len()).map_err(|_| errno::FAULT)?;
    status(unsafe { raw::app_read(buf.as_mut_ptr(), ptr, len) })
}

/// Copies `bytes` into the app at `ptr`.
pub fn write(ptr: u32, bytes: &[u8]) -> Result<(), Errno> {
    let len = u32::try_from(bytes.len()).map_err(|_| errno::FAULT)?;
    status(unsafe { raw::app_write(ptr, bytes.as_ptr(), len) })
}

pub fn read_u8(ptr: u32) -> Result<u8, Errno> {
    let mut b = [0u8; 1];
    read(ptr, &mut b)?;
    Ok(b[0])
}

pub fn read_u16(ptr: u32) -> Result<u16, Errno> {
    let mut b = [0u8; 2];
    read(ptr, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

pub fn read_u32(ptr: u32) -> Result<u32, Errno> {
    let mut b = [0u8; 4];
    read(ptr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

pub fn read_u64(ptr: u32) -> Result<u64, Errno> {
    let mut b = [0u8; 8];
    read(ptr, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

pub fn write_u32(ptr: u32, value: u32) -> Result<(), Errno> {
    write(ptr, &value.to_le_bytes())
}

pub fn write_u64(ptr: u32, value: u64) -> Result<(), Errno> {
    write(ptr, &value.to_le_bytes())
}

/// A copy of `[ptr, ptr + len)`, at most `max` bytes long (`too_long` past that, checked
/// after the range so an out-of-range pointer is always `EFAULT`), as natively.
pub fn read_vec(ptr: u32, len: u32, max: u64, too_long: Errno) -> Result<Vec<u8>, Errno> {
    range(ptr, len as u64)?;
    if len as u64 > max {
        return Err(too_long);
    }
    let mut out = Vec::new();
    out.try_reserve_exact(len as usize)
        .map_err(|_| errno::NOMEM)?;
    out.resize(len as usize, 0);
    read(ptr, &mut out)?;
    Ok(out)
}

/// Writes as much of `bytes` as fits in `[ptr, ptr + len)` (which must be in range); returns
/// how much that was.
pub fn write_truncated(ptr: u32, len: u32, bytes: &[u8]) -> Result<u32, Errno> {
    range(ptr, len as u64)?;
    let n = bytes.len().min(len as usize);
    write(ptr, &bytes[..n])?;
    Ok(n as u32)
}

/// An app path: in range (else `EFAULT`), at most [`MAX_PATH`] bytes (else `ENAMETOOLONG`),
/// no NUL (else `EINVAL`); the native host's checks, in its order.
pub fn read_path(ptr: i32, len: i32) -> Result<Vec<u8>, Errno> {
    let path = read_vec(ptr as u32, len as u32, MAX_PATH, errno::NAMETOOLONG)?;
    if path.contains(&0) {
        return Err(errno::INVAL);
    }
    Ok(path)
}

/// One app iovec: a buffer of the app's memory, checked to be in range.
#[derive(Clone, Copy, Debug)]
pub struct IoVec {
    pub base: u32,
    pub len: u32,
}

/// Reads `count` app iovecs (`{buf: u32, buf_len: u32}`) at `iovs`, each once, checking the
/// array and then every buffer in order (`EFAULT` at the first bad one), as the native host
/// does; keeps the first `keep` of them. The array is read in bounded batches.
pub fn iovecs(iovs: u32, count: u32, keep: usize) -> Result<Vec<IoVec>, Errno> {
    range(iovs, count as u64 * 8)?;
    let mut out = Vec::new();
    out.try_reserve_exact((count as usize).min(keep))
        .map_err(|_| errno::NOMEM)?;
    const BATCH: u32 = 64;
    let mut batch = [0u8; BATCH as usize * 8];
    let mut i = 0u32;
    while i < count {
        let n = (count - i).min(BATCH);
        let bytes = &mut batch[..n as usize * 8];
        // In range: the whole array was checked above.
        read(iovs + i * 8, bytes)?;
        for e in bytes.chunks_exact(8) {
            let base = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            let len = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            range(base, len as u64)?;
            if out.len() < keep {
                out.push(IoVec { base, len });
            }
        }
        i += n;
    }
    Ok(out)
}

/// The executable's grants blob (see the crate docs for its layout).
pub fn grants() -> Vec<u8> {
    let len = unsafe { raw::grants(core::ptr::null_mut(), 0) }.max(0) as usize;
    let mut buf = alloc::vec![0u8; len];
    let got = unsafe { raw::grants(buf.as_mut_ptr(), len as u32) };
    if got < 0 || got as usize != len {
        buf.clear();
    }
    buf
}
