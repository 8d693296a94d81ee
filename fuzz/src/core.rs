//! Target 1, core semantics: wasm-smith modules run by wafer and by wasmtime, compared call
//! by call (results, trap kinds) and state by state (memory bytes, which function every table
//! entry refers to, exported globals) after every call.
//!
//! A batch of modules is compiled into one spec-script executable (one link for many
//! modules), for one target and bounds-check mode; aarch64 and riscv64 run under qemu-user.
//!
//! Normalised, as the spec allows, and nothing else:
//! - a NaN result that is canonical on both sides compares equal whatever its sign (the spec
//!   leaves the sign of a canonical NaN to the engine; the generated modules canonicalise
//!   every arithmetic NaN, so any other NaN came from a bit-preserving operation and is
//!   compared bit for bit); the same holds for float globals in the state digest;
//! - an index out of a table's range in `call_indirect` is one trap code in wasmtime and two
//!   in wafer (`undefined element` there, `out of bounds table access` in `table.get` and
//!   friends): either of wafer's matches wasmtime's;
//! - stack depth is each engine's own limit; the modules' fuel runs out before either stack
//!   does, so exhaustion on one side only is reported as a divergence (it would mean a frame
//!   grew far beyond the other engine's).

use std::path::Path;

use wafer_abi::{BoundsChecks, TrapKind};
use wafer_tests::protocol::{Outcome, Value};
use wafer_tests::run::{run_commands, Answer, Limits};

use crate::oracle::{Plan, Reference};
use crate::report::{Finding, Tally};
use crate::rng::Rng;
use crate::smith;

/// Every target and bounds-check mode, in the order batches take turns at them.
pub const CONFIGS: [(&str, BoundsChecks); 6] = [
    ("x86_64", BoundsChecks::Guard),
    ("x86_64", BoundsChecks::Explicit),
    ("aarch64", BoundsChecks::Guard),
    ("riscv64", BoundsChecks::Explicit),
    ("aarch64", BoundsChecks::Explicit),
    ("riscv64", BoundsChecks::Guard),
];

pub fn config_name((target, mode): (&str, BoundsChecks)) -> String {
    let mode = match mode {
        BoundsChecks::Guard => "guard",
        BoundsChecks::Explicit => "explicit",
    };
    format!("{target}/{mode}")
}

pub fn parse_config(name: &str) -> Option<(&'static str, BoundsChecks)> {
    CONFIGS.iter().copied().find(|c| config_name(*c) == name)
}

/// Calls of each exported function per module.
const CALLS: usize = 3;

/// One module ready to run: its seed, bytes, and what wasmtime did with it.
pub struct Case {
    pub seed: u64,
    pub wasm: Vec<u8>,
    pub plan: Plan,
}

/// Checks the modules of `seeds` on one target and mode; `dir` holds the executable and its
/// command files while it runs.
pub fn check_batch(
    seeds: &[u64],
    config: (&str, BoundsChecks),
    dir: &Path,
    reference: &Reference,
    tally: &mut Tally,
) -> Vec<Finding> {
    let (cases, mut findings) = prepare(seeds, config, reference, tally);
    findings.extend(run_cases(&cases, config, dir, tally));
    findings
}

fn options(config: (&str, BoundsChecks)) -> wafer::BuildOptions {
    wafer::BuildOptions {
        target: wafer::Target::find(config.0).expect("a known target"),
        bounds_checks: config.1,
        ..Default::default()
    }
}

fn finding(seed: u64, config: (&str, BoundsChecks), what: String, input: &[u8]) -> Finding {
    Finding {
        seed,
        config: config_name(config),
        what,
        input: input.to_vec(),
    }
}

