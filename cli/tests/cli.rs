//! The `wafer` command as users run it: building, running, traps, exit codes and bad input.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Builds `wat` with the given extra flags and runs the executable with `args`.
fn build_and_run(wat: &str, flags: &[&str], args: &[&str]) -> Output {
    let dir = scratch();
    let input = write(dir.path(), "m.wat", wat);
    let exe = dir.path().join("m");
    wafer_build(&input, &exe, flags);
    Command::new(&exe).args(args).output().unwrap()
}

/// A failed build: exit status 1 and exactly one line on stderr, which contains `needle`.
fn assert_build_error(input_name: &str, bytes: &[u8], flags: &[&str], needle: &str) {
    let dir = scratch();
    let input = write(dir.path(), input_name, bytes);
    let out = wafer()
        .arg("build")
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out"))
        .args(flags)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one error line expected: {stderr}"
    );
    assert!(stderr.starts_with("wafer: error: "), "{stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "no output on failure");
}

const WASI_EXIT: &str = r#"(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))"#;
const WASI_WRITE: &str = r#"(import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))"#;

#[test]
fn prints_through_wasi_and_propagates_exit_status() {
    let wat = format!(
        r#"(module {WASI_WRITE} {WASI_EXIT}
             (memory (export "memory") 1)
             (data (i32.const 16) "sandboxed hello\n")
             (func (export "_start")
               (i32.store (i32.const 0) (i32.const 16))
               (i32.store (i32.const 4) (i32.const 16))
               (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
               (call $exit (i32.const 7))))"#
    );
    for mode in ["guard", "explicit"] {
        let out = build_and_run(&wat, &["--bounds-checks", mode], &[]);
        assert_eq!(text(&out.stdout), "sandboxed hello\n");
        assert_eq!(out.status.code(), Some(7));
    }
}

#[test]
fn returning_from_start_exits_zero() {
    let out = build_and_run(r#"(module (func (export "_start")))"#, &[], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

fn assert_trap(wat: &str, message: &str, function: &str) {
    for mode in ["guard", "explicit"] {
        let out = build_and_run(wat, &["--bounds-checks", mode], &[]);
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(wafer_abi::TRAP_EXIT_STATUS),
            "{mode}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("wasm trap: {message}")),
            "{mode}: {stderr}"
        );
        assert!(
            stderr.contains(function),
            "{mode}: function name missing: {stderr}"
        );
    }
}

#[test]
fn recursion_bomb_is_a_trap() {
    assert_trap(
        r#"(module (func $bomb (export "_start") (call $bomb)))"#,
        "call stack exhausted",
        "bomb",
    );
}

#[test]
fn recursion_bomb_with_big_frames_is_a_trap() {
    // Many live locals per frame: the stack check must hold for large frames too.
    let locals = "(local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)";
    let wat = format!(
        r#"(module (func $deep (export "_start") {locals}
              (local.set 0 (i64.const 1)) (call $deep) (drop (i64.add (local.get 0) (local.get 15)))))"#
    );
    assert_trap(&wat, "call stack exhausted", "deep");
}

#[test]
fn load_past_the_end_at_the_top_of_the_index_space_is_a_trap() {
    assert_trap(
        r#"(module (memory 1)
             (func $peek (export "_start")
               (drop (i64.load offset=0xfffffff0 (i32.const 0xffffffff)))))"#,
        "out of bounds memory access",
        "peek",
    );
}

#[test]
fn store_one_past_the_end_is_a_trap() {
    assert_trap(
        r#"(module (memory 1)
             (func $poke (export "_start") (i32.store8 (i32.const 65536) (i32.const 1))))"#,
        "out of bounds memory access",
        "poke",
    );
}

#[test]
fn call_indirect_with_the_wrong_signature_is_a_trap() {
    assert_trap(
        r#"(module
             (type $v (func))
             (table 1 funcref)
             (elem (i32.const 0) $takes_i32)
             (func $takes_i32 (param i32))
             (func $caller (export "_start") (call_indirect (type $v) (i32.const 0))))"#,
        "indirect call type mismatch",
        "caller",
    );
}

