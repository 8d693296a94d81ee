//! Threads hammer one `Mutex<u64>`, each adding 1 `iterations` times; the final value must be
//! exactly threads x iterations. Under contention the lock sleeps in futex waits
//! (`memory.atomic.wait32` / `notify` on wasm32-wasip1-threads).
//!
//!     mutex-counter [iterations=100000] [threads=8]

use std::sync::{Arc, Mutex};
use std::thread;
use threads_rust::{arg, finish, report};

fn main() {
    let iterations: u64 = arg(1, 100_000);
    let threads: u64 = arg(2, 8);
    let counter = Arc::new(Mutex::new(0u64));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..iterations {
                    *counter.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let value = *counter.lock().unwrap();
    finish(&[report("counter", value, threads * iterations)]);
}
