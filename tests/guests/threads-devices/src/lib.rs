//! What the device-thread guests share: numeric arguments, per-worker check tallies that the
//! main thread merges into one deterministic summary, and a bounded wait.

use std::time::{Duration, Instant};

/// Argument `index` (1 = the first after the program name) as a number, or `default`.
pub fn arg(index: usize, default: u32) -> u32 {
    match std::env::args().nth(index) {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("argument {index}: `{text}` is not a number");
            std::process::exit(2)
        }),
    }
}

/// What one worker checked: how many checks passed and failed, and what the first failed
/// ones saw.
#[derive(Default)]
pub struct Tally {
    pub passed: u32,
    pub failed: u32,
    pub messages: Vec<String>,
}

/// Failure messages kept per tally: enough to diagnose, short enough to read.
const KEPT_MESSAGES: usize = 8;

impl Tally {
    /// Records one check; `what` is only built when it failed.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            if self.messages.len() < KEPT_MESSAGES {
                self.messages.push(what());
            }
        }
    }

    /// Records that `got` equals `want`.
    pub fn same<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: &T, want: &T) {
        self.check(got == want, || {
            format!("{what}: got {got:?}, want {want:?}")
        });
    }

    /// Records `r` as a check that passed when `Ok`, and hands back its value.
    pub fn ok<T, E: std::fmt::Debug>(&mut self, what: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => {
                self.passed += 1;
                Some(v)
            }
            Err(e) => {
                self.check(false, || format!("{what}: {e:?}"));
                None
            }
        }
    }

    /// Prints `name: N checks ok`, or the failures (to stdout, so a test shows them).
    pub fn print(&self, name: &str) {
        if self.failed == 0 {
            println!("{name}: {} checks ok", self.passed);
        } else {
            println!(
                "{name}: {} of {} checks FAILED",
                self.failed,
                self.failed + self.passed
            );
            for m in &self.messages {
                println!("  {m}");
            }
        }
    }
}

/// Prints the total and exits 0 when no tally failed, 1 otherwise.
pub fn finish(tallies: &[&Tally]) -> ! {
    let failed: u32 = tallies.iter().map(|t| t.failed).sum();
    if failed == 0 {
        println!("all checks passed");
    } else {
        println!("{failed} checks failed");
    }
    std::process::exit(i32::from(failed > 0))
}

/// Waits until `done()` holds, yielding the CPU; false after `limit` without it.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}
