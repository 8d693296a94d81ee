//! WALI memory syscalls: mmap, munmap, mremap, mprotect, madvise, msync and brk, all inside the
//! guest's linear memory. Nothing here maps host memory for the guest or hands the kernel an
//! address outside the memory's committed pages.
//!
//! - **mmap** takes pages from the top of linear memory: it grows the memory (the same growth
//!   as `memory.grow`, so the module's declared maximum and the build's `--max-memory-pages`
//!   cap apply) and keeps what it grew in a [`space::Space`], whose freed runs later mmaps
//!   reuse, zeroed. The address hint is ignored unless `MAP_FIXED`/`MAP_FIXED_NOREPLACE`, which
//!   may only name pages mmap owns (anything else, the module's own data or memory past the
//!   end, answers `ENOMEM` and maps nothing). Results are aligned to the host's page size and
//!   lengths are rounded up to it, as the kernel does. Failures answer a negative errno.
//! - **Anonymous `MAP_SHARED`** pages are mapped shared over the range, so a forked child
//!   shares them. **File-backed `MAP_PRIVATE`** reads the file into the range (eagerly, with
//!   zeros past its end). **File-backed `MAP_SHARED`** maps the file itself over the range
//!   with `MAP_FIXED` (regular files only, else `ENODEV`: some devices make mappings that
//!   a forked child would not inherit): the range is page-aligned and inside the memory's
//!   reservation, the kernel checks the descriptor's access mode, and writes reach the file
//!   as they would natively (`msync` works). A file shorter than the mapping faults past its
//!   end, as natively. A descriptor that is not open answers `EBADF`, one not open for
//!   reading `EACCES`.
//! - **mprotect** applies read/write protection for real (a wasm access the protection
//!   forbids traps as out of bounds); `PROT_EXEC` is accepted and never applied: linear
//!   memory is never executable. A runtime copy into a page the guest made read-only ends the
//!   process with the fault, where a native program would have faulted too.
//! - **munmap, mprotect, madvise, msync and mremap** act only on pages mmap handed out (a
//!   range reaching the module's own memory or past the end answers `EINVAL` for munmap and
//!   `ENOMEM` for the others, as the kernel answers for unmapped memory). munmap resets the
//!   pages to fresh anonymous read-write zero pages and gives their memory back to the host.
//!   mremap moves by copying; it cannot grow `MAP_SHARED` mappings (`ENOMEM`), and the pages
//!   it adds to a file-backed private mapping are zero. `MREMAP_DONTUNMAP` and `old_size`
//!   0 answer `EINVAL`. madvise passes the advice values that only concern the pages
//!   themselves and refuses the rest (`MADV_DONTFORK`, `MADV_REMOVE`, `MADV_HWPOISON`, ...:
//!   `EINVAL`), so no advice can leave a hole in a forked child's memory.
//! - **brk** moves a break inside a region reserved on its first call (16 MiB, less when the
//!   memory's maximum is near); as the kernel does, it answers the new break, or the old one
//!   when it cannot move. A lowered break zeroes the pages it gives up. The break's pages are
//!   not mmap's: `MAP_FIXED` there (musl's guard page below its heap) answers `ENOMEM`,
//!   which musl ignores, and munmap/mprotect there are refused as above.
//!
//! The state lives per memory (one per process) behind one lock, held for each call: guest
//! threads share the memory. `fork` holds it too ([`lock_for_fork`]), so a child never
//! inherits it locked.
//!
//! Guest flag values are x86-64's; the memory-management values (`PROT_*`, `MAP_*`, `MADV_*`,
//! `MS_*`, `MREMAP_*`) are the same on aarch64 and riscv64 (asm-generic), so those hosts need no
//! translation here.

mod space;

use std::ffi::c_void;
use std::sync::{Mutex, MutexGuard};

use wafer_abi::{MemoryDef, VmCtx, VmctxLayout, WASM_PAGE_SIZE};

use super::{Args, Call, Errno, Handler, SysResult};
use crate::memory::LinearMemory;
use space::{Space, Use};

/// Guest `PROT_*`, `MAP_*`, `MREMAP_*`, `MS_*` values (x86-64, identical on the other hosts).
mod guest {
    pub const PROT_READ: i32 = 0x1;
    pub const PROT_WRITE: i32 = 0x2;
    pub const PROT_EXEC: i32 = 0x4;
    pub const PROT_SEM: i32 = 0x8;
    pub const PROT_GROWSDOWN: i32 = 0x0100_0000;
    pub const PROT_GROWSUP: i32 = 0x0200_0000;

