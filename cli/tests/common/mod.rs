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
