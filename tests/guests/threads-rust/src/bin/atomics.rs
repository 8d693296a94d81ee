//! Atomic read-modify-write operations from several threads at once, on every width: 64-bit
//! `fetch_add` on an `Arc<AtomicU64>`; `compare_exchange` loops (a maximum, a sum, additions
//! on 8- and 16-bit values, a spin lock guarding plain memory); `fetch_or`, `fetch_xor`,
//! `fetch_min`, `fetch_max`; 8-bit counters that wrap; `swap` and `fetch_update`. Every result
//! is independent of the interleaving; each is printed and compared with its value computed
//! on one thread.
//!
//!     atomics [iterations=10000]

use std::cell::UnsafeCell;
use std::sync::atomic::{
    fence, AtomicBool, AtomicI64, AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst},
};
use std::sync::Arc;
use std::thread;
use threads_rust::{arg, finish, mix, report};

const THREADS: u64 = 4;

#[derive(Default)]
struct Shared {
    added: AtomicU64,
    max: AtomicU64,
    cas_sum: AtomicU64,
    bits: AtomicU32,
    xored: AtomicU16,
    small: AtomicU8,
    cas_small: AtomicU8,
    cas_half: AtomicU16,
    min: AtomicI64,
    peak: AtomicI64,
    swapped: AtomicU64,
    updated: AtomicUsize,
    locked: AtomicBool,
    guarded: Guarded,
}

/// A plain counter only ever touched while `Shared::locked` is held.
#[derive(Default)]
struct Guarded(UnsafeCell<u64>);
unsafe impl Sync for Guarded {}

fn value(t: u64, i: u64, iterations: u64) -> u64 {
    mix(t * iterations + i)
}

fn work(t: u64, iterations: u64, s: &Shared) {
    for i in 0..iterations {
        let v = value(t, i, iterations);
        s.added.fetch_add(t + 1, Relaxed);
        // A maximum by compare-exchange.
        let mut seen = s.max.load(Relaxed);
        while v > seen {
            match s.max.compare_exchange_weak(seen, v, AcqRel, Relaxed) {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
        // A wrapping sum by compare-exchange.
        let mut old = s.cas_sum.load(Relaxed);
        while let Err(now) = s
            .cas_sum
            .compare_exchange(old, old.wrapping_add(v), SeqCst, SeqCst)
        {
            old = now;
        }
        // Narrow compare-exchange loops (riscv64 has no 8- or 16-bit LR/SC: a masked loop on
        // the containing word must still compare and store as one atomic step).
        let mut old = s.cas_small.load(Relaxed);
        while let Err(now) =
            s.cas_small
                .compare_exchange_weak(old, old.wrapping_add(1), SeqCst, Relaxed)
        {
            old = now;
        }
        let mut old = s.cas_half.load(Relaxed);
        while let Err(now) = s
            .cas_half
            .compare_exchange(old, old.wrapping_add(3), AcqRel, Acquire)
        {
            old = now;
        }
        s.bits.fetch_or(1 << ((t * 8 + i % 8) % 32), Relaxed);
        s.xored.fetch_xor(v as u16, Relaxed);
        s.small.fetch_add(1, Relaxed);
        s.min.fetch_min(v as i64 >> 8, Relaxed);
        s.peak.fetch_max(v as i64 >> 8, Relaxed);
        s.swapped.swap(t + 1, Relaxed);
        s.updated
            .fetch_update(AcqRel, Acquire, |n| Some(n + 2))
            .unwrap();
        // A spin lock around a non-atomic increment.
        while s
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        unsafe { *s.guarded.0.get() += 1 };
        s.locked.store(false, Release);
    }
    fence(SeqCst);
}

fn main() {
    let iterations: u64 = arg(1, 10_000);
    let shared = Arc::new(Shared::default());
    shared.min.store(i64::MAX, Relaxed);
    shared.peak.store(i64::MIN, Relaxed);
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || work(t, iterations, &shared))
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    let all = || (0..THREADS).flat_map(|t| (0..iterations).map(move |i| value(t, i, iterations)));
    let n = THREADS * iterations;
    let bits = (0..THREADS)
        .flat_map(|t| (0..iterations.min(8)).map(move |i| 1u32 << ((t * 8 + i) % 32)))
        .fold(0, |a, b| a | b);
    let s = &*shared;
    let checks = [
        report(
            "fetch_add",
            s.added.load(SeqCst),
            iterations * (1..=THREADS).sum::<u64>(),
        ),
        report("cas max", s.max.load(SeqCst), all().max().unwrap_or(0)),
        report(
            "cas sum",
            s.cas_sum.load(SeqCst),
            all().fold(0, u64::wrapping_add),
        ),
        report("fetch_or", s.bits.load(SeqCst), bits),
        report(
            "fetch_xor u16",
            s.xored.load(SeqCst),
            all().fold(0, |a, v| a ^ v as u16),
        ),
        report("fetch_add u8", s.small.load(SeqCst), n as u8),
        report("cas add u8", s.cas_small.load(SeqCst), n as u8),
        report("cas add u16", s.cas_half.load(SeqCst), (3 * n) as u16),
        report(
            "fetch_min",
            s.min.load(SeqCst),
            all().map(|v| v as i64 >> 8).min().unwrap_or(i64::MAX),
        ),
        report(
            "fetch_max",
            s.peak.load(SeqCst),
            all().map(|v| v as i64 >> 8).max().unwrap_or(i64::MIN),
        ),
        report(
            "swap in 1..=4",
            (1..=THREADS).contains(&s.swapped.load(SeqCst)) || n == 0,
            true,
        ),
        report("fetch_update", s.updated.load(SeqCst) as u64, 2 * n),
        report("spin-locked", unsafe { *s.guarded.0.get() }, n),
    ];
    finish(&checks);
}
