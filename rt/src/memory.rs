//! Linear memory: one [`GUARDED_RESERVATION`] of address space per memory, inaccessible except
//! for the committed prefix `[0, length)`. The base never moves, so compiled code may cache it,
//! and any access past the committed length (up to 8 GiB past the base) faults.
//!
//! A shared memory (threads proposal) is used by several threads at once: its growers are
//! serialised by a lock, and its length is published with an atomic store after the new pages
//! are committed, so a thread that sees the new length can use the pages. Compiled code reads
//! the length with a plain aligned 64-bit load, which is atomic on every target. An unshared
//! memory takes no lock.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

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
    /// `Some` for a shared memory: held while it grows.
    grow_lock: Option<Mutex<()>>,
}

impl LinearMemory {
    /// Reserves the address space and commits `initial_pages`.
    pub fn new(
        initial_pages: u64,
        declared_max: Option<u64>,
        cap_pages: u64,
    ) -> Result<Box<LinearMemory>, String> {
        Self::with_sharing(initial_pages, declared_max, cap_pages, false)
    }

    /// As [`LinearMemory::new`], shared between threads when `shared`.
    pub fn with_sharing(
        initial_pages: u64,
        declared_max: Option<u64>,
        cap_pages: u64,
        shared: bool,
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
        let memory = Box::new(LinearMemory {
            def: MemoryDef {
                base: base as *mut u8,
                length: 0,
            },
            limit_pages,
            declared_max,
            grow_lock: shared.then(|| Mutex::new(())),
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
    /// `def` must be the `def` field of a live `LinearMemory`. Only shared references are
    /// handed out: other threads may use the same memory at the same time.
    pub unsafe fn from_def<'a>(def: *mut MemoryDef) -> &'a LinearMemory {
        unsafe { &*(def as *const LinearMemory) }
    }

    /// The current length in bytes (another thread may be growing a shared memory).
    pub fn length(&self) -> u64 {
        // SAFETY: `length` is an aligned u64 that is only ever written atomically once the
        // memory may be shared.
        unsafe { AtomicU64::from_ptr(&self.def.length as *const u64 as *mut u64) }
            .load(Ordering::Acquire)
    }

    pub fn pages(&self) -> u64 {
        self.length() / WASM_PAGE_SIZE
    }

    pub fn is_shared(&self) -> bool {
        self.grow_lock.is_some()
    }

    pub fn declared_max(&self) -> Option<u64> {
        self.declared_max
    }

    /// Grows by `delta` pages; the old size in pages, or `None` when refused. Takes `&self`
    /// because other threads may hold the same shared memory; growers are serialised.
    pub fn grow(&self, delta: u64) -> Option<u64> {
        let _guard = self
            .grow_lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()));
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
            // SAFETY: see `length`; the pages are committed before the new length shows.
            unsafe { AtomicU64::from_ptr(&self.def.length as *const u64 as *mut u64) }
                .store(new * WASM_PAGE_SIZE, Ordering::Release);
        }
        Some(old)
    }

    /// The committed bytes.
    ///
    /// # Safety
    /// Nothing else (wasm code, host functions, another thread) may access the memory while
    /// the slice lives; for tests and single-threaded setup only.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bytes_mut(&self) -> &mut [u8] {
        // SAFETY: [base, base + length) is committed read-write memory owned by `self`.
        unsafe { std::slice::from_raw_parts_mut(self.def.base, self.length() as usize) }
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
        let m = LinearMemory::new(1, Some(3), MAX_WASM_PAGES).unwrap();
        assert_eq!(m.pages(), 1);
        assert_eq!(m.def.length, WASM_PAGE_SIZE);
        let bytes = unsafe { m.bytes_mut() };
        bytes[65535] = 7;
        assert_eq!(m.grow(1), Some(1));
        let bytes = unsafe { m.bytes_mut() };
        bytes[65536 * 2 - 1] = 9;
        assert_eq!(unsafe { m.bytes_mut() }[65535], 7);
        assert_eq!(m.grow(2), None, "past the declared maximum");
        assert_eq!(m.grow(0), Some(2));
        assert_eq!(m.grow(1), Some(2));
        assert_eq!(m.pages(), 3);
        assert_eq!(m.grow(u64::MAX), None);
    }

    #[test]
    fn cap_limits_growth() {
        let m = LinearMemory::new(0, None, 2).unwrap();
        assert_eq!(m.grow(2), Some(0));
        assert_eq!(m.grow(1), None);
        assert_eq!(m.declared_max(), None);
        assert!(LinearMemory::new(3, None, 2).is_err());
    }

    #[test]
    fn new_memory_is_zeroed_and_base_is_stable() {
        let m = LinearMemory::new(1, None, MAX_WASM_PAGES).unwrap();
        let base = m.def.base;
        assert!(unsafe { m.bytes_mut() }.iter().all(|b| *b == 0));
        m.grow(10).unwrap();
        assert_eq!(m.def.base, base);
        let def = &m.def as *const MemoryDef as *mut MemoryDef;
        assert_eq!(unsafe { LinearMemory::from_def(def) }.pages(), 11);
    }
}
