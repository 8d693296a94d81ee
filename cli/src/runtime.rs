//! Finding the runtime static library for a target, building it from the source tree when it
//! is missing or older than its sources.

use crate::link;
use crate::target::{Libc, Target};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
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
/// installations without a source tree. The triple is [`Target::runtime_triple`]: a musl build
/// has its own library (`x86_64-unknown-linux-musl/`), built and kept apart from glibc's.
pub fn library(target: &Target) -> Result<PathBuf> {
    let triple = target.runtime_triple();
    if let Some(dir) = std::env::var_os("WAFER_RUNTIME_DIR") {
        let lib = Path::new(&dir).join(triple).join(LIB_NAME);
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
            "the wafer runtime for {triple} is not available: set WAFER_RUNTIME_DIR, or use wafer from its source checkout"
        );
    }
    let target_dir = root.join("target").join("wafer-rt");
    let lib = target_dir.join(triple).join(PROFILE).join(LIB_NAME);
    if is_fresh(&lib, &root)? {
        return Ok(lib);
    }
    // Threads that need the same missing library (the spec harness builds in parallel) wait
    // for one build instead of queueing cargo behind its lock; the first one builds it.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if is_fresh(&lib, &root)? {
        return Ok(lib);
    }
    build(target, &root, &target_dir)?;
    // Cargo leaves the library alone when a newer file is none of its inputs (a file not yet
    // part of the crate, a directory's mtime): it is up to date all the same, and marking it
    // so keeps the next call from running cargo again.
    std::fs::File::options()
        .write(true)
        .open(&lib)
        .and_then(|f| f.set_modified(SystemTime::now()))
        .with_context(|| format!("building the runtime did not produce {}", lib.display()))?;
    Ok(lib)
}

fn build(target: &Target, root: &Path, target_dir: &Path) -> Result<()> {
    let triple = target.runtime_triple();
    // Both are checked before cargo runs, so a missing piece is one precise line instead of a
    // page of cargo and cc output.
    let c_toolchain = match target.libc {
        Libc::Glibc => {
            let cc = link::find_linker(target)?;
            (!target.is_host()).then(|| (cc, PathBuf::from(&target.cross_ar)))
        }
        Libc::Musl => Some(zig_wrappers(target, target_dir)?),
    };
    check_rust_target(triple, root)?;
    eprintln!("wafer: building the runtime for {triple}");
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
        .arg(triple)
        .arg("--target-dir")
        .arg(target_dir)
        // Settings meant for an enclosing cargo invocation must not leak into this build.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        // Frame pointers let a trap raised inside the runtime name the wasm function that
        // called it (the runtime walks up to the first wasm return address).
        .env("CARGO_ENCODED_RUSTFLAGS", "-Cforce-frame-pointers=yes")
        // libusb (built from source) would use libudev where pkg-config finds it: drivers
        // must link statically and boards run no udev, so it always uses netlink.
        .env("LIBUDEV_NO_PKG_CONFIG", "1");
    if let Some((cc, ar)) = c_toolchain {
        // The `cc` crate (rt/build.rs, libusb's build) compiles and archives the runtime's C
        // part with the target's C compiler and ar, which it reads from `CC_<triple>` and
        // `AR_<triple>`. rustc does not link a staticlib; its linker is set so that nothing
        // falls back to the host's `cc`.
        let lower = triple.replace('-', "_");
        cmd.env(format!("CARGO_TARGET_{}_LINKER", lower.to_uppercase()), &cc)
            .env(format!("CC_{lower}"), &cc)
            .env(format!("AR_{lower}"), &ar);
    }
    let status = cmd
        .status()
        .context("running cargo to build the wafer runtime (is cargo on PATH?)")?;
    if !status.success() {
        bail!("building the wafer runtime for {triple} failed");
    }
    Ok(())
}

/// How to run zig: `zig` on PATH, else the PyPI `ziglang` package's (`python3 -m ziglang`),
/// or an error naming what to install.
pub fn zig_command() -> Result<Vec<String>> {
    let runs = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if runs("zig", &["version"]) {
        return Ok(vec!["zig".into()]);
    }
    if runs("python3", &["-m", "ziglang", "version"]) {
        return Ok(vec!["python3".into(), "-m".into(), "ziglang".into()]);
    }
    bail!(
        "zig, which compiles the runtime's C part for musl, was not found: run `python3 -m pip install ziglang` (or put `zig` on PATH)"
    )
}

