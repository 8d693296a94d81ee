//! A worker thread calls `std::process::exit(7)` while main is blocked joining it: the whole
//! process must end with status 7, and main must never get to run again.

use std::thread;

fn main() {
    println!("main: waiting for the worker");
    let worker = thread::spawn(|| {
        println!("worker: exiting with 7");
        std::process::exit(7)
    });
    let _ = worker.join();
    println!("main: the worker returned");
    std::process::exit(1)
}
