//! Guest threads: wasi-threads' `thread-spawn(start_arg) -> tid`, as `wasm32-wasip1-threads`
//! imports it, and the machinery it shares with WALI's `__wasm_thread_spawn` ([`spawn_thread`]).
//!
//! Each new thread is a native thread with its own stack ([`guest_thread_stack`]), stack
//! limit and alternate signal stack, running a fresh instance of the same module: imports
//! bound as the first instance's, the same shared memory, fresh tables and globals (so the
//! guest's `__stack_pointer` and TLS base are the thread's own once its start function sets
//! them), and the guest's host state (WASI descriptors, I2C and USB handles) shared.
//! The new instance is built on the new thread before the spawn returns, so a thread that
//! could not be set up is a spawn failure, not a thread that silently never runs.
//!
//! Failures answer a negative value (wasi-libc's `pthread_create` then returns EAGAIN): more
//! than [`MAX_GUEST_THREADS`] threads alive, a module without a shared memory or without a
//! `wasi_thread_start (i32, i32)` export, or a host that refuses a thread. A trap on any
//! thread ends the whole process with the trap report, as on the main thread.
//!
//! A guest thread can also end itself from inside a host call ([`exit_guest_thread`], WALI's
//! `SYS_exit`): its wasm frames are unwound to the thread's start and the thread ends as if
//! its start function had returned.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::mpsc;

use wafer_abi::{
    extern_kind, guest_thread_stack, valtype, ModuleDescriptor, TrapKind, VmCtx, MAX_GUEST_THREADS,
    TRAP_EXIT_STATUS,
};

use crate::instance::{host_binding, Extern, Instance, InstanceOptions, SharedHostState};
use crate::{limits, trap, wasi};

/// The export a new wasi-threads thread starts in: `(thread id, start argument)`.
const THREAD_START: &[u8] = b"wasi_thread_start";
/// Thread ids are positive and fit in 29 bits (the proposal keeps the top bits for flags).
const MAX_TID: u32 = 0x1FFF_FFFF;
const SPAWN_FAILED: i32 = -1;

/// Guest threads alive now (not counting the main thread).
static LIVE: AtomicU32 = AtomicU32::new(0);
static NEXT_TID: AtomicU32 = AtomicU32::new(1);
/// Whether the main thread has ended on its own while guest threads run on (WALI's
/// `SYS_exit` on the main thread).
static MAIN_GONE: AtomicBool = AtomicBool::new(false);
/// The status the main thread ended with ([`NO_STATUS`] while it has not).
static MAIN_STATUS: AtomicI64 = AtomicI64::new(NO_STATUS);
const NO_STATUS: i64 = i64::MIN;

thread_local! {
    /// Set on the native threads [`spawn_thread`] starts.
    static GUEST_THREAD: Cell<bool> = const { Cell::new(false) };
    /// Set by [`exit_guest_thread`] just before it unwinds: the "trap" that comes back is the
    /// thread's end, not a fault.
    static EXITING: Cell<bool> = const { Cell::new(false) };
}

/// Guest threads alive now, not counting the main thread.
pub fn live_threads() -> u32 {
    LIVE.load(Ordering::Acquire)
}

/// Whether the calling native thread is a guest thread started by [`spawn_thread`] (not the
/// main thread).
pub fn on_guest_thread() -> bool {
    GUEST_THREAD.with(Cell::get)
}

/// How many threads of the guest besides the calling one are alive (the main thread counts
/// until it has ended through [`main_thread_ending`]).
pub fn other_threads() -> u32 {
    let guests = live_threads();
    let main = u32::from(!MAIN_GONE.load(Ordering::Acquire));
    if on_guest_thread() {
        (guests + main).saturating_sub(1)
    } else {
        guests
    }
}

/// Records that the main thread is about to end alone, with `status`, while guest threads
/// go on (the process's status, as the kernel reports the thread group leader's).
pub fn main_thread_ending(status: i32) {
    MAIN_STATUS.store(i64::from(status), Ordering::Release);
    MAIN_GONE.store(true, Ordering::Release);
}

/// The status the main thread ended with, if it has ended alone.
pub fn main_status() -> Option<i32> {
    let s = MAIN_STATUS.load(Ordering::Acquire);
    (s != NO_STATUS).then_some(s as i32)
}

