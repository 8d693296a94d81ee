//! What the host signal handler touches: per-thread slots (the guest's virtual mask, the
//! signals received and not yet delivered, the thread's flag) and the process-wide pending
//! set, all atomics in static memory, so the handler is async-signal-safe.
//!
//! The flag compiled code polls is a word in the header of the thread's instance
//! (`vmctx.signal_flag`), which the slot points at while the instance lives ([`attach`],
//! [`detach`]). Another thread may set it (a signal for the process), so setters announce
//! themselves in the slot's `writers` count and [`detach`] waits for them before the
//! instance's memory goes: no handler ever writes to freed memory.
//!
//! The guest's mask is virtual: the runtime keeps it in the slot and mirrors it onto the host
//! thread ([`set_mask`]), minus the signals the host must always see (see [`routable`]). So
//! the kernel itself keeps a blocked signal pending and picks a thread that takes it, and
//! whatever the host handler sees on a thread is that thread's to deliver.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering::SeqCst};

use wafer_abi::MAX_GUEST_THREADS;

use crate::wali::arch::signal::{guest, host_signal, SIGINFO_SHARED};

/// A set of signals 1 to 64, bit `n - 1` for signal `n` (the kernel's `sigset_t`).
pub type SigSet = u64;

/// The signal's bit; `sig` must be 1 to 64.
pub const fn bit(sig: i32) -> SigSet {
    1 << (sig - 1)
}

/// Whether `sig` is a signal number (1 to 64).
pub fn valid(sig: i32) -> bool {
    (1..=guest::NSIG).contains(&sig)
}

/// Signals no mask may block.
pub const UNBLOCKABLE: SigSet = bit(guest::SIGKILL) | bit(guest::SIGSTOP);

/// The runtime's own fault signals: compiled code's traps arrive as these.
pub fn runtime_owned(sig: i32) -> bool {
    [guest::SIGSEGV, guest::SIGBUS, guest::SIGILL, guest::SIGFPE].contains(&sig)
}

/// The host C library's internal signals (32 and 33 for glibc's threads and set*id).
pub fn host_reserved(sig: i32) -> bool {
    (32..libc::SIGRTMIN()).contains(&sig)
}

/// Signals the guest may handle and block, but only virtually: the host never installs a
/// handler or blocks them for the guest. A guest's kill or tkill of one to itself is
/// delivered by the runtime alone.
pub fn virtual_only(sig: i32) -> bool {
    runtime_owned(sig) || host_reserved(sig)
}

/// Signals whose disposition and blocking the host takes over from the guest.
pub fn routable(sig: i32) -> bool {
    valid(sig) && !virtual_only(sig) && bit(sig) & UNBLOCKABLE == 0
}

/// One thread's signal state.
pub struct Slot {
    used: AtomicBool,
    /// The owner's host thread id.
    tid: AtomicI32,
    /// The guest's mask.
    pub mask: AtomicU64,
    /// Signals this thread received and has not delivered yet.
    pub pending: AtomicU64,
    /// Non-zero when a signal may be deliverable (the runtime's copy of the word below).
    pub flag: AtomicU32,
    /// The `vmctx.signal_flag` word of the instance running on the thread, or null.
    code_flag: AtomicPtr<AtomicU32>,
    /// Threads (or handlers) setting `code_flag`'s word right now.
    writers: AtomicU32,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            used: AtomicBool::new(false),
            tid: AtomicI32::new(0),
            mask: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            flag: AtomicU32::new(0),
            code_flag: AtomicPtr::new(std::ptr::null_mut()),
            writers: AtomicU32::new(0),
        }
    }

    /// Sets the flag (and the instance's word). Async-signal-safe, from any thread.
    pub fn raise(&self) {
        self.flag.store(1, SeqCst);
        self.writers.fetch_add(1, SeqCst);
        // SAFETY: `detach` clears the pointer and waits for `writers` to drop before the word
        // is freed.
        if let Some(word) = unsafe { self.code_flag.load(SeqCst).as_ref() } {
            word.store(1, SeqCst);
        }
        self.writers.fetch_sub(1, SeqCst);
    }

    /// Clears the flag and the word; only the slot's own thread does, before it looks for
    /// deliverable signals (so one recorded meanwhile sets them again).
    pub fn lower(&self) {
        self.flag.store(0, SeqCst);
        // SAFETY: the instance on this thread is alive while it is attached.
        if let Some(word) = unsafe { self.code_flag.load(SeqCst).as_ref() } {
            word.store(0, SeqCst);
        }
    }

    pub fn is_raised(&self) -> bool {
        self.flag.load(SeqCst) != 0
    }
}

