//! Target 3, the compiler on arbitrary bytes: generated modules (some with proposals wafer
//! does not compile) and a component, mutated and truncated, compiled in process by the path
//! `wafer build` takes ([`wafer::compile_driver`]: everything but the link). Each must either
//! compile, or fail with one line naming what is wrong. A finding is any of:
//! - a panic (caught here; the CLI would have died with a backtrace);
//! - a code generation error (Cranelift refusing what wafer produced from a valid module);
//! - an error message that is empty or spans several lines;
//! - wafer compiling bytes that wasmparser, with every proposal it knows enabled, rejects;
//! - wafer calling a module invalid or malformed that wasmparser accepts, without naming it
//!   unsupported (a user would be told their valid module is broken).
//!
//! wasmparser is the reference for validity (it is what wasmtime validates with). Inputs
//! whose verdict is new for the run (by error kind and its first words) go to the corpus.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use arbitrary::Unstructured;
use wafer::CompileError;

use crate::report::{Finding, Output, Tally};
use crate::rng::Rng;
use crate::smith;

/// Verdicts already in the corpus (shared by a run's jobs).
static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// A component of the shape wit-component gives a command (a shim module's table filled by a
/// fixup module, the lifted run re-exported through a nested component), to mutate.
const COMPONENT: &str = include_str!("../../tests/guests/component-shim.wat");

/// An input to mutate: a core module of the core config, one with proposals wafer refuses,
/// or the component.
fn base(seed: u64, rng: &mut Rng) -> Vec<u8> {
    match seed % 8 {
        0 => return wat::parse_str(COMPONENT).expect("the component parses"),
        1 | 3 | 5 => {}
        _ => return smith::core_module(seed),
    }
    let mut config = smith::core_config();
    config.simd_enabled = rng.below(2) == 0;
    config.memory64_enabled = rng.below(3) == 0;
    config.tail_call_enabled = rng.below(3) == 0;
    config.exceptions_enabled = rng.below(4) == 0;
    config.threads_enabled = rng.below(3) == 0;
    config.max_memories = 1 + rng.below(2) as usize;
    config.multi_value_enabled = true;
    config.max_imports = 4;
    let bytes = rng.bytes(16 * 1024);
    let mut u = Unstructured::new(&bytes);
    match wasm_smith::Module::new(config, &mut u) {
        Ok(m) => m.to_bytes(),
        Err(_) => smith::core_module(seed),
    }
}

/// One to four random edits: byte flips, edge values, truncation, insertion, deletion,
/// duplication, a huge LEB128.
pub fn mutate(mut b: Vec<u8>, rng: &mut Rng) -> Vec<u8> {
    for _ in 0..1 + rng.below(3) {
        let len = b.len().max(1) as u64;
        let at = rng.below(len) as usize;
        match rng.below(8) {
            0 if !b.is_empty() => b[at] ^= 1 << rng.below(8),
            1 if !b.is_empty() => b[at] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5) as usize],
            2 => b.truncate(at),
            3 => {
                let n = 1 + rng.below(8) as usize;
                let ins = rng.bytes(n);
                b.splice(at.min(b.len())..at.min(b.len()), ins);
            }
            4 => {
                let end = (at + 1 + rng.below(16) as usize).min(b.len());
                b.drain(at.min(end)..end);
            }
            5 => {
                let end = (at + 1 + rng.below(32) as usize).min(b.len());
                let piece = b[at.min(end)..end].to_vec();
                b.splice(at.min(b.len())..at.min(b.len()), piece);
            }
            6 => {
                let huge = [0xff, 0xff, 0xff, 0xff, 0x0f];
                b.splice(at.min(b.len())..at.min(b.len()), huge);
            }
            _ if !b.is_empty() => b[at] = rng.word() as u8,
            _ => {}
        }
    }
    b
}

/// What `wafer build` said, for the corpus: compiled, or the first words of its error.
fn verdict(r: &anyhow::Result<Vec<Vec<u8>>>) -> String {
    match r {
        Ok(_) => "compiled".into(),
        Err(e) => {
            let text = format!("{e:#}");
            let words: Vec<&str> = text.split_whitespace().take(4).collect();
            words.join(" ")
        }
    }
}

pub fn check_batch(seeds: &[u64], tally: &mut Tally, out: Option<&Output>) -> Vec<Finding> {
    let opts = wafer::BuildOptions::default();
    let mut findings = Vec::new();
    let features = wasmparser::WasmFeatures::all();
    for &seed in seeds {
        let mut rng = Rng::new(seed ^ 0xb17e5);
        let input = mutate(base(seed, &mut rng), &mut rng);
        tally.cases += 1;
        let finding = |what: String| Finding {
            seed,
            config: "host".into(),
            what,
            input: input.clone(),
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            let wasm = wafer::wasm_from_bytes(&input, std::path::Path::new("input.wasm"))?;
            wafer::compile_driver(&wasm, &opts)
        }));
        let Ok(result) = result else {
            findings.push(finding("the compiler panicked".into()));
            continue;
        };
        let valid = wasmparser::Validator::new_with_features(features)
            .validate_all(&input)
            .is_ok();
        let v = verdict(&result);
        let class = match &result {
            Ok(_) => "compiled",
            Err(e) => match e.downcast_ref::<CompileError>() {
                Some(CompileError::Malformed(_)) => "malformed",
                Some(CompileError::Invalid(_)) => "invalid",
                Some(CompileError::Unsupported(_)) => "unsupported feature",
                Some(CompileError::UnknownImport { .. } | CompileError::ImportSignature { .. }) => {
                    "import not provided"
                }
                Some(CompileError::Limit(_)) => "over a limit",
                Some(CompileError::Codegen(_)) => "code generation",
                None if format!("{e}").starts_with("the module has no entry point") => {
                    "compiled, but no entry point"
                }
                None => "other refusal (component plan, options)",
            },
        };
        tally.count(format!("verdict: {class}"), 1);
        match &result {
            Ok(_) if !valid => findings.push(finding(
                "wafer compiled bytes wasmparser rejects as invalid".into(),
            )),
            Ok(_) => {}
            Err(e) => {
                let text = format!("{e:#}");
                if text.trim().is_empty() || text.contains('\n') {
                    findings.push(finding(format!("error not one line: {text:?}")));
                }
                match e.downcast_ref::<CompileError>() {
                    Some(CompileError::Codegen(m)) => {
                        findings.push(finding(format!("code generation failed: {m}")))
                    }
                    Some(CompileError::Malformed(_) | CompileError::Invalid(_)) if valid => {
                        findings.push(finding(format!(
                            "wafer calls a module wasmparser accepts broken: {text}"
                        )))
                    }
                    _ => {}
                }
            }
        }
        if let Some(out) = out {
            let mut seen = SEEN.lock().unwrap();
            if seen.get_or_insert_with(HashSet::new).insert(v) {
                let _ = out.save_corpus(&format!("seed{seed}.wasm"), &input);
            }
        }
    }
    tally.divergences += findings.len() as u64;
    findings
}
