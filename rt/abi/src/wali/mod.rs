//! WALI, the WebAssembly Linux Interface: which imports of module `wali` exist, their wasm
//! signatures, and the runtime symbols that implement them.
//!
//! Every syscall is an import named `SYS_<linux name>`; the table in [`table`] (generated from
//! WALI's spec by `scripts/gen-wali-table.py`) holds all 362 the spec names, with their
//! numbers on each ISA, and for the 140 it implements the C argument types, the wasm
//! signature and how each argument widens to a native register. The result of every syscall
//! is an i64: the raw kernel value, a negative errno on failure.
//!
//! Binding, at build time: an implemented syscall with exactly the spec's parameters binds to
//! an adapter the compiler emits, which widens each argument as [`Arg`] says and calls the
//! runtime's single entry [`SYSCALL_ENTRY`] with the syscall's index in [`SYSCALLS`] (an
//! import declared without the result, as some libcs declare `SYS_exit`, drops it). So the
//! widening rules live here and in compiled code only, and the runtime sees every syscall in
//! one shape. Any other `SYS_*` import, whatever its signature, binds to a stub the compiler
//! emits that answers `-ENOSYS` (real binaries import syscalls that no WALI engine
//! implements). Auxiliary imports bind to their runtime functions ([`aux_symbol`]). A `wali`
//! import that is neither is a build error naming it.

mod table;

pub use table::{AUX, SYSCALLS};

use crate::valtype::I64;

/// The import module.
pub const MODULE: &str = "wali";
/// Prefix of syscall imports.
pub const SYSCALL_PREFIX: &str = "SYS_";
/// `-ENOSYS`, what the stub for an unimplemented syscall answers.
pub const ENOSYS_RESULT: i64 = -38;
/// Marks a syscall absent on an ISA.
pub const NONE: i16 = -1;
/// Upstream's default wasm stack for WALI programs (bytes).
pub const DEFAULT_STACK: u64 = 4 << 20;

/// How a syscall argument widens from its wasm value to a native register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A guest pointer (i32, zero-extended, then checked and translated).
    Ptr,
    /// A signed C integer narrower than 64 bits (i32, sign-extended: `AT_FDCWD` is -100).
    Signed,
    /// An unsigned C integer narrower than 64 bits (i32, zero-extended: `size_t`).
    Unsigned,
    /// A 64-bit C integer (`long`, `off_t`), passed as is.
    Long,
}

/// One Linux syscall as the spec describes it.
#[derive(Clone, Copy, Debug)]
pub struct Syscall {
    pub name: &'static str,
    /// Numbers per ISA ([`NONE`] where the ISA lacks it: `open`, `stat`, `fork`... exist on
    /// x86-64 only, and the runtime expresses them through their `*at`/`clone` forms).
    pub x86_64: i16,
    pub aarch64: i16,
    pub riscv64: i16,
    /// Whether WALI defines its arguments (and so wafer implements it).
    pub implemented: bool,
    /// The wasm parameter types of its import ([`crate::valtype`] codes); the result is i64.
    pub params: &'static [u8],
    pub args: &'static [Arg],
    /// The C types, for messages and `wafer inspect`.
    pub c_types: &'static [&'static str],
}

/// One auxiliary import (not a syscall).
#[derive(Clone, Copy, Debug)]
pub struct Aux {
    pub name: &'static str,
    pub params: &'static [u8],
    pub results: &'static [u8],
}

/// The syscall named `name` (without the prefix).
pub fn syscall(name: &str) -> Option<&'static Syscall> {
    SYSCALLS.iter().find(|s| s.name == name)
}

pub fn aux(name: &str) -> Option<&'static Aux> {
    AUX.iter().find(|a| a.name == name)
}

/// The wasm result types of every syscall import.
pub const SYSCALL_RESULTS: &[u8] = &[I64];

/// The runtime's one entry for every implemented syscall:
/// `extern "C" fn(vmctx, index: u32, args: [i64; MAX_ARGS]) -> i64` (six i64 parameters after
/// the index; unused ones are 0), where `index` is the syscall's position in [`SYSCALLS`] and
/// each argument is already widened as its [`Arg`] says.
pub const SYSCALL_ENTRY: &str = "wafer_wali_syscall";
/// Linux syscalls take at most six arguments.
pub const MAX_ARGS: usize = 6;

