//! Threads inside one sandbox: wasi-threads' `thread-spawn` ([`spawn`]), the wait queues
//! behind `memory.atomic.wait*`/`notify` ([`wait`]), and ending the process from any thread.
//!
//! A module without a shared memory never reaches this code: its instance takes no locks
//! beyond those of the host functions it calls, and its atomics compile to plain atomic
//! instructions.

pub mod spawn;
pub mod wait;

use std::sync::Mutex;

/// Ends the process with `status` from any thread: the first caller runs the C library's
/// `exit` (atexit handlers such as the simulated LCD's screen dump run once), and any other
/// thread that tries to end the process meanwhile waits for it to be gone.
pub fn exit_process(status: i32) -> ! {
    static EXITING: Mutex<()> = Mutex::new(());
    let guard = EXITING.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::forget(guard);
    // SAFETY: exit is called once; every other caller is blocked above.
    unsafe { libc::exit(status) }
}