/// Room for every guest thread twice over: an exiting thread frees its slot only after the
/// thread count that limits spawning has dropped.
const SLOT_COUNT: usize = 2 * (MAX_GUEST_THREADS as usize + 1);
static SLOTS: [Slot; SLOT_COUNT] = [const { Slot::new() }; SLOT_COUNT];

/// Signals sent to the process that no thread has taken yet (virtual kills, arrivals on
/// threads that run no guest code).
static PROCESS_PENDING: AtomicU64 = AtomicU64::new(0);

/// What the host told about the latest arrival of each signal (the shared start of
/// `siginfo_t`), for `SA_SIGINFO` handlers.
static INFO: [[AtomicU64; SIGINFO_SHARED / 8]; 65] =
    [const { [const { AtomicU64::new(0) }; SIGINFO_SHARED / 8] }; 65];
/// Set while the runtime passes a signal on to another thread, so the re-sent arrival keeps
/// the original sender's information.
static FORWARDED: [AtomicBool; 65] = [const { AtomicBool::new(false) }; 65];

thread_local! {
    /// This thread's slot, null until claimed. `const` and without a destructor, so the
    /// signal handler may read it.
    static CURRENT: Cell<*const Slot> = const { Cell::new(std::ptr::null()) };
    /// Used when every shared slot is taken: the thread's own signals still work.
    static FALLBACK: Slot = const { Slot::new() };
    /// Frees the shared slot when the thread exits.
    static RELEASE: Release = const { Release(Cell::new(std::ptr::null())) };
}

struct Release(Cell<*const Slot>);

impl Drop for Release {
    fn drop(&mut self) {
        // SAFETY: slots are static.
        if let Some(slot) = unsafe { self.0.get().as_ref() } {
            let _ = CURRENT.try_with(|c| c.set(std::ptr::null()));
            detach_slot(slot);
            slot.flag.store(0, SeqCst);
            // What this thread took from the process and never delivered goes back.
            let left = slot.pending.swap(0, SeqCst);
            slot.used.store(false, SeqCst);
            if left != 0 {
                post_process_set(left);
            }
        }
    }
}

/// The calling thread's slot, claimed on first use.
pub fn current() -> &'static Slot {
    let slot = CURRENT.with(Cell::get);
    // SAFETY: shared slots are static; the fallback lives as long as this thread, which is
    // the only one to use it (and to call this function for itself).
    if let Some(slot) = unsafe { slot.as_ref() } {
        return slot;
    }
    unsafe { &*claim() }
}

/// The calling thread's slot if it has one (without claiming).
pub fn current_if_claimed() -> Option<&'static Slot> {
    // SAFETY: as in `current`.
    unsafe { CURRENT.with(Cell::get).as_ref() }
}

fn claim() -> *const Slot {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let inherited = host_mask();
    let shared = SLOTS
        .iter()
        .find(|s| s.used.compare_exchange(false, true, SeqCst, SeqCst).is_ok());
    let slot: *const Slot = match shared {
        Some(slot) => {
            RELEASE.with(|r| r.0.set(slot));
            slot
        }
        None => FALLBACK.with(|s| s as *const Slot),
    };
    // SAFETY: just taken for this thread.
    let s = unsafe { &*slot };
    s.tid.store(tid, SeqCst);
    s.pending.store(0, SeqCst);
    s.flag.store(0, SeqCst);
    // A new thread starts with the mask of the thread that made it, as on Linux; the host
    // mask it inherited is that mask's mirror.
    s.mask.store(inherited, SeqCst);
    CURRENT.with(|c| c.set(slot));
    slot
}

/// Makes `word` (an instance's `vmctx.signal_flag`) the flag compiled code on this thread
/// polls, set at once when something is deliverable already.
pub fn attach(word: *const AtomicU32) {
    let slot = current();
    slot.code_flag.store(word as *mut AtomicU32, SeqCst);
    if slot.is_raised() || deliverable(slot) != 0 {
        slot.raise();
    }
}

/// Forgets `word` wherever a slot points at it, once no setter is writing it: its instance
/// is about to be freed.
pub fn detach(word: *const AtomicU32) {
    let word = word as *mut AtomicU32;
    let fallback = current_if_claimed().map(|s| s as *const Slot);
    for slot in SLOTS.iter().chain(fallback.map(|s| unsafe { &*s })) {
        if slot.code_flag.load(SeqCst) == word
            && slot
                .code_flag
                .compare_exchange(word, std::ptr::null_mut(), SeqCst, SeqCst)
                .is_ok()
        {
            while slot.writers.load(SeqCst) != 0 {
                std::hint::spin_loop();
            }
        }
    }
}

