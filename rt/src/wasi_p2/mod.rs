//! WASI 0.2 (`wasi:cli`, `wasi:io`, `wasi:clocks`, `wasi:random`, `wasi:filesystem`,
//! `wasi:sockets`), lowered by the canonical ABI as [`crate::canon`] lowers it: [`WasiP2`]
//! implements the generated `Host` traits of [`crate::glue`], whose extern functions
//! `wafer_abi::WIT_FUNCS` lists (their faults introduce themselves as `wafer: wasi: ...`).
//! A core module that imports these functions by their canonical names
//! and a component's `canon lower` of them bind to the same symbols: each takes the `vmctx` of
//! the core instance whose memory and `cabi_realloc` the call uses.
//!
//! The guest sees what the executable was granted, exactly as under preview1: its arguments,
//! the granted environment variables, the standard streams and the preopened directories
//! (`--dir`, `--ro-dir`), all taken from the preview1 context ([`crate::wasi::ctx`]), and every
//! path is resolved by preview1's sandbox with the same rights model (read-only grants hand
//! down no write rights). Resources live in one handle table per guest
//! ([`table::Handles`], in `HostState`), shared by its threads' instances.
//!
//! Files: [`table`] (handles), `io` (error, poll, streams), `cli` (environment, exit, standard
//! streams, terminals), `clocks`, `random`, `filesystem` (types, preopens), `sockets` (no
//! network: every socket answers `access-denied`).
//!
//! # Threads
//! The table's lock is held only to look handles up, insert and remove them, never across a
//! call that can block (stream reads and writes, `poll`, file-system calls) nor across a call
//! into the guest (`cabi_realloc`): what a call needs is cloned out of the table first.
//!
//! # Safety
//! Every `extern "C"` function here is called only by compiled wasm code, whose first argument
//! is the live `vmctx` of the calling instance.

#![allow(clippy::missing_safety_doc, clippy::too_many_arguments)]

mod cli;
mod clocks;
pub(crate) mod filesystem;
pub(crate) mod io;
mod random;
mod sockets;
pub mod table;

pub use table::Handles;

use wafer_abi::VmCtx;

use crate::canon::typed::Own;
use crate::canon::Fault;
use crate::instance::Instance;
use table::{Kind, Resource};

/// Runs `f` on the calling guest's handle table, locked for the length of `f`.
pub(crate) fn with_table<T>(vmctx: *mut VmCtx, f: impl FnOnce(&mut Handles) -> T) -> T {
    // SAFETY: host functions are called by compiled code with the caller's live vmctx.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    f(&mut crate::instance::lock(&instance.host_state().wasi_p2))
}

/// Stores a new resource; its handle.
pub(crate) fn insert(vmctx: *mut VmCtx, r: Resource) -> Result<i32, Fault> {
    with_table(vmctx, |t| t.insert(r))
}

/// Stores a new resource; the guest's handle to it, typed as the WIT resource `R`.
pub(crate) fn own<R>(vmctx: *mut VmCtx, r: Resource) -> Result<Own<R>, Fault> {
    insert(vmctx, r).map(|h| Own::new(h as u32))
}

/// `[resource-drop]`: the resource is dropped (its host descriptor closed, unless a child
/// still holds it) after the table's lock is released.
pub(crate) fn remove_resource(vmctx: *mut VmCtx, handle: i32, kind: Kind) -> Result<(), Fault> {
    let removed = with_table(vmctx, |t| t.remove(handle, kind))?;
    drop(removed);
    Ok(())
}

/// Implements the generated `Host` traits of WASI 0.2 (`crate::glue::wasi_*`).
pub struct WasiP2;
