//! Translates real modules (hand-written WAT and the WebAssembly spec test suite) and requires
//! every function to pass Cranelift's verifier and to compile for each 64-bit target.

use std::path::Path;
use std::str::FromStr;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, UserExternalName};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::{verify_function, Context};
use target_lexicon::Triple;
use wafer_abi::BoundsChecks;
use wasmparser::{FunctionBody, Parser, Payload, Validator, WasmFeatures};

use super::translate_function;
use crate::error::CompileError;
use crate::module_info::ModuleInfo;
use wafer_abi::libcall::ALL as LIBCALLS;

/// The ISA `compile` builds for `triple` (its baseline CPU), with Cranelift's verifier on.
pub(super) fn make_isa(triple: &str) -> OwnedTargetIsa {
    make_isa_with(triple, &[])
}

/// [`make_isa`] with some more Cranelift settings (shared or of the target).
pub(super) fn make_isa_with(triple: &str, settings: &[(&str, &str)]) -> OwnedTargetIsa {
    let triple = Triple::from_str(triple).unwrap();
    let mut flags = vec![("enable_verifier".to_string(), "true".to_string())];
    if triple.architecture == target_lexicon::Architecture::X86_64 {
        // The in-process harness links no runtime: without SSSE3 and SSE4.1, Cranelift would
        // call the runtime for `pshufb` (swizzles) and for rounding.
        for flag in ["has_ssse3", "has_sse41"] {
            flags.push((flag.to_string(), "true".to_string()));
        }
    }
    flags.extend(settings.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    crate::isa::make_isa(&triple, &flags).unwrap()
}

fn isas() -> Vec<OwnedTargetIsa> {
    [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
    ]
    .iter()
    .map(|t| make_isa(t))
    .collect()
}

pub(super) fn features() -> WasmFeatures {
    crate::features::supported()
}

/// `../shared/testsuite` beside the checkout.
pub(super) fn testsuite() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuite")
}

/// A module parsed the way `compile` parses it, with symbol names standing in for the ones
/// the object writer declares.
/// `v128_type` picks the SIMD lowering (`i8x16` vector code, `i128` scalar code).
pub(super) fn module_info(
    wasm: &[u8],
    bounds_checks: BoundsChecks,
    v128_type: ir::Type,
) -> (ModuleInfo, Vec<FunctionBody<'_>>) {
    let opts = crate::module::ParseOptions {
        bounds_checks,
        pointer_type: ir::types::I64,
        v128_type,
        resolve_host_imports: false,
        signal_safe_points: true,
        import_bindings: None,
    };
    let crate::module::ParsedModule { mut info, bodies } =
        crate::module::parse(wasm, &opts).expect("test modules are valid");
    let num_defined = info.func_types.len() as u32 - info.num_imported_funcs;
    info.defined_func_names = (0..num_defined)
        .map(|i| UserExternalName::new(0, i))
        .collect();
    info.libcall_names = LIBCALLS
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, UserExternalName::new(1, i as u32)))
        .collect();
    (info, bodies)
}

/// Translates, verifies and compiles every function of `wasm` for `isa`; returns how many.
fn compile_module(wasm: &[u8], isa: &dyn TargetIsa, bounds_checks: BoundsChecks) -> usize {
    let (info, bodies) = module_info(wasm, bounds_checks, super::simd::v128_type(isa));
    for (i, body) in bodies.iter().enumerate() {
        let func_index = info.num_imported_funcs + i as u32;
        let func = translate_function(&info, isa, func_index, body)
            .unwrap_or_else(|e| panic!("translating function {func_index}: {e}"));
        if let Err(errors) = verify_function(&func, isa) {
            panic!(
                "function {func_index} fails verification:\n{errors}\n{}",
                func.display()
            );
        }
        let mut ctx = Context::for_function(func);
        if let Err(e) = ctx.compile(isa, &mut ControlPlane::default()) {
            panic!(
                "function {func_index} fails to compile for {}: {:?}",
                isa.triple(),
                e.inner
            );
        }
    }
    bodies.len()
}

fn compile_wat(wat: &str) -> usize {
    let wasm = wat::parse_str(wat).unwrap();
    if let Err(e) = Validator::new_with_features(features()).validate_all(&wasm) {
        panic!("test module is invalid: {e}");
    }
    let mut count = 0;
    for isa in isas() {
        for mode in [BoundsChecks::Guard, BoundsChecks::Explicit] {
            count = compile_module(&wasm, &*isa, mode);
        }
    }
    count
}

