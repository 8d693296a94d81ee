//! `wafer build --libc musl`: the executable is static, carries musl and nothing of glibc, and
//! behaves like the glibc build (output, arguments, exit status).
//!
//! scripts/setup.sh installs what these tests need: the Rust musl targets and zig (PyPI's
//! `ziglang`), which compiles the runtime's C part for musl.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The targets whose musl build is tested: those whose Rust musl standard library rustup
/// ships for this toolchain (riscv64gc-unknown-linux-musl has none).
const TARGETS: [&str; 2] = ["x86_64", "aarch64"];

/// examples/hello built to wasm with clang (scripts/setup.sh).
fn c_hello_wasm(dir: &Path) -> PathBuf {
    let wasm = dir.join("hello.wasm");
    let out = Command::new("clang")
        .args(["--target=wasm32-wasi", "-O2"])
        .arg(root().join("examples/hello/hello.c"))
        .arg("-o")
        .arg(&wasm)
        .output();
    match out {
        Ok(out) if out.status.success() => wasm,
        _ => panic!("clang for wasm32-wasi is missing: run scripts/setup.sh"),
    }
}

/// The ELF program header types of `exe`.
fn program_headers(bytes: &[u8]) -> Vec<u32> {
    assert_eq!(&bytes[..4], b"\x7fELF");
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
    (0..phnum as usize)
        .map(|i| {
            let at = phoff + i * phentsize;
            u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Static (no interpreter, no dynamic section), and musl's: every glibc has version strings
/// `GLIBC_...` (a static one at least `GLIBC_TUNABLES`, read at start-up) and its stdio's
/// `_IO_2_1_stdout_`; musl's stdio has `__stdout_used`, named in the symbol table wafer keeps.
fn assert_static_musl(exe: &Path, name: &str) {
    let bytes = std::fs::read(exe).unwrap();
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    let headers = program_headers(&bytes);
    assert!(
        !headers.contains(&PT_INTERP) && !headers.contains(&PT_DYNAMIC),
        "{name}: not static: {headers:?}"
    );
    for glibc in [&b"GLIBC_"[..], b"_IO_2_1_stdout_", b"__libc_setup_tls"] {
        assert!(
            !contains(&bytes, glibc),
            "{name}: has glibc's {}",
            String::from_utf8_lossy(glibc)
        );
    }
    assert!(contains(&bytes, b"__stdout_used"), "{name}: no musl stdio");
}

#[test]
fn musl_hello_is_static_has_no_glibc_and_runs_on_every_target() {
    let dir = scratch();
    let wasm = c_hello_wasm(dir.path());
    for name in TARGETS {
        let exe = dir.path().join(format!("hello-{name}-musl"));
        wafer_build(&wasm, &exe, &["--target", name, "--libc", "musl"]);
        assert_static_musl(&exe, name);
        let out = command_on(name, &exe)
            .args(["edge", "board", "--exit", "7"])
            .output()
            .unwrap();
        assert_eq!(
            text(&out.stdout),
            "hello from a wafer driver edge board\n",
            "{name}: {}",
            text(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(7), "{name}");
    }
}

/// The glibc build of the same program is the reference: same output, and the check above
/// tells the two apart (it would pass a glibc executable otherwise).
#[test]
fn the_glibc_build_fails_the_musl_check() {
    let dir = scratch();
    let wasm = c_hello_wasm(dir.path());
    let exe = dir.path().join("hello-glibc");
    wafer_build(&wasm, &exe, &["--libc", "glibc"]);
    let bytes = std::fs::read(&exe).unwrap();
    assert!(contains(&bytes, b"GLIBC_") && !contains(&bytes, b"__stdout_used"));
    let out = Command::new(&exe).arg("x").output().unwrap();
    assert_eq!(text(&out.stdout), "hello from a wafer driver x\n");
}

#[test]
fn musl_refuses_dynamic_linking_in_one_line() {
    let dir = scratch();
    let wasm = c_hello_wasm(dir.path());
    let out = wafer()
        .arg("build")
        .arg(&wasm)
        .args(["--libc", "musl", "--dynamic", "-o"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("--libc musl links statically only"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
