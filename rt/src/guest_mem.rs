//! Checked access to a guest's linear memory for host functions. Every pointer and length the
//! guest passes is checked against the memory's current length with 64-bit arithmetic before
//! anything is read or written; a bad one yields `EFAULT` and never touches host memory.
//!
//! A shared memory may be written by other guest threads during a host call. That is the
//! guest's own race, and it cannot reach the host as long as host code only copies through raw
//! pointers (never a Rust reference into guest memory) and reads each value it checks once,
//! using that copy afterwards: paths and iovec lists are copied out before they are checked.
//! The base of a memory never moves and its length only grows, so a range checked once stays
//! valid for the whole call.

use wafer_abi::{MemoryDef, VmCtx, VmctxLayout};

use crate::wasi::errno::{self, Errno};

/// The memory of the calling instance, as it is during one host call.
#[derive(Clone, Copy)]
pub struct GuestMemory {
    base: *mut u8,
    len: u64,
}

impl GuestMemory {
    /// The memory of the instance owning `vmctx`; `EFAULT` for a module without memory.
    ///
    /// # Safety
    /// `vmctx` must be a live instance context.
    pub unsafe fn from_vmctx(vmctx: *mut VmCtx) -> Result<GuestMemory, Errno> {
        let def = unsafe {
            *((vmctx as *const u8).add(VmctxLayout::MEMORY as usize) as *const *const MemoryDef)
        };
        unsafe { Self::from_def(def) }
    }

    /// The memory `def` describes (null: `EFAULT`).
    ///
    /// # Safety
    /// `def` must be null or a live memory's definition.
    pub unsafe fn from_def(def: *const MemoryDef) -> Result<GuestMemory, Errno> {
        if def.is_null() {
            return Err(errno::FAULT);
        }
        // Another thread may be growing a shared memory, which publishes the new length with
        // an atomic store: read it atomically too (once; the memory only grows).
        let len = unsafe {
            std::sync::atomic::AtomicU64::from_ptr(std::ptr::addr_of!((*def).length) as *mut u64)
        }
        .load(std::sync::atomic::Ordering::Acquire);
        Ok(GuestMemory {
            base: unsafe { (*def).base },
            len,
        })
    }

    /// The memory's length as it was when this view was taken.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Host address of `[ptr, ptr + len)`, if the range lies in the memory.
    pub fn range(&self, ptr: u32, len: u64) -> Result<*mut u8, Errno> {
        match (ptr as u64).checked_add(len) {
            Some(end) if end <= self.len => Ok(unsafe { self.base.add(ptr as usize) }),
            _ => Err(errno::FAULT),
        }
    }

