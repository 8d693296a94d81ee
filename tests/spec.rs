//! Runs the WebAssembly spec suite through wafer (`cargo test -p wafer-tests --test spec`).
//!
//! Environment:
//! - `WAFER_TESTSUITE`: the suite directory (default `<workspace>/../shared/testsuite`);
//! - `WAFER_SPEC_MODES`: comma-separated bounds-check modes (`guard,explicit`, the default);
//! - `WAFER_SPEC_FILTER`: only scripts whose path contains this substring;
//! - `WAFER_SPEC_JOBS`: worker threads (default: available cores);
//! - `WAFER_SPEC_TIMEOUT`: seconds per executable run (default 120);
//! - `WAFER_SPEC_DETAILS`: failures shown per file and mode (default 10).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wafer_abi::BoundsChecks;
use wafer_tests::{
    mode_name, parse_mode, plan_file, run, run_plan, scope, Backend, Report, Verdict,
};

/// The real thing: wafer's own build API, as `wafer build` uses it.
struct Wafer;

impl Wafer {
    fn options(mode: BoundsChecks) -> wafer::BuildOptions {
        wafer::BuildOptions {
            bounds_checks: mode,
            ..Default::default()
        }
    }
}

impl Backend for Wafer {
    fn check(&self, wasm: &[u8]) -> Verdict {
        Verdict::from(wafer::check_module(
            wasm,
            &Wafer::options(BoundsChecks::Guard),
        ))
    }
    fn build(&self, modules: &[Vec<u8>], out: &Path, mode: BoundsChecks) -> anyhow::Result<()> {
        wafer::build_spec_executable(modules, out, &Wafer::options(mode))
    }
    fn runner(&self) -> Vec<String> {
        // A target's runner (an emulator) is for running its executables on another host.
        let target = Wafer::options(BoundsChecks::Guard).target;
        if target.is_host() {
            Vec::new()
        } else {
            target.runner
        }
    }
}

struct Config {
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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Config {
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

/// One script's reports, one per mode.
struct FileResult {
    file: String,
    reports: Vec<(BoundsChecks, Report)>,
}

fn test_file(root: &Path, file: &str, config: &Config) -> FileResult {
    let reports = match std::fs::read_to_string(root.join(file)) {
        Err(e) => {
            let report = Report::fatal(1, "reading the script", e.to_string());
            config.modes.iter().map(|&m| (m, report.clone())).collect()
        }
        Ok(text) => match plan_file(&text, &Wafer) {
            Err(report) => config.modes.iter().map(|&m| (m, report.clone())).collect(),
            Ok(plan) => config
                .modes
                .iter()
                .map(|&mode| (mode, run_plan(&plan, &Wafer, mode, &config.limits)))
                .collect(),
        },
    };
    FileResult {
        file: file.to_string(),
        reports,
    }
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
    if let Some(filter) = &config.filter {
        files.retain(|f| f.contains(filter.as_str()));
    }
    // Biggest scripts first, so the long ones do not start last on an otherwise idle machine.
    files.sort_by_cached_key(|f| {
        std::cmp::Reverse(std::fs::metadata(root.join(f)).map_or(0, |m| m.len()))
    });

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|threads| {
        for _ in 0..config.jobs.min(files.len().max(1)) {
            threads.spawn(|| {
                while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = test_file(&root, file, &config);
                    for (mode, report) in &result.reports {
                        println!(
                            "spec {} {}: {} passed, {} failed, {} unsupported",
                            mode_name(*mode),
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
    let mut by_mode: BTreeMap<&str, Report> = BTreeMap::new();
    let mut total = Report::default();
    let mut any_failures = false;
    for result in results {
        for (mode, report) in &result.reports {
            if report.failed() > 0 {
                if !any_failures {
                    println!("\nfailures:");
                    any_failures = true;
                }
                println!(
                    "  {} [{}]: {} failed",
                    result.file,
                    mode_name(*mode),
                    report.failed()
                );
                for failure in report.failures.iter().take(config.details) {
                    println!("    {failure}");
                }
                if report.failed() > config.details {
                    println!("    ... and {} more", report.failed() - config.details);
                }
            }
            by_mode.entry(mode_name(*mode)).or_default().add(report);
            total.add(report);
        }
    }
    if !total.unsupported.is_empty() {
        println!("\nunsupported (skipped) assertions by feature:");
        for (feature, n) in &total.unsupported {
            println!("  {feature}: {n}");
        }
    }
    for (mode, report) in &by_mode {
        println!(
            "mode {mode}: {} passed, {} failed, {} skipped",
            report.passed,
            report.failed(),
            report.unsupported_total()
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
