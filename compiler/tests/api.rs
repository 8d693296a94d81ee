//! The public API: feature refusal, host import binding, entry objects, cross targets.

mod common;

use common::{compile_wat, has_defined, has_undefined, spec_options, symbols, wat};
use object::{Architecture, Object, ObjectSection, ObjectSymbol};
use wafer_abi::EntryMode;
use wafer_compiler::{compile, compile_entry, make_isa, CompileError, CompileOptions};

const WASI_HELLO: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "hello\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 8))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))
"#;

/// SIMD compiles for every target: vector code on x86_64 and aarch64, scalar code on
/// riscv64 without the V extension (a `v128` passed between functions as an `i128`).
#[test]
fn simd_compiles_for_every_target() {
    let text = r#"(module
      (memory 1)
      (func $add (param v128 v128) (result v128) (i32x4.add (local.get 0) (local.get 1)))
      (func (export "f") (param i32) (result i32)
        (i32x4.extract_lane 1
          (call $add (v128.load (local.get 0)) (i32x4.splat (local.get 0))))))"#;
    for triple in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
    ] {
        let mut opts = spec_options("m");
        opts.triple = triple.parse().unwrap();
        let obj = compile_wat(text, &opts).unwrap_or_else(|e| panic!("{triple}: {e}"));
        assert!(has_defined(&obj, "m_module"), "{triple}");
    }
}

#[test]
fn other_proposals_are_refused_by_name() {
    let cases = [
        ("(module (memory i64 1))", "memory64"),
        ("(module (memory 1) (memory 1))", "multi-memory"),
        ("(module (func $f (return_call $f)))", "tail-call"),
        ("(module (tag))", "exception-handling"),
        ("(module (type (struct)))", "gc"),
    ];
    for (text, feature) in cases {
        let err = compile_wat(text, &spec_options("m")).unwrap_err();
        match err {
            CompileError::Unsupported(f) => assert_eq!(f, feature, "{text}"),
            other => panic!("{text}: {other}"),
        }
    }
}

#[test]
fn malformed_and_invalid_are_told_apart() {
    let opts = spec_options("m");
    assert!(matches!(
        compile(b"\0asm", &opts),
        Err(CompileError::Malformed(_))
    ));
    assert!(matches!(
        compile(b"not wasm at all", &opts),
        Err(CompileError::Malformed(_))
    ));
    assert!(matches!(
        compile(&[], &opts),
        Err(CompileError::Malformed(_))
    ));
    let invalid = wat("(module (func (result i32) (i64.const 0)))");
    assert!(matches!(
        compile(&invalid, &opts),
        Err(CompileError::Invalid(_))
    ));
    // Truncating a valid module anywhere is an error (unless it ends on a section boundary
    // that leaves a complete module), never a panic.
    let good = wat(WASI_HELLO);
    let accepted = (0..good.len())
        .filter(|len| compile(&good[..*len], &opts).is_ok())
        .count();
    assert!(accepted <= 7, "{accepted} truncations accepted");
}

