//! wasi-threads: `wasi.thread-spawn(start_arg) -> tid`, as `wasm32-wasip1-threads` imports it.
//!
//! Each new thread is a native thread with its own stack ([`guest_thread_stack`]), stack
//! limit and alternate signal stack, running a fresh instance of the same module: imports
//! bound as the first instance's, the same shared memory, fresh tables and globals (so the
//! guest's `__stack_pointer` and TLS base are the thread's own once its `wasi_thread_start`
//! sets them), and the guest's host state (WASI descriptors, I2C and USB handles) shared.
//! The new instance is built on the new thread before `thread-spawn` returns, so a thread
//! that could not be set up is a spawn failure, not a thread that silently never runs.
//!
//! Failures answer a negative value (wasi-libc's `pthread_create` then returns EAGAIN): more
//! than [`MAX_GUEST_THREADS`] threads alive, a module without a shared memory or without a
//! `wasi_thread_start (i32, i32)` export, or a host that refuses a thread. A trap on any
//! thread ends the whole process with the trap report, as on the main thread.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;

use wafer_abi::{
    extern_kind, guest_thread_stack, valtype, ModuleDescriptor, VmCtx, MAX_GUEST_THREADS,
    TRAP_EXIT_STATUS,
};

use crate::instance::{host_binding, Extern, Instance, InstanceOptions, SharedHostState};
use crate::{limits, trap, wasi};

/// The export a new thread starts in: `(thread id, start argument)`.
const THREAD_START: &[u8] = b"wasi_thread_start";
/// Thread ids are positive and fit in 29 bits (the proposal keeps the top bits for flags).
const MAX_TID: u32 = 0x1FFF_FFFF;
const SPAWN_FAILED: i32 = -1;

/// Guest threads alive now (not counting the main thread).
static LIVE: AtomicU32 = AtomicU32::new(0);
static NEXT_TID: AtomicU32 = AtomicU32::new(1);

/// Guest threads alive now, not counting the main thread.
pub fn live_threads() -> u32 {
    LIVE.load(Ordering::Acquire)
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
    start_index: u32,
    tid: u32,
    start_arg: i32,
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
    match spawn(parent, start_arg) {
        Ok(tid) => tid as i32,
        Err(why) => {
            if std::env::var_os("WAFER_TRACE").is_some_and(|v| v == "threads") {
                eprintln!("wafer: thread-spawn refused: {why}");
            }
            SPAWN_FAILED
        }
    }
}

fn spawn(parent: &Instance, start_arg: i32) -> Result<u32, String> {
    let desc = parent.descriptor();
    let start = parent
        .export(THREAD_START)
        .filter(|e| e.kind == extern_kind::FUNC)
        .ok_or("the module exports no wasi_thread_start function")?;
    let ty = parent
        .func_type(start.index)
        .ok_or("bad wasi_thread_start")?;
    // SAFETY: descriptor slices are static data.
    let (params, results) = unsafe { (ty.params.as_slice(), ty.results.as_slice()) };
    if params != [valtype::I32, valtype::I32] || !results.is_empty() {
        return Err("wasi_thread_start must take (i32, i32) and return nothing".into());
    }
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
    let tid = NEXT_TID.fetch_add(1, Ordering::Relaxed);
    if tid > MAX_TID {
        LIVE.fetch_sub(1, Ordering::AcqRel);
        return Err("thread ids are used up".into());
    }
    let seed = Seed {
        desc,
        imports,
        defined_memory: memory_is_defined.then_some(memory),
        host_state: parent.shared_host_state(),
        wasi: wasi::ctx::share(),
        start_index: start.index,
        tid,
        start_arg,
    };
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), String>>(1);
    let spawned = std::thread::Builder::new()
        .name(format!("wasm-thread-{tid}"))
        .stack_size(guest_thread_stack(desc.wasm_stack_bytes) as usize)
        .spawn(move || run(seed, ready_tx));
    if let Err(e) = spawned {
        LIVE.fetch_sub(1, Ordering::AcqRel);
        return Err(format!("the host refused a thread: {e}"));
    }
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(tid),
        Ok(Err(why)) => Err(why),
        Err(_) => Err("the new thread ended before it was ready".into()),
    }
}

/// The body of a guest thread.
fn run(seed: Seed, ready: mpsc::SyncSender<Result<(), String>>) {
    struct Alive;
    impl Drop for Alive {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Ordering::AcqRel);
        }
    }
    let _alive = Alive;
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
    let _ = ready.send(Ok(()));
    drop(ready);
    let mut values = [u64::from(seed.tid), seed.start_arg as u32 as u64];
    match instance.call(seed.start_index, &mut values) {
        Ok(()) => {}
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