#[test]
fn control_flow_and_multi_value() {
    let n = compile_wat(
        r#"(module
          (type $pair (func (param i32 i32) (result i32 i32)))
          (func $swap (type $pair) local.get 1 local.get 0)
          (func (param i32) (result i32)
            (block (result i32) (i32.const 1) (br_if 0 (local.get 0)) drop (i32.const 2)))
          (func (param i32) (result i32 i64)
            (i32.const 7) (i64.const 9)
            (block (param i32 i64) (result i32 i64)
              (br_table 0 1 0 (local.get 0))))
          (func (param i32) (result i32)
            (i32.const 10)
            (loop (param i32) (result i32)
              (i32.const 1) (i32.sub) (local.tee 0) (local.get 0) (br_if 0) ))
          (func (param i32) (result i32)
            (i32.const 3) (i32.const 4)
            (if (param i32 i32) (result i32 i32) (local.get 0) (then (call $swap))) (i32.add))
          (func (param i32) (result i32)
            (i32.const 5)
            (if (param i32) (result i32) (local.get 0)
              (then (return (i32.const 1)))
              (else (unreachable) (i32.const 2) (br 0))))
          (func (result i32)
            (block (result i32) (unreachable) (block (loop (br 0))) (if (then)) (i32.add)))
          (func (param i32) (result i32)
            (block (block (block (br_table 0 1 2 (local.get 0))) (return (i32.const 1)))
              (return (i32.const 2)))
            (i32.const 3))
          (func (param i32)
            (loop (br_if 0 (local.get 0)) (br 1)))
          (func (result f64) (local f32 f64 i64 externref funcref) (local.get 1))
        )"#,
    );
    assert_eq!(n, 10);
}

#[test]
fn numeric_memory_tables_calls() {
    compile_wat(
        r#"(module
          (import "m" "f" (func $imp (param i32) (result i32)))
          (import "m" "g" (global $ig (mut i64)))
          (import "m" "t" (table $it 1 funcref))
          (memory 1)
          (table $t 2 externref)
          (global $g (mut f32) (f32.const 1))
          (global $r (mut funcref) (ref.null func))
          (data $d "abc")
          (elem $e func 0 1)
          (type $ii (func (param i32) (result i32)))
          (func (param i32 i32 i64 i64 f32 f64) (result i32)
            (drop (i32.div_s (local.get 0) (local.get 1)))
            (drop (i32.rem_s (local.get 0) (local.get 1)))
            (drop (i64.div_u (local.get 2) (local.get 3)))
            (drop (i64.rem_u (local.get 2) (local.get 3)))
            (drop (i32.trunc_f32_s (local.get 4)))
            (drop (i64.trunc_f64_u (local.get 5)))
            (drop (i32.trunc_sat_f64_u (local.get 5)))
            (drop (f32.nearest (local.get 4)))
            (drop (f64.copysign (local.get 5) (local.get 5)))
            (drop (f32.min (local.get 4) (local.get 4)))
            (drop (i64.extend32_s (local.get 2)))
            (drop (f64.convert_i64_u (local.get 2)))
            (drop (f32.reinterpret_i32 (local.get 0)))
            (drop (i32.rotl (local.get 0) (local.get 1)))
            (drop (i64.popcnt (local.get 2)))
            (drop (select (local.get 4) (local.get 4) (local.get 0)))
            (i64.lt_u (local.get 2) (local.get 3)))
          (func (param i32) (result i64)
            (i32.store8 offset=4294967295 (local.get 0) (i32.const 1))
            (f64.store offset=7 (local.get 0) (f64.const 2))
            (drop (i32.load16_s offset=2147483648 (local.get 0)))
            (memory.fill (i32.const 0) (i32.const 1) (i32.const 2))
            (memory.copy (i32.const 0) (i32.const 1) (i32.const 2))
            (memory.init $d (i32.const 0) (i32.const 1) (i32.const 2))
            (data.drop $d)
            (drop (memory.grow (memory.size)))
            (i64.load32_u (local.get 0)))
          (func (param i32) (result i32)
            (global.set $ig (i64.add (global.get $ig) (i64.const 1)))
            (global.set $g (global.get $g))
            (global.set $r (ref.func 0))
            (table.set $t (i32.const 0) (table.get $t (i32.const 1)))
            (drop (table.grow $t (ref.null extern) (i32.const 1)))
            (table.fill $t (i32.const 0) (ref.null extern) (table.size $t))
            (table.copy $it $it (i32.const 0) (i32.const 0) (i32.const 1))
            (table.init $it $e (i32.const 0) (i32.const 0) (i32.const 1))
            (elem.drop $e)
            (drop (ref.is_null (global.get $r)))
            (drop (call $imp (local.get 0)))
            (call_indirect $it (type $ii) (local.get 0) (i32.const 0)))
        )"#,
    );
}