    pub const MAP_SHARED: i32 = 0x01;
    pub const MAP_PRIVATE: i32 = 0x02;
    pub const MAP_SHARED_VALIDATE: i32 = 0x03;
    pub const MAP_TYPE: i32 = 0x0f;
    pub const MAP_FIXED: i32 = 0x10;
    pub const MAP_ANONYMOUS: i32 = 0x20;
    pub const MAP_HUGETLB: i32 = 0x4_0000;
    pub const MAP_SYNC: i32 = 0x8_0000;
    pub const MAP_FIXED_NOREPLACE: i32 = 0x10_0000;
    /// Flags accepted and ignored (they change nothing inside linear memory): 32BIT (every
    /// guest address is 32-bit), GROWSDOWN, DENYWRITE, EXECUTABLE, LOCKED, NORESERVE, POPULATE,
    /// NONBLOCK, STACK, UNINITIALIZED.
    pub const MAP_IGNORED: i32 =
        0x40 | 0x100 | 0x800 | 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x1_0000 | 0x2_0000 | 0x400_0000;

    pub const MREMAP_MAYMOVE: i32 = 1;
    pub const MREMAP_FIXED: i32 = 2;
    pub const MREMAP_DONTUNMAP: i32 = 4;

    pub const MS_ASYNC: i32 = 1;
    pub const MS_INVALIDATE: i32 = 2;
    pub const MS_SYNC: i32 = 4;
}

/// Guest `MADV_*` values the runtime passes on, each with the host's value: advice about the
/// pages' contents or paging only. The others (REMOVE, DONTFORK, DOFORK, MERGEABLE,
/// UNMERGEABLE, WIPEONFORK, KEEPONFORK, HWPOISON, SOFT_OFFLINE, POPULATE_*, COLLAPSE, ...)
/// answer `EINVAL`: some would leave holes in a forked child's linear memory.
const ADVICE: &[(i32, i32)] = &[
    (0, libc::MADV_NORMAL),
    (1, libc::MADV_RANDOM),
    (2, libc::MADV_SEQUENTIAL),
    (3, libc::MADV_WILLNEED),
    (4, libc::MADV_DONTNEED),
    (8, libc::MADV_FREE),
    (14, libc::MADV_HUGEPAGE),
    (15, libc::MADV_NOHUGEPAGE),
    (16, libc::MADV_DONTDUMP),
    (17, libc::MADV_DODUMP),
    (20, 20), // MADV_COLD
    (21, 21), // MADV_PAGEOUT
];

/// What brk reserves on its first call (at most a quarter of what the memory may still grow).
const BRK_RESERVE_PAGES: u64 = 256;

/// The handler for the syscall named `name`, if this family implements it.
pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "mmap" => mmap,
        "munmap" => munmap,
        "mremap" => mremap,
        "mprotect" => mprotect,
        "madvise" => madvise,
        "msync" => msync,
        "brk" => brk,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/// The break: `[start, limit)` reserved, `current` the guest's break.
#[derive(Clone, Copy, Debug)]
struct Brk {
    start: u64,
    limit: u64,
    current: u64,
}

/// What mm keeps for one memory.
#[derive(Default)]
struct State {
    space: Space,
    brk: Option<Brk>,
}

/// Every memory's state, by the memory's base address (a process has one memory; tests make
/// many).
static STATES: Mutex<Vec<(usize, State)>> = Mutex::new(Vec::new());

fn lock() -> MutexGuard<'static, Vec<(usize, State)>> {
    STATES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held across `fork` so that the child never starts with the lock held by a thread it does
/// not have.
pub fn lock_for_fork() -> impl Drop {
    lock()
}

fn state<'a>(all: &'a mut Vec<(usize, State)>, memory: &LinearMemory) -> &'a mut State {
    let key = memory.def.base as usize;
    let at = match all.iter().position(|(k, _)| *k == key) {
        Some(at) => at,
        None => {
            all.push((key, State::default()));
            all.len() - 1
        }
    };
    &mut all[at].1
}

