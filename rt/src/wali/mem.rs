//! Guest memory as WALI syscalls see it: the WASI-side checks of [`GuestMemory`] with Linux
//! errno values, plus what syscalls need beyond them (NUL-terminated strings, fixed-size
//! values, arrays of guest pointers).
//!
//! Every guest (pointer, length) is checked against the memory's length with 64-bit
//! arithmetic before anything is touched; strings and pointer arrays are copied once, so the
//! kernel (and every check the runtime makes, such as the `/proc/*/mem` refusal) sees exactly
//! what was checked even while other guest threads write the memory.

use std::ffi::CString;

use wafer_abi::VmCtx;

use super::Errno;
use crate::guest_mem::GuestMemory;
use crate::wasi::errno as wasi_errno;

/// Longest string a syscall argument may be (Linux's `PATH_MAX` for paths; argv and envp
/// entries are bounded by the memory anyway).
pub const MAX_STRING: u64 = 1 << 20;

fn linux(e: wasi_errno::Errno) -> Errno {
    match e {
        wasi_errno::NOMEM => Errno(libc::ENOMEM),
        wasi_errno::NAMETOOLONG => Errno(libc::ENAMETOOLONG),
        _ => Errno(libc::EFAULT),
    }
}

/// The calling instance's memory for the length of one syscall.
#[derive(Clone, Copy)]
pub struct Mem {
    inner: GuestMemory,
}

impl Mem {
    /// # Safety
    /// `vmctx` must be a live instance context.
    pub unsafe fn from_vmctx(vmctx: *mut VmCtx) -> Result<Mem, Errno> {
        let inner = unsafe { GuestMemory::from_vmctx(vmctx) }.map_err(linux)?;
        Ok(Mem { inner })
    }

    /// Host address of `[ptr, ptr + len)`, or `EFAULT`. `ptr` is the zero-extended guest
    /// pointer; anything past 4 GiB is out of range.
    pub fn range(&self, ptr: u64, len: u64) -> Result<*mut u8, Errno> {
        let ptr = u32::try_from(ptr).map_err(|_| Errno(libc::EFAULT))?;
        self.inner.range(ptr, len).map_err(linux)
    }

    /// `range`, or null for a null guest pointer (optional out-parameters).
    pub fn optional(&self, ptr: u64, len: u64) -> Result<*mut u8, Errno> {
        if ptr == 0 {
            Ok(std::ptr::null_mut())
        } else {
            self.range(ptr, len)
        }
    }

    /// Host address of `count` values of `size` bytes each.
    pub fn array(&self, ptr: u64, count: u64, size: u64) -> Result<*mut u8, Errno> {
        let len = count.checked_mul(size).ok_or(Errno(libc::EFAULT))?;
        self.range(ptr, len)
    }

    /// A copy of the NUL-terminated string at `ptr` (the NUL must lie inside memory).
    pub fn string(&self, ptr: u64) -> Result<CString, Errno> {
        let start = self.range(ptr, 0)?;
        let available = self.len() - ptr;
        let limit = available.min(MAX_STRING);
        // SAFETY: [start, start + limit) is inside the memory; a racing writer can change the
        // bytes but not unmap them.
        let bytes = unsafe { std::slice::from_raw_parts(start as *const u8, limit as usize) };
        match bytes.iter().position(|&b| b == 0) {
            Some(end) => Ok(CString::new(&bytes[..end]).expect("no NUL before `end`")),
            None if limit < available => Err(Errno(libc::ENAMETOOLONG)),
            None => Err(Errno(libc::EFAULT)),
        }
    }

    /// A copy of the NUL-terminated array of guest string pointers at `ptr` (execve's argv
    /// and envp), at most `max` entries.
    pub fn string_array(&self, ptr: u64, max: usize) -> Result<Vec<CString>, Errno> {
        let mut out = Vec::new();
        for i in 0.. {
            if i >= max {
                return Err(Errno(libc::E2BIG));
            }
            let entry = self.read_u32(ptr + 4 * i as u64)?;
            if entry == 0 {
                break;
            }
            out.push(self.string(u64::from(entry))?);
        }
        Ok(out)
    }

    pub fn len(&self) -> u64 {
        // GuestMemory keeps the length it saw at the start of the call.
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn read_u32(&self, ptr: u64) -> Result<u32, Errno> {
        let at = self.range(ptr, 4)?;
        Ok(u32::from_le(unsafe { (at as *const u32).read_unaligned() }))
    }

    pub fn read_u64(&self, ptr: u64) -> Result<u64, Errno> {
        let at = self.range(ptr, 8)?;
        Ok(u64::from_le(unsafe { (at as *const u64).read_unaligned() }))
    }

    pub fn write_u32(&self, ptr: u64, value: u32) -> Result<(), Errno> {
        self.write_bytes(ptr, &value.to_le_bytes())
    }

    pub fn write_u64(&self, ptr: u64, value: u64) -> Result<(), Errno> {
        self.write_bytes(ptr, &value.to_le_bytes())
    }

    /// A copy of `len` bytes at `ptr`.
    pub fn read_bytes(&self, ptr: u64, len: u64) -> Result<Vec<u8>, Errno> {
        let at = self.range(ptr, len)?;
        let mut out = vec![0u8; len as usize];
        // A raw copy, not a slice: other threads may be writing these bytes.
        unsafe { std::ptr::copy_nonoverlapping(at, out.as_mut_ptr(), len as usize) };
        Ok(out)
    }

    pub fn write_bytes(&self, ptr: u64, bytes: &[u8]) -> Result<(), Errno> {
        let at = self.range(ptr, bytes.len() as u64)?;
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len()) };
        Ok(())
    }

    /// The guest offset of a host address inside the memory (for results such as mmap's).
    pub fn offset_of(&self, host: *const u8) -> Option<u64> {
        let base = self.range(0, 0).ok()? as usize;
        let at = host as usize;
        (at >= base && ((at - base) as u64) <= self.len()).then(|| (at - base) as u64)
    }
}
