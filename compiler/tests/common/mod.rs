//! Helpers shared by the compiler's integration tests.

#![allow(dead_code)]

use object::{Object, ObjectSymbol};
use std::path::PathBuf;
use wafer_compiler::{compile, CompileOptions, Result};

pub fn testsuite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuite")
}

pub fn spec_options(prefix: &str) -> CompileOptions {
    let mut opts = CompileOptions::host(prefix);
    opts.resolve_host_imports = false;
    opts
}

pub fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("test WAT parses")
}

pub fn compile_wat(text: &str, opts: &CompileOptions) -> Result<Vec<u8>> {
    compile(&wat(text), opts)
}

/// (name, defined?) of every symbol of an object, failing the test if it does not parse.
pub fn symbols(bytes: &[u8]) -> Vec<(String, bool)> {
    let file = object::File::parse(bytes).expect("object parses");
    file.symbols()
        .map(|s| (s.name().unwrap_or("").to_string(), !s.is_undefined()))
        .collect()
}

pub fn has_defined(bytes: &[u8], name: &str) -> bool {
    symbols(bytes).iter().any(|(n, d)| n == name && *d)
}

pub fn has_undefined(bytes: &[u8], name: &str) -> bool {
    symbols(bytes).iter().any(|(n, d)| n == name && !*d)
}
