//! `memory.atomic.wait32/wait64` and `memory.atomic.notify`: a table of wait queues keyed by
//! the waited-on address.
//!
//! A waiter takes its address's queue lock, compares the value (so a notify that follows the
//! guest's store cannot slip between the comparison and the sleep), enqueues itself and parks.
//! A notifier takes the same lock and wakes up to `count` waiters of that address in arrival
//! order, marking each as notified before unparking it; the number it marked is the result.
//! A woken waiter returns 0 only when marked, so spurious wake-ups and timeouts never look
//! like notifications, and a timed-out waiter that was marked in the meantime still reports
//! the notification it consumed.
//!
//! The queues are keyed by host address, which is unique per shared memory location; they are
//! process-wide because every thread of every instance sharing a memory must meet there.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::{Duration, Instant};

use wafer_abi::{MemoryDef, TrapKind, VmCtx, VmctxLayout};

use crate::memory::LinearMemory;
use crate::trap;

/// Result codes of `memory.atomic.wait*`.
const WOKEN: u32 = 0;
const NOT_EQUAL: u32 = 1;
const TIMED_OUT: u32 = 2;

struct Waiter {
    address: usize,
    thread: Thread,
    notified: AtomicBool,
}

type Queue = Mutex<Vec<Arc<Waiter>>>;

const QUEUES: usize = 64;
static QUEUE_TABLE: [Queue; QUEUES] = [const { Mutex::new(Vec::new()) }; QUEUES];

fn queue(address: usize) -> MutexGuard<'static, Vec<Arc<Waiter>>> {
    // Waited-on words are at least 4-byte aligned; mix in higher bits so neighbouring
    // structures in guest memory spread over the table.
    let slot = ((address >> 2) ^ (address >> 9)) % QUEUES;
    QUEUE_TABLE[slot].lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits at `address` while `still_expected()` holds (checked under the queue lock), for at
/// most `timeout_ns` nanoseconds (negative: forever).
fn wait(address: usize, still_expected: impl FnOnce() -> bool, timeout_ns: i64) -> u32 {
    let mut waiters = queue(address);
    if !still_expected() {
        return NOT_EQUAL;
    }
    // Saturate absurd timeouts (hundreds of years) instead of overflowing `Instant`.
    let deadline = u64::try_from(timeout_ns)
        .ok()
        .and_then(|ns| Instant::now().checked_add(Duration::from_nanos(ns)));
    if timeout_ns == 0 {
        return TIMED_OUT;
    }
    let me = Arc::new(Waiter {
        address,
        thread: std::thread::current(),
        notified: AtomicBool::new(false),
    });
    waiters.push(Arc::clone(&me));
    drop(waiters);
    loop {
        if me.notified.load(Ordering::Acquire) {
            return WOKEN;
        }
        match deadline {
            None if timeout_ns >= 0 => std::thread::park_timeout(Duration::from_secs(3600)),
            None => std::thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                std::thread::park_timeout(deadline - now);
            }
        }
    }
    let mut waiters = queue(address);
    match waiters.iter().position(|w| Arc::ptr_eq(w, &me)) {
        Some(at) => {
            waiters.remove(at);
            TIMED_OUT
        }
        // A notifier dequeued (and marked) us after the deadline passed.
        None => WOKEN,
    }
}

/// Wakes up to `count` waiters at `address`; the number woken.
fn notify(address: usize, count: u32) -> u32 {
    if count == 0 {
        return 0;
    }
    let mut waiters = queue(address);
    let mut woken = 0u32;
    waiters.retain(|w| {
        if woken == count || w.address != address {
            return true;
        }
        w.notified.store(true, Ordering::Release);
        w.thread.unpark();
        woken += 1;
        false
    });
    woken
}

