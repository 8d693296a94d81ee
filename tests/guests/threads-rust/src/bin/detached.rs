//! Main returns while its threads are still running: two are parked for good, one is spinning
//! in a compute loop, one is sleeping. The process must exit at once with status 0 (returning
//! from main does not wait for threads), after the threads have provably started.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

fn main() {
    let started = Arc::new(Barrier::new(5));
    let spins = Arc::new(AtomicU64::new(0));
    for _ in 0..2 {
        let started = Arc::clone(&started);
        thread::spawn(move || {
            started.wait();
            loop {
                thread::park();
            }
        });
    }
    let (s, counter) = (Arc::clone(&started), Arc::clone(&spins));
    thread::spawn(move || {
        s.wait();
        loop {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let s = Arc::clone(&started);
    thread::spawn(move || {
        s.wait();
        thread::sleep(Duration::from_secs(3600));
    });
    started.wait();
    while spins.load(Ordering::Relaxed) == 0 {
        thread::yield_now();
    }
    println!("main: returning with 4 threads still running");
}
