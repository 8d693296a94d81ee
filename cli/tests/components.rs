//! Components end to end, written in WAT: `wafer build` lowers a component to its core modules
//! and a plan, the executable instantiates them and runs the `wasi:cli/run` export; host
//! interfaces come in through `canon lower` and `canon resource.drop`; nested components are
//! inlined; what wafer does not support is refused by name. (wasm32-wasip2 Rust programs are
//! in `components_rust.rs`.)

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wafer::Target;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn command_for(target: &str, exe: &Path) -> Command {
    let target = Target::resolve(target).unwrap();
    match target.run_prefix().split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    }
}

/// Builds `wat` for `target` and runs it.
fn run_on(target: &str, wat: &str) -> Output {
    let dir = scratch();
    let input = write(dir.path(), "c.wat", wat);
    let exe = dir.path().join("c");
    wafer_build(&input, &exe, &["--target", target]);
    command_for(target, &exe).output().unwrap()
}

fn run(wat: &str) -> Output {
    run_on("x86_64", wat)
}

/// `wafer build`'s refusal of `wat`: its message (the build must fail).
fn build_error(wat: &str) -> String {
    let dir = scratch();
    let input = write(dir.path(), "c.wat", wat);
    let out = wafer()
        .arg("build")
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("c"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "the build should have been refused");
    text(&out.stderr)
}

/// A command component whose core `run` returns `result` (0 ok, 1 err).
fn command(result: i32) -> String {
    format!(
        r#"(component
  (core module $m (func (export "run") (result i32) i32.const {result}))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#
    )
}

#[test]
fn the_run_result_is_the_exit_status() {
    assert_eq!(run(&command(0)).status.code(), Some(0));
    assert_eq!(run(&command(1)).status.code(), Some(1));
}

