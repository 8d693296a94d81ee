//! The wafer runtime: linked into every executable `wafer build` produces. It instantiates the
//! compiled module(s) from their descriptors, provides linear memory, tables, traps and host
//! functions, and runs the guest (see `wafer_abi` for the contract with compiled code).

// The libc crate marks musl's `time_t` deprecated (it plans to follow musl 1.2's 64-bit time_t
// on 32-bit targets); every wafer target is 64-bit, where it already is 64 bits. glibc builds
// still report every other deprecation.
#![cfg_attr(target_env = "musl", allow(deprecated))]

pub mod canon;
pub mod component;
pub mod entry;
pub mod glue;
pub mod guest_mem;
pub mod i2c;
pub mod instance;
pub mod invoke;
pub mod libcalls;
pub mod limits;
pub mod memory;
pub mod resources;
pub mod signature;
pub mod spec;
pub mod table;
pub mod threads;
pub mod trap;
pub mod usb;
pub mod wali;
pub mod wasi;
pub mod wasi_over_wali;
pub mod wasi_p2;

#[cfg(test)]
mod tests;