    pub fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        let at = self.range(ptr, 4)?;
        Ok(u32::from_le(unsafe { (at as *const u32).read_unaligned() }))
    }

    pub fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        let at = self.range(ptr, 8)?;
        Ok(u64::from_le(unsafe { (at as *const u64).read_unaligned() }))
    }

    pub fn read_u16(&self, ptr: u32) -> Result<u16, Errno> {
        let at = self.range(ptr, 2)?;
        Ok(u16::from_le(unsafe { (at as *const u16).read_unaligned() }))
    }

    pub fn read_u8(&self, ptr: u32) -> Result<u8, Errno> {
        let at = self.range(ptr, 1)?;
        Ok(unsafe { *at })
    }

    /// A copy of `[ptr, ptr + len)`, at most `max` bytes long (`too_long` past that, checked
    /// after the range so an out-of-range pointer is always `EFAULT`).
    pub fn read_bytes(
        &self,
        ptr: u32,
        len: u32,
        max: u64,
        too_long: Errno,
    ) -> Result<Vec<u8>, Errno> {
        let at = self.range(ptr, len as u64)?;
        if len as u64 > max {
            return Err(too_long);
        }
        let mut out = Vec::new();
        out.try_reserve_exact(len as usize)
            .map_err(|_| errno::NOMEM)?;
        // A raw copy, not a slice: other threads may be writing these bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(at, out.as_mut_ptr(), len as usize);
            out.set_len(len as usize);
        }
        Ok(out)
    }

    /// Writes as much of `bytes` as fits in `[ptr, ptr + len)`; returns how much that was.
    pub fn write_truncated(&self, ptr: u32, len: u32, bytes: &[u8]) -> Result<u32, Errno> {
        self.range(ptr, len as u64)?;
        let n = bytes.len().min(len as usize);
        self.write_bytes(ptr, &bytes[..n])?;
        Ok(n as u32)
    }

    pub fn write_bytes(&self, ptr: u32, bytes: &[u8]) -> Result<(), Errno> {
        let at = self.range(ptr, bytes.len() as u64)?;
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len()) };
        Ok(())
    }

    pub fn write_u32(&self, ptr: u32, value: u32) -> Result<(), Errno> {
        self.write_bytes(ptr, &value.to_le_bytes())
    }

    pub fn write_u64(&self, ptr: u32, value: u64) -> Result<(), Errno> {
        self.write_bytes(ptr, &value.to_le_bytes())
    }

    /// Reads `count` WASI iovecs (`{buf: u32, buf_len: u32}`) at `iovs` and checks each buffer;
    /// returns host iovecs for readv/writev. Each entry is read once: the host copy is what was
    /// checked and what the kernel gets.
    pub fn iovecs(&self, iovs: u32, count: u32) -> Result<Vec<libc::iovec>, Errno> {
        self.range(iovs, count as u64 * 8)?;
        let mut out = Vec::new();
        out.try_reserve_exact(count as usize)
            .map_err(|_| errno::NOMEM)?;
        for i in 0..count {
            // In range: checked for the whole array above.
            let entry = iovs + i * 8;
            let buf = self.read_u32(entry)?;
            let len = self.read_u32(entry + 4)?;
            let at = self.range(buf, len as u64)?;
            out.push(libc::iovec {
                iov_base: at as *mut libc::c_void,
                iov_len: len as usize,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fake instance context whose only field is the memory pointer: enough for host
    /// functions, which reach nothing else. Keeps the backing store alive.
    pub struct FakeGuest {
        pub bytes: Vec<u8>,
        def: Box<MemoryDef>,
        vmctx: Vec<u64>,
    }

    impl FakeGuest {
        pub fn new(size: usize) -> FakeGuest {
            let mut bytes = vec![0u8; size];
            let mut def = Box::new(MemoryDef {
                base: bytes.as_mut_ptr(),
                length: size as u64,
            });
            let mut vmctx = vec![0u64; 8];
            vmctx[VmctxLayout::MEMORY as usize / 8] = &mut *def as *mut MemoryDef as u64;
            FakeGuest { bytes, def, vmctx }
        }

        /// A context without memory.
        pub fn without_memory() -> FakeGuest {
            let mut g = FakeGuest::new(0);
            g.vmctx[VmctxLayout::MEMORY as usize / 8] = 0;
            g
        }

        /// The memory's definition, as an instance's context points at it.
        pub fn memory_def(&mut self) -> *mut MemoryDef {
            &mut *self.def
        }

        pub fn vmctx(&mut self) -> *mut VmCtx {
            let _ = &self.def;
            self.vmctx.as_mut_ptr() as *mut VmCtx
        }

        pub fn u32_at(&self, at: usize) -> u32 {
            u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap())
        }

        pub fn put_u32(&mut self, at: usize, v: u32) {
            self.bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
    }

    #[test]
    fn ranges_are_checked_without_overflow() {
        let mut g = FakeGuest::new(0x100);
        let m = unsafe { GuestMemory::from_vmctx(g.vmctx()) }.unwrap();
        assert!(m.range(0, 0x100).is_ok());
        assert!(m.range(0x100, 0).is_ok());
        assert_eq!(m.range(0x100, 1).unwrap_err(), errno::FAULT);
        assert_eq!(m.range(0xFFFF_FFF0, 0x20).unwrap_err(), errno::FAULT);
        assert_eq!(m.range(1, u64::MAX).unwrap_err(), errno::FAULT);
        assert_eq!(m.write_u32(0xFD, 1).unwrap_err(), errno::FAULT);
        m.write_u32(0xFC, 0xAABBCCDD).unwrap();
        assert_eq!(m.read_u32(0xFC).unwrap(), 0xAABBCCDD);
    }

    #[test]
    fn iovecs_are_checked_each() {
        let mut g = FakeGuest::new(0x100);
        g.put_u32(0, 0x10);
        g.put_u32(4, 0x20);
        g.put_u32(8, 0xF0);
        g.put_u32(12, 0x20); // runs past the end
        let m = unsafe { GuestMemory::from_vmctx(g.vmctx()) }.unwrap();
        assert_eq!(m.iovecs(0, 1).unwrap().len(), 1);
        assert_eq!(m.iovecs(0, 2).unwrap_err(), errno::FAULT);
        assert_eq!(m.iovecs(0, u32::MAX).unwrap_err(), errno::FAULT);
        assert_eq!(m.iovecs(0xFC, 1).unwrap_err(), errno::FAULT);
    }

    #[test]
    fn reads_and_truncated_writes_are_checked() {
        let mut g = FakeGuest::new(0x100);
        g.bytes[0x10..0x14].copy_from_slice(b"abcd");
        let m = unsafe { GuestMemory::from_vmctx(g.vmctx()) }.unwrap();
        assert_eq!(
            m.read_bytes(0x10, 4, 8, errno::NAMETOOLONG).unwrap(),
            b"abcd"
        );
        assert_eq!(
            m.read_bytes(0x10, 9, 8, errno::NAMETOOLONG).unwrap_err(),
            errno::NAMETOOLONG
        );
        assert_eq!(
            m.read_bytes(0xFF, 2, 8, errno::NAMETOOLONG).unwrap_err(),
            errno::FAULT
        );
        assert_eq!(
            m.read_bytes(0x10, u32::MAX, 8, errno::NAMETOOLONG)
                .unwrap_err(),
            errno::FAULT
        );
        assert_eq!(m.write_truncated(0x20, 2, b"xyz").unwrap(), 2);
        assert_eq!(
            m.write_truncated(0xFF, 2, b"xyz").unwrap_err(),
            errno::FAULT
        );
        assert_eq!(m.read_u64(0xF9).unwrap_err(), errno::FAULT);
        assert_eq!(m.read_u16(0xFF).unwrap_err(), errno::FAULT);
        assert_eq!(m.read_u8(0xFF).unwrap(), 0);
        assert_eq!(m.read_u8(0x100).unwrap_err(), errno::FAULT);
    }

    #[test]
    fn no_memory_is_efault() {
        let mut g = FakeGuest::without_memory();
        assert_eq!(
            unsafe { GuestMemory::from_vmctx(g.vmctx()) }.err(),
            Some(errno::FAULT)
        );
    }
}