#[test]
fn call_indirect_to_null_and_past_the_table_are_traps() {
    assert_trap(
        r#"(module (type $v (func)) (table 2 funcref)
             (func $null (export "_start") (call_indirect (type $v) (i32.const 1))))"#,
        "uninitialized element",
        "null",
    );
    assert_trap(
        r#"(module (type $v (func)) (table 2 funcref)
             (func $past (export "_start") (call_indirect (type $v) (i32.const 2))))"#,
        "undefined element",
        "past",
    );
}

#[test]
fn traps_raised_inside_the_runtime_name_the_calling_wasm_function() {
    assert_trap(
        r#"(module (memory 1)
             (func $clear_buffer (export "_start")
               (memory.fill (i32.const 65000) (i32.const 0) (i32.const 1000))))"#,
        "out of bounds memory access",
        "in function clear_buffer",
    );
    assert_trap(
        r#"(module (table 1 funcref)
             (func $lookup (drop (table.get (i32.const 5))))
             (func (export "_start") (call $lookup)))"#,
        "out of bounds table access",
        "in function lookup",
    );
}

#[test]
fn integer_division_by_zero_is_a_trap() {
    assert_trap(
        r#"(module (global $zero (mut i32) (i32.const 0))
             (func $divide (export "_start")
               (drop (i32.div_u (i32.const 1) (global.get $zero)))))"#,
        "integer divide by zero",
        "divide",
    );
    assert_trap(
        r#"(module (global $m1 (mut i64) (i64.const -1))
             (func $overflow (export "_start")
               (drop (i64.div_s (i64.const 0x8000000000000000) (global.get $m1)))))"#,
        "integer overflow",
        "overflow",
    );
}

#[test]
fn unreachable_is_a_trap_named_by_function_index_without_names() {
    let dir = scratch();
    // No `$names` in the text: the binary has no name section, so the report falls back to
    // the function index.
    let wasm = wat::parse_str(r#"(module (func) (func (export "_start") unreachable))"#).unwrap();
    assert!(
        !wasm.windows(4).any(|w| w == b"name"),
        "a name section slipped in"
    );
    let input = write(dir.path(), "m.wasm", &wasm);
    let exe = dir.path().join("m");
    assert!(wafer()
        .arg("build")
        .arg(&input)
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap()
        .success());
    let out = Command::new(&exe).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(wafer_abi::TRAP_EXIT_STATUS));
    assert!(stderr.contains("wasm trap: unreachable"), "{stderr}");
    assert!(stderr.contains("func[1]"), "{stderr}");
}

#[test]
fn memory_cap_bounds_growth_and_refuses_oversized_modules() {
    let wat = format!(
        r#"(module {WASI_EXIT} (memory 1)
             (func (export "_start")
               (call $exit (i32.add (i32.const 100) (memory.grow (i32.const 10))))))"#
    );
    // memory.grow answers the old size (1), or -1 when refused.
    assert_eq!(build_and_run(&wat, &[], &[]).status.code(), Some(101));
    assert_eq!(
        build_and_run(&wat, &["--max-memory-pages", "4"], &[])
            .status
            .code(),
        Some(99)
    );
    let declared_max = wat.replace("(memory 1)", "(memory 1 3)");
    assert_eq!(
        build_and_run(&declared_max, &[], &[]).status.code(),
        Some(99)
    );
    assert_build_error(
        "big.wat",
        br#"(module (memory 10) (func (export "_start")))"#,
        &["--max-memory-pages", "4"],
        "starts at 10 pages",
    );
}

#[test]
fn truncated_wasm_is_refused() {
    let wasm = wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 1))"#).unwrap();
    assert_build_error("t.wasm", &wasm[..wasm.len() - 3], &[], "malformed");
    assert_build_error("t.wasm", b"\0asm\x01\0\0\0\x01", &[], "malformed");
    assert_build_error("t.wasm", b"\0asm\x02\0\0\0", &[], "malformed");
    assert_build_error("bin.wasm", &[0xff, 0xfe, 0x00, 0x01], &[], "malformed");
}

