//! The mm handlers on real linear memories (a fake instance context holding only the memory),
//! with hostile arguments.

use super::*;

const RW: u64 = 3;
const PRIVATE_ANON: u64 = 0x22;
const SHARED_ANON: u64 = 0x21;
const FIXED: u64 = 0x10;
const EINVAL: i64 = -(libc::EINVAL as i64);
const ENOMEM: i64 = -(libc::ENOMEM as i64);

/// A memory and a context that points at it; forgets mm's state for it when dropped.
struct Guest {
    memory: Box<LinearMemory>,
    vmctx: Vec<u64>,
}

impl Guest {
    fn new(initial: u64, max: Option<u64>) -> Guest {
        let memory = LinearMemory::with_sharing(initial, max, 65536, true).unwrap();
        let mut vmctx = vec![0u64; 16];
        vmctx[VmctxLayout::MEMORY as usize / 8] = &memory.def as *const MemoryDef as u64;
        Guest { memory, vmctx }
    }

    /// Calls syscall `name` with `args` (missing ones 0); the raw result.
    fn call(&self, name: &str, args: &[u64]) -> i64 {
        let vmctx = self.vmctx.as_ptr() as *mut VmCtx;
        crate::wali::run_for_test(vmctx, handler(name).unwrap(), name, args)
    }

    fn mmap(&self, len: u64) -> i64 {
        self.call("mmap", &[0, len, RW, PRIVATE_ANON, u64::MAX, 0])
    }

    fn byte(&self, at: i64) -> *mut u8 {
        assert!(at >= 0 && (at as u64) < self.memory.length());
        unsafe { self.memory.def.base.add(at as usize) }
    }
}

// SAFETY: the memory is a shared one (its growers lock) and the context is only read.
unsafe impl Sync for Guest {}

impl Drop for Guest {
    fn drop(&mut self) {
        let key = self.memory.def.base as usize;
        lock().retain(|(k, _)| *k != key);
    }
}

#[test]
fn mmap_grows_the_memory_and_reuses_what_munmap_gives_back() {
    let g = Guest::new(1, None);
    let a = g.mmap(4096);
    assert_eq!(a as u64, WASM_PAGE_SIZE, "taken from the top of memory");
    assert_eq!(g.memory.pages(), 2);
    let b = g.mmap(100);
    assert_eq!(b, a + page() as i64, "lengths round up to a page");
    unsafe { *g.byte(a) = 7 };
    assert_eq!(g.call("munmap", &[a as u64, 4096]), 0);
    let c = g.mmap(4096);
    assert_eq!(c, a, "the freed range is reused");
    assert_eq!(unsafe { *g.byte(c) }, 0, "and zeroed");
    assert_eq!(g.memory.pages(), 2, "without growing");
}

#[test]
fn bad_lengths_and_flags_are_refused() {
    let g = Guest::new(1, Some(4));
    assert_eq!(g.mmap(0), EINVAL);
    assert_eq!(
        g.mmap(0xFFFF_FFFF),
        ENOMEM,
        "4 GiB cannot fit, and does not wrap"
    );
    assert_eq!(
        g.mmap(4 * WASM_PAGE_SIZE),
        ENOMEM,
        "past the declared maximum"
    );
    assert_eq!(
        g.call("mmap", &[0, 4096, RW, 0x20, u64::MAX, 0]),
        EINVAL,
        "no type"
    );
    assert_eq!(
        g.call("mmap", &[0, 4096, RW, 0x22, u64::MAX, 1]),
        EINVAL,
        "unaligned offset"
    );
    assert_eq!(
        g.call("mmap", &[0, 4096, RW, 0x22, u64::MAX, (-4096i64) as u64]),
        EINVAL,
        "negative offset"
    );
    assert_eq!(
        g.call("mmap", &[0, 4096, RW, 0x22 | 0x4_0000, u64::MAX, 0]),
        EINVAL,
        "huge pages"
    );
    assert_eq!(
        g.call("mmap", &[0, 4096, RW, 0x03 | 0x800_0000, u64::MAX, 0]),
        -(libc::EOPNOTSUPP as i64),
        "unknown flag with MAP_SHARED_VALIDATE"
    );
    assert_eq!(g.memory.pages(), 1, "nothing was taken");
    // A file mapping of a descriptor that is not open.
    assert_eq!(
        g.call("mmap", &[0, 4096, 1, 0x02, 99999, 0]),
        -(libc::EBADF as i64)
    );
}

