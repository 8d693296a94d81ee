//! How deep wasm recursion goes in the default 1 MiB wasm stack, by number of results: pinned,
//! so that a change to the frame layout shows up here.
//!
//! A function with more results than the native calling convention returns in registers
//! (two integers on x86_64 and riscv64, eight on aarch64) returns the rest through a return
//! area that each caller reserves in its own frame (Cranelift's implicit struct return). At
//! seven `i32` results a frame is then 128 bytes on x86_64 (five 8-byte return slots, the
//! spilled return-area pointer, and five callee-saved registers Cranelift's register
//! allocator picks for the values it loads back, each saved) against 16 for one result:
//! about 8,200 frames instead of 65,000 (riscv64: about 9,300; aarch64 keeps all seven in
//! registers). wasmtime reaches 65,000 because its wasm-to-wasm calls use Cranelift's `tail`
//! convention, which returns more values in registers; wafer's wasm functions share one
//! convention with the runtime's host functions (a `funcref` may point at either), so that
//! switch needs trampolines for host functions first. Until then: deep recursion through
//! many-result functions exhausts the stack sooner, cleanly (a `call stack exhausted` trap),
//! and `--stack-kib` raises the limit.

use std::path::Path;

use wafer_tests::protocol::{Command, Outcome, Value};
use wafer_tests::run::{run_commands, Limits};

const MODULE: &str = r#"(module
  (global $depth (export "depth") (mut i32) (i32.const 0))
  (func (export "reset") (global.set $depth (i32.const 0)))
  (func $f1 (export "f1") (result i32)
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (call $f1))
  (func $f3 (export "f3") (result i32 i32 i32)
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (call $f3))
  (func $f7 (export "f7") (result i32 i32 i32 i32 i32 i32 i32)
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (call $f7)))"#;

/// The depth each function reached when the stack ran out.
fn depths(target: &str) -> Vec<u32> {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(MODULE).unwrap();
    let opts = wafer::BuildOptions {
        target: wafer::Target::find(target).unwrap(),
        ..Default::default()
    };
    let exe = dir.path().join("depth");
    wafer::build_spec_executable(&[wasm], &exe, &opts).unwrap();
    let mut commands = vec![Command::Instantiate {
        module: 0,
        instance: 0,
    }];
    for f in ["f1", "f3", "f7"] {
        for export in ["reset", f] {
            commands.push(Command::Invoke {
                instance: 0,
                export: export.into(),
                args: vec![],
            });
        }
        commands.push(Command::Get {
            instance: 0,
            export: "depth".into(),
        });
    }
    let answers = run_commands(
        &exe,
        opts.target.run_prefix(),
        &commands,
        Path::new(dir.path()),
        &Limits::default(),
    );
    let mut out = Vec::new();
    for chunk in answers[1..].chunks(3) {
        match &chunk[1] {
            Ok(Outcome::Trap { message, .. }) => assert_eq!(message, "call stack exhausted"),
            other => panic!("{target}: recursion answered {other:?}"),
        }
        match &chunk[2] {
            Ok(Outcome::Ok(v)) => match v[..] {
                [Value::I32(d)] => out.push(d),
                _ => panic!("{v:?}"),
            },
            other => panic!("{target}: {other:?}"),
        }
    }
    out
}

#[test]
fn recursion_depth_by_result_count_is_pinned() {
    // (target, one result, three, seven): within 3 % of what was measured.
    for (target, want) in [
        ("x86_64", [65_449, 21_816, 8_180]),
        ("aarch64", [65_442, 65_442, 65_442]),
        ("riscv64", [65_441, 21_813, 9_348]),
    ] {
        let got = depths(target);
        for (g, w) in got.iter().zip(want) {
            let (lo, hi) = (w - w * 3 / 100, w + w * 3 / 100);
            assert!(
                (lo..=hi).contains(g),
                "{target}: depths {got:?}, pinned {want:?}: the frame layout changed; \
                 update the figures here and in the module docs"
            );
        }
    }
}