#[test]
fn unsupported_instructions_are_named() {
    // Validation refuses tail calls before translation; the translator must still name them
    // rather than panic. Module info from a same-shaped module, the body from the other one.
    let (info, _) = module_info(
        &wat::parse_str(r#"(module (func (result i32) (i32.const 0)))"#).unwrap(),
        BoundsChecks::Guard,
        ir::types::I8X16,
    );
    let tail_call = wat::parse_str(r#"(module (func (result i32) (return_call 0)))"#).unwrap();
    let body = Parser::new(0)
        .parse_all(&tail_call)
        .find_map(|p| match p.unwrap() {
            Payload::CodeSectionEntry(body) => Some(body),
            _ => None,
        })
        .unwrap();
    let isa = make_isa("x86_64-unknown-linux-gnu");
    match translate_function(&info, &*isa, 0, &body) {
        Err(CompileError::Unsupported(feature)) => {
            assert!(feature.contains("tail calls"), "{feature}")
        }
        other => panic!("expected an unsupported-feature error, got {other:?}"),
    }
}

/// Every module of the spec test files that uses only supported features.
#[test]
fn spec_test_suite_modules() {
    let dir = &testsuite();
    if !dir.is_dir() {
        eprintln!("spec test suite not found at {}; skipped", dir.display());
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    let isas = isas();
    let (mut modules, mut functions, mut skipped) = (0, 0, 0);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let Ok(buf) = wast::parser::ParseBuffer::new(&text) else {
            continue;
        };
        let Ok(script) = wast::parser::parse::<wast::Wast>(&buf) else {
            continue;
        };
        for directive in script.directives {
            let mut quote = match directive {
                wast::WastDirective::Module(q) | wast::WastDirective::ModuleDefinition(q) => q,
                _ => continue,
            };
            let Ok(wasm) = quote.encode() else { continue };
            if let Err(e) = Validator::new_with_features(features()).validate_all(&wasm) {
                if std::env::var_os("WAFER_SHOW_SKIPPED").is_some() {
                    eprintln!("skip {}: {e}", file.display());
                }
                skipped += 1;
                continue;
            }
            for isa in &isas {
                for mode in [BoundsChecks::Guard, BoundsChecks::Explicit] {
                    let run = || compile_module(&wasm, &**isa, mode);
                    let n = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                        .unwrap_or_else(|_| panic!("in {}", file.display()));
                    functions += n;
                }
            }
            modules += 1;
        }
    }
    eprintln!(
        "spec suite: {modules} modules, {functions} function compilations, {skipped} skipped"
    );
    assert!(modules > 500, "only {modules} modules translated");
}

#[test]
fn loops_that_call_a_polling_function_skip_their_own_safe_point() {
    // (function, whether its one loop is covered)
    let wasm = wat::parse_str(
        r#"(module
          (import "wali" "SYS_getpid" (func $getpid (result i64)))
          (func $polls (drop (call $getpid)))
          (func $leaf)
          (func $covered (param i32)
            (loop (call $polls) (br_if 0 (local.get 0))))
          (func $branch_first (param i32)
            (block (loop (br_if 1 (local.get 0)) (call $polls) (br 0))))
          (func $calls_a_leaf (param i32)
            (loop (call $leaf) (br_if 0 (local.get 0))))
          (func $call_nested (param i32)
            (loop (if (local.get 0) (then (call $polls))) (br_if 0 (local.get 0))))
          (func $if_before_the_call (param i32)
            (loop (if (local.get 0) (then nop)) (call $polls) (br_if 0 (local.get 0))))
          (func $inner_loop_covered_only (param i32)
            (loop (loop (call $polls) (br_if 0 (local.get 0))) (br_if 0 (local.get 0)))))"#,
    )
    .unwrap();
    let (info, bodies) = module_info(&wasm, BoundsChecks::Guard, ir::types::I8X16);
    assert_eq!(
        info.entry_safe_points,
        [true, false, true, true, true, true, true, true]
    );
    let covered: Vec<usize> = bodies
        .iter()
        .map(|b| super::signals::covered_loops(&info, b).unwrap().len())
        .collect();
    assert_eq!(covered, [0, 0, 1, 0, 0, 0, 1, 1]);
}