#[test]
fn fixed_mappings_stay_inside_mmaps_own_pages() {
    let g = Guest::new(2, None);
    let a = g.mmap(8192) as u64;
    // The module's own data, memory past the end, a range crossing out, an unaligned hint.
    for (hint, len, want) in [
        (0, 4096, ENOMEM),
        (WASM_PAGE_SIZE, 4096, ENOMEM),
        (a + WASM_PAGE_SIZE, 4096, ENOMEM),
        (0xFFFF_F000, 4096, ENOMEM),
        (a + 4096, 0xFFFF_0000, ENOMEM),
        (a + 1, 4096, EINVAL),
    ] {
        assert_eq!(
            g.call("mmap", &[hint, len, RW, PRIVATE_ANON | FIXED, u64::MAX, 0]),
            want,
            "{hint:#x}+{len:#x}"
        );
    }
    unsafe { *g.byte(a as i64 + 4096) = 9 };
    let again = g.call(
        "mmap",
        &[a + 4096, 4096, RW, PRIVATE_ANON | FIXED, u64::MAX, 0],
    );
    assert_eq!(
        again,
        a as i64 + 4096,
        "over mmap's own pages it replaces them"
    );
    assert_eq!(unsafe { *g.byte(again) }, 0);
    assert_eq!(
        g.call(
            "mmap",
            &[a, 4096, RW, PRIVATE_ANON | 0x10_0000, u64::MAX, 0]
        ),
        -(libc::EEXIST as i64),
        "MAP_FIXED_NOREPLACE over a mapping"
    );
}

#[test]
fn munmap_mprotect_madvise_msync_only_touch_mmaps_pages() {
    let g = Guest::new(1, None);
    let a = g.mmap(4096) as u64;
    for (name, args, want) in [
        ("munmap", [0, 4096, 0], EINVAL),
        ("munmap", [a + 1, 4096, 0], EINVAL),
        ("munmap", [a, 0, 0], EINVAL),
        ("munmap", [a, 0xFFFF_F000, 0], EINVAL),
        ("munmap", [0xFFFF_F000, 0x2000, 0], EINVAL),
        ("mprotect", [0, 4096, 1], ENOMEM),
        ("mprotect", [a, 0x10_0000, 1], ENOMEM),
        ("mprotect", [a, 4096, 0x40], EINVAL),
        ("madvise", [0, 4096, 4], ENOMEM),
        ("madvise", [a, 4096, 9999], EINVAL),
        ("madvise", [a, 4096, 10], EINVAL), // MADV_DONTFORK
        ("madvise", [a, 4096, 9], EINVAL),  // MADV_REMOVE
        ("msync", [0, 4096, 4], ENOMEM),
        ("msync", [a, 4096, 5], EINVAL),
        ("msync", [a, 4096, 0xdead], EINVAL),
    ] {
        assert_eq!(g.call(name, &args), want, "{name}{args:x?}");
    }
    assert_eq!(g.call("madvise", &[a, 4096, 4]), 0);
    assert_eq!(g.call("msync", &[a, 4096, 4]), 0);
    assert_eq!(
        g.call("mprotect", &[a, 4096, 1 | 4]),
        0,
        "PROT_EXEC is accepted"
    );
    // Still mapped (read-only, never executable) on the host.
    let mut vec = [0u8; 1];
    let host = g.byte(a as i64) as *mut c_void;
    assert_eq!(unsafe { libc::mincore(host, 4096, vec.as_mut_ptr()) }, 0);
    assert_eq!(g.call("munmap", &[a, 4096]), 0);
    unsafe { *g.byte(a as i64) = 1 }; // writable again: munmap restored fresh pages
}

