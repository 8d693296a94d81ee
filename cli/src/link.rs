//! Linking compiled objects with the runtime into an executable, using the target's C
//! compiler driver (which knows the C library, start files and linker of the target).

use crate::runtime;
use crate::target::{Libc, Target};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The target's linker as found on `PATH`, or an error naming the package that provides it.
/// Also checks once per process that the linker has the target's C library, whose absence
/// would otherwise surface as a page of "cannot find crt1.o" (for glibc; a musl build brings
/// its own, see [`link`]).
pub fn find_linker(target: &Target) -> Result<PathBuf> {
    let linker = target.linker();
    let (linker_package, libc_package) = target.toolchain_packages();
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(linker))
            .find(|candidate| candidate.is_file())
    });
    let Some(path) = found else {
        bail!(
            "linker `{linker}` for {} not found: install the Debian package `{linker_package}` (apt-get install {linker_package})",
            target.triple
        )
    };
    static CHECKED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if target.libc == Libc::Glibc && !checked.contains(&path) {
        if !has_c_library(&path) {
            bail!(
                "the C library for {} is missing (`{linker}` cannot find libc.a): install the Debian package `{libc_package}` (apt-get install {libc_package})",
                target.triple
            );
        }
        checked.push(path.clone());
    }
    Ok(path)
}

/// gcc answers `-print-file-name` with a full path when it finds the file in its search path,
/// and with the bare name when it does not.
fn has_c_library(linker: &Path) -> bool {
    ["libc.a", "crt1.o"].iter().all(|name| {
        Command::new(linker)
            .arg(format!("-print-file-name={name}"))
            .output()
            .is_ok_and(|out| {
                out.status.success() && String::from_utf8_lossy(&out.stdout).trim() != *name
            })
    })
}

/// Links `objects` and the runtime library `runtime` into `output` with `linker` (from
/// [`find_linker`]), against the target's C library ([`Target::libc`]).
pub fn link(
    target: &Target,
    linker: &Path,
    objects: &[&Path],
    runtime: &Path,
    output: &Path,
    static_link: bool,
) -> Result<()> {
    let mut cmd = Command::new(linker);
    cmd.arg("-o").arg(output);
    match target.libc {
        Libc::Glibc => {
            cmd.args(objects);
            cmd.arg(runtime);
            if static_link {
                // A static executable carries its C library, so it runs on a board whatever C
                // library version (or none) the board's system has.
                cmd.arg("-static");
            }
            cmd.args(["-lpthread", "-ldl", "-lm"]);
        }
        Libc::Musl => {
            if !static_link {
                bail!("--libc musl links statically only: drop --dynamic");
            }
            // gcc is only the linker driver here: none of its start files or libraries (they are
            // glibc's), musl's from the Rust musl target instead, in the order rustc itself
            // links a static musl executable. libunwind is the one the musl standard library
            // was built against; libc.a holds libm, libpthread and libdl as well.
            let musl = runtime::musl_sysroot(target)?;
            cmd.args(["-static", "-no-pie", "-nostdlib", "-nostartfiles"]);
            cmd.args(["crt1.o", "crti.o", "crtbegin.o"].map(|f| musl.join(f)));
            cmd.args(objects);
            // The runtime is in the group: its compiler builtins give libc.a what libgcc
            // gives it in a gcc build (aarch64's 128-bit long double arithmetic for printf).
            cmd.arg("-Wl,--start-group");
            cmd.arg(runtime);
            cmd.args(["libunwind.a", "libc.a"].map(|f| musl.join(f)));
            cmd.arg("-Wl,--end-group");
            cmd.args(["crtend.o", "crtn.o"].map(|f| musl.join(f)));
        }
    }
    // Drop whatever the driver does not reach (unused host functions, the spec-script mode),
    // and the debug info of the runtime's standard library: the wasm code has none, and a board
    // has little storage. The symbol table stays, for profilers.
    cmd.args(["-Wl,--gc-sections", "-Wl,--strip-debug"]);
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