/// How `wafer build` binds one `wali` import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Through a compiled adapter to [`SYSCALL_ENTRY`] with this index into [`SYSCALLS`];
    /// `drop_result` for an import declared without the i64 result.
    Syscall { index: u32, drop_result: bool },
    /// To this runtime function, signature as declared.
    Aux(alloc::string::String),
    /// To a compiled stub answering [`ENOSYS_RESULT`] (or nothing, for an import without a
    /// result).
    Enosys,
}

/// Why a `wali` import cannot be bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindError {
    /// Neither `SYS_*` nor an auxiliary function.
    Unknown,
    /// An implemented syscall or auxiliary function with another signature.
    Signature {
        expected: (&'static [u8], &'static [u8]),
    },
}

/// The runtime symbol of an auxiliary function.
pub fn aux_symbol(name: &str) -> alloc::string::String {
    alloc::format!("wafer_wali_{}", name.trim_start_matches('_'))
}

/// Decides how the import `wali.<field>` with wasm type `params -> results` binds.
pub fn bind(field: &str, params: &[u8], results: &[u8]) -> Result<Binding, BindError> {
    if let Some(name) = field.strip_prefix(SYSCALL_PREFIX) {
        let found = SYSCALLS
            .iter()
            .position(|s| s.name == name && s.implemented);
        let Some(index) = found else {
            return Ok(Binding::Enosys);
        };
        let sc = &SYSCALLS[index];
        let mismatch = BindError::Signature {
            expected: (sc.params, SYSCALL_RESULTS),
        };
        let drop_result = match results {
            [] => true,
            r if r == SYSCALL_RESULTS => false,
            _ => return Err(mismatch),
        };
        if params != sc.params {
            return Err(mismatch);
        }
        return Ok(Binding::Syscall {
            index: index as u32,
            drop_result,
        });
    }
    let a = aux(field).ok_or(BindError::Unknown)?;
    if params == a.params && results == a.results {
        Ok(Binding::Aux(aux_symbol(field)))
    } else {
        Err(BindError::Signature {
            expected: (a.params, a.results),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::valtype::I32;

    #[test]
    fn the_table_has_what_the_spec_says() {
        assert_eq!(SYSCALLS.len(), 362);
        assert_eq!(SYSCALLS.iter().filter(|s| s.implemented).count(), 140);
        assert_eq!(AUX.len(), 11);
        let read = syscall("read").unwrap();
        assert_eq!((read.x86_64, read.aarch64, read.riscv64), (0, 63, 63));
        assert_eq!(read.params, &[I32, I32, I32]);
        let lseek = syscall("lseek").unwrap();
        assert_eq!(lseek.params, &[I32, I64, I32]);
        assert_eq!(syscall("open").unwrap().aarch64, NONE);
        for s in SYSCALLS.iter().filter(|s| s.implemented) {
            assert_eq!(s.params.len(), s.args.len(), "{}", s.name);
        }
    }

    #[test]
    fn binding_rules() {
        assert_eq!(
            bind("SYS_read", &[I32, I32, I32], &[I64]),
            Ok(Binding::Syscall {
                index: 0,
                drop_result: false
            })
        );
        let exit = SYSCALLS.iter().position(|s| s.name == "exit").unwrap() as u32;
        assert_eq!(
            bind("SYS_exit", &[I32], &[]),
            Ok(Binding::Syscall {
                index: exit,
                drop_result: true
            })
        );
        assert!(matches!(
            bind("SYS_read", &[I32, I32, I32], &[I32]),
            Err(BindError::Signature { .. })
        ));
        assert!(matches!(
            bind("SYS_read", &[I32], &[I64]),
            Err(BindError::Signature { .. })
        ));
        // Unimplemented or unknown syscalls get the ENOSYS stub whatever their type.
        assert_eq!(
            bind("SYS_timerfd_create", &[I32, I32], &[I64]),
            Ok(Binding::Enosys)
        );
        assert_eq!(
            bind("SYS_no_such_call", &[I64], &[I32]),
            Ok(Binding::Enosys)
        );
        assert_eq!(
            bind("__cl_get_argc", &[], &[I32]),
            Ok(Binding::Aux("wafer_wali_cl_get_argc".into()))
        );
        assert_eq!(bind("frobnicate", &[], &[]), Err(BindError::Unknown));
    }
}
