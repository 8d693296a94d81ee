//! Helpers every test file of the `wafer` command shares: running the command, scratch
//! directories, building the Rust guests in `examples/` for wasm32-wasip1, and building a
//! standalone guest crate (such as tests/guests/threads-rust) for any Rust target.

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

/// Runs `cargo build --release` for the guest crate at `manifest` (its binaries with `bins`)
/// for `triple` into `target_dir`, without the outer build's settings. Native targets are
/// linked statically (executables for other architectures then run under qemu-user without
/// their C library), with `linker` naming the cross gcc. Returns `target_dir/triple/release`.
fn cargo_build(
    manifest: &Path,
    triple: &str,
    target_dir: &Path,
    bins: bool,
    linker: Option<&str>,
) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cargo = Command::new(cargo);
    cargo
        .args(["build", "--quiet", "--release", "--target", triple])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if bins {
        cargo.arg("--bins");
    }
    if !triple.starts_with("wasm") {
        let var = |what: &str| {
            let triple = triple.to_uppercase().replace('-', "_");
            format!("CARGO_TARGET_{triple}_{what}")
        };
        cargo.env(var("RUSTFLAGS"), "-C target-feature=+crt-static");
        if let Some(linker) = linker {
            cargo.env(var("LINKER"), linker);
        }
    }
    let out = cargo.output().unwrap();
    assert!(
        out.status.success(),
        "building {} for {triple} failed (run scripts/setup.sh): {}",
        manifest.display(),
        text(&out.stderr)
    );
    target_dir.join(triple).join("release")
}

/// Builds `examples/NAME` for wasm32-wasip1; the path of its `.wasm`.
pub fn build_example(name: &str) -> PathBuf {
    build_example_for(name, "wasm32-wasip1")
}

/// Builds `examples/NAME` for the wasm target `triple` (`wasm32-wasip2` makes a component);
/// the path of its `.wasm`.
pub fn build_example_for(name: &str, triple: &str) -> PathBuf {
    let manifest = root().join("examples").join(name).join("Cargo.toml");
    let target_dir = root().join("target").join("examples-rust");
    cargo_build(&manifest, triple, &target_dir, false, None).join(format!("{name}.wasm"))
}

/// Builds every binary of the standalone guest crate `crate_dir` (relative to the workspace
/// root) for the Rust target `triple`, with one cargo invocation, and returns the directory
/// holding the results (`NAME.wasm` for a wasm target, `NAME` for a native one); `linker`
/// names the cross gcc of a native target.
pub fn build_guest_crate(crate_dir: &str, triple: &str, linker: Option<&str>) -> PathBuf {
    let manifest = root().join(crate_dir).join("Cargo.toml");
    let name = Path::new(crate_dir).file_name().unwrap().to_string_lossy();
    let target_dir = root().join("target").join(format!("guests-{name}"));
    cargo_build(&manifest, triple, &target_dir, true, linker)
}

/// Builds every binary of the guest crate `crate_dir` (relative to the workspace root) that
/// uses `sdk/`, for the wasm target `triple`, in the target directory [`build_example`] uses:
/// the host side of wit-bindgen's macro (wasmparser, wit-parser, ...), most of a cold build, is
/// then compiled once for every sdk guest. Returns the directory holding the `NAME.wasm` files.
pub fn build_sdk_guest_crate(crate_dir: &str, triple: &str) -> PathBuf {
    let manifest = root().join(crate_dir).join("Cargo.toml");
    let target_dir = root().join("target").join("examples-rust");
    cargo_build(&manifest, triple, &target_dir, true, None)
}

/// A command running `exe`, built for `target` (a short name or triple), on this machine:
/// directly, or under qemu-user when the target is another architecture.
pub fn command_on(target: &str, exe: &Path) -> Command {
    let target = wafer::Target::resolve(target).unwrap();
    match target.run_prefix().split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    }
}

/// Builds `input` with `wafer build` and `flags` into `exe`, failing the test with wafer's
/// message if it refuses.
pub fn wafer_build(input: &Path, exe: &Path, flags: &[&str]) {
    let out = wafer()
        .arg("build")
        .arg(input)
        .arg("-o")
        .arg(exe)
        .args(flags)
        .output()
        .unwrap();
    assert!(out.status.success(), "build failed: {}", text(&out.stderr));
}

/// WAT imports of every host function the runtime lists whose import module satisfies
/// `wanted`, with the signature the contract gives it.
pub fn imports_of_host_functions(wanted: impl Fn(&str) -> bool) -> (String, usize) {
    use wafer_abi::valtype;
    let wasm_type = |code: &u8| match *code {
        valtype::I32 => "i32",
        valtype::I64 => "i64",
        valtype::F32 => "f32",
        valtype::F64 => "f64",
        other => panic!("unexpected type code {other} in a host signature"),
    };
    let funcs: Vec<_> = wafer_abi::all_host_funcs()
        .filter(|f| wanted(f.module))
        .collect();
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

/// The test pattern examples/usb-storage and examples/paper-storage write: splitmix64 of the
/// 8-byte word index from the start of the disk, little-endian.
pub fn storage_pattern(offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64 / 8)
        .flat_map(|i| {
            let mut z = (offset / 8 + i).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)).to_le_bytes()
        })
        .collect()
}
