//! Spawns threads that all stay alive (each waits until main releases it) until
//! `std::thread::Builder::spawn` refuses one or `max` have been spawned. A runtime that caps
//! live threads must refuse with an error, not crash. Prints `spawned N then refused` (or
//! `spawned N, none refused` at the maximum), then checks that every spawned thread ran,
//! releases and joins them all, and exits 0.
//!
//!     spawn-many [max=100000]

use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use threads_rust::{arg, finish, report};

/// Small stacks, so the limit met is the number of threads, not memory.
const STACK_SIZE: usize = 64 * 1024;

#[derive(Default)]
struct Gate {
    /// Threads started so far, and whether main has released them.
    state: Mutex<(usize, bool)>,
    started: Condvar,
    released: Condvar,
}

fn wait_for_release(gate: &Gate) {
    let mut state = gate.state.lock().unwrap();
    state.0 += 1;
    gate.started.notify_one();
    while !state.1 {
        state = gate.released.wait(state).unwrap();
    }
}

fn main() {
    let max: usize = arg(1, 100_000);
    let gate = Arc::new(Gate::default());
    let mut threads = Vec::new();
    let mut refusal = None;
    while threads.len() < max {
        let gate = Arc::clone(&gate);
        match thread::Builder::new()
            .stack_size(STACK_SIZE)
            .spawn(move || wait_for_release(&gate))
        {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
    }
    let spawned = threads.len();
    match &refusal {
        Some(e) => {
            println!("spawned {spawned} then refused");
            eprintln!("spawn-many: refused: {e}");
        }
        None => println!("spawned {spawned}, none refused"),
    }

    let mut state = gate.state.lock().unwrap();
    while state.0 < spawned {
        state = gate.started.wait(state).unwrap();
    }
    let started = state.0;
    state.1 = true;
    gate.released.notify_all();
    drop(state);
    let joined = threads
        .into_iter()
        .map(|t| t.join())
        .filter(Result::is_ok)
        .count();
    finish(&[
        report("started", started, spawned),
        report("joined", joined, spawned),
    ]);
}
