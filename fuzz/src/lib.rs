//! Fuzzing wafer, three ways, each both a bounded seeded run inside `cargo test` and a long
//! run from `scripts/fuzz.sh TARGET` (the `wafer-fuzz` binary):
//!
//! - [`core`]: differential against wasmtime on random modules (wasm-smith), every target
//!   and bounds-check mode;
//! - [`imports`]: random modules calling WASI, I2C and USB host functions with hostile
//!   arguments; the executable must answer errors or trap cleanly, never crash or hang;
//! - [`bytes`]: the compiler on mutated and truncated modules: a clean error or a module
//!   wasmtime accepts too, never a panic.
//!
//! A seed names one input on every machine ([`rng::Rng`]), so every finding reproduces from
//! its target, configuration and seed.

pub mod bytes;
pub mod core;
pub mod coverage;
pub mod imports;
pub mod oracle;
pub mod report;
pub mod rng;
pub mod smith;
