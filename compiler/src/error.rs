//! Errors `wafer build` reports: each is one line a user can act on.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// The bytes are not a wasm binary (bad magic, truncated section, bad LEB, ...).
    Malformed(String),
    /// Well-formed but fails validation (type errors, bad indices, ...).
    Invalid(String),
    /// Uses a WebAssembly feature wafer does not support; names the feature.
    Unsupported(String),
    /// Imports a host function the runtime does not provide.
    UnknownImport { module: String, field: String },
    /// Imports a host function with another signature than the runtime's.
    ImportSignature {
        module: String,
        field: String,
        expected: String,
        found: String,
    },
    /// The module exceeds a limit set for the build (such as the memory cap).
    Limit(String),
    /// Cranelift rejected the generated code, or writing the object failed.
    Codegen(String),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::Malformed(m) => write!(f, "malformed wasm: {}", one_line(m)),
            CompileError::Invalid(m) => write!(f, "invalid wasm: {}", one_line(m)),
            CompileError::Unsupported(feature) => {
                write!(f, "unsupported WebAssembly feature: {feature}")
            }
            // Names are any UTF-8: quoted and escaped, so that the message stays one line.
            CompileError::UnknownImport { module, field } => write!(
                f,
                "unknown import: {module:?} {field:?} is not provided by the wafer runtime"
            ),
            CompileError::ImportSignature { module, field, expected, found } => write!(
                f,
                "import {module:?} {field:?} has type {found}, but the wafer runtime provides {expected}"
            ),
            CompileError::Limit(m) => write!(f, "over a build limit: {m}"),
            CompileError::Codegen(m) => write!(f, "code generation failed: {m}"),
        }
    }
}

impl std::error::Error for CompileError {}

pub type Result<T> = std::result::Result<T, CompileError>;

/// A message on one line: wasmparser pretty-prints some details (a bad magic number's bytes)
/// over several.
fn one_line(m: &str) -> String {
    if !m.contains('\n') {
        return m.to_string();
    }
    let mut out = String::with_capacity(m.len());
    for (i, part) in m.lines().enumerate() {
        let part = part.trim();
        let joins_tightly = part.starts_with(']') || out.ends_with('[') || part.is_empty();
        if i > 0 && !joins_tightly {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pretty_printed_detail_becomes_one_line() {
        let m = "bad magic number - expected=[\n    0x0,\n    0x61,\n] actual=[\n    0x1,\n]";
        assert_eq!(
            super::one_line(m),
            "bad magic number - expected=[0x0, 0x61,] actual=[0x1,]"
        );
    }
}