#[test]
fn unknown_host_import_is_named() {
    let opts = CompileOptions::host("wafer");
    let err = compile_wat(r#"(module (import "env" "frob" (func)))"#, &opts).unwrap_err();
    assert_eq!(
        err,
        CompileError::UnknownImport {
            module: "env".into(),
            field: "frob".into()
        }
    );
    let err = compile_wat(
        r#"(module (import "wasi_snapshot_preview1" "no_such" (func)))"#,
        &opts,
    )
    .unwrap_err();
    assert!(matches!(err, CompileError::UnknownImport { ref field, .. } if field == "no_such"));
    // `env.memory` is the one memory a driver may import (the runtime creates it); any other
    // memory import, or another kind under that name, is unknown.
    compile_wat(
        r#"(module (import "env" "memory" (memory 1 2 shared)))"#,
        &opts,
    )
    .unwrap();
    let err = compile_wat(r#"(module (import "env" "mem" (memory 1)))"#, &opts).unwrap_err();
    assert!(matches!(err, CompileError::UnknownImport { .. }));
    let err = compile_wat(
        r#"(module (import "env" "memory" (table 1 funcref)))"#,
        &opts,
    )
    .unwrap_err();
    assert!(matches!(err, CompileError::UnknownImport { .. }));
    let err = compile_wat(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32))))"#,
        &opts,
    )
    .unwrap_err();
    match err {
        CompileError::ImportSignature {
            expected, found, ..
        } => {
            assert_eq!(expected, "(i32, i32, i32, i32) -> (i32)");
            assert_eq!(found, "(i32) -> ()");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn wasi_import_binds_to_the_runtime_symbol() {
    let obj = compile_wat(WASI_HELLO, &CompileOptions::host("wafer")).unwrap();
    assert!(has_defined(&obj, "wafer_module"));
    assert!(has_undefined(&obj, "wafer_wasi_fd_write"));
    // Left to the runtime by name in the spec harness.
    let obj = compile_wat(WASI_HELLO, &spec_options("m0")).unwrap();
    assert!(has_defined(&obj, "m0_module"));
    assert!(!symbols(&obj)
        .iter()
        .any(|(n, _)| n == "wafer_wasi_fd_write"));
}

#[test]
fn descriptor_has_the_abi_size_and_version() {
    let obj = compile_wat(WASI_HELLO, &CompileOptions::host("wafer")).unwrap();
    let file = object::File::parse(&*obj).unwrap();
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok("wafer_module"))
        .unwrap();
    assert_eq!(sym.size(), wafer_abi::desc_offsets::MODULE_SIZE as u64);
    let section = file.section_by_index(sym.section_index().unwrap()).unwrap();
    let data = section.data().unwrap();
    let at = (sym.address() - section.address()) as usize;
    let version = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
    assert_eq!(version, wafer_abi::ABI_VERSION);
}

#[test]
fn bad_symbol_prefix_is_an_error() {
    for prefix in ["", "1abc", "a-b", &"x".repeat(200)] {
        assert!(
            compile_wat("(module)", &spec_options(prefix)).is_err(),
            "{prefix:?}"
        );
    }
}

#[test]
fn entry_object_defines_main() {
    let obj = compile_entry(
        &target_lexicon::Triple::host(),
        &[],
        &["m0".to_string(), "m1".to_string()],
        EntryMode::SpecScript,
        &[],
        &[],
    )
    .unwrap();
    assert!(has_defined(&obj, "main"));
    assert!(has_undefined(&obj, "wafer_rt_main_spec"));
    assert!(has_undefined(&obj, "m0_module"));
    assert!(has_undefined(&obj, "m1_module"));
}

#[test]
fn entry_object_carries_the_capabilities_in_their_section() {
    let caps = b"wafer-capabilities 1\nenv\tK\tv\n";
    let obj = compile_entry(
        &target_lexicon::Triple::host(),
        &[],
        &["wafer".to_string()],
        EntryMode::Driver,
        caps,
        &[],
    )
    .unwrap();
    let file = object::File::parse(&*obj).unwrap();
    let section = file
        .section_by_name(wafer_abi::capabilities::SECTION)
        .expect("capabilities section");
    assert_eq!(section.data().unwrap(), caps);
}

#[test]
fn cross_targets_compile() {
    let cases = [
        ("aarch64-unknown-linux-gnu", Architecture::Aarch64),
        ("riscv64gc-unknown-linux-gnu", Architecture::Riscv64),
        ("x86_64-unknown-linux-gnu", Architecture::X86_64),
    ];
    for (triple, arch) in cases {
        let mut opts = CompileOptions::host("wafer");
        opts.triple = triple.parse().unwrap();
        let obj = compile_wat(WASI_HELLO, &opts).unwrap();
        let file = object::File::parse(&*obj).unwrap();
        assert_eq!(file.architecture(), arch, "{triple}");
        assert!(has_defined(&obj, "wafer_module"));
        let entry = compile_entry(
            &opts.triple,
            &[],
            &["wafer".into()],
            EntryMode::Driver,
            &[],
            &[],
        )
        .unwrap();
        assert!(has_defined(&entry, "main"));
    }
}

#[test]
fn isa_flags_are_checked() {
    let host = target_lexicon::Triple::host();
    assert!(make_isa(&host, &[("opt_level".into(), "none".into())]).is_ok());
    assert!(make_isa(&host, &[("no_such_flag".into(), "true".into())]).is_err());
    let unknown: target_lexicon::Triple = "mips-unknown-linux-gnu".parse().unwrap();
    assert!(make_isa(&unknown, &[]).is_err());
}

#[test]
fn element_items_may_read_imported_globals() {
    let active = r#"
    (module
      (import "spectest" "g" (global $g funcref))
      (table 3 funcref)
      (elem (table 0) (i32.const 0) funcref (ref.func $a) (global.get $g) (ref.null func))
      (func $a))
    "#;
    assert!(has_defined(
        &compile_wat(active, &spec_options("m")).unwrap(),
        "m_module"
    ));
    let passive = r#"
    (module
      (import "spectest" "g" (global $g funcref))
      (elem funcref (global.get $g)))
    "#;
    let err = compile_wat(passive, &spec_options("m")).unwrap_err();
    assert!(
        matches!(err, CompileError::Unsupported(ref f) if f.contains("passive")),
        "{err}"
    );
}
