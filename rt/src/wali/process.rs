//! WALI process syscalls: creating, replacing, waiting for and ending processes and threads,
//! identities and credentials ([`ids`]), limits and information about the system
//! ([`info`]), futexes ([`futex`]), and the auxiliary `__wasm_thread_spawn`.
//!
//! - **fork** is the C library's `fork` (on every host: it is `clone(SIGCHLD)` where the host
//!   lacks the `fork` syscall, and it keeps the runtime's C library usable in the child). The
//!   child gets a copy of linear memory (pages mapped `MAP_SHARED` stay shared) and only the
//!   thread that forked. mmap's lock is held across it; in the child the thread counts and
//!   the signal family's per-process state are reset.
//! - **execve** copies the path, `argv` and `envp` once, then asks the kernel to execute the
//!   path: the new image is a *native* program, run by the kernel like any other, outside
//!   the wasm sandbox. What it may execute and do is the kernel's policy for the process
//!   (Landlock and seccomp, which the runtime's policy layer installs from the build's
//!   grants and which survive exec); this module adds no check of its own. A wasm file is not
//!   run as wasm.
//! - **exit** ends the calling thread only, as the kernel's does: on the last thread it ends
//!   the process (with the main thread's status if the main thread ended first, as the
//!   kernel reports the thread group leader's); on a guest thread it unwinds the thread's
//!   wasm frames and ends it; on the main thread while guest threads run, it ends the main
//!   thread alone with the kernel's `exit`. **exit_group** ends the process.
//! - **set_tid_address** records the address for the calling thread (nothing reaches the
//!   kernel) and answers the thread id; the word is not cleared when the thread ends (see
//!   [`TID_ADDRESS`]). `set_robust_list` is not in WALI's implemented set: its import
//!   answers `-ENOSYS`, which musl accepts.
//! - **__wasm_thread_spawn(fn, arg)** starts a native thread running a fresh instance of the
//!   module (fresh globals, so a fresh `__stack_pointer` and `__tls_base` that the guest's
//!   start routine sets from `arg`; fresh tables; the shared memory) and calls the function
//!   that entry `fn` of the *caller's* table 0 holds, which must be `(i32 tid, i32 arg) -> ()`
//!   (musl's `__wasm_thread_start_libc`). It answers the new thread's kernel id, or
//!   `-EINVAL` (no such function) / `-EAGAIN` (thread cap, host refusal).

mod futex;
mod ids;
mod info;

use std::cell::Cell;
use std::ffi::{c_char, CString};

use wafer_abi::{FuncRef, VmCtx};

use super::{Args, Call, Errno, Handler, SysResult};
use crate::instance::Instance;
use crate::threads::spawn::{self, ThreadIds, ThreadStart};

/// Most `argv` or `envp` entries execve copies (the kernel's own limit is by bytes).
const MAX_EXEC_STRINGS: usize = 1 << 17;

/// The handler for the syscall named `name`, if this family implements it.
pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "fork" => fork,
        "execve" => execve,
        "wait4" => wait4,
        "exit" => exit,
        "exit_group" => exit_group,
        "set_tid_address" => set_tid_address,
        "getpid" | "getppid" | "gettid" | "getuid" | "getgid" | "geteuid" | "getegid"
        | "getpgid" | "setpgid" | "getsid" | "setsid" | "sched_yield" => super::passthrough,
        "futex" => futex::futex,
        _ => return ids::handler(name).or_else(|| info::handler(name)),
    })
}

// ---------------------------------------------------------------------------------------------
// fork, execve, wait4
// ---------------------------------------------------------------------------------------------

fn fork(_call: &Call, _args: &Args) -> SysResult {
    let held = super::mm::lock_for_fork();
    // SAFETY: the C library's fork; the child only returns from here.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        spawn::after_fork_in_child();
        super::signal::after_fork_in_child();
    }
    drop(held);
    super::check(pid as libc::c_long)
}