/// The calling instance's memory, and the host address of an access of `size` bytes at the
/// effective address `address`, after the alignment and bounds checks.
unsafe fn checked(
    vmctx: *mut VmCtx,
    address: u64,
    size: u64,
) -> Result<(&'static LinearMemory, usize), TrapKind> {
    let def = unsafe {
        *((vmctx as *const u8).add(VmctxLayout::MEMORY as usize) as *const *mut MemoryDef)
    };
    if def.is_null() {
        return Err(TrapKind::MemoryOutOfBounds);
    }
    // SAFETY: the vmctx's memory outlives every call of its code.
    let memory = unsafe { LinearMemory::from_def(def) };
    if !address.is_multiple_of(size) {
        return Err(TrapKind::UnalignedAtomic);
    }
    match address.checked_add(size) {
        Some(end) if end <= memory.length() => {}
        _ => return Err(TrapKind::MemoryOutOfBounds),
    }
    Ok((memory, memory.def.base as usize + address as usize))
}

unsafe fn finish(result: Result<u32, TrapKind>) -> u32 {
    match result {
        Ok(v) => v,
        // SAFETY: called from a libcall entered by compiled code; nothing owned is alive.
        Err(kind) => unsafe { trap::raise(kind) },
    }
}

/// # Safety
/// Called only by compiled wasm code with its live `vmctx`.
#[no_mangle]
pub unsafe extern "C" fn wafer_rt_memory_atomic_wait32(
    vmctx: *mut VmCtx,
    address: u64,
    expected: u32,
    timeout_ns: i64,
) -> u32 {
    let result = unsafe { checked(vmctx, address, 4) }.and_then(|(memory, at)| {
        if !memory.is_shared() {
            return Err(TrapKind::WaitOnUnsharedMemory);
        }
        // SAFETY: `at` is an aligned, committed word of a shared memory.
        let word = unsafe { AtomicU32::from_ptr(at as *mut u32) };
        Ok(wait(
            at,
            || u32::from_le(word.load(Ordering::SeqCst)) == expected,
            timeout_ns,
        ))
    });
    unsafe { finish(result) }
}

/// # Safety
/// Called only by compiled wasm code with its live `vmctx`.
#[no_mangle]
pub unsafe extern "C" fn wafer_rt_memory_atomic_wait64(
    vmctx: *mut VmCtx,
    address: u64,
    expected: u64,
    timeout_ns: i64,
) -> u32 {
    let result = unsafe { checked(vmctx, address, 8) }.and_then(|(memory, at)| {
        if !memory.is_shared() {
            return Err(TrapKind::WaitOnUnsharedMemory);
        }
        // SAFETY: `at` is an aligned, committed doubleword of a shared memory.
        let word = unsafe { AtomicU64::from_ptr(at as *mut u64) };
        Ok(wait(
            at,
            || u64::from_le(word.load(Ordering::SeqCst)) == expected,
            timeout_ns,
        ))
    });
    unsafe { finish(result) }
}

/// # Safety
/// Called only by compiled wasm code with its live `vmctx`.
#[no_mangle]
pub unsafe extern "C" fn wafer_rt_memory_atomic_notify(
    vmctx: *mut VmCtx,
    address: u64,
    count: u32,
) -> u32 {
    let result = unsafe { checked(vmctx, address, 4) }.map(|(memory, at)| {
        if memory.is_shared() {
            notify(at, count)
        } else {
            // Nobody can wait on an unshared memory.
            0
        }
    });
    unsafe { finish(result) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_equal_and_timeout() {
        let word = 7u32;
        let at = &word as *const u32 as usize;
        assert_eq!(wait(at, || false, -1), NOT_EQUAL);
        assert_eq!(wait(at, || true, 0), TIMED_OUT);
        let start = Instant::now();
        assert_eq!(wait(at, || true, 20_000_000), TIMED_OUT);
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(
            notify(at, 10),
            0,
            "a timed-out waiter is gone from the queue"
        );
    }

    #[test]
    fn notify_wakes_exactly_count() {
        let word = Box::leak(Box::new(0u32));
        let at = word as *const u32 as usize;
        let handles: Vec<_> = (0..3)
            .map(|_| std::thread::spawn(move || wait(at, || true, 10_000_000_000)))
            .collect();
        // Wait until all three are queued.
        while queue(at).iter().filter(|w| w.address == at).count() < 3 {
            std::thread::yield_now();
        }
        assert_eq!(notify(at, 2), 2);
        assert_eq!(notify(at + 4, 5), 0, "another address has no waiters");
        assert_eq!(notify(at, u32::MAX), 1);
        for h in handles {
            assert_eq!(h.join().unwrap(), WOKEN);
        }
    }
}
