//! Link smoke test: a compiled module plus the entry object plus the runtime make a working
//! executable.

mod common;

use common::wat;
use std::path::PathBuf;
use std::process::Command;
use wafer_abi::EntryMode;
use wafer_compiler::{compile, compile_entry, CompileOptions};

/// The runtime library, built as the `wafer` command builds it (cli/src/runtime.rs: same
/// profile, flags and target directory, so the two share one build). A target directory of its
/// own keeps this nested cargo from waiting on the `cargo test` that runs it.
fn runtime_lib() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let triple = target_lexicon::Triple::host().to_string();
    let target_dir = root.join("target/wafer-rt");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "-p",
            "wafer-rt",
            "--profile",
            "rt",
            "--target",
            &triple,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", "-Cforce-frame-pointers=yes")
        .status()
        .expect("running cargo");
    assert!(status.success(), "building the runtime failed");
    Some(target_dir.join(triple).join("rt/libwafer_rt.a"))
}

/// Builds an executable from `text` and runs it; `None` when the runtime is missing.
fn build_and_run(text: &str) -> Option<std::process::Output> {
    build_and_run_with(text, CompileOptions::host(wafer_abi::DRIVER_PREFIX))
}

fn build_and_run_with(text: &str, opts: CompileOptions) -> Option<std::process::Output> {
    let Some(lib) = runtime_lib() else {
        eprintln!("skipping: runtime library not built (cargo build -p wafer-rt --profile rt)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let module = compile(&wat(text), &opts).unwrap();
    let entry = compile_entry(
        &opts.triple,
        &[],
        &[wafer_abi::DRIVER_PREFIX.into()],
        EntryMode::Driver,
        &[],
        &[],
    )
    .unwrap();
    let (m, e, exe) = (
        dir.path().join("m.o"),
        dir.path().join("e.o"),
        dir.path().join("exe"),
    );
    std::fs::write(&m, module).unwrap();
    std::fs::write(&e, entry).unwrap();
    let status = Command::new("cc")
        .arg("-o")
        .arg(&exe)
        .arg(&m)
        .arg(&e)
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm"])
        .status()
        .expect("cc runs");
    assert!(status.success(), "link failed");
    Some(Command::new(&exe).output().unwrap())
}

#[test]
fn hello_world_links_and_runs() {
    let text = r#"
    (module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 8) "hello\n")
      (global $len (mut i32) (i32.const 6))
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 8))
        (i32.store (i32.const 4) (global.get $len))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))
    "#;
    let Some(out) = build_and_run(text) else {
        return;
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn traps_are_reported() {
    let text = r#"
    (module
      (func $div (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
      (func (export "_start") (drop (call $div (i32.const 0)))))
    "#;
    let Some(out) = build_and_run(text) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(wafer_abi::TRAP_EXIT_STATUS),
        "{out:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("integer divide by zero"), "{stderr}");
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap() {
    let text = r#"
    (module
      (func $f (param i64) (result i64) (i64.add (call $f (local.get 0)) (i64.const 1)))
      (func (export "_start") (drop (call $f (i64.const 0)))))
    "#;
    let Some(out) = build_and_run(text) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(wafer_abi::TRAP_EXIT_STATUS),
        "{out:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("call stack exhausted"), "{stderr}");
}

#[test]
fn out_of_bounds_access_traps_in_both_bounds_check_modes() {
    let text = r#"
    (module
      (memory 1)
      (func (export "_start") (i32.store offset=2 (i32.const 65533) (i32.const 1))))
    "#;
    for mode in [
        wafer_abi::BoundsChecks::Guard,
        wafer_abi::BoundsChecks::Explicit,
    ] {
        let mut opts = CompileOptions::host(wafer_abi::DRIVER_PREFIX);
        opts.bounds_checks = mode;
        let Some(out) = build_and_run_with(text, opts) else {
            return;
        };
        assert_eq!(
            out.status.code(),
            Some(wafer_abi::TRAP_EXIT_STATUS),
            "{mode:?} {out:?}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("out of bounds memory access"),
            "{mode:?}: {stderr}"
        );
    }
}

#[test]
fn elements_tables_and_indirect_calls_work() {
    let text = r#"
    (module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (type $t (func (result i32)))
      (table 4 funcref)
      (elem (i32.const 1) $a $b)
      (func $a (result i32) (i32.const 40))
      (func $b (result i32) (i32.const 2))
      (func (export "_start")
        (call $exit (i32.add (call_indirect (type $t) (i32.const 1))
                             (call_indirect (type $t) (i32.const 2))))))
    "#;
    let Some(out) = build_and_run(text) else {
        return;
    };
    assert_eq!(out.status.code(), Some(42), "{out:?}");
}

/// Hex of a name as the spec-script protocol writes it.
fn hex(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Two modules in one spec-script executable: trampolines for multi-value and float
/// signatures, globals, imports between instances, and traps caught per command.
#[test]
fn spec_script_executable_runs_commands() {
    let Some(lib) = runtime_lib() else {
        eprintln!("skipping: runtime library not built (cargo build -p wafer-rt --profile rt)");
        return;
    };
    let a = r#"
    (module
      (global (export "g") (mut i64) (i64.const -5))
      (global (export "h") f32 (f32.const 1.5))
      (func (export "swap") (param i32 f64) (result f64 i32 i64)
        (local.get 1) (local.get 0) (i64.const 7))
      (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
      (func (export "boom") (unreachable)))
    "#;
    let b = r#"
    (module
      (import "a" "add" (func $add (param i32 i32) (result i32)))
      (func (export "twice") (param i32) (result i32) (call $add (local.get 0) (local.get 0))))
    "#;
    let dir = tempfile::tempdir().unwrap();
    let mut objects = Vec::new();
    for (i, text) in [a, b].iter().enumerate() {
        let mut opts = CompileOptions::host(format!("m{i}"));
        opts.resolve_host_imports = false;
        let path = dir.path().join(format!("m{i}.o"));
        std::fs::write(&path, compile(&wat(text), &opts).unwrap()).unwrap();
        objects.push(path);
    }
    let triple = target_lexicon::Triple::host();
    let entry = compile_entry(
        &triple,
        &[],
        &["m0".into(), "m1".into()],
        EntryMode::SpecScript,
        &[],
        &[],
    )
    .unwrap();
    let entry_path = dir.path().join("entry.o");
    std::fs::write(&entry_path, entry).unwrap();
    let exe = dir.path().join("spec");
    let status = Command::new("cc")
        .arg("-o")
        .arg(&exe)
        .args(&objects)
        .arg(&entry_path)
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm"])
        .status()
        .unwrap();
    assert!(status.success());

    let script = [
        "instantiate 0 0".to_string(),
        format!("invoke 0 {} i32:2a f64:400c000000000000", hex("swap")),
        format!("get 0 {}", hex("g")),
        format!("get 0 {}", hex("h")),
        format!("register {} 0", hex("a")),
        "instantiate 1 1".to_string(),
        format!("invoke 1 {} i32:15", hex("twice")),
        format!("invoke 0 {}", hex("boom")),
    ]
    .join("\n");
    let script_path = dir.path().join("script");
    std::fs::write(&script_path, script).unwrap();
    let out = Command::new(&exe).arg(&script_path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "1 ok",
            "2 ok f64:400c000000000000 i32:2a i64:7",
            "3 ok i64:fffffffffffffffb",
            "4 ok f32:3fc00000",
            "5 ok",
            "6 ok",
            "7 ok i32:2a",
            "8 trap 6 unreachable",
        ],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