#[test]
fn invalid_wasm_is_refused() {
    assert_build_error(
        "i.wat",
        br#"(module (func (result i32) (i64.const 1)))"#,
        &[],
        "invalid",
    );
}

#[test]
fn wat_syntax_errors_are_refused() {
    assert_build_error("s.wat", b"(module (func (i32.add)", &[], "WAT syntax error");
}

#[test]
fn unknown_imports_are_named() {
    assert_build_error(
        "u.wat",
        br#"(module (import "env" "blink_led" (func (param i32))))"#,
        &[],
        "\"env\" \"blink_led\"",
    );
    assert_build_error(
        "u.wat",
        br#"(module (import "wasi_snapshot_preview1" "no_such_call" (func)))"#,
        &[],
        "no_such_call",
    );
}

#[test]
fn wrongly_typed_host_imports_are_refused() {
    assert_build_error(
        "w.wat",
        br#"(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i64))))"#,
        &[],
        "proc_exit",
    );
}

#[test]
fn unsupported_features_are_named() {
    assert_build_error(
        "exceptions.wat",
        br#"(module (tag $e) (func (throw $e)))"#,
        &[],
        "exception-handling",
    );
    assert_build_error(
        "tail.wat",
        br#"(module (func $f (return_call $f)))"#,
        &[],
        "tail",
    );
    assert_build_error("m64.wat", br#"(module (memory i64 1))"#, &[], "memory64");
}

#[test]
fn a_missing_linker_names_the_package() {
    // An empty PATH hides every C compiler driver.
    let dir = scratch();
    let input = write(dir.path(), "m.wat", r#"(module (func (export "_start")))"#);
    let out = wafer()
        .arg("build")
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("m"))
        .env("PATH", dir.path())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("apt-get install gcc"), "{stderr}");
}

#[test]
fn run_builds_into_the_cache_and_passes_arguments() {
    let dir = scratch();
    let wat = format!(
        r#"(module {WASI_EXIT}
             (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "_start")
               (drop (call $sizes (i32.const 0) (i32.const 4)))
               (call $exit (i32.load (i32.const 0)))))"#
    );
    let input = write(dir.path(), "argc.wat", wat);
    for _ in 0..2 {
        let out = wafer()
            .arg("run")
            .arg(&input)
            .args(["--", "a", "b", "c"])
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .output()
            .unwrap();
        // argv[0] plus three arguments.
        assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("cache/wafer/run"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn inspect_lists_imports_and_what_wafer_provides() {
    let dir = scratch();
    let input = write(
        dir.path(),
        "i.wat",
        format!(
            r#"(module {WASI_WRITE} (import "env" "led" (func))
                 (memory (export "memory") 2 4) (table 3 funcref)
                 (func (export "_start")))"#
        ),
    );
    let out = wafer().arg("inspect").arg(&input).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("wasi_snapshot_preview1::fd_write"),
        "{stdout}"
    );
    assert!(stdout.contains("[provided]"), "{stdout}");
    assert!(stdout.contains("env::led"), "{stdout}");
    assert!(stdout.contains("1 import(s) not provided"), "{stdout}");
    assert!(stdout.contains("func _start"), "{stdout}");
    assert!(stdout.contains("memory 2..4"), "{stdout}");
    assert!(stdout.contains("table funcref 3.."), "{stdout}");
}