fn detach_slot(slot: &Slot) {
    slot.code_flag.store(std::ptr::null_mut(), SeqCst);
    while slot.writers.load(SeqCst) != 0 {
        std::hint::spin_loop();
    }
}

/// The slot of the guest thread with host thread id `tid`, if it is one of this process's.
pub fn slot_of(tid: i32) -> Option<&'static Slot> {
    SLOTS
        .iter()
        .find(|s| s.used.load(SeqCst) && s.tid.load(SeqCst) == tid)
}

/// After `fork`, in the child: only the calling thread exists, and nothing is pending (the
/// kernel clears a child's pending signals too).
pub fn after_fork_in_child() {
    let me = current_if_claimed().map(|s| s as *const Slot);
    for s in &SLOTS {
        if Some(s as *const Slot) != me {
            s.used.store(false, SeqCst);
            s.code_flag.store(std::ptr::null_mut(), SeqCst);
        }
        s.pending.store(0, SeqCst);
    }
    PROCESS_PENDING.store(0, SeqCst);
    if let Some(slot) = current_if_claimed() {
        // SAFETY: gettid has no preconditions.
        slot.tid.store(unsafe { libc::gettid() }, SeqCst);
        slot.pending.store(0, SeqCst);
        refresh(slot);
    }
}

// ---- pending signals -------------------------------------------------------------------------

/// Marks `sig` pending on `slot` (a thread-directed signal, or one the kernel gave this
/// thread). Async-signal-safe.
pub fn post_thread(slot: &Slot, sig: i32) {
    slot.pending.fetch_or(bit(sig), SeqCst);
    if slot.mask.load(SeqCst) & bit(sig) == 0 {
        slot.raise();
    }
}

/// Marks the set pending for the process and tells every thread that could take one of
/// them. Async-signal-safe.
pub fn post_process_set(set: SigSet) {
    PROCESS_PENDING.fetch_or(set, SeqCst);
    for s in SLOTS.iter().filter(|s| s.used.load(SeqCst)) {
        if set & !s.mask.load(SeqCst) != 0 {
            s.raise();
        }
    }
}

/// The signals `slot` could deliver now.
pub fn deliverable(slot: &Slot) -> SigSet {
    (slot.pending.load(SeqCst) | PROCESS_PENDING.load(SeqCst)) & !slot.mask.load(SeqCst)
}

/// The signals pending for `slot`'s thread as the runtime knows them (the kernel keeps the
/// ones the host mask blocked).
pub fn recorded_pending(slot: &Slot) -> SigSet {
    slot.pending.load(SeqCst) | PROCESS_PENDING.load(SeqCst)
}

/// Takes `sig` off `slot`'s pending set, or else off the process's; false when another
/// thread took it first.
pub fn take(slot: &Slot, sig: i32) -> bool {
    slot.pending.fetch_and(!bit(sig), SeqCst) & bit(sig) != 0
        || PROCESS_PENDING.fetch_and(!bit(sig), SeqCst) & bit(sig) != 0
}

/// Forgets `sig` wherever it is pending (its action became "ignore").
pub fn discard(sig: i32) {
    PROCESS_PENDING.fetch_and(!bit(sig), SeqCst);
    for s in &SLOTS {
        s.pending.fetch_and(!bit(sig), SeqCst);
    }
    if let Some(s) = current_if_claimed() {
        s.pending.fetch_and(!bit(sig), SeqCst);
    }
}

/// Sets the flag when something is deliverable.
pub fn refresh(slot: &Slot) {
    if deliverable(slot) != 0 {
        slot.raise();
    }
}

// ---- masks -------------------------------------------------------------------------------------

/// Makes `mask` the guest's mask on `slot` (the calling thread's) and mirrors it on the host.
pub fn set_mask(slot: &Slot, mask: SigSet) {
    let mask = mask & !UNBLOCKABLE;
    slot.mask.store(mask, SeqCst);
    set_host_mask(mask);
    refresh(slot);
}

/// Blocks on the host exactly the routable signals of `mask`.
pub fn set_host_mask(mask: SigSet) {
    let set = host_set(mask);
    // SAFETY: a valid set; glibc keeps its own signals out of it.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
}

/// The host `sigset_t` of the routable signals of `mask`.
pub fn host_set(mask: SigSet) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset takes valid numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in (1..=guest::NSIG).filter(|&s| mask & bit(s) != 0 && routable(s)) {
            libc::sigaddset(&mut set, host_signal(sig));
        }
        set
    }
}

