//! Ending a driver in the middle of a transfer (SIGTERM, SIGINT, SIGHUP): the runtime's
//! signal watcher calls [`begin`]; every backend's wait loop checks [`terminating`] between
//! its rounds, cancels its transfer and returns `interrupted`, and counts itself in
//! [`Waiting`] so that the watcher knows when no transfer is still in flight.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static TERMINATING: AtomicBool = AtomicBool::new(false);
static CANCELLED: AtomicBool = AtomicBool::new(false);
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// The process is ending: transfers still waiting are to be cancelled.
pub fn begin() {
    TERMINATING.store(true, Ordering::SeqCst);
}

pub fn terminating() -> bool {
    TERMINATING.load(Ordering::Relaxed)
}

/// A wait loop cancelled its transfer because the process is ending.
pub fn note_cancelled() {
    CANCELLED.store(true, Ordering::SeqCst);
}

/// Whether any transfer was cut short so: a device may then be in the middle of a protocol
/// exchange (a mass-storage command without its status), which only a reset ends.
pub fn cancelled_any() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// How many transfer waits are in progress.
pub fn waiting() -> usize {
    WAITING.load(Ordering::SeqCst)
}

/// Counts one wait in progress for as long as it lives.
pub struct Waiting(());

impl Waiting {
    pub fn start() -> Waiting {
        WAITING.fetch_add(1, Ordering::SeqCst);
        Waiting(())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::SeqCst);
    }
}
