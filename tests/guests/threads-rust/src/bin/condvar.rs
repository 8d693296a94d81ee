//! Ping-pong between two threads over a `Mutex` and a `Condvar`: each waits for its turn,
//! records a move and hands the turn over, for a fixed number of rounds. Prints the round
//! count, each side's moves and the final state; then a `wait_timeout` that nobody notifies
//! must time out (the timed `memory.atomic.wait32` path).
//!
//!     condvar [rounds=1000]

use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use threads_rust::{arg, finish, report};

struct State {
    round: u64,
    turn: usize,
    moves: [u64; 2],
    /// Every move folded in order: any out-of-turn move changes it.
    log: u64,
}

fn play(me: usize, rounds: u64, shared: &(Mutex<State>, Condvar)) {
    let (lock, cvar) = shared;
    let mut state = lock.lock().unwrap();
    loop {
        while state.turn != me && state.round < rounds {
            state = cvar.wait(state).unwrap();
        }
        if state.round >= rounds {
            return;
        }
        state.round += 1;
        state.moves[me] += 1;
        state.log = state.log.wrapping_mul(31).wrapping_add(me as u64 + 1);
        state.turn = 1 - me;
        cvar.notify_one();
    }
}

fn main() {
    let rounds: u64 = arg(1, 1000);
    let shared = Arc::new((
        Mutex::new(State {
            round: 0,
            turn: 0,
            moves: [0; 2],
            log: 0,
        }),
        Condvar::new(),
    ));
    let players: Vec<_> = (0..2)
        .map(|me| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || play(me, rounds, &shared))
        })
        .collect();
    for p in players {
        p.join().unwrap();
    }
    let state = shared.0.lock().unwrap();
    let expected_log =
        (0..rounds).fold(0u64, |log, r| log.wrapping_mul(31).wrapping_add(r % 2 + 1));
    let mut checks = vec![
        report("rounds", state.round, rounds),
        report("turn", state.turn as u64, rounds % 2),
        report("moves of the first", state.moves[0], rounds.div_ceil(2)),
        report("moves of the second", state.moves[1], rounds / 2),
        report("log", state.log, expected_log),
    ];
    drop(state);

    let (lock, cvar) = &*shared;
    let start = Instant::now();
    let timeout = Duration::from_millis(20);
    let (_guard, result) = cvar
        .wait_timeout_while(lock.lock().unwrap(), timeout, |_| true)
        .unwrap();
    checks.push(report("timed out", result.timed_out(), true));
    checks.push(report(
        "waited the timeout",
        start.elapsed() >= timeout,
        true,
    ));
    finish(&checks);
}