/// The linear memory of the calling instance.
///
/// # Safety
/// `vmctx` must be a live instance context whose memory is a [`LinearMemory`].
unsafe fn memory_of<'a>(vmctx: *mut VmCtx) -> Result<&'a LinearMemory, Errno> {
    // SAFETY: the MEMORY slot of a live vmctx holds its memory's def or null.
    let def = unsafe {
        *((vmctx as *const u8).add(VmctxLayout::MEMORY as usize) as *const *mut MemoryDef)
    };
    if def.is_null() {
        return Err(Errno(libc::ENOMEM));
    }
    // SAFETY: every memory the runtime makes is a LinearMemory with `def` first.
    Ok(unsafe { LinearMemory::from_def(def) })
}

/// Runs `f` with the calling memory and its state, under the lock.
fn with_state<T>(call: &Call, f: impl FnOnce(&LinearMemory, &mut State) -> T) -> Result<T, Errno> {
    // SAFETY: `call.vmctx` is the live context of the calling instance.
    let memory = unsafe { memory_of(call.vmctx) }?;
    let mut all = lock();
    let st = state(&mut all, memory);
    Ok(f(memory, st))
}

// ---------------------------------------------------------------------------------------------
// Sizes and host mappings
// ---------------------------------------------------------------------------------------------

/// The host's page size: mmap's granularity (at least 4 KiB, at most a wasm page).
fn page() -> u64 {
    static PAGE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    // SAFETY: plain libc query.
    *PAGE.get_or_init(|| {
        (unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64).clamp(4096, WASM_PAGE_SIZE)
    })
}

fn aligned(x: u64) -> bool {
    x.is_multiple_of(page())
}

/// `len` rounded up to whole pages (guest lengths are 32-bit, so this never overflows).
fn round_up(len: u64) -> u64 {
    len.div_ceil(page()) * page()
}

/// The guest's argument `i` as a C `int`.
fn int(args: &Args, i: usize) -> i32 {
    super::int(args, i)
}

fn host(memory: &LinearMemory, offset: u64) -> *mut c_void {
    // SAFETY (for callers): `offset` is inside the committed memory, checked by the caller.
    memory.def.base.wrapping_add(offset as usize) as *mut c_void
}

/// The host protection for guest `prot`: read and write only.
fn host_prot(prot: i32) -> i32 {
    let mut p = libc::PROT_NONE;
    if prot & guest::PROT_READ != 0 {
        p |= libc::PROT_READ;
    }
    if prot & guest::PROT_WRITE != 0 {
        p |= libc::PROT_WRITE;
    }
    p
}

/// Replaces `[start, start + len)` of the memory with fresh anonymous read-write zero pages,
/// as the memory's own pages are: drops their contents, any protection and any file or
/// shared mapping, and gives their memory back to the host. The replacement is atomic (no
/// moment leaves a hole another mapping could take).
fn reset(memory: &LinearMemory, start: u64, len: u64) -> Result<(), Errno> {
    map_fixed(
        memory,
        start,
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
        -1,
        0,
    )
}

/// `mmap(MAP_FIXED)` over `[start, start + len)`, which lies inside the memory's committed
/// pages (so inside its reservation) and is page-aligned. A kernel that fails such a call
/// after taking the old pages away would leave a hole inside the reservation where another
/// mapping of the host could land: after a failure, a range that is not wholly mapped any
/// more (`mincore` says so, or cannot tell) is mapped again as fresh anonymous pages (what
/// every caller wants there after a failure anyway); if even that fails, the process ends
/// rather than run with a hole in its sandbox.
fn map_fixed(
    memory: &LinearMemory,
    start: u64,
    len: u64,
    prot: i32,
    flags: i32,
    fd: i32,
    offset: i64,
) -> Result<(), Errno> {
    debug_assert!(aligned(start) && aligned(len) && start + len <= memory.length());
    let at = host(memory, start);
    // SAFETY: the range is inside the memory's reservation, which only this module and the
    // memory itself map; MAP_FIXED replaces what is there.
    let got = unsafe { libc::mmap(at, len as usize, prot, flags | libc::MAP_FIXED, fd, offset) };
    if got == at {
        return Ok(());
    }
    let error = Errno::last();
    if !fully_mapped(memory, start, len) {
        let anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED;
        // SAFETY: as above.
        let mended = unsafe {
            libc::mmap(
                at,
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                anon,
                -1,
                0,
            )
        };
        if mended != at {
            eprintln!("wafer: cannot restore linear memory after a failed mmap; ending");
            std::process::abort();
        }
    }
    Err(error)
}

