//! Linear memory: one [`GUARDED_RESERVATION`] of address space per memory, inaccessible except
//! for the committed prefix `[0, length)`. The base never moves, so compiled code may cache it,
//! and any access past the committed length (up to 8 GiB past the base) faults.

use std::ffi::c_void;

use wafer_abi::{MemoryDef, GUARDED_RESERVATION, MAX_WASM_PAGES, WASM_PAGE_SIZE};

/// A linear memory. `repr(C)` with [`MemoryDef`] first, so the `*mut MemoryDef` that compiled
/// code and libcalls see can be cast back to the whole memory.
#[repr(C)]
pub struct LinearMemory {
    pub def: MemoryDef,
    /// Pages this memory may grow to: the declared maximum, the build-time cap and the 32-bit
    /// limit, whichever is smallest.
    limit_pages: u64,
    /// The maximum the module declared (what import subtyping compares), `None` if unbounded.
    declared_max: Option<u64>,
}

impl LinearMemory {
    /// Reserves the address space and commits `initial_pages`.
    pub fn new(
        initial_pages: u64,
        declared_max: Option<u64>,
        cap_pages: u64,
    ) -> Result<Box<LinearMemory>, String> {
        let limit_pages = declared_max
            .unwrap_or(MAX_WASM_PAGES)
            .min(cap_pages)
            .min(MAX_WASM_PAGES);
        if initial_pages > limit_pages {
            return Err(format!(
                "memory needs {initial_pages} pages but may have at most {limit_pages}"
            ));
        }
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                GUARDED_RESERVATION as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(format!(
                "cannot reserve address space for linear memory: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut memory = Box::new(LinearMemory {
            def: MemoryDef {
                base: base as *mut u8,
                length: 0,
            },
            limit_pages,
            declared_max,
        });
        if memory.grow(initial_pages).is_none() {
            return Err(format!(
                "cannot commit {initial_pages} pages of linear memory: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(memory)
    }

    /// # Safety
    /// `def` must be the `def` field of a live `LinearMemory`, not otherwise borrowed.
    pub unsafe fn from_def<'a>(def: *mut MemoryDef) -> &'a mut LinearMemory {
        unsafe { &mut *(def as *mut LinearMemory) }
    }

    pub fn pages(&self) -> u64 {
        self.def.length / WASM_PAGE_SIZE
    }

    pub fn declared_max(&self) -> Option<u64> {
        self.declared_max
    }

    /// Grows by `delta` pages; the old size in pages, or `None` when refused.
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.limit_pages {
            return None;
        }
        if delta > 0 {
            let start = old * WASM_PAGE_SIZE;
            let bytes = delta * WASM_PAGE_SIZE;
            // SAFETY: [start, start + bytes) lies inside our reservation (new ≤ 65536 pages).
            let rc = unsafe {
                libc::mprotect(
                    self.def.base.add(start as usize) as *mut c_void,
                    bytes as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if rc != 0 {
                return None;
            }
            self.def.length = new * WASM_PAGE_SIZE;
        }
        Some(old)
    }

    /// The committed bytes.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: [base, base + length) is committed read-write memory owned by `self`.
        unsafe { std::slice::from_raw_parts_mut(self.def.base, self.def.length as usize) }
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the reservation made in `new`.
        unsafe { libc::munmap(self.def.base as *mut c_void, GUARDED_RESERVATION as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_commit_and_grow() {
        let mut m = LinearMemory::new(1, Some(3), MAX_WASM_PAGES).unwrap();
        assert_eq!(m.pages(), 1);
        assert_eq!(m.def.length, WASM_PAGE_SIZE);
        m.bytes_mut()[65535] = 7;
        assert_eq!(m.grow(1), Some(1));
        m.bytes_mut()[65536 * 2 - 1] = 9;
        assert_eq!(m.bytes_mut()[65535], 7);
        assert_eq!(m.grow(2), None, "past the declared maximum");
        assert_eq!(m.grow(0), Some(2));
        assert_eq!(m.grow(1), Some(2));
        assert_eq!(m.pages(), 3);
        assert_eq!(m.grow(u64::MAX), None);
    }

    #[test]
    fn cap_limits_growth() {
        let mut m = LinearMemory::new(0, None, 2).unwrap();
        assert_eq!(m.grow(2), Some(0));
        assert_eq!(m.grow(1), None);
        assert_eq!(m.declared_max(), None);
        assert!(LinearMemory::new(3, None, 2).is_err());
    }

    #[test]
    fn new_memory_is_zeroed_and_base_is_stable() {
        let mut m = LinearMemory::new(1, None, MAX_WASM_PAGES).unwrap();
        let base = m.def.base;
        assert!(m.bytes_mut().iter().all(|b| *b == 0));
        m.grow(10).unwrap();
        assert_eq!(m.def.base, base);
        let def: *mut MemoryDef = &mut m.def;
        assert_eq!(unsafe { LinearMemory::from_def(def) }.pages(), 11);
    }
}
