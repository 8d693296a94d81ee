//! Sixteen threads at once: all hammer one atomic counter, and in pairs they play ping-pong
//! with `thread::park` / `Thread::unpark` (futex waits and wakes: `memory.atomic.wait32` and
//! `memory.atomic.notify` on wasm32-wasip1-threads), meeting at a `Barrier` between phases.
//! The iteration counts are bounded; the final values must be exact. Prints them and exits
//! with status 0 only if all are right.
//!
//!     stress [increments per thread=20000] [ping-pong rounds=300]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::thread::{self, Thread};
use threads_rust::{arg, finish, report};

const THREADS: usize = 16;

/// One ping-pong pair: whose turn it is (0 or 1) and how often each side has played.
#[derive(Default)]
struct Pair {
    turn: AtomicU32,
    hits: [AtomicU32; 2],
}

struct Shared {
    counter: AtomicU64,
    handles: Vec<OnceLock<Thread>>,
    pairs: Vec<Pair>,
    barrier: Barrier,
}

fn run(me: usize, increments: u64, rounds: u32, s: &Shared) {
    s.handles[me].set(thread::current()).unwrap();
    s.barrier.wait();
    let partner = s.handles[me ^ 1].get().unwrap();
    let pair = &s.pairs[me / 2];
    let side = (me & 1) as u32;

    for _ in 0..increments {
        s.counter.fetch_add(1, Ordering::Relaxed);
    }
    s.barrier.wait();

    for _ in 0..rounds {
        // park may return without an unpark: the turn says whether to go on.
        while pair.turn.load(Ordering::Acquire) != side {
            thread::park();
        }
        pair.hits[side as usize].fetch_add(1, Ordering::Relaxed);
        pair.turn.store(1 - side, Ordering::Release);
        partner.unpark();
    }
    s.barrier.wait();
}

fn main() {
    let increments: u64 = arg(1, 20_000);
    let rounds: u32 = arg(2, 300);
    let shared = Arc::new(Shared {
        counter: AtomicU64::new(0),
        handles: (0..THREADS).map(|_| OnceLock::new()).collect(),
        pairs: (0..THREADS / 2).map(|_| Pair::default()).collect(),
        barrier: Barrier::new(THREADS),
    });
    let workers: Vec<_> = (0..THREADS)
        .map(|me| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || run(me, increments, rounds, &shared))
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    let mut checks = vec![report(
        "counter",
        shared.counter.load(Ordering::SeqCst),
        THREADS as u64 * increments,
    )];
    for (i, pair) in shared.pairs.iter().enumerate() {
        let hits = pair.hits.each_ref().map(|h| h.load(Ordering::SeqCst));
        checks.push(report(&format!("pair {i} hits"), hits[0], rounds));
        checks.push(report(&format!("pair {i} replies"), hits[1], rounds));
        checks.push(report(
            &format!("pair {i} turn"),
            pair.turn.load(Ordering::SeqCst),
            0,
        ));
    }
    finish(&checks);
}
