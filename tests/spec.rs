//! Runs the WebAssembly spec suite through wafer (`cargo test -p wafer-tests --test spec`).
//!
//! Environment:
//! - `WAFER_TESTSUITE`: the suite directory (default `<workspace>/../shared/testsuite`);
//! - `WAFER_SPEC_MODES`: comma-separated bounds-check modes (`guard,explicit`, the default);
//! - `WAFER_SPEC_TARGETS`: comma-separated targets or boards (default
//!   `x86_64,aarch64,riscv64,visionfive2,x86-64-v3,spacemit-k1`). Executables for another
//!   architecture than the host's run under qemu-user; a board's build runs under qemu
//!   emulating the board's CPU. Besides the three baselines (x86_64 is SSE2 only; riscv64
//!   without V takes the scalar SIMD lowering), the default set has the boards whose code
//!   differs: visionfive2 (Zba/Zbb change integer bit operations), x86-64-v3 (AVX2, FMA and
//!   BMI change vector and scalar code; under `qemu-x86_64 -cpu` of that level) and
//!   spacemit-k1 (RVV: vector SIMD on riscv64). The Raspberry Pi profiles (`rpi4`, `rpi5`)
//!   and `x86-64-v2` run on request;
//! - `WAFER_SPEC_FILTER`: only scripts whose path contains this substring;
//! - `WAFER_SPEC_JOBS`: worker threads (default: available cores);
//! - `WAFER_SPEC_TIMEOUT`: seconds per executable run (default 120);
//! - `WAFER_SPEC_DETAILS`: failures shown per file and mode (default 10);
//! - `WAFER_SPEC_KEEP`: when set, every executable and its command files are kept (the
//!   directories are printed), to debug a failure by hand.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wafer::Target;
use wafer_abi::BoundsChecks;
use wafer_tests::{
    mode_name, parse_mode, plan_file, run, run_plan, scope, Backend, Report, SettledOutcome,
    Verdict,
};

/// The real thing: wafer's own build API, as `wafer build` uses it, for one target.
struct Wafer {
    target: Target,
}

impl Wafer {
    fn options(&self, mode: BoundsChecks) -> wafer::BuildOptions {
        wafer::BuildOptions {
            target: self.target.clone(),
            bounds_checks: mode,
            ..Default::default()
        }
    }
}

impl Backend for Wafer {
    fn check(&self, wasm: &[u8]) -> Verdict {
        Verdict::from(wafer::check_module(
            wasm,
            &self.options(BoundsChecks::Guard),
        ))
    }
    fn build(&self, modules: &[Vec<u8>], out: &Path, mode: BoundsChecks) -> anyhow::Result<()> {
        wafer::build_spec_executable(modules, out, &self.options(mode))
    }
    fn runner(&self) -> Vec<String> {
        // A board's build runs under qemu emulating the board's CPU even on a host of the same
        // architecture: that is what shows it uses no instruction the CPU lacks.
        if self.target.board.is_some() {
            self.target.runner.clone()
        } else {
            self.target.run_prefix().to_vec()
        }
    }
}

/// Targets and boards run when `WAFER_SPEC_TARGETS` is not set (see the module docs).
const DEFAULT_TARGETS: &str = "x86_64,aarch64,riscv64,visionfive2,x86-64-v3,spacemit-k1";

struct Config {
    targets: Vec<Target>,
    modes: Vec<BoundsChecks>,
    filter: Option<String>,
    jobs: usize,
    limits: run::Limits,
    details: usize,
}

fn env_number(name: &str) -> Result<Option<u64>, String> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}={text} is not a number")),
        Err(_) => Ok(None),
    }
}