fn execve(call: &Call, args: &Args) -> SysResult {
    required(call, args[0], 1)?;
    let path = call.mem.string(args[0])?;
    let argv = strings(call, args[1])?;
    let envp = strings(call, args[2])?;
    let argv_ptrs = null_terminated(&argv);
    let envp_ptrs = null_terminated(&envp);
    // SAFETY: NUL-terminated copies and NULL-terminated arrays of them, alive for the call.
    unsafe { libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    Err(Errno::last())
}

/// A copy of the guest's NULL-terminated string array at `ptr` (none for a null pointer, as
/// the kernel takes it).
fn strings(call: &Call, ptr: u64) -> Result<Vec<CString>, Errno> {
    if ptr == 0 {
        return Ok(Vec::new());
    }
    call.mem.string_array(ptr, MAX_EXEC_STRINGS)
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The guest object of `len` bytes at `ptr` that a call requires. A null pointer is `EFAULT`,
/// as natively: guest address 0 is ordinary linear memory, but a C program's NULL means "no
/// object" (the file family treats it the same way).
pub(super) fn required(call: &Call, ptr: u64, len: u64) -> Result<*mut u8, Errno> {
    if ptr == 0 {
        return Err(Errno(libc::EFAULT));
    }
    call.mem.range(ptr, len)
}

/// `struct rusage`: the same 144 bytes on every 64-bit Linux. musl's struct is larger (it
/// reserves room after the kernel's fields), so only the kernel's bytes reach the guest.
pub const RUSAGE_SIZE: usize = 144;
const _: () = assert!(std::mem::size_of::<libc::rusage>() >= RUSAGE_SIZE);

/// The first `len` bytes (the kernel's struct) of a plain C struct the kernel filled, for
/// copying to the guest.
fn bytes_of<T>(value: &T, len: usize) -> &[u8] {
    assert!(len <= std::mem::size_of::<T>());
    // SAFETY: `T` is a plain C struct; every byte of it is initialised (zeroed, then filled),
    // and `len` is within it.
    unsafe { std::slice::from_raw_parts(value as *const T as *const u8, len) }
}

fn wait4(call: &Call, args: &Args) -> SysResult {
    let (pid, status_ptr, options, usage_ptr) =
        (super::int(args, 0), args[1], super::int(args, 2), args[3]);
    // Checked before waiting, so a bad pointer never costs the guest a reaped child.
    call.mem.optional(status_ptr, 4)?;
    call.mem.optional(usage_ptr, RUSAGE_SIZE as u64)?;
    let mut status = 0i32;
    // SAFETY: zero is a valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let usage_out = if usage_ptr == 0 {
        std::ptr::null_mut()
    } else {
        &mut usage as *mut libc::rusage
    };
    // SAFETY: our own out-parameters.
    let r = unsafe { libc::wait4(pid, &mut status, options, usage_out) };
    let r = super::check(r as libc::c_long)?;
    if r > 0 {
        if status_ptr != 0 {
            call.mem.write_u32(status_ptr, status as u32)?;
        }
        if usage_ptr != 0 {
            call.mem
                .write_bytes(usage_ptr, bytes_of(&usage, RUSAGE_SIZE))?;
        }
    }
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// Ending threads and processes
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// The calling thread's `set_tid_address` word (a guest offset; 0 for none). Recorded,
    /// never acted on: the kernel would clear it and wake a waiter when the thread ends, but
    /// WALI's libc points it at its thread-list lock and releases that lock itself before
    /// `SYS_exit` (no WALI engine clears the word), so clearing it again could release the
    /// lock after another thread has taken it.
    static TID_ADDRESS: Cell<u64> = const { Cell::new(0) };
}

fn exit(_call: &Call, args: &Args) -> SysResult {
    let status = super::int(args, 0);
    if spawn::other_threads() == 0 {
        crate::threads::exit_process(spawn::main_status().unwrap_or(status));
    }
    if spawn::on_guest_thread() {
        // SAFETY: a guest thread inside a host call; nothing in this frame or the entry's
        // needs dropping.
        unsafe { spawn::exit_guest_thread() }
    }
    // The main thread, with guest threads still running: end it alone.
    spawn::main_thread_ending(status);
    loop {
        // SAFETY: the kernel's exit ends only this thread; nothing of it is used afterwards
        // (the first instance and its memory live on: nothing is freed).
        unsafe { libc::syscall(libc::SYS_exit, status) };
    }
}

fn exit_group(_call: &Call, args: &Args) -> SysResult {
    crate::threads::exit_process(super::int(args, 0))
}

fn set_tid_address(_call: &Call, args: &Args) -> SysResult {
    TID_ADDRESS.with(|c| c.set(args[0]));
    // SAFETY: plain syscall.
    Ok(i64::from(unsafe { libc::gettid() }))
}

// ---------------------------------------------------------------------------------------------
// __wasm_thread_spawn
// ---------------------------------------------------------------------------------------------

/// `__wasm_thread_spawn(fn, arg) -> tid`: see the module documentation.
///
/// # Safety
/// Called only by compiled wasm code with its live `vmctx`.
#[no_mangle]
pub unsafe extern "C" fn wafer_wali_wasm_thread_spawn(
    vmctx: *mut VmCtx,
    table_index: i32,
    arg: i32,
) -> i32 {
    // SAFETY: `vmctx` is the calling instance's.
    let parent = unsafe { Instance::from_vmctx(vmctx) };
    let Some(func_index) = table_function(parent, table_index as u32) else {
        spawn::trace_refusal("__wasm_thread_spawn: no function at that table index");
        return -libc::EINVAL;
    };
    if !spawn::is_thread_entry(parent, func_index) {
        spawn::trace_refusal("__wasm_thread_spawn: the function is not (i32, i32) -> ()");
        return -libc::EINVAL;
    }
    let start = ThreadStart {
        func_index,
        arg,
        ids: ThreadIds::Kernel,
    };
    match spawn::spawn_thread(parent, start) {
        Ok(tid) => tid as i32,
        Err(why) => {
            spawn::trace_refusal(&why);
            -libc::EAGAIN
        }
    }
}

/// The index of the module's function that entry `index` of `instance`'s table 0 holds.
fn table_function(instance: &Instance, index: u32) -> Option<u32> {
    let def = instance.table_def(0)?;
    // SAFETY: the instance's own table, used by no one else during this host call (tables
    // belong to one thread's instance).
    let table = unsafe { crate::table::Table::from_def(def) };
    let entry = *table.elements().get(index as usize)?;
    let base = instance.func_ref(0)? as *const FuncRef as usize;
    let offset = entry.checked_sub(base)?;
    let size = std::mem::size_of::<FuncRef>();
    if offset % size != 0 {
        return None;
    }
    let func = u32::try_from(offset / size).ok()?;
    let found = instance.func_ref(func)? as *const FuncRef as usize;
    (found == entry).then_some(func)
}

#[cfg(test)]
mod tests;