/// Brings the counters in line after `fork`: the child has only the thread that forked, and
/// that thread leads the child.
pub fn after_fork_in_child() {
    let guest = on_guest_thread();
    LIVE.store(u32::from(guest), Ordering::Release);
    MAIN_GONE.store(guest, Ordering::Release);
    MAIN_STATUS.store(NO_STATUS, Ordering::Release);
}

/// Ends the calling guest thread from inside a host call: unwinds its wasm frames back to
/// the thread's start, which then returns as if the start function had.
///
/// # Safety
/// Only on a guest thread ([`on_guest_thread`]), from a host function called by wasm code,
/// with nothing that needs dropping alive in any frame up to the wasm caller (the unwind is a
/// trap's jump).
pub unsafe fn exit_guest_thread() -> ! {
    EXITING.with(|e| e.set(true));
    // SAFETY: as the caller promises.
    unsafe { trap::raise(TrapKind::Unreachable) }
}

/// Which thread id a new thread gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadIds {
    /// wasi-threads: small positive ids counted by the runtime.
    Counted,
    /// WALI: the kernel's id of the new native thread (what `gettid` answers on it).
    Kernel,
}

/// What a new thread runs: function `func_index` of the module, of type `(i32, i32) -> ()`,
/// called with `(thread id, arg)`.
#[derive(Clone, Copy, Debug)]
pub struct ThreadStart {
    pub func_index: u32,
    pub arg: i32,
    pub ids: ThreadIds,
}

/// What a new thread needs from its parent. Raw pointers are to process-lifetime data: the
/// descriptor is static, and the memory lives as long as the first instance, which lives
/// until the process exits.
struct Seed {
    desc: &'static ModuleDescriptor,
    imports: Vec<Extern>,
    defined_memory: Option<*mut wafer_abi::MemoryDef>,
    host_state: SharedHostState,
    wasi: wasi::ctx::SharedCtx,
    start: ThreadStart,
    /// The counted id (unused for kernel ids).
    tid: u32,
}

// SAFETY: the pointers in `imports` and `defined_memory` are host functions and the shared
// memory, both valid and usable from any thread for the rest of the process.
unsafe impl Send for Seed {}

/// # Safety
/// Called only by compiled wasm code with its live `vmctx`.
#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_thread_spawn(vmctx: *mut VmCtx, start_arg: i32) -> i32 {
    // SAFETY: `vmctx` is the calling instance's.
    let parent = unsafe { Instance::from_vmctx(vmctx) };
    let spawned = wasi_start(parent).and_then(|func_index| {
        let start = ThreadStart {
            func_index,
            arg: start_arg,
            ids: ThreadIds::Counted,
        };
        spawn_thread(parent, start)
    });
    match spawned {
        Ok(tid) => tid as i32,
        Err(why) => {
            trace_refusal(&why);
            SPAWN_FAILED
        }
    }
}

/// Says why a spawn was refused when `WAFER_TRACE=threads`.
pub fn trace_refusal(why: &str) {
    if std::env::var_os("WAFER_TRACE").is_some_and(|v| v == "threads") {
        eprintln!("wafer: thread-spawn refused: {why}");
    }
}

/// The function index of the module's `wasi_thread_start` export, checked.
fn wasi_start(parent: &Instance) -> Result<u32, String> {
    let start = parent
        .export(THREAD_START)
        .filter(|e| e.kind == extern_kind::FUNC)
        .ok_or("the module exports no wasi_thread_start function")?;
    if !is_thread_entry(parent, start.index) {
        return Err("wasi_thread_start must take (i32, i32) and return nothing".into());
    }
    Ok(start.index)
}

/// Whether function `func_index` has a thread entry's type, `(i32, i32) -> ()`.
pub fn is_thread_entry(instance: &Instance, func_index: u32) -> bool {
    let Some(ty) = instance.func_type(func_index) else {
        return false;
    };
    // SAFETY: descriptor slices are static data.
    let (params, results) = unsafe { (ty.params.as_slice(), ty.results.as_slice()) };
    params == [valtype::I32, valtype::I32] && results.is_empty()
}

