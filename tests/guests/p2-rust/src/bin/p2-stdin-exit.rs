//! Standard input and exit codes through WASI 0.2 (`wasi:cli/stdin`, `wasi:io/streams`,
//! `wasi:cli/exit`): reads all of stdin, reports it, and exits with the number on its first
//! line (or panics, which is a trap, when that line says so).

use std::io::{BufRead, Read, Write};

fn main() {
    let mut input = Vec::new();
    std::io::stdin().lock().read_to_end(&mut input).unwrap();
    let text = String::from_utf8_lossy(&input);
    let lines: Vec<&str> = text.lines().collect();
    println!("bytes {} lines {}", input.len(), lines.len());
    let sum: u64 = input.iter().map(|&b| b as u64).sum();
    println!("byte sum {sum}");
    for l in lines.iter().take(3) {
        println!("line {l:?}");
    }
    // A large write through stdout's stream, checked by length.
    let big = "x".repeat(100_000);
    let mut out = std::io::stdout().lock();
    out.write_all(big.as_bytes()).unwrap();
    writeln!(out).unwrap();
    drop(out);
    let empty = std::io::stdin().lock().lines().count();
    println!("stdin after the end: {empty} more lines");
    match lines.first().copied() {
        Some("panic") => panic!("asked to panic"),
        Some(n) => std::process::exit(n.trim().parse().unwrap_or(2)),
        None => {}
    }
}
