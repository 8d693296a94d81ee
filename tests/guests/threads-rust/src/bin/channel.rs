//! Producers and consumers over `std::sync::mpsc`: four producers send numbered messages down
//! one unbounded channel to main, which checks each producer's messages arrive complete and in
//! order; then three producers feed a consumer thread through a bounded `sync_channel` of 8
//! slots, so they block while it is full. Prints the totals.
//!
//!     channel [messages per producer=10000]

use std::sync::mpsc;
use std::thread;
use threads_rust::{arg, finish, mix, report};

const PRODUCERS: u64 = 4;
const BOUNDED_PRODUCERS: u64 = 3;

fn main() {
    let messages: u64 = arg(1, 10_000);
    let mut checks = Vec::new();

    // Unbounded: (producer, sequence number, payload).
    let (tx, rx) = mpsc::channel::<(u64, u64, u64)>();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for seq in 0..messages {
                    tx.send((p, seq, mix(p * messages + seq) % 1000)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut next = vec![0u64; PRODUCERS as usize];
    let mut sums = vec![0u64; PRODUCERS as usize];
    let mut in_order = true;
    for (p, seq, payload) in rx {
        in_order &= next[p as usize] == seq;
        next[p as usize] = seq + 1;
        sums[p as usize] += payload;
    }
    for p in producers {
        p.join().unwrap();
    }
    for p in 0..PRODUCERS {
        let expected: u64 = (0..messages).map(|s| mix(p * messages + s) % 1000).sum();
        checks.push(report(
            &format!("producer {p}: {} messages, payload sum", next[p as usize]),
            sums[p as usize],
            expected,
        ));
    }
    checks.push(report("in order", in_order, true));

    // Bounded: the consumer returns what it received through `join`.
    let (tx, rx) = mpsc::sync_channel::<u64>(8);
    let consumer = thread::spawn(move || rx.iter().fold((0u64, 0u64), |(n, s), v| (n + 1, s + v)));
    let producers: Vec<_> = (0..BOUNDED_PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..messages {
                    tx.send(p * 1_000_000 + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    for p in producers {
        p.join().unwrap();
    }
    let (count, sum) = consumer.join().unwrap();
    let expected_sum: u64 = (0..BOUNDED_PRODUCERS)
        .map(|p| p * 1_000_000 * messages + messages * messages.saturating_sub(1) / 2)
        .sum();
    checks.push(report(
        "bounded messages",
        count,
        BOUNDED_PRODUCERS * messages,
    ));
    checks.push(report("bounded sum", sum, expected_sum));
    finish(&checks);
}
