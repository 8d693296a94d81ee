//! Sums a large deterministic array split over N threads and prints the sum, which does not
//! depend on N. The array is shared through an `Arc`; each thread sums its own chunk `rounds`
//! times (so the benchmark can make the run CPU-bound without a larger array) and hands its
//! part back through `join`.
//!
//!     parallel-sum [threads=4] [elements=1000000] [rounds=1]

use std::sync::Arc;
use std::thread;
use threads_rust::{arg, mix};

/// The work per element: a multiply and a shift, different in every round.
fn sum_chunk(chunk: &[u64], rounds: u64) -> u64 {
    let mut acc = 0u64;
    for round in 0..rounds {
        let factor = 2 * round + 0x9e37_79b9;
        for &x in chunk {
            acc = acc.wrapping_add((x ^ round).wrapping_mul(factor) >> 7);
        }
    }
    acc
}

fn main() {
    let threads: usize = arg(1, 4);
    let elements: usize = arg(2, 1_000_000);
    let rounds: u64 = arg(3, 1);
    if threads == 0 {
        eprintln!("parallel-sum: at least one thread");
        std::process::exit(2);
    }
    let data: Arc<Vec<u64>> = Arc::new((0..elements as u64).map(mix).collect());
    let per_thread = elements.div_ceil(threads);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let data = Arc::clone(&data);
            thread::spawn(move || {
                let start = (t * per_thread).min(elements);
                let end = (start + per_thread).min(elements);
                sum_chunk(&data[start..end], rounds)
            })
        })
        .collect();
    let sum = workers
        .into_iter()
        .map(|w| w.join().unwrap())
        .fold(0u64, u64::wrapping_add);
    println!("{elements} elements, {rounds} rounds: sum {sum}");
}
