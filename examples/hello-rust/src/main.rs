//! A Rust driver through Rust's standard library on wasm32-wasip1: arguments, stdout,
//! stderr, a clock, random bytes, and an exit status of its choosing.

use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("hello from Rust on wafer: {}", args.join(" "));

    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    assert!(since_epoch.as_secs() > 1_600_000_000, "realtime clock is plausible");
    let start = Instant::now();
    let mut x = 0u64;
    for i in 0..10_000u64 {
        x = x.wrapping_mul(31).wrapping_add(i);
    }
    assert!(Instant::now() >= start, "monotonic clock does not go back");

    let mut map = std::collections::HashMap::new(); // seeded from random_get
    map.insert("checksum", x);
    writeln!(std::io::stderr(), "checksum {}", map["checksum"]).unwrap();

    let status = args
        .iter()
        .position(|a| a == "--exit")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    std::process::exit(status);
}