/// Starts a native thread running `start` in a fresh instance of `parent`'s module, and
/// answers the new thread's id once that instance exists. `start.func_index` must have the
/// type [`is_thread_entry`] checks.
pub fn spawn_thread(parent: &Instance, start: ThreadStart) -> Result<u32, String> {
    if !is_thread_entry(parent, start.func_index) {
        return Err("a thread's start function must take (i32, i32) and return nothing".into());
    }
    let desc = parent.descriptor();
    let memory = parent.memory_def();
    // SAFETY: a non-null memory of a live instance.
    if memory.is_null() || !unsafe { crate::memory::LinearMemory::from_def(memory) }.is_shared() {
        return Err("threads need a shared memory".into());
    }
    let mut imports = Vec::new();
    // SAFETY: descriptor slices are static data.
    for import in unsafe { desc.imports.as_slice() } {
        imports.push(match import.kind {
            extern_kind::MEMORY => Extern::Memory(memory),
            _ => host_binding(desc, import).ok_or("the module imports more than host functions")?,
        });
    }
    // SAFETY: as above.
    let memory_is_defined = unsafe { desc.memories.as_slice() }
        .first()
        .is_some_and(|m| m.imported == 0);

    LIVE.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
        (n < MAX_GUEST_THREADS).then_some(n + 1)
    })
    .map_err(|_| format!("{MAX_GUEST_THREADS} guest threads are alive already"))?;
    let tid = match start.ids {
        ThreadIds::Counted => {
            let tid = NEXT_TID.fetch_add(1, Ordering::Relaxed);
            if tid > MAX_TID {
                LIVE.fetch_sub(1, Ordering::AcqRel);
                return Err("thread ids are used up".into());
            }
            tid
        }
        ThreadIds::Kernel => 0,
    };
    let seed = Seed {
        desc,
        imports,
        defined_memory: memory_is_defined.then_some(memory),
        host_state: parent.shared_host_state(),
        wasi: wasi::ctx::share(),
        start,
        tid,
    };
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<u32, String>>(1);
    let name = match start.ids {
        ThreadIds::Counted => format!("wasm-thread-{tid}"),
        ThreadIds::Kernel => "wasm-thread".to_string(),
    };
    let spawned = std::thread::Builder::new()
        .name(name)
        .stack_size(guest_thread_stack(desc.wasm_stack_bytes) as usize)
        .spawn(move || run(seed, ready_tx));
    if let Err(e) = spawned {
        LIVE.fetch_sub(1, Ordering::AcqRel);
        return Err(format!("the host refused a thread: {e}"));
    }
    match ready_rx.recv() {
        Ok(result) => result,
        Err(_) => Err("the new thread ended before it was ready".into()),
    }
}

/// The body of a guest thread.
fn run(seed: Seed, ready: mpsc::SyncSender<Result<u32, String>>) {
    struct Alive;
    impl Drop for Alive {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Ordering::AcqRel);
        }
    }
    let _alive = Alive;
    GUEST_THREAD.with(|g| g.set(true));
    limits::mark_stack_top();
    trap::install_handlers();
    trap::ensure_alt_stack();
    // SAFETY: no wasm code runs on this thread yet.
    unsafe { limits::set_stack_limit(limits::compute_stack_limit(seed.desc.wasm_stack_bytes)) };
    wasi::ctx::adopt(seed.wasi);

    let options = InstanceOptions {
        host_state: Some(seed.host_state),
        memory: seed.defined_memory,
    };
    let instance = match Instance::with_options(seed.desc, &seed.imports, options) {
        Ok(instance) => instance,
        Err(crate::instance::InstantiateError::Trap(t)) => {
            crate::entry::report_trap(&t);
            super::exit_process(TRAP_EXIT_STATUS);
        }
        Err(
            crate::instance::InstantiateError::Unlinkable(why)
            | crate::instance::InstantiateError::Error(why),
        ) => {
            let _ = ready.send(Err(format!("cannot instantiate the thread: {why}")));
            return;
        }
    };
    let tid = match seed.start.ids {
        ThreadIds::Counted => seed.tid,
        // SAFETY: plain syscall; a thread id is positive and fits in an i32.
        ThreadIds::Kernel => (unsafe { libc::gettid() }) as u32,
    };
    let _ = ready.send(Ok(tid));
    drop(ready);
    let mut values = [u64::from(tid), seed.start.arg as u32 as u64];
    match instance.call_scalars(seed.start.func_index, &mut values) {
        Ok(()) => {}
        Err(crate::instance::CallError::Trap(_)) if EXITING.with(Cell::get) => {}
        Err(crate::instance::CallError::Trap(t)) => {
            crate::entry::report_trap(&t);
            super::exit_process(TRAP_EXIT_STATUS);
        }
        Err(crate::instance::CallError::Invalid(why)) => {
            eprintln!("wafer: cannot start a guest thread: {why}");
            super::exit_process(1);
        }
    }
}
