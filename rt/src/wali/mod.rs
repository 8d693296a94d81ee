//! WALI, the WebAssembly Linux Interface: Linux system calls for wasm guests built against it
//! (module `wali`, one import per syscall; see `wafer_abi::wali`).
//!
//! Compiled code calls every implemented syscall through [`wafer_wali_syscall`] with the
//! syscall's index in `wafer_abi::wali::SYSCALLS` and its arguments already widened to 64
//! bits. The entry looks up the handler for that index (each family of syscalls lives in its
//! own module and names its handlers in a `handler` function) and returns the raw kernel
//! convention: the result, or a negative errno.
//!
//! What every handler guarantees:
//! - every guest pointer, length, string and array is checked against linear memory through
//!   [`mem::Mem`] (`-EFAULT` otherwise), and structs that hold guest pointers are translated;
//!   the kernel never receives a host address the guest chose;
//! - guests use x86-64 layouts and flag values; on other hosts the families translate (see
//!   [`arch`]), and x86-64-only syscalls are expressed through their generic forms;
//! - nothing reaches outside linear memory (mmap and brk stay inside it), and the runtime's
//!   own signals, descriptors and memory stay the runtime's.
//!
//! `WAFER_TRACE=wali` prints every syscall with its arguments and result to stderr.

pub mod arch;
mod aux;
mod fs;
pub mod mem;
mod misc;
mod mm;
mod net;
mod process;
pub mod sandbox;
pub mod signal;

use std::sync::OnceLock;

use wafer_abi::wali::{Arg, Syscall, MAX_ARGS, SYSCALLS};
use wafer_abi::VmCtx;

pub use aux::set_args;
use mem::Mem;

/// A Linux errno value (positive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's `errno` after a failed libc call.
    pub fn last() -> Errno {
        Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }
}

pub type SysResult = Result<i64, Errno>;

/// The widened arguments of one call, as [`Arg`] describes them.
pub type Args = [u64; MAX_ARGS];

/// What a handler gets besides its arguments.
pub struct Call {
    pub vmctx: *mut VmCtx,
    pub mem: Mem,
    pub syscall: &'static Syscall,
}

pub type Handler = fn(&Call, &Args) -> SysResult;

/// The handler for each syscall of the table, by index; `None` answers `-ENOSYS`.
fn handlers() -> &'static [Option<Handler>] {
    static TABLE: OnceLock<Box<[Option<Handler>]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        SYSCALLS
            .iter()
            .map(|s| {
                s.implemented
                    .then(|| {
                        fs::handler(s.name)
                            .or_else(|| mm::handler(s.name))
                            .or_else(|| process::handler(s.name))
                            .or_else(|| signal::handler(s.name))
                            .or_else(|| net::handler(s.name))
                            .or_else(|| misc::handler(s.name))
                    })
                    .flatten()
            })
            .collect()
    })
}

/// Whether a handler exists for the syscall named `name` (for `wafer inspect`-like reports
/// and tests).
pub fn is_implemented(name: &str) -> bool {
    SYSCALLS
        .iter()
        .position(|s| s.name == name)
        .is_some_and(|i| handlers()[i].is_some())
}

fn tracing() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("WAFER_TRACE").is_some_and(|v| v == "wali"))
}

/// The one entry compiled code calls for every implemented WALI syscall.
///
/// # Safety
/// Called only by compiled wasm code with its live `vmctx`.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the contract's shape: index and six registers
pub unsafe extern "C" fn wafer_wali_syscall(
    vmctx: *mut VmCtx,
    index: u32,
    a0: i64,
    a1: i64,
    a2: i64,
    a3: i64,
    a4: i64,
    a5: i64,
) -> i64 {
    let args = [a0, a1, a2, a3, a4, a5].map(|a| a as u64);
    let Some(syscall) = SYSCALLS.get(index as usize) else {
        return -i64::from(libc::ENOSYS);
    };
    loop {
        let result = match handlers()[index as usize] {
            None => Err(Errno(libc::ENOSYS)),
            Some(handler) => unsafe { Mem::from_vmctx(vmctx) }.and_then(|mem| {
                let call = Call {
                    vmctx,
                    mem,
                    syscall,
                };
                handler(&call, &args)
            }),
        };
        let raw = match result {
            Ok(v) => v,
            Err(Errno(e)) => -i64::from(e),
        };
        if tracing() {
            let shown = &args[..syscall.args.len()];
            eprintln!("wali: {}{shown:x?} = {raw}", syscall.name);
        }
        // Signals that arrived during the call run their handlers before the guest sees the
        // result; a call they interrupted runs again if they asked for SA_RESTART.
        if !unsafe { signal::after_syscall(vmctx, syscall, raw) } {
            return raw;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers the families share
// ---------------------------------------------------------------------------------------------

/// The host's number for syscall `s`, if this ISA has it.
pub fn host_nr(s: &Syscall) -> Option<libc::c_long> {
    #[cfg(target_arch = "x86_64")]
    let nr = s.x86_64;
    #[cfg(target_arch = "aarch64")]
    let nr = s.aarch64;
    #[cfg(target_arch = "riscv64")]
    let nr = s.riscv64;
    (nr >= 0).then_some(libc::c_long::from(nr))
}

/// Makes the raw system call `nr`; `-1` becomes the errno.
pub fn raw(nr: libc::c_long, a: [u64; MAX_ARGS]) -> SysResult {
    // SAFETY: the caller has translated every pointer argument to memory it may hand to the
    // kernel (checked guest memory or its own buffers).
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    check(r)
}

/// Checks a libc-style `-1`/errno result.
pub fn check(r: libc::c_long) -> SysResult {
    if r == -1 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// For syscalls whose arguments are all integers and whose meaning is the same on every
/// host: calls the host's own syscall of that name with the arguments unchanged.
pub fn passthrough(call: &Call, args: &Args) -> SysResult {
    debug_assert!(call.syscall.args.iter().all(|a| *a != Arg::Ptr));
    let nr = host_nr(call.syscall).ok_or(Errno(libc::ENOSYS))?;
    raw(nr, *args)
}

/// The value of argument `i` as a C `int` (sign-extended by the compiler for signed types).
pub fn int(args: &Args, i: usize) -> i32 {
    args[i] as i64 as i32
}

/// The memory and this module's bookkeeping for `vmctx`.
///
/// # Safety
/// `vmctx` must be a live instance context.
pub unsafe fn instance<'a>(vmctx: *mut VmCtx) -> &'a crate::instance::Instance {
    unsafe { crate::instance::Instance::from_vmctx(vmctx) }
}

/// Runs `handler` as the syscall `name` on the instance context `vmctx` with `args` (missing
/// ones 0) and returns the raw kernel-convention result: the family tests' one way in.
#[cfg(test)]
pub(crate) fn run_for_test(vmctx: *mut VmCtx, handler: Handler, name: &str, args: &[u64]) -> i64 {
    let mut a = [0u64; MAX_ARGS];
    a[..args.len()].copy_from_slice(args);
    let call = Call {
        vmctx,
        mem: unsafe { Mem::from_vmctx(vmctx) }.expect("test vmctx has a memory"),
        syscall: wafer_abi::wali::syscall(name).expect("a syscall of the table"),
    };
    match handler(&call, &a) {
        Ok(v) => v,
        Err(Errno(e)) => -i64::from(e),
    }
}
