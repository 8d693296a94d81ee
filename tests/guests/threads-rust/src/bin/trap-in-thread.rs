//! A worker thread traps (wasm `unreachable`; natively an abort) while main is blocked joining
//! it. Under wafer the whole process must end at once with status 134 and `wasm trap:` on
//! stderr, not hang with main still waiting.

use std::thread;

fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

fn main() {
    println!("main: waiting for the worker");
    let worker = thread::spawn(|| {
        println!("worker: trapping");
        trap()
    });
    let _ = worker.join();
    println!("main: the worker returned");
    std::process::exit(1)
}