/// A component using WASI-I2C's delay through wafer:hal: `open-delay` gives an owned handle,
/// `delay-ns` borrows it, `resource.drop` ends it. `extra` runs before the final result.
fn delay_component(extra: &str) -> String {
    format!(
        r#"(component
  (import "wasi:i2c/delay@0.2.0-draft" (instance $d
    (export "delay" (type (sub resource)))
    (type (borrow 0))
    (export "[method]delay.delay-ns" (func (param "self" 1) (param "ns" u32)))))
  (alias export $d "delay" (type $delay))
  (import "wafer:hal/buses@0.1.0" (instance $b
    (alias outer 1 $delay (type))
    (type (own 0))
    (export "open-delay" (func (result 1)))))
  (core module $m
    (import "hal" "open-delay" (func $open (result i32)))
    (import "delay" "delay-ns" (func $ns (param i32 i32)))
    (import "delay" "drop" (func $drop (param i32)))
    (func (export "run") (result i32) (local $h i32)
      (local.set $h (call $open))
      (call $ns (local.get $h) (i32.const 1000))
      (call $drop (local.get $h))
      {extra}
      (i32.const 0)))
  (alias export $b "open-delay" (func $open))
  (alias export $d "[method]delay.delay-ns" (func $ns))
  (core func $open_c (canon lower (func $open)))
  (core func $ns_c (canon lower (func $ns)))
  (core func $drop_c (canon resource.drop $delay))
  (core instance $hal (export "open-delay" (func $open_c)))
  (core instance $dl (export "delay-ns" (func $ns_c)) (export "drop" (func $drop_c)))
  (core instance $i (instantiate $m (with "hal" (instance $hal)) (with "delay" (instance $dl))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#
    )
}

#[test]
fn host_resources_cross_through_canon_lower_and_resource_drop() {
    let out = run(&delay_component(""));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Dropping the handle again: it is gone, which is a trap.
    let out = run(&delay_component("(call $drop (local.get $h))"));
    assert_eq!(out.status.code(), Some(134));
    let err = text(&out.stderr);
    assert!(err.contains("wasm trap: unknown handle"), "{err}");
    assert!(err.contains("not owned by this instance"), "{err}");
    // A handle the component never got.
    let out = run(&delay_component("(call $ns (i32.const 7) (i32.const 1))"));
    assert_eq!(out.status.code(), Some(134));
    assert!(text(&out.stderr).contains("unknown handle"));
}

#[test]
fn components_run_on_every_target() {
    for target in ["aarch64", "riscv64"] {
        let out = run_on(target, &delay_component(""));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{target}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            run_on(target, &command(1)).status.code(),
            Some(1),
            "{target}"
        );
    }
}

/// The shape wit-component gives a command: the lifted run passes through a nested component
/// that re-exports it, and the core module gets its host functions through a shim module's
/// table that a fixup module fills after the main module exists.
#[test]
fn nested_components_and_shim_tables_are_inlined() {
    let wat = r#"(component
  (import "wafer:hal/buses@0.1.0" (instance $b
    (export "delay" (type (sub resource)))
    (type (own 0))
    (export "open-delay" (func (result 1)))))
  (core module $shim
    (type $t (func (result i32)))
    (table (export "$imports") 1 1 funcref)
    (func (export "0") (result i32) (call_indirect (type $t) (i32.const 0))))
  (core module $main
    (import "hal" "open-delay" (func $open (result i32)))
    (memory (export "memory") 1)
    (func (export "run") (result i32)
      ;; The first handle of a fresh component is 1.
      (i32.ne (call $open) (i32.const 1))))
  (core module $fixup
    (import "" "$imports" (table 1 1 funcref))
    (import "" "0" (func $f (result i32)))
    (elem (i32.const 0) func $f))
  (core instance $s (instantiate $shim))
  (alias core export $s "0" (core func $indirect))
  (core instance $hal (export "open-delay" (func $indirect)))
  (core instance $m (instantiate $main (with "hal" (instance $hal))))
  (alias core export $m "memory" (core memory $mem))
  (alias export $b "open-delay" (func $open))
  (core func $open_c (canon lower (func $open) (memory $mem)))
  (alias core export $s "$imports" (core table $tbl))
  (core instance $args (export "$imports" (table $tbl)) (export "0" (func $open_c)))
  (core instance (instantiate $fixup (with "" (instance $args))))
  (func $run (result (result)) (canon lift (core func $m "run")))
  (component $run-shim
    (import "import-func-run" (func $f (result (result))))
    (export "run" (func $f)))
  (instance $r (instantiate $run-shim (with "import-func-run" (func $run))))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#;
    let out = run(wat);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn what_wafer_does_not_support_is_refused_by_name() {
    // No run export: a library component, named with what it exports.
    let err = build_error(
        r#"(component
  (core module $m (func (export "f") (result i32) i32.const 1))
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (export "answer" (func $f)))"#,
    );
    assert!(err.contains("wasi:cli/run"), "{err}");
    assert!(err.contains("answer"), "{err}");

    // An interface the runtime does not provide, named at WIT level.
    let err = build_error(
        r#"(component
  (import "wasi:sockets/tcp@0.2.3" (instance $t
    (export "shutdown-everything" (func (result u32)))))
  (alias export $t "shutdown-everything" (func $f))
  (core func $fc (canon lower (func $f)))
  (core module $m (import "t" "f" (func (result i32)))
    (func (export "run") (result i32) i32.const 0))
  (core instance $ti (export "f" (func $fc)))
  (core instance $i (instantiate $m (with "t" (instance $ti))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#,
    );
    assert!(
        err.contains(r#""wasi:sockets/tcp@0.2.3" "shutdown-everything""#),
        "{err}"
    );
    assert!(err.contains("not provided"), "{err}");

    // A string encoding wafer does not implement.
    let err = build_error(
        r#"(component
  (import "wafer:hal/buses@0.1.0" (instance $b
    (export "open-delay" (func (result u32)))))
  (alias export $b "open-delay" (func $f))
  (core func $fc (canon lower (func $f) string-encoding=utf16))
  (core module $m (import "t" "f" (func (result i32)))
    (func (export "run") (result i32) i32.const 0))
  (core instance $ti (export "f" (func $fc)))
  (core instance $i (instantiate $m (with "t" (instance $ti))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#,
    );
    assert!(err.contains("string-encoding=utf16"), "{err}");

    // Resources the component defines itself.
    let err = build_error(
        r#"(component
  (type $r (resource (rep i32)))
  (core func $new (canon resource.new $r))
  (core module $m (import "t" "new" (func (param i32) (result i32)))
    (func (export "run") (result i32) i32.const 0))
  (core instance $ti (export "new" (func $new)))
  (core instance $i (instantiate $m (with "t" (instance $ti))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $ri (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $ri)))"#,
    );
    assert!(err.contains("resources defined by a component"), "{err}");

    // A core module inside that needs SIMD.
    let err = build_error(
        r#"(component
  (core module $m (func (export "run") (result i32)
    (i32x4.extract_lane 0 (v128.const i32x4 0 0 0 0))))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#,
    );
    assert!(err.contains("simd"), "{err}");
}

#[test]
fn inspect_describes_a_component_at_wit_level() {
    let dir = scratch();
    let input = write(dir.path(), "c.wat", &delay_component(""));
    let out = wafer().arg("inspect").arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for want in [
        "component (1 core module inside)",
        "wasi:i2c/delay@0.2.0-draft",
        "[method]delay.delay-ns  [provided]",
        "open-delay  [provided]",
        "every import used is provided by wafer",
        "instance wasi:cli/run@0.2.0",
        "module 0:",
    ] {
        assert!(report.contains(want), "{want:?} missing from:\n{report}");
    }
}

#[test]
fn core_modules_need_an_entry_point_and_may_be_wasi_0_2_commands() {
    let dir = scratch();
    let lib = write(
        dir.path(),
        "lib.wat",
        r#"(module (func (export "add") (param i32 i32) (result i32)
             (i32.add (local.get 0) (local.get 1))))"#,
    );
    let out = wafer()
        .arg("build")
        .arg(&lib)
        .arg("-o")
        .arg(dir.path().join("lib"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no entry point") && err.contains("add"),
        "{err}"
    );

    for (result, status) in [(0, 0), (1, 1)] {
        let reactor = write(
            dir.path(),
            "r.wat",
            &format!(
                r#"(module (func (export "wasi:cli/run@0.2.3#run") (result i32) (i32.const {result})))"#
            ),
        );
        let exe = dir.path().join("r");
        wafer_build(&reactor, &exe, &[]);
        assert_eq!(Command::new(&exe).status().unwrap().code(), Some(status));
    }
}