/// Generates the modules of `seeds` and runs each under wasmtime. A module wasmtime cannot
/// compile is a finding instead of a case.
pub fn prepare(
    seeds: &[u64],
    config: (&str, BoundsChecks),
    reference: &Reference,
    tally: &mut Tally,
) -> (Vec<Case>, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    for &seed in seeds {
        let wasm = smith::core_module(seed);
        tally.cases += 1;
        tally.coverage.add_module(&wasm);
        let plan = reference.plan(&wasm, cases.len(), &mut Rng::new(seed ^ 0x5eed), CALLS);
        if let Outcome::Error(e) = &plan.expected[0] {
            findings.push(finding(seed, config, format!("wasmtime: {e}"), &wasm));
            continue;
        }
        cases.push(Case { seed, wasm, plan });
    }
    (cases, findings)
}

/// Compiles `cases` (numbered by position) into one executable and compares its answers with
/// the plans: one finding per module at its first divergence.
pub fn run_cases(
    cases: &[Case],
    config: (&str, BoundsChecks),
    dir: &Path,
    tally: &mut Tally,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if cases.is_empty() {
        return findings;
    }
    let opts = options(config);
    let name = config_name(config);
    let exe = dir.join("batch");
    let modules: Vec<Vec<u8>> = cases.iter().map(|c| c.wasm.clone()).collect();
    if let Err(e) = wafer::build_spec_executable(&modules, &exe, &opts) {
        // Which module? wasm-smith only uses what the config allows: a refusal is a bug.
        for c in cases {
            if let Err(e) = wafer::check_module(&c.wasm, &opts) {
                let what = format!("wafer refused a module of the supported features: {e}");
                findings.push(finding(c.seed, config, what, &c.wasm));
            }
        }
        if findings.is_empty() {
            let (c, what) = (&cases[0], format!("building the batch failed: {e:#}"));
            findings.push(finding(c.seed, config, what, &c.wasm));
        }
        return findings;
    }
    let commands: Vec<_> = cases
        .iter()
        .flat_map(|c| c.plan.commands.iter().cloned())
        .collect();
    let limits = Limits {
        timeout: std::time::Duration::from_secs(300),
        max_restarts: 8,
    };
    let answers = run_commands(&exe, opts.target.run_prefix(), &commands, dir, &limits);
    let mut at = 0;
    for c in cases {
        let got = &answers[at..at + c.plan.commands.len()];
        at += c.plan.commands.len();
        tally.calls += c.plan.calls as u64;
        tally.count(format!("modules {name}"), 1);
        if let Outcome::Trap { .. } = c.plan.expected[0] {
            tally.count("modules whose instantiation traps", 1);
        }
        let diverged = c
            .plan
            .commands
            .iter()
            .zip(&c.plan.expected)
            .zip(got)
            .find(|((_, want), got)| !same(want, got));
        if let Some(((command, want), got)) = diverged {
            tally.divergences += 1;
            let what = format!("`{command}`: wasmtime {want}, wafer {}", show(got));
            findings.push(finding(c.seed, config, what, &c.wasm));
        }
    }
    let _ = std::fs::remove_file(&exe);
    findings
}

fn show(a: &Answer) -> String {
    match a {
        Ok(o) => o.to_string(),
        Err(e) => format!("no answer ({e})"),
    }
}

/// Whether wafer's answer matches wasmtime's, with the normalisations in the module docs.
pub fn same(want: &Outcome, got: &Answer) -> bool {
    let Ok(got) = got else { return false };
    match (want, got) {
        (Outcome::Ok(a), Outcome::Ok(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
        }
        (Outcome::Trap { kind: a, .. }, Outcome::Trap { kind: b, .. }) => {
            a == b
                || (*a == TrapKind::TableOutOfBounds as u8
                    && *b == TrapKind::IndirectCallOutOfBounds as u8)
        }
        _ => false,
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => {
            x == y || (x & 0x7fff_ffff == 0x7fc0_0000 && y & 0x7fff_ffff == 0x7fc0_0000)
        }
        (Value::F64(x), Value::F64(y)) => {
            let canon = |v: u64| v & !(1 << 63) == 0x7ff8_0000_0000_0000;
            x == y || (canon(*x) && canon(*y))
        }
        _ => a == b,
    }
}