/// Writes `zig cc` and `zig ar` wrappers for `target` into `dir` (the runtime's target
/// directory) and returns their paths. cc-rs passes the Rust triple as `--target=`, which zig
/// does not parse (it knows `x86_64-linux-musl`, not `x86_64-unknown-linux-musl`): the cc
/// wrapper drops it and names zig's target instead. zig brings musl's and Linux's headers for
/// every target, which libusb needs.
fn zig_wrappers(target: &Target, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let zig: Vec<String> = zig_command()?.iter().map(|a| shell_quote(a)).collect();
    let zig = zig.join(" ");
    let dir = dir.join("zig");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let cc = dir.join(format!("{}-cc", target.musl_zig_target));
    let ar = dir.join("ar");
    let header =
        "#!/bin/sh\n# Written by wafer (cli/src/runtime.rs) for building the musl runtime.\n";
    let cc_script = format!(
        "{header}for a in \"$@\"; do\n  shift\n  case \"$a\" in --target=*) ;; *) set -- \"$@\" \"$a\" ;; esac\ndone\nexec {zig} cc -target {} \"$@\"\n",
        target.musl_zig_target
    );
    let ar_script = format!("{header}exec {zig} ar \"$@\"\n");
    for (path, text) in [(&cc, cc_script), (&ar, ar_script)] {
        // Rewritten only when different, so cargo sees an unchanged compiler.
        if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok((cc, ar))
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// The directory with musl's start files and `libc.a` for a musl build of `target`: the Rust
/// musl target's self-contained directory (`WAFER_RUNTIME_DIR/<triple>/self-contained` for an
/// installation with prebuilt runtimes).
pub fn musl_sysroot(target: &Target) -> Result<PathBuf> {
    let triple = &target.musl_rust_triple;
    let dir = match std::env::var_os("WAFER_RUNTIME_DIR") {
        Some(dir) => Path::new(&dir).join(triple).join("self-contained"),
        None => rust_target_libdir(triple, &source_root())?.join("self-contained"),
    };
    for file in ["crt1.o", "crti.o", "crtn.o", "libc.a"] {
        if !dir.join(file).is_file() {
            bail!(
                "musl's {file} for {triple} is missing from {}: run `rustup target add {triple}`",
                dir.display()
            );
        }
    }
    Ok(dir)
}

fn rust_target_libdir(triple: &str, root: &Path) -> Result<PathBuf> {
    // The same rustc cargo will use: `RUSTC` if set, else the one on PATH, which under rustup
    // honours the toolchain chosen for the source tree.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .current_dir(root)
        .args(["--print", "target-libdir", "--target", triple])
        .output()
        .with_context(|| {
            format!(
                "running {} to find the Rust standard library (is Rust installed?)",
                rustc.to_string_lossy()
            )
        })?;
    if !out.status.success() {
        bail!("rustc does not know the target {triple}");
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Fails with the rustup command to run when the Rust standard library for `triple` is not
/// installed (the runtime is Rust, so it is needed for every target).
fn check_rust_target(triple: &str, root: &Path) -> Result<()> {
    let libdir = rust_target_libdir(triple, root);
    let has_std = libdir.is_ok_and(|libdir| {
        std::fs::read_dir(&libdir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libstd-") && name.ends_with(".rlib")
            })
        })
    });
    if !has_std {
        bail!(
            "the Rust standard library for {triple} is not installed (the wafer runtime is built with it): run `rustup target add {triple}`"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_rust_target_names_the_rustup_command() {
        let root = source_root();
        check_rust_target(crate::target::host_triple(), &root).unwrap();
        // A target rustc knows but whose standard library nobody installs here.
        let triple = "sparc64-unknown-netbsd";
        let err = check_rust_target(triple, &root).unwrap_err().to_string();
        assert!(
            err.contains(&format!("rustup target add {triple}")),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
