//! `std::thread::scope`: workers borrow a local vector mutably in disjoint chunks (and a table
//! of weights shared read-only by all), transform their chunk in place and return a partial
//! sum through the scoped join handle. Prints each partial sum and a checksum of the vector.
//!
//!     scope [elements=65536] [workers=4]

use std::thread;
use threads_rust::{arg, finish, mix, report};

fn transform(worker: usize, chunk: &mut [u32], weights: &[u32]) -> u64 {
    let mut sum = 0u64;
    for (i, x) in chunk.iter_mut().enumerate() {
        *x = x
            .wrapping_mul(weights[i % weights.len()])
            .wrapping_add(worker as u32);
        sum += u64::from(*x);
    }
    sum
}

fn checksum(values: &[u32]) -> u64 {
    values
        .iter()
        .fold(0u64, |acc, &v| acc.rotate_left(5) ^ u64::from(v))
}

fn main() {
    let elements: usize = arg(1, 65_536);
    let workers: usize = arg(2, 4).max(1);
    let mut data: Vec<u32> = (0..elements as u64).map(|i| mix(i) as u32).collect();
    let weights: Vec<u32> = (0..17).map(|i| 2 * i + 1).collect();
    let chunk_len = elements.div_ceil(workers).max(1);

    // The same work on one thread, for the checks.
    let mut expected = data.clone();
    let expected_sums: Vec<u64> = expected
        .chunks_mut(chunk_len)
        .enumerate()
        .map(|(w, chunk)| transform(w, chunk, &weights))
        .collect();

    let sums: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = data
            .chunks_mut(chunk_len)
            .enumerate()
            .map(|(w, chunk)| {
                let weights = &weights;
                s.spawn(move || transform(w, chunk, weights))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut checks = Vec::new();
    for (w, (&sum, &want)) in sums.iter().zip(&expected_sums).enumerate() {
        checks.push(report(&format!("worker {w} sum"), sum, want));
    }
    checks.push(report("checksum", checksum(&data), checksum(&expected)));
    finish(&checks);
}
