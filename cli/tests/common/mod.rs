//! Helpers every test file of the `wafer` command shares: running the command, scratch
//! directories, and building the Rust guests in `examples/` for wasm32-wasip1.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `wafer` binary under test.
pub fn wafer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wafer"))
}

/// A temporary directory, removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wafer-test-")
        .tempdir()
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The workspace root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

pub fn build_example(name: &str) -> PathBuf {
    let target_dir = root().join("target").join("examples-rust");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip1"])
        .arg("--manifest-path")
        .arg(root().join("examples").join(name).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(
        built.success(),
        "building {name} failed: run scripts/setup.sh"
    );
    target_dir.join(format!("wasm32-wasip1/release/{name}.wasm"))
}

/// WAT imports of every host function the runtime lists whose import module satisfies
/// `wanted`, with the signature the contract gives it.
pub fn imports_of_host_functions(wanted: impl Fn(&str) -> bool) -> (String, usize) {
    use wafer_abi::{valtype, HOST_FUNCS};
    let wasm_type = |code: &u8| match *code {
        valtype::I32 => "i32",
        valtype::I64 => "i64",
        valtype::F32 => "f32",
        valtype::F64 => "f64",
        other => panic!("unexpected type code {other} in a host signature"),
    };
    let funcs: Vec<_> = HOST_FUNCS.iter().filter(|f| wanted(f.module)).collect();
    let text = funcs
        .iter()
        .map(|f| {
            let params: Vec<_> = f.params.iter().map(wasm_type).collect();
            let results: Vec<_> = f.results.iter().map(wasm_type).collect();
            format!(
                "(import {:?} {:?} (func (param {}) (result {})))\n",
                f.module,
                f.name,
                params.join(" "),
                results.join(" ")
            )
        })
        .collect();
    (text, funcs.len())
}
