//! WASI preview1 (`wasi_snapshot_preview1`): every function of `wafer_abi::HOST_FUNCS`.
//!
//! Each function takes the calling instance's `vmctx` first and then exactly the wasm
//! parameters of its import. What the guest can reach is what the executable was granted when
//! it was built (`wafer_abi::capabilities`): preopened directories, environment variables,
//! and the standard streams; nothing else of the host shows. Every guest pointer and length
//! goes through [`GuestMemory`]'s checks, and every path through [`sandbox`].
//!
//! Modules: [`ctx`] (the descriptor table, arguments, environment, startup, and how threads
//! share them: which calls hold its lock and which release it before a blocking syscall),
//! `args_env`, `clock`, `fd` (descriptor calls), `dir` (`fd_readdir`), `path` (path calls),
//! `poll` (`poll_oneoff`), `proc` (exit, signals, randomness, sockets).
//!
//! # Rights
//!
//! Descriptors carry preview1 rights and every call checks the one it needs (missing:
//! `ENOTCAPABLE`, 76). A read-write preopen holds every directory right and hands every file
//! and directory right down; a read-only preopen (`--ro-dir`) holds only the rights that look
//! (open, readdir, readlink, stat) and hands down only those and the rights that read a file.
//! So under a read-only directory every write, create, unlink, rename, link, symlink,
//! set-times and set-size answers `ENOTCAPABLE` (never `EROFS`), and files beneath it are
//! opened read-only on the host as well. `path_open` grants what is asked for, intersected
//! with what the directory hands down (as wasi-libc expects), except that asking for
//! `fd_write` where it is not handed down is refused with `ENOTCAPABLE` at once.
//!
//! # Safety
//! Every `extern "C"` function here is called only by compiled wasm code, whose first argument
//! is always the live `vmctx` of the calling instance; that is the whole contract.

// The single safety contract is stated above rather than on each entry point.
#![allow(clippy::missing_safety_doc)]

mod args_env;
pub(crate) mod clock;
pub mod ctx;
pub(crate) mod dir;
pub mod errno;
pub(crate) mod fd;
pub(crate) mod path;
mod poll;
mod proc;
pub mod sandbox;
pub mod types;

#[cfg(test)]
mod tests;

use wafer_abi::VmCtx;

use crate::guest_mem::GuestMemory;
pub use ctx::{adopt, init, set_args, share, SharedCtx};
use errno::Errno;

fn status(result: Result<(), Errno>) -> i32 {
    match result {
        Ok(()) => errno::SUCCESS,
        Err(e) => e,
    }
}

unsafe fn memory(vmctx: *mut VmCtx) -> Result<GuestMemory, Errno> {
    unsafe { GuestMemory::from_vmctx(vmctx) }
}

/// Runs a host call that needs the guest's memory and the WASI context, locked for the whole
/// call (for calls that cannot block for long: see [`ctx`]).
unsafe fn call(
    vmctx: *mut VmCtx,
    f: impl FnOnce(&GuestMemory, &mut ctx::WasiCtx) -> Result<(), Errno>,
) -> i32 {
    status(unsafe { memory(vmctx) }.and_then(|mem| ctx::with(|c| f(&mem, c))))
}

/// Runs a host call that needs the guest's memory and locks the context itself, only around
/// its descriptor lookups (see [`ctx`]).
unsafe fn call_unlocked(
    vmctx: *mut VmCtx,
    f: impl FnOnce(&GuestMemory) -> Result<(), Errno>,
) -> i32 {
    status(unsafe { memory(vmctx) }.and_then(|mem| f(&mem)))
}
