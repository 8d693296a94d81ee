//! Clocks and randomness through WASI 0.2 (`wasi:clocks`, `wasi:random`): the wall clock is
//! plausible, the monotonic clock does not go back and a sleep lasts at least as long as
//! asked; random bytes vary. It prints only what is the same on every run.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    println!("wall clock after 2020: {}", now.as_secs() > 1_577_836_800);
    let a = Instant::now();
    std::thread::sleep(Duration::from_millis(30));
    let slept = a.elapsed();
    println!("slept at least 30 ms: {}", slept >= Duration::from_millis(30));
    println!("slept under 5 s: {}", slept < Duration::from_secs(5));
    let b = Instant::now();
    println!("monotonic: {}", b >= a);

    // HashMap seeds come from wasi:random; two maps hash differently.
    let keys: HashSet<u64> = (0..1000).collect();
    println!("set size: {}", keys.len());
    let s1 = std::collections::hash_map::RandomState::new();
    let s2 = std::collections::hash_map::RandomState::new();
    use std::hash::BuildHasher;
    println!("hashers differ: {}", s1.hash_one(1u64) != s2.hash_one(1u64));
}