fn config() -> Result<Config, String> {
    let modes = match std::env::var("WAFER_SPEC_MODES") {
        Ok(text) => text
            .split(',')
            .filter(|m| !m.trim().is_empty())
            .map(|m| {
                parse_mode(m).ok_or_else(|| {
                    format!("WAFER_SPEC_MODES: unknown mode `{m}` (guard, explicit)")
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Err(_) => vec![BoundsChecks::Guard, BoundsChecks::Explicit],
    };
    if modes.is_empty() {
        return Err("WAFER_SPEC_MODES names no mode".into());
    }
    let targets = std::env::var("WAFER_SPEC_TARGETS")
        .unwrap_or_else(|_| DEFAULT_TARGETS.to_string())
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Target::resolve(t).map_err(|e| format!("WAFER_SPEC_TARGETS: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        return Err("WAFER_SPEC_TARGETS names no target".into());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Config {
        targets,
        modes,
        filter: std::env::var("WAFER_SPEC_FILTER")
            .ok()
            .filter(|f| !f.is_empty()),
        jobs: env_number("WAFER_SPEC_JOBS")?.map_or(cores, |n| n.max(1) as usize),
        limits: run::Limits {
            timeout: Duration::from_secs(env_number("WAFER_SPEC_TIMEOUT")?.unwrap_or(120)),
            ..run::Limits::default()
        },
        details: env_number("WAFER_SPEC_DETAILS")?.map_or(10, |n| n as usize),
    })
}

/// One run of a script: a target and a bounds-check mode.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Run {
    /// Index into `Config::targets`.
    target: usize,
    /// Index into `Config::modes`.
    mode: usize,
}

/// One script's reports, one per target and mode, with the time each took.
struct FileResult {
    file: String,
    reports: Vec<(Run, Report, Duration)>,
}

fn runs(config: &Config) -> impl Iterator<Item = Run> + '_ {
    (0..config.targets.len())
        .flat_map(|target| (0..config.modes.len()).map(move |mode| Run { target, mode }))
}

/// Reclassifies the failed assertions that the scope list marks as overturned by a later
/// standard; one that passes stays a pass (nothing to excuse).
fn apply_superseded(plan: &mut wafer_tests::Plan, file: &str, scope: &scope::Scope) {
    for settled in &mut plan.settled {
        if let Some(why) = scope.superseded(file, settled.line) {
            if matches!(settled.outcome, SettledOutcome::Failed { .. }) {
                settled.outcome = SettledOutcome::Unsupported(format!("superseded: {why}"));
            }
        }
    }
}

fn test_file(
    root: &Path,
    file: &str,
    config: &Config,
    backends: &[Wafer],
    scope: &scope::Scope,
) -> FileResult {
    let same_for_all = |report: Report| {
        runs(config)
            .map(|run| (run, report.clone(), Duration::ZERO))
            .collect()
    };
    // Whether the compiler accepts a module does not depend on the target (validation and the
    // feature set are the same), so the script is planned once, with the first target.
    let reports = match std::fs::read_to_string(root.join(file)) {
        Err(e) => same_for_all(Report::fatal(1, "reading the script", e.to_string())),
        Ok(text) => match plan_file(&text, &backends[0]) {
            Err(report) => same_for_all(report),
            Ok(mut plan) => {
                apply_superseded(&mut plan, file, scope);
                runs(config)
                    .map(|run| {
                        let started = Instant::now();
                        let report = run_plan(
                            &plan,
                            &backends[run.target],
                            config.modes[run.mode],
                            &config.limits,
                        );
                        (run, report, started.elapsed())
                    })
                    .collect()
            }
        },
    };
    FileResult {
        file: file.to_string(),
        reports,
    }
}

/// Everything a target needs before hundreds of builds start: the emulator when the target
/// is not the host, the C toolchain, and the runtime library (built here once, so a missing
/// piece is one message instead of one failure per script).
fn prepare(target: &Target, runner: &[String]) -> Result<(), String> {
    if let Some(program) = runner.first() {
        let found = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
        });
        if !found {
            return Err(format!(
                "`{program}` (runs {} executables here) not found: install the Debian package `{}`, or run scripts/setup.sh",
                target.triple, target.runner_package
            ));
        }
    }
    wafer::link::find_linker(target)
        .and_then(|_| wafer::runtime::library(target))
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

/// wafer's own scripts (`tests/wast/*.wast`), for what the suite does not cover: absolute
/// paths, which `root.join` leaves as they are.
fn own_scripts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("wast");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "wast"))
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn main() -> ExitCode {
    // libtest-style flags (`--nocapture`, a filter) may be passed by `cargo test`; the harness
    // is configured through the environment instead, so they are ignored.
    let config = match config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("spec: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(root) = wafer_tests::suite_root() else {
        println!("spec suite skipped: no test suite at $WAFER_TESTSUITE or <workspace>/../shared/testsuite");
        println!("0 passed, 0 failed");
        return ExitCode::SUCCESS;
    };
    let scope = match scope::Scope::load(&scope::default_path()) {
        Ok(scope) => scope,
        Err(e) => {
            eprintln!("spec: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut files = match scope.selected(&root) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("spec: {e}");
            return ExitCode::FAILURE;
        }
    };
    files.extend(own_scripts());
    if let Some(filter) = &config.filter {
        files.retain(|f| f.contains(filter.as_str()));
    }
    // Biggest scripts first, so the long ones do not start last on an otherwise idle machine.
    files.sort_by_cached_key(|f| {
        std::cmp::Reverse(std::fs::metadata(root.join(f)).map_or(0, |m| m.len()))
    });

    let backends: Vec<Wafer> = config
        .targets
        .iter()
        .map(|target| Wafer {
            target: target.clone(),
        })
        .collect();
    for backend in &backends {
        if let Err(e) = prepare(&backend.target, &backend.runner()) {
            eprintln!("spec: target {}: {e}", backend.target.name());
            println!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    }

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|threads| {
        for _ in 0..config.jobs.min(files.len().max(1)) {
            threads.spawn(|| {
                while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = test_file(&root, file, &config, &backends, &scope);
                    for (run, report, _) in &result.reports {
                        println!(
                            "spec {} {} {}: {} passed, {} failed, {} unsupported",
                            mode_name(config.modes[run.mode]),
                            config.targets[run.target].name(),
                            result.file,
                            report.passed,
                            report.failed(),
                            report.unsupported_total()
                        );
                    }
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(result);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by(|a, b| a.file.cmp(&b.file));
    summarize(&results, &config, started.elapsed())
}

fn summarize(results: &[FileResult], config: &Config, elapsed: Duration) -> ExitCode {
    let mut by_run: BTreeMap<Run, Report> = BTreeMap::new();
    let mut busy: BTreeMap<usize, Duration> = BTreeMap::new();
    let mut total = Report::default();
    let mut any_failures = false;
    for result in results {
        for (run, report, took) in &result.reports {
            *busy.entry(run.target).or_default() += *took;
            if report.failed() > 0 {
                if !any_failures {
                    println!("\nfailures:");
                    any_failures = true;
                }
                println!(
                    "  {} [{} {}]: {} failed",
                    result.file,
                    mode_name(config.modes[run.mode]),
                    config.targets[run.target].name(),
                    report.failed()
                );
                for failure in report.failures.iter().take(config.details) {
                    println!("    {failure}");
                }
                if report.failed() > config.details {
                    println!("    ... and {} more", report.failed() - config.details);
                }
            }
            by_run.entry(*run).or_default().add(report);
            total.add(report);
        }
    }
    if !total.unsupported.is_empty() {
        println!("\nunsupported (skipped) assertions by feature:");
        for (feature, n) in &total.unsupported {
            println!("  {feature}: {n}");
        }
    }
    for (run, report) in &by_run {
        println!(
            "mode {} {}: {} passed, {} failed, {} skipped",
            mode_name(config.modes[run.mode]),
            config.targets[run.target].name(),
            report.passed,
            report.failed(),
            report.unsupported_total()
        );
    }
    // Time spent building and running each target's executables, summed over worker threads:
    // what each target adds to the run.
    for (target, took) in &busy {
        println!(
            "target {}: {:.1?} of build and run time",
            config.targets[*target].name(),
            took
        );
    }
    println!("{} scripts in {:.1?}", results.len(), elapsed);
    println!(
        "{} passed, {} failed, {} skipped",
        total.passed,
        total.failed(),
        total.unsupported_total()
    );
    if total.failed() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
