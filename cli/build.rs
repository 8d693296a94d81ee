//! Compiles wafer's WASI module (`rt/wasi-wali`: WASI preview1 written over WALI, for
//! `wafer build --wasi-over-wali`) to wasm, so the `wafer` binary carries it and a fresh
//! checkout needs no prebuilt wasm. The module and `wafer-abi`, the one crate it uses, are
//! built by rustc directly for `wasm32-unknown-unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let rt = manifest.parent().unwrap().join("rt");
    let (abi_src, module_src) = (rt.join("abi/src"), rt.join("wasi-wali/src"));
    println!("cargo:rerun-if-changed={}", abi_src.display());
    println!("cargo:rerun-if-changed={}", module_src.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());

    let abi = out.join("libwafer_abi.rlib");
    rustc_for_wasm(
        &rustc,
        &[
            "--crate-type=rlib",
            "--crate-name=wafer_abi",
            "-Copt-level=s",
            "-Cpanic=abort",
        ],
        &abi_src.join("lib.rs"),
        &abi,
    );
    let extern_abi = format!("wafer_abi={}", abi.display());
    let deps = format!("dependency={}", out.display());
    rustc_for_wasm(
        &rustc,
        &[
            "--crate-type=cdylib",
            "--crate-name=wafer_wasi_wali",
            "-Copt-level=s",
            "-Cpanic=abort",
            "-Clto",
            "-Cstrip=debuginfo",
            "-Clink-arg=-zstack-size=65536",
            "--extern",
            &extern_abi,
            "-L",
            &deps,
        ],
        &module_src.join("lib.rs"),
        &out.join("wasi-wali.wasm"),
    );
}

fn rustc_for_wasm(rustc: &std::ffi::OsStr, args: &[&str], src: &Path, out: &Path) {
    let result = Command::new(rustc)
        .args(["--edition=2021", "--target", TARGET])
        .args(args)
        .arg(src)
        .arg("-o")
        .arg(out)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run rustc: {e}"));
    if !result.status.success() {
        let stderr = String::from_utf8_lossy(&result.stderr);
        if stderr.contains("can't find crate for `core`")
            || stderr.contains("target may not be installed")
        {
            panic!(
                "the Rust target {TARGET} is missing (wafer's WASI module is built for it): \
                 run `rustup target add {TARGET}` or scripts/setup.sh"
            );
        }
        panic!("building {} for {TARGET} failed:\n{stderr}", src.display());
    }
}
