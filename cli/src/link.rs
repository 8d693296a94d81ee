//! Linking compiled objects with the runtime into an executable, using the target's C
//! compiler driver (which knows the C library, start files and linker of the target).

use crate::target::Target;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

/// The target's linker as found on `PATH`, or an error naming the package that provides it.
pub fn find_linker(target: &Target) -> Result<PathBuf> {
    let linker = target.linker();
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(linker))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => Ok(path),
        None => {
            let package = if target.is_host() {
                "gcc"
            } else {
                &target.cross_linker_package
            };
            bail!(
                "linker `{linker}` for {} not found: install the Debian package `{package}` (apt-get install {package})",
                target.triple
            )
        }
    }
}

/// Links `objects` and the runtime library `runtime` into `output` with `linker` (from
/// [`find_linker`]).
pub fn link(
    linker: &Path,
    objects: &[&Path],
    runtime: &Path,
    output: &Path,
    static_link: bool,
) -> Result<()> {
    let mut cmd = Command::new(linker);
    cmd.arg("-o").arg(output);
    cmd.args(objects);
    cmd.arg(runtime);
    if static_link {
        cmd.arg("-static");
    }
    // Drop whatever the driver does not reach (unused host functions, the spec-script mode),
    // and the debug info of the runtime's standard library: the wasm code has none, and a board
    // has little storage. The symbol table stays, for profilers.
    cmd.args([
        "-Wl,--gc-sections",
        "-Wl,--strip-debug",
        "-lpthread",
        "-ldl",
        "-lm",
    ]);
    let out = cmd
        .output()
        .with_context(|| format!("running the linker {}", linker.display()))?;
    if !out.status.success() {
        bail!(
            "linking {} failed:\n{}",
            output.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(())
}
