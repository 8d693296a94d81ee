//! What the threads test programs share: numeric command-line arguments with defaults, a
//! deterministic pseudo-random sequence, and ending with a status that says whether every
//! check passed. Each program in src/bin prints only what is the same on every run and every
//! target, so its output can be compared between wafer and a native build.

use std::str::FromStr;

/// Argument `index` (1 = the first after the program name) parsed as a `T`, or `default`
/// when absent; a malformed argument ends the program with status 2.
pub fn arg<T: FromStr>(index: usize, default: T) -> T {
    match std::env::args().nth(index) {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("argument {index}: cannot parse `{text}`");
            std::process::exit(2)
        }),
    }
}

/// The `i`th value of a fixed pseudo-random sequence (the splitmix64 finalizer).
pub fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Prints `name value` and whether it is the expected value; returns whether it was.
pub fn report<T: PartialEq + std::fmt::Display>(name: &str, value: T, expected: T) -> bool {
    let ok = value == expected;
    if ok {
        println!("{name} {value}");
    } else {
        println!("{name} {value} (expected {expected})");
    }
    ok
}

/// Exits with status 0 when every check passed, 1 otherwise.
pub fn finish(checks: &[bool]) -> ! {
    let failed = checks.iter().filter(|ok| !**ok).count();
    if failed > 0 {
        println!("{failed} checks failed");
    }
    std::process::exit(i32::from(failed > 0))
}
