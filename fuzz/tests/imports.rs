//! The imports target, bounded and seeded (see `wafer_fuzz::imports`).

use std::path::PathBuf;

use wafer_fuzz::core::CONFIGS;
use wafer_fuzz::imports::{candidates, check_batch};
use wafer_fuzz::report::{describe, Tally};

#[test]
fn hostile_host_calls_get_errors_or_clean_traps() {
    let cases: u64 = std::env::var("WAFER_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-tests/imports");
    std::fs::create_dir_all(&dir).unwrap();
    let mut tally = Tally::default();
    let mut findings = Vec::new();
    let seeds: Vec<u64> = (1..=cases).collect();
    for (n, chunk) in seeds.chunks(40).enumerate() {
        findings.extend(check_batch(
            chunk,
            CONFIGS[n % CONFIGS.len()],
            &dir,
            &mut tally,
        ));
    }
    eprintln!("imports: {} modules, {:?}", tally.cases, tally.counts);
    assert!(findings.is_empty(), "{}", describe(&findings));
    // The calls reach the host: some succeed, some trap.
    assert!(tally.counts.get("answers: ok").copied().unwrap_or(0) > cases / 4);
}

#[test]
fn every_interface_is_in_the_pool() {
    let pool = candidates();
    for module in [
        "wasi_snapshot_preview1",
        "wasi:filesystem/types@0.2",
        "wasi:i2c/i2c",
        "wasi:usb/device@0.2.1",
        "wadu436:usb/device@0.0.1",
        "wafer:hal/buses@0.1.0",
    ] {
        assert!(pool.iter().any(|f| f.module == module), "{module}");
    }
    assert!(!pool.iter().any(|f| f.name == "proc_exit"));
}