/// The set of `host`'s signals 1 to 64.
pub fn from_host_set(host: &libc::sigset_t) -> SigSet {
    (1..=guest::NSIG)
        // SAFETY: a valid set and signal numbers.
        .filter(|&s| unsafe { libc::sigismember(host, host_signal(s)) } == 1)
        .fold(0, |set, s| set | bit(s))
}

/// The calling thread's host mask.
fn host_mask() -> SigSet {
    // SAFETY: queries into a set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut set);
        from_host_set(&set)
    }
}

/// The signals the kernel holds pending for this thread or the process.
pub fn host_pending() -> SigSet {
    // SAFETY: writes a set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigpending(&mut set);
        from_host_set(&set)
    }
}

// ---- sender information ----------------------------------------------------------------------

/// The shared start of the latest `siginfo_t` of `sig`.
pub fn info(sig: i32) -> [u8; SIGINFO_SHARED] {
    let mut out = [0u8; SIGINFO_SHARED];
    if let Some(words) = INFO.get(sig as usize) {
        for (chunk, word) in out.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.load(SeqCst).to_le_bytes());
        }
    }
    out
}

/// Records what a runtime-made signal says: `code` from `pid`/`uid`.
pub fn set_info(sig: i32, code: i32) {
    // SAFETY: plain syscalls.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    let mut bytes = [0u8; SIGINFO_SHARED];
    bytes[0..4].copy_from_slice(&sig.to_le_bytes());
    bytes[8..12].copy_from_slice(&code.to_le_bytes());
    bytes[16..20].copy_from_slice(&pid.to_le_bytes());
    bytes[20..24].copy_from_slice(&uid.to_le_bytes());
    store_info(sig, &bytes);
}

fn store_info(sig: i32, bytes: &[u8; SIGINFO_SHARED]) {
    if let Some(words) = INFO.get(sig as usize) {
        for (chunk, word) in bytes.chunks_exact(8).zip(words) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            word.store(u64::from_le_bytes(b), SeqCst);
        }
    }
}

// ---- the host handler ------------------------------------------------------------------------

/// The host handler of every signal the guest handles: records the signal for the thread the
/// kernel chose (or passes it to a guest thread that takes it, when the kernel chose a thread
/// that runs no guest code) and sets the thread's flag. Compiled code then delivers it at
/// its next safe point. Only atomics and async-signal-safe syscalls.
pub extern "C" fn on_host_signal(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _: *mut libc::c_void,
) {
    // SAFETY: the thread's errno, restored before returning.
    let errno = unsafe { *libc::__errno_location() };
    if valid(sig) {
        record_arrival(sig, info);
        // SAFETY: slots are static (or the thread's own fallback).
        match unsafe { CURRENT.with(Cell::get).as_ref() } {
            Some(slot) => post_thread(slot, sig),
            None => pass_on(sig),
        }
    }
    unsafe { *libc::__errno_location() = errno };
}

fn record_arrival(sig: i32, info: *const libc::siginfo_t) {
    // SAFETY: the kernel's siginfo for this delivery.
    let Some(info) = (unsafe { info.as_ref() }) else {
        return;
    };
    if info.si_code == libc::SI_TKILL && FORWARDED[sig as usize].swap(false, SeqCst) {
        return;
    }
    let mut bytes = [0u8; SIGINFO_SHARED];
    // SAFETY: siginfo_t is larger than the shared prefix.
    unsafe {
        std::ptr::copy_nonoverlapping(
            info as *const libc::siginfo_t as *const u8,
            bytes.as_mut_ptr(),
            SIGINFO_SHARED,
        )
    };
    store_info(sig, &bytes);
}

/// On a thread without guest code: re-sends `sig` to a guest thread that does not block it,
/// or leaves it pending for the process.
fn pass_on(sig: i32) {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    for s in SLOTS.iter().filter(|s| s.used.load(SeqCst)) {
        if s.mask.load(SeqCst) & bit(sig) != 0 {
            continue;
        }
        FORWARDED[sig as usize].store(true, SeqCst);
        // SAFETY: tgkill is async-signal-safe.
        let sent =
            unsafe { libc::syscall(libc::SYS_tgkill, pid, s.tid.load(SeqCst), host_signal(sig)) };
        if sent == 0 {
            return;
        }
        FORWARDED[sig as usize].store(false, SeqCst);
    }
    post_process_set(bit(sig));
}