/// `wafer inspect MODULE`'s output.
fn inspect(path: &Path) -> String {
    let out = wafer().arg("inspect").arg(path).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn inspect_names_the_features_the_build_refuses() {
    let dir = scratch();
    // Tail calls, exceptions and two memories: inspect names all three, and the build
    // refuses the module for the same three.
    let many = write(
        dir.path(),
        "many.wat",
        r#"(module (memory 1) (memory 1) (tag $e)
             (func $f (export "_start") (try_table (catch_all 0) (throw $e)) (return_call $f)))"#,
    );
    let report = inspect(&many);
    let line = report
        .lines()
        .find(|l| l.starts_with("refused by wafer build: "))
        .unwrap_or_else(|| panic!("{report}"));
    for feature in ["tail-call", "multi-memory", "exception-handling"] {
        assert!(line.contains(feature), "{feature}: {line}");
    }
    let build = wafer()
        .arg("build")
        .arg(&many)
        .arg("-o")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    let stderr = text(&build.stderr);
    assert_eq!(build.status.code(), Some(1), "{stderr}");
    for feature in ["tail-call", "multi-memory", "exception-handling"] {
        assert!(stderr.contains(feature), "{feature}: {stderr}");
    }
    // Only what the module needs.
    let tail = write(
        dir.path(),
        "t.wat",
        r#"(module (func $f (return_call $f)))"#,
    );
    let report = inspect(&tail);
    assert!(
        report.contains("refused by wafer build: tail-call ("),
        "{report}"
    );
    // A construct of a supported proposal that wafer does not implement, found by the same
    // checks the build makes before it compiles any function.
    let passive = write(
        dir.path(),
        "p.wat",
        r#"(module (import "env" "g" (global funcref)) (elem funcref (global.get 0)))"#,
    );
    let report = inspect(&passive);
    assert!(
        report.contains("refused by wafer build: global.get items in a passive element segment"),
        "{report}"
    );
    // A module the build accepts says nothing of the kind.
    let plain = write(dir.path(), "p2.wat", r#"(module (func (export "_start")))"#);
    assert!(!inspect(&plain).contains("refused"));
}

#[test]
fn inspect_names_what_a_components_core_modules_need() {
    let dir = scratch();
    let component = write(
        dir.path(),
        "c.wat",
        r#"(component
             (core module $plain (func (export "f")))
             (core module $tail (func $f (export "g") (return_call $f)))
             (core instance (instantiate $plain))
             (core instance (instantiate $tail)))"#,
    );
    let report = inspect(&component);
    assert!(
        report.contains("refused by wafer build: tail-call (WebAssembly features wafer does not compile), in core module 1"),
        "{report}"
    );
    // The plain module is not named.
    let refusals = report
        .lines()
        .filter(|l| l.starts_with("refused by"))
        .count();
    assert_eq!(refusals, 1, "{report}");
}

#[test]
fn targets_lists_all_three() {
    let out = wafer().arg("targets").output().unwrap();
    let stdout = text(&out.stdout);
    for t in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
    ] {
        assert!(stdout.contains(t), "{stdout}");
    }
}

/// The C example, when clang with wasi-libc is installed (scripts/setup.sh installs it).
#[test]
fn c_hello_example_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = scratch();
    let wasm = dir.path().join("hello.wasm");
    let clang = Command::new("clang")
        .args(["--target=wasm32-wasi", "-O2"])
        .arg(root.join("examples/hello/hello.c"))
        .arg("-o")
        .arg(&wasm)
        .output();
    match clang {
        Ok(out) if out.status.success() => {}
        _ => panic!("clang for wasm32-wasi is missing: run scripts/setup.sh"),
    }
    let exe = dir.path().join("hello");
    let build = wafer()
        .arg("build")
        .arg(&wasm)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build.stderr));
    let out = Command::new(&exe)
        .args(["edge", "board", "--exit", "5"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "hello from a wafer driver edge board\n");
    assert_eq!(out.status.code(), Some(5));
}

/// A Rust program through Rust's standard library for wasm32-wasip1 (scripts/setup.sh adds
/// the Rust target).
#[test]
fn rust_hello_example_runs() {
    let wasm = build_example("hello-rust");
    let dir = scratch();
    let exe = dir.path().join("hello-rust");
    let build = wafer()
        .arg("build")
        .arg(&wasm)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build.stderr));
    let out = Command::new(&exe)
        .args(["on", "a", "board", "--exit", "9"])
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        "hello from Rust on wafer: on a board --exit 9\n"
    );
    assert!(
        text(&out.stderr).starts_with("checksum "),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(9));
}
