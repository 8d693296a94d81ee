//! Finding the runtime static library for a target, building it from the source tree when it
//! is missing or older than its sources.

use crate::target::Target;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const LIB_NAME: &str = "libwafer_rt.a";
/// Cargo profile the runtime is built with (see the workspace Cargo.toml).
const PROFILE: &str = "rt";

/// The source checkout wafer was built from.
fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

/// Path to `libwafer_rt.a` for `target`, building it first if needed.
///
/// `WAFER_RUNTIME_DIR` points at prebuilt libraries (`<dir>/<triple>/libwafer_rt.a`), for
/// installations without a source tree.
pub fn library(target: &Target) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("WAFER_RUNTIME_DIR") {
        let lib = Path::new(&dir).join(&target.triple).join(LIB_NAME);
        if !lib.exists() {
            bail!(
                "WAFER_RUNTIME_DIR is set but {} does not exist",
                lib.display()
            );
        }
        return Ok(lib);
    }
    let root = source_root();
    if !root.join("rt").join("Cargo.toml").exists() {
        bail!(
            "the wafer runtime for {} is not available: set WAFER_RUNTIME_DIR, or use wafer from its source checkout",
            target.triple
        );
    }
    let target_dir = root.join("target").join("wafer-rt");
    let lib = target_dir.join(&target.triple).join(PROFILE).join(LIB_NAME);
    if is_fresh(&lib, &root)? {
        return Ok(lib);
    }
    build(target, &root, &target_dir)?;
    if !lib.exists() {
        bail!("building the runtime did not produce {}", lib.display());
    }
    Ok(lib)
}

fn build(target: &Target, root: &Path, target_dir: &Path) -> Result<()> {
    eprintln!("wafer: building the runtime for {}", target.triple);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--quiet",
            "-p",
            "wafer-rt",
            "--profile",
            PROFILE,
            "--target",
        ])
        .arg(&target.triple)
        .arg("--target-dir")
        .arg(target_dir)
        // Settings meant for an enclosing cargo invocation must not leak into this build.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        // Frame pointers let a trap raised inside the runtime name the wasm function that
        // called it (the runtime walks up to the first wasm return address).
        .env("CARGO_ENCODED_RUSTFLAGS", "-Cforce-frame-pointers=yes");
    if !target.is_host() {
        let var = format!(
            "CARGO_TARGET_{}_LINKER",
            target.triple.to_uppercase().replace('-', "_")
        );
        cmd.env(var, &target.cross_linker);
        cmd.env(
            format!("CC_{}", target.triple.replace('-', "_")),
            &target.cross_linker,
        );
    }
    let status = cmd
        .status()
        .context("running cargo to build the wafer runtime (is cargo on PATH?)")?;
    if !status.success() {
        bail!(
            "building the wafer runtime for {} failed (if the Rust target is missing: rustup target add {})",
            target.triple,
            target.triple
        );
    }
    Ok(())
}

/// True when `lib` exists and no runtime source is newer.
fn is_fresh(lib: &Path, root: &Path) -> Result<bool> {
    let Ok(meta) = lib.metadata() else {
        return Ok(false);
    };
    let built = meta.modified()?;
    let mut newest = SystemTime::UNIX_EPOCH;
    for input in ["rt", "Cargo.toml", "Cargo.lock"] {
        newest = newest.max(newest_mtime(&root.join(input))?);
    }
    Ok(newest <= built)
}

fn newest_mtime(path: &Path) -> Result<SystemTime> {
    let meta = match path.metadata() {
        Ok(m) => m,
        Err(_) => return Ok(SystemTime::UNIX_EPOCH),
    };
    let mut newest = meta.modified()?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_name() == "target" {
                continue;
            }
            newest = newest.max(newest_mtime(&entry.path())?);
        }
    }
    Ok(newest)
}