/// Whether every page of the range is mapped (of any protection); `false` when it cannot
/// be told.
fn fully_mapped(memory: &LinearMemory, start: u64, len: u64) -> bool {
    let mut pages = vec![0u8; (len / page()) as usize];
    // SAFETY: mincore only inspects the range and writes one byte per page to `pages`.
    let r = unsafe { libc::mincore(host(memory, start), len as usize, pages.as_mut_ptr()) };
    r == 0
}

/// Sets the host protection of `[start, start + len)`.
fn protect(memory: &LinearMemory, start: u64, len: u64, prot: i32) -> Result<(), Errno> {
    // SAFETY: a range of mmap's own pages inside the memory.
    let r = unsafe { libc::mprotect(host(memory, start), len as usize, host_prot(prot)) };
    super::check(r as libc::c_long).map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Taking and giving back pages
// ---------------------------------------------------------------------------------------------

/// Finds (growing the memory when needed) `len` free bytes and hands them out as fresh zero
/// read-write pages; the guest offset. `ENOMEM` when the memory cannot grow enough.
fn take(memory: &LinearMemory, space: &mut Space, len: u64) -> Result<u64, Errno> {
    for _ in 0..3 {
        if let Some(at) = space.find_free(len) {
            hand_out(memory, space, at, len)?;
            return Ok(at);
        }
        // Grow by what is missing: a free run at the very end of the memory counts.
        let end = memory.length();
        let tail = match space.last() {
            Some(r) if r.how.is_free() && r.end() == end => r.len,
            _ => 0,
        };
        let pages = (len - tail).div_ceil(WASM_PAGE_SIZE);
        let old = memory.grow(pages).ok_or(Errno(libc::ENOMEM))?;
        // Another thread's memory.grow may have come between: what we got is ours either way.
        space.add_fresh(old * WASM_PAGE_SIZE, pages * WASM_PAGE_SIZE);
    }
    Err(Errno(libc::ENOMEM))
}

/// Marks owned `[at, at + len)` handed out as private read-write, zeroing what was used before.
fn hand_out(memory: &LinearMemory, space: &mut Space, at: u64, len: u64) -> Result<(), Errno> {
    let runs = space.covering(at, len).ok_or(Errno(libc::ENOMEM))?;
    for r in runs {
        if r.how != (Use::Free { dirty: false }) {
            reset(memory, r.start, r.len)?;
        }
    }
    space.assign(at, len, |_| Use::Mapped {
        prot: guest::PROT_READ | guest::PROT_WRITE,
        shared: false,
    });
    Ok(())
}

/// Gives owned `[at, at + len)` back: fresh pages on the host, free (and to be zeroed before
/// reuse) in the space.
fn give_back(memory: &LinearMemory, space: &mut Space, at: u64, len: u64) -> Result<(), Errno> {
    reset(memory, at, len)?;
    space.assign(at, len, |_| Use::Free { dirty: true });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// mmap
// ---------------------------------------------------------------------------------------------

/// What an mmap call asks for, checked.
struct Request {
    hint: u64,
    len: u64,
    prot: i32,
    fixed: bool,
    noreplace: bool,
    shared: bool,
    /// The descriptor and offset of a file-backed mapping.
    file: Option<(i32, i64)>,
}

fn parse_mmap(args: &Args) -> Result<Request, Errno> {
    let einval = Errno(libc::EINVAL);
    let (hint, len, prot, flags, fd, offset) = (
        args[0],
        args[1],
        int(args, 2),
        int(args, 3),
        int(args, 4),
        args[5] as i64,
    );
    let shared = match flags & guest::MAP_TYPE {
        guest::MAP_SHARED => true,
        guest::MAP_PRIVATE => false,
        guest::MAP_SHARED_VALIDATE => {
            let known = guest::MAP_TYPE
                | guest::MAP_FIXED
                | guest::MAP_ANONYMOUS
                | guest::MAP_FIXED_NOREPLACE
                | guest::MAP_HUGETLB
                | guest::MAP_IGNORED;
            if flags & !known != 0 || flags & guest::MAP_SYNC != 0 {
                return Err(Errno(libc::EOPNOTSUPP));
            }
            true
        }
        _ => return Err(einval),
    };
    if len == 0 || offset < 0 || !aligned(offset as u64) {
        return Err(einval);
    }
    // Huge pages cannot be given inside linear memory.
    if flags & guest::MAP_HUGETLB != 0 {
        return Err(einval);
    }
    let anonymous = flags & guest::MAP_ANONYMOUS != 0;
    let len = round_up(len);
    if !anonymous
        && (offset as u64)
            .checked_add(len)
            .is_none_or(|e| e > i64::MAX as u64)
    {
        return Err(Errno(libc::EOVERFLOW));
    }
    Ok(Request {
        hint,
        len,
        prot,
        fixed: flags & (guest::MAP_FIXED | guest::MAP_FIXED_NOREPLACE) != 0,
        noreplace: flags & guest::MAP_FIXED_NOREPLACE != 0,
        shared,
        file: (!anonymous).then_some((fd, offset)),
    })
}

fn mmap(call: &Call, args: &Args) -> SysResult {
    let req = parse_mmap(args)?;
    // A file's descriptor is checked before any page is taken.
    if let Some((fd, _)) = req.file {
        check_file(fd, req.shared)?;
    }
    with_state(call, |memory, st| {
        let space = &mut st.space;
        let at = if req.fixed {
            if !aligned(req.hint) {
                return Err(Errno(libc::EINVAL));
            }
            let runs = space
                .covering(req.hint, req.len)
                .ok_or(Errno(libc::ENOMEM))?;
            if req.noreplace && runs.iter().any(|r| !r.how.is_free()) {
                return Err(Errno(libc::EEXIST));
            }
            reset(memory, req.hint, req.len)?;
            space.assign(req.hint, req.len, |_| Use::Free { dirty: false });
            hand_out(memory, space, req.hint, req.len)?;
            req.hint
        } else {
            take(memory, space, req.len)?
        };
        if let Err(e) = fill(memory, at, &req) {
            give_back(memory, space, at, req.len)?;
            return Err(e);
        }
        space.assign(at, req.len, |_| Use::Mapped {
            prot: req.prot,
            shared: req.shared,
        });
        Ok(at as i64)
    })?
}

/// Checks a file-backed mapping's descriptor before any page is taken: it must be open
/// (`EBADF`), and a regular file for `MAP_SHARED` (or a regular file or device for a private
/// copy; else `ENODEV`). Devices are never mapped shared into linear memory: some make
/// mappings a forked child does not inherit, which would leave a hole in its memory.
fn check_file(fd: i32, shared: bool) -> Result<(), Errno> {
    // SAFETY: zero is a valid stat, which the kernel fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::syscall(libc::SYS_fstat, fd, &mut st as *mut libc::stat) };
    super::check(r)?;
    let kind = st.st_mode & libc::S_IFMT;
    let ok = if shared {
        kind == libc::S_IFREG
    } else {
        kind == libc::S_IFREG || kind == libc::S_IFBLK || kind == libc::S_IFCHR
    };
    if ok {
        Ok(())
    } else {
        Err(Errno(libc::ENODEV))
    }
}

/// Gives the fresh read-write pages at `at` what `req` asks for: contents and protection.
fn fill(memory: &LinearMemory, at: u64, req: &Request) -> Result<(), Errno> {
    let prot = host_prot(req.prot);
    match (req.file, req.shared) {
        (None, false) => {}
        (None, true) => {
            let flags = libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
            return map_fixed(memory, at, req.len, prot, flags, -1, 0);
        }
        (Some((fd, offset)), true) => {
            return map_fixed(memory, at, req.len, prot, libc::MAP_SHARED, fd, offset);
        }
        (Some((fd, offset)), false) => read_file(memory, at, req.len, fd, offset)?,
    }
    if req.prot & (guest::PROT_READ | guest::PROT_WRITE) != guest::PROT_READ | guest::PROT_WRITE {
        protect(memory, at, req.len, req.prot)?;
    }
    Ok(())
}

/// Reads up to `len` bytes of `fd` from `offset` into the memory at `at` (zeros past the end
/// of the file stay zero).
fn read_file(memory: &LinearMemory, at: u64, len: u64, fd: i32, offset: i64) -> Result<(), Errno> {
    let mut done = 0u64;
    while done < len {
        // SAFETY: `[at + done, at + len)` is committed read-write memory of the guest.
        let n = unsafe {
            libc::pread(
                fd,
                host(memory, at + done),
                (len - done) as usize,
                offset + done as i64,
            )
        };
        if n < 0 {
            let e = Errno::last();
            match e.0 {
                libc::EINTR => continue,
                libc::ESPIPE | libc::EISDIR | libc::EINVAL => return Err(Errno(libc::ENODEV)),
                // Open (fstat worked) but not for reading.
                libc::EBADF => return Err(Errno(libc::EACCES)),
                _ => return Err(e),
            }
        }
        if n == 0 {
            break;
        }
        done += n as u64;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// munmap, mprotect, madvise, msync
// ---------------------------------------------------------------------------------------------

/// The checked, page-rounded range of a call on existing pages: `(start, len)`.
fn range(addr: u64, len: u64) -> Result<(u64, u64), Errno> {
    if !aligned(addr) {
        return Err(Errno(libc::EINVAL));
    }
    Ok((addr, round_up(len)))
}

fn munmap(call: &Call, args: &Args) -> SysResult {
    let (start, len) = range(args[0], args[1])?;
    if len == 0 {
        return Err(Errno(libc::EINVAL));
    }
    with_state(call, |memory, st| {
        st.space.covering(start, len).ok_or(Errno(libc::EINVAL))?;
        give_back(memory, &mut st.space, start, len)?;
        Ok(0)
    })?
}

fn mprotect(call: &Call, args: &Args) -> SysResult {
    let (start, len) = range(args[0], args[1])?;
    let prot = int(args, 2);
    let known = guest::PROT_READ
        | guest::PROT_WRITE
        | guest::PROT_EXEC
        | guest::PROT_SEM
        | guest::PROT_GROWSDOWN
        | guest::PROT_GROWSUP;
    if prot & !known != 0
        || prot & (guest::PROT_GROWSDOWN | guest::PROT_GROWSUP)
            == guest::PROT_GROWSDOWN | guest::PROT_GROWSUP
    {
        return Err(Errno(libc::EINVAL));
    }
    if len == 0 {
        return Ok(0);
    }
    with_state(call, |memory, st| {
        if !st.space.all_mapped(start, len) {
            return Err(Errno(libc::ENOMEM));
        }
        protect(memory, start, len, prot)?;
        st.space.assign(start, len, |old| match old {
            Use::Mapped { shared, .. } => Use::Mapped { prot, shared },
            free => free,
        });
        Ok(0)
    })?
}

fn madvise(call: &Call, args: &Args) -> SysResult {
    let (start, len) = range(args[0], args[1])?;
    let advice = int(args, 2);
    let host_advice = ADVICE
        .iter()
        .find(|(g, _)| *g == advice)
        .map(|&(_, h)| h)
        .ok_or(Errno(libc::EINVAL))?;
    if len == 0 {
        return Ok(0);
    }
    with_state(call, |memory, st| {
        if !st.space.all_mapped(start, len) {
            return Err(Errno(libc::ENOMEM));
        }
        // SAFETY: mmap's own pages inside the memory; the advice cannot unmap them.
        let r = unsafe { libc::madvise(host(memory, start), len as usize, host_advice) };
        super::check(r as libc::c_long)
    })?
}

fn msync(call: &Call, args: &Args) -> SysResult {
    let (start, len) = range(args[0], args[1])?;
    let flags = int(args, 2);
    let known = guest::MS_ASYNC | guest::MS_INVALIDATE | guest::MS_SYNC;
    let both = guest::MS_ASYNC | guest::MS_SYNC;
    if flags & !known != 0 || flags & both == both {
        return Err(Errno(libc::EINVAL));
    }
    let mut host_flags = 0;
    for (g, h) in [
        (guest::MS_ASYNC, libc::MS_ASYNC),
        (guest::MS_INVALIDATE, libc::MS_INVALIDATE),
        (guest::MS_SYNC, libc::MS_SYNC),
    ] {
        if flags & g != 0 {
            host_flags |= h;
        }
    }
    if len == 0 {
        return Ok(0);
    }
    with_state(call, |memory, st| {
        if !st.space.all_mapped(start, len) {
            return Err(Errno(libc::ENOMEM));
        }
        // SAFETY: mmap's own pages inside the memory.
        let r = unsafe { libc::msync(host(memory, start), len as usize, host_flags) };
        super::check(r as libc::c_long)
    })?
}

// ---------------------------------------------------------------------------------------------
// mremap
// ---------------------------------------------------------------------------------------------

fn mremap(call: &Call, args: &Args) -> SysResult {
    let (old, old_len, new_len, flags, new_addr) =
        (args[0], args[1], args[2], int(args, 3), args[4]);
    let einval = Errno(libc::EINVAL);
    if flags & !(guest::MREMAP_MAYMOVE | guest::MREMAP_FIXED | guest::MREMAP_DONTUNMAP) != 0
        || flags & guest::MREMAP_DONTUNMAP != 0
        || (flags & guest::MREMAP_FIXED != 0 && flags & guest::MREMAP_MAYMOVE == 0)
    {
        return Err(einval);
    }
    let (old, old_len) = range(old, old_len)?;
    let new_len = round_up(new_len);
    if new_len == 0 || old_len == 0 {
        return Err(einval);
    }
    let may_move = flags & guest::MREMAP_MAYMOVE != 0;
    let fixed = (flags & guest::MREMAP_FIXED != 0).then_some(new_addr);
    with_state(call, |memory, st| {
        let space = &mut st.space;
        // The old range must be one mapping (one use), as the kernel wants one VMA.
        let runs = space.covering(old, old_len).ok_or(Errno(libc::EFAULT))?;
        let how = match runs.as_slice() {
            [r] if !r.how.is_free() => r.how,
            _ => return Err(Errno(libc::EFAULT)),
        };
        let Use::Mapped { prot, shared } = how else {
            return Err(Errno(libc::EFAULT));
        };
        if let Some(target) = fixed {
            return move_to(
                memory,
                space,
                (old, old_len),
                new_len,
                prot,
                shared,
                Some(target),
            );
        }
        if new_len <= old_len {
            if new_len < old_len {
                give_back(memory, space, old + new_len, old_len - new_len)?;
            }
            return Ok(old as i64);
        }
        if shared {
            return Err(Errno(libc::ENOMEM));
        }
        if grow_in_place(memory, space, old + old_len, new_len - old_len, prot)? {
            return Ok(old as i64);
        }
        if !may_move {
            return Err(Errno(libc::ENOMEM));
        }
        move_to(memory, space, (old, old_len), new_len, prot, shared, None)
    })?
}

/// Extends a private mapping ending at `end` by `extra` bytes where they are free (growing
/// the memory when the mapping ends at the top of the owned pages); whether it could.
fn grow_in_place(
    memory: &LinearMemory,
    space: &mut Space,
    end: u64,
    extra: u64,
    prot: i32,
) -> Result<bool, Errno> {
    let free_after = |space: &Space| {
        space
            .covering(end, extra)
            .is_some_and(|runs| runs.iter().all(|r| r.how.is_free()))
    };
    if !free_after(space) {
        // Only the top of the memory can grow: the tail must be free up to the memory's end.
        let top = memory.length();
        let tail_free = end == top
            || (end < top
                && space
                    .covering(end, top - end)
                    .is_some_and(|runs| runs.iter().all(|r| r.how.is_free())));
        if !tail_free || end + extra <= top {
            return Ok(false);
        }
        let pages = (end + extra - top).div_ceil(WASM_PAGE_SIZE);
        let Some(old) = memory.grow(pages) else {
            return Ok(false);
        };
        space.add_fresh(old * WASM_PAGE_SIZE, pages * WASM_PAGE_SIZE);
        if old * WASM_PAGE_SIZE != top || !free_after(space) {
            return Ok(false); // another grower came between; the pages stay in the pool
        }
    }
    hand_out(memory, space, end, extra)?;
    if prot & (guest::PROT_READ | guest::PROT_WRITE) != guest::PROT_READ | guest::PROT_WRITE {
        protect(memory, end, extra, prot)?;
    }
    space.assign(end, extra, |_| Use::Mapped {
        prot,
        shared: false,
    });
    Ok(true)
}

/// Moves the mapping `from` to new pages of `new_len` bytes (at `target` for MREMAP_FIXED):
/// copies what fits, then gives the old pages back.
fn move_to(
    memory: &LinearMemory,
    space: &mut Space,
    from: (u64, u64),
    new_len: u64,
    prot: i32,
    shared: bool,
    target: Option<u64>,
) -> SysResult {
    let (old, old_len) = from;
    if shared {
        return Err(Errno(libc::EINVAL)); // shared pages cannot be copied without unsharing them
    }
    let at = match target {
        Some(t) => {
            if !aligned(t) {
                return Err(Errno(libc::EINVAL));
            }
            let overlaps = t < old + old_len && old < t.saturating_add(new_len);
            if overlaps {
                return Err(Errno(libc::EINVAL));
            }
            space.covering(t, new_len).ok_or(Errno(libc::ENOMEM))?;
            reset(memory, t, new_len)?;
            space.assign(t, new_len, |_| Use::Free { dirty: false });
            hand_out(memory, space, t, new_len)?;
            t
        }
        None => take(memory, space, new_len)?,
    };
    // The old pages may be unreadable: make them readable for the copy (they go back anyway).
    if prot & guest::PROT_READ == 0 {
        if let Err(e) = protect(memory, old, old_len, guest::PROT_READ) {
            give_back(memory, space, at, new_len)?;
            return Err(e);
        }
    }
    let copy = old_len.min(new_len) as usize;
    // SAFETY: both ranges are mmap's own committed pages, readable and writable as set
    // above, and do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            host(memory, old) as *const u8,
            host(memory, at) as *mut u8,
            copy,
        )
    };
    if prot & (guest::PROT_READ | guest::PROT_WRITE) != guest::PROT_READ | guest::PROT_WRITE {
        protect(memory, at, new_len, prot)?;
    }
    space.assign(at, new_len, |_| Use::Mapped {
        prot,
        shared: false,
    });
    give_back(memory, space, old, old_len)?;
    Ok(at as i64)
}

// ---------------------------------------------------------------------------------------------
// brk
// ---------------------------------------------------------------------------------------------

fn brk(call: &Call, args: &Args) -> SysResult {
    let want = args[0];
    // SAFETY: the calling instance's live context.
    let limit = unsafe { growth_limit(call.vmctx) };
    with_state(call, |memory, st| {
        let b = st.brk.get_or_insert_with(|| reserve_brk(memory, limit));
        if want < b.start || want > b.limit || want == 0 {
            return b.current as i64;
        }
        let old = b.current;
        let (keep, gone) = (round_up(want), round_up(old));
        if keep < gone {
            // Pages given up come back zero if the break rises again, as the kernel's do.
            if reset(memory, keep, gone - keep).is_err() {
                return old as i64;
            }
        }
        b.current = want;
        want as i64
    })
    .map_err(|_| Errno(libc::ENOMEM))
}

/// The most pages the calling instance's memory may have: its declared maximum and the
/// build's cap (`--max-memory-pages`), as far as they are known here.
///
/// # Safety
/// `vmctx` must be a live instance context (its instance slot may be null in tests).
unsafe fn growth_limit(vmctx: *mut VmCtx) -> u64 {
    let mut limit = wafer_abi::MAX_WASM_PAGES;
    // SAFETY: the slots of a live context; the instance is live while its code runs.
    unsafe {
        let memory = memory_of(vmctx);
        if let Some(max) = memory.ok().and_then(|m| m.declared_max()) {
            limit = limit.min(max);
        }
        let slot = (vmctx as *const u8).add(VmctxLayout::INSTANCE as usize) as *const *const u8;
        if !(*slot).is_null() {
            let cap = super::instance(vmctx).descriptor().memory_cap_pages;
            limit = limit.min(u64::from(cap));
        }
    }
    limit
}

/// Grows the memory for the break's region: [`BRK_RESERVE_PAGES`], or a quarter of what the
/// memory may still grow (`limit` pages in all) when that is less.
fn reserve_brk(memory: &LinearMemory, limit: u64) -> Brk {
    let mut pages = BRK_RESERVE_PAGES.min(limit.saturating_sub(memory.pages()) / 4);
    while pages > 0 {
        if let Some(old) = memory.grow(pages) {
            let start = old * WASM_PAGE_SIZE;
            return Brk {
                start,
                limit: start + pages * WASM_PAGE_SIZE,
                current: start,
            };
        }
        pages /= 2;
    }
    let top = memory.length();
    Brk {
        start: top,
        limit: top,
        current: top,
    }
}

#[cfg(test)]
mod tests;