#[test]
fn mremap_grows_in_place_moves_and_shrinks() {
    let g = Guest::new(1, None);
    let a = g.mmap(4096);
    unsafe { *g.byte(a) = b'X' };
    // Free pages follow (the rest of the grown wasm page): grows in place.
    let grown = g.call("mremap", &[a as u64, 4096, 8192, 0, 0]);
    assert_eq!(grown, a);
    let b = g.mmap(4096);
    assert_eq!(b, a + 8192);
    // Blocked by `b` now: refused without MAYMOVE, moved with it.
    assert_eq!(g.call("mremap", &[a as u64, 8192, 16384, 0, 0]), ENOMEM);
    let moved = g.call("mremap", &[a as u64, 8192, 16384, 1, 0]);
    assert!(moved > b, "{moved:#x}");
    assert_eq!(unsafe { *g.byte(moved) }, b'X', "contents moved");
    assert_eq!(g.mmap(8192), a, "the old pages are free again");
    assert_eq!(
        g.call("mremap", &[moved as u64, 16384, 4096, 0, 0]),
        moved,
        "shrinks"
    );
    assert_eq!(g.call("mremap", &[moved as u64, 4096, 0, 1, 0]), EINVAL);
    assert_eq!(
        g.call("mremap", &[0, 4096, 8192, 1, 0]),
        -(libc::EFAULT as i64)
    );
    assert_eq!(
        g.call("mremap", &[moved as u64, 4096, 8192, 2, 0]),
        EINVAL,
        "FIXED alone"
    );
    // Shared mappings only shrink.
    let s = g.call("mmap", &[0, 8192, RW, SHARED_ANON, u64::MAX, 0]) as u64;
    assert_eq!(g.call("mremap", &[s, 8192, 16384, 1, 0]), ENOMEM);
    assert_eq!(g.call("mremap", &[s, 8192, 4096, 0, 0]), s as i64);
}

#[test]
fn shared_anonymous_pages_stay_shared_across_fork() {
    let g = Guest::new(1, None);
    let s = g.call("mmap", &[0, 4096, RW, SHARED_ANON, u64::MAX, 0]);
    let p = g.mmap(4096);
    let (shared, private) = (g.byte(s), g.byte(p));
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            *shared = 1;
            *private = 1;
            libc::_exit(0);
        }
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(unsafe { (*shared, *private) }, (1, 0));
}

#[test]
fn brk_moves_inside_its_reservation() {
    let g = Guest::new(1, Some(64));
    let start = g.call("brk", &[0]);
    assert_eq!(start as u64, WASM_PAGE_SIZE);
    let limit = 15 * WASM_PAGE_SIZE; // a quarter of the 63 pages left, rounded down
    assert_eq!(g.call("brk", &[start as u64 + 10]), start + 10);
    unsafe { *g.byte(start + 5000) = 3 };
    assert_eq!(
        g.call("brk", &[start as u64 + limit + 1]),
        start + 10,
        "past the reservation"
    );
    assert_eq!(
        g.call("brk", &[start as u64 - 1]),
        start + 10,
        "below the start"
    );
    assert_eq!(g.call("brk", &[start as u64 + 8192]), start + 8192);
    assert_eq!(unsafe { *g.byte(start + 5000) }, 3);
    assert_eq!(g.call("brk", &[start as u64 + 10]), start + 10);
    assert_eq!(g.call("brk", &[start as u64 + 8192]), start + 8192);
    assert_eq!(
        unsafe { *g.byte(start + 5000) },
        0,
        "a lowered break zeroes what it gave up"
    );
    // mmap never hands out the break's pages.
    let m = g.mmap(4096);
    assert!(m as u64 >= start as u64 + limit, "{m:#x}");
    assert_eq!(
        g.call("munmap", &[start as u64, 4096]),
        EINVAL,
        "the break's pages are not mmap's"
    );
}

#[test]
fn threads_never_get_overlapping_pages() {
    let g = Guest::new(1, None);
    let owners: Vec<Vec<(i64, u8)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4u8)
            .map(|t| {
                let g = &g;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..200u32 {
                        let a = g.mmap(4096 * (1 + u64::from(i % 3)));
                        assert!(a > 0);
                        unsafe { *g.byte(a) = t + 1 };
                        mine.push((a, t + 1));
                        if i % 2 == 0 {
                            let (old, _) = mine.remove(0);
                            let r = g.call("munmap", &[old as u64, 4096]);
                            assert_eq!(r, 0);
                        }
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for (a, owner) in owners.into_iter().flatten() {
        assert_eq!(
            unsafe { *g.byte(a) },
            owner,
            "page {a:#x} was handed out twice"
        );
    }
}
