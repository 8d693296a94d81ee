//! The Cranelift target both the module compiler and the entry-point writer use.

use crate::error::{CompileError, Result};
use cranelift_codegen::isa::{self, OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable, SetError};
use target_lexicon::{Architecture, Riscv64Architecture, Triple};

/// Shared flags every wafer object is compiled with.
const SHARED_FLAGS: &[(&str, &str)] = &[
    ("opt_level", "speed"),
    // Executables are PIE by default on every Linux distribution we target.
    ("is_pic", "true"),
    // Multi-value functions return through a hidden pointer past the register results.
    ("enable_multi_ret_implicit_sret", "true"),
    // Stack overflow is caught by `Function::stack_limit` checks; out-of-line probestack
    // panics on aarch64.
    ("enable_probestack", "false"),
    // The runtime walks frame pointers for backtraces when it reports a trap.
    ("preserve_frame_pointers", "true"),
];

/// ISA defaults a triple itself implies, applied before the caller's flags. Every other
/// architecture starts from Cranelift's defaults, which are its baseline (x86_64: SSE2, the
/// x86-64-v1 level every x86_64 CPU has; aarch64: ARMv8.0-A).
fn default_isa_flags(triple: &Triple) -> &'static [(&'static str, &'static str)] {
    match triple.architecture {
        // "gc" = the G defaults plus compressed instructions.
        Architecture::Riscv64(Riscv64Architecture::Riscv64gc) => {
            &[("has_zca", "true"), ("has_zcd", "true")]
        }
        _ => &[],
    }
}

fn set_error(name: &str, value: &str, e: SetError) -> CompileError {
    CompileError::Codegen(format!("ISA flag {name}={value}: {e}"))
}

/// Builds the target ISA. `isa_flags` may name target flags (`has_avx2`) or shared Cranelift
/// flags (`opt_level`); they override the defaults.
pub fn make_isa(triple: &Triple, isa_flags: &[(String, String)]) -> Result<OwnedTargetIsa> {
    let mut shared = settings::builder();
    for (name, value) in SHARED_FLAGS {
        shared
            .set(name, value)
            .map_err(|e| set_error(name, value, e))?;
    }
    let mut target = isa::lookup(triple.clone())
        .map_err(|e| CompileError::Codegen(format!("target {triple}: {e}")))?;
    for (name, value) in default_isa_flags(triple) {
        target
            .set(name, value)
            .map_err(|e| set_error(name, value, e))?;
    }
    for (name, value) in isa_flags {
        match target.set(name, value) {
            Ok(()) => {}
            Err(SetError::BadName(_)) => shared
                .set(name, value)
                .map_err(|e| set_error(name, value, e))?,
            Err(e) => return Err(set_error(name, value, e)),
        }
    }
    target
        .finish(settings::Flags::new(shared))
        .map_err(|e| CompileError::Codegen(format!("target {triple}: {e}")))
}

/// The boolean target flags (`has_avx2`, `has_zba`, ...) that are on in `isa`.
fn enabled_flags(isa: &dyn TargetIsa) -> Vec<String> {
    isa.isa_flags()
        .iter()
        .filter(|v| v.as_bool() == Some(true))
        .map(|v| v.name.to_string())
        .collect()
}

/// The boolean target flags that are on for `triple` once the defaults and `isa_flags` are
/// applied (what code built with them may use).
pub fn enabled_isa_flags(triple: &Triple, isa_flags: &[(String, String)]) -> Result<Vec<String>> {
    Ok(enabled_flags(&*make_isa(triple, isa_flags)?))
}

/// The boolean target flags this machine's CPU supports, as Cranelift detects them.
pub fn host_isa_flags() -> Result<Vec<String>> {
    let builder = cranelift_native::builder()
        .map_err(|e| CompileError::Codegen(format!("detecting this machine's CPU: {e}")))?;
    let isa = builder
        .finish(settings::Flags::new(settings::builder()))
        .map_err(|e| CompileError::Codegen(format!("detecting this machine's CPU: {e}")))?;
    Ok(enabled_flags(&*isa))
}
