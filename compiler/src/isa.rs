//! The Cranelift target both the module compiler and the entry-point writer use.

use crate::error::{CompileError, Result};
use cranelift_codegen::isa::{self, OwnedTargetIsa};
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

/// ISA defaults per architecture, applied before the caller's flags.
fn default_isa_flags(triple: &Triple) -> &'static [(&'static str, &'static str)] {
    match triple.architecture {
        // Without SSE4.1 Cranelift lowers floor/ceil/trunc/nearest to libm calls; every
        // x86_64 machine of the last 15 years has these.
        Architecture::X86_64 => &[
            ("has_sse3", "true"),
            ("has_ssse3", "true"),
            ("has_sse41", "true"),
            ("has_sse42", "true"),
            ("has_popcnt", "true"),
        ],
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
