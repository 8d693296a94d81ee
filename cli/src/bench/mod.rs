//! `wafer bench`: builds a driver as `wafer build` does and measures its startup beside the
//! other WebAssembly runtimes found here (and, with `--ssh`, on a board), checking first that
//! each printed what wafer printed.

pub mod measure;
pub mod report;
pub mod runtimes;
pub mod ssh;

use crate::BuildOptions;
use anyhow::{bail, Context, Result};
use measure::{compare, Stats};
use report::{Outcome, Report, Row, Section};
use runtimes::{Invocation, ModuleFacts, State};
use std::path::{Path, PathBuf};

/// What `wafer bench` was asked for, besides the build options.
#[derive(Clone, Debug)]
pub struct Config {
    /// The module as named on the command line (the guest's argv[0], as under `wafer run`).
    pub input: PathBuf,
    pub runs: usize,
    pub warmup: usize,
    /// Print JSON instead of the table.
    pub json: bool,
    pub chart: Option<PathBuf>,
    /// `--runtimes`: the runtimes to set beside wafer (empty: all).
    pub runtimes: Vec<String>,
    pub ssh: Option<ssh::Remote>,
    /// The guest's arguments.
    pub args: Vec<String>,
}

/// Runs the whole bench and prints its report; the exit status for the command.
pub fn run(wasm: &[u8], opts: &BuildOptions, cfg: &Config) -> Result<i32> {
    let report = measure_all(wasm, opts, cfg)?;
    if let Some(path) = &cfg.chart {
        std::fs::write(path, report::chart(&report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if cfg.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report::to_json(&report))?
        );
    } else {
        print!("{}", report::table(&report));
    }
    Ok(0)
}

/// Builds the executable and measures everything `cfg` asks for.
pub fn measure_all(wasm: &[u8], opts: &BuildOptions, cfg: &Config) -> Result<Report> {
    let selected = runtimes::select(&cfg.runtimes)?;
    if cfg.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let work = tempfile::Builder::new()
        .prefix("wafer-bench-")
        .tempdir()
        .context("creating a scratch directory")?;
    if let Some(remote) = &cfg.ssh {
        ssh::reachable(remote)?;
    }
    let exe = work.path().join("driver");
    crate::build_executable(wasm, &exe, opts)?;
    let module = work.path().join("module.wasm");
    std::fs::write(&module, wasm)?;
    let facts = ModuleFacts::of(wasm);

    let mut sections = vec![local(
        &exe,
        &module,
        &facts,
        &selected,
        opts,
        cfg,
        work.path(),
    )?];
    if let Some(remote) = &cfg.ssh {
        let plan = ssh::Plan {
            exe: &exe,
            module: &module,
            target: &opts.target,
            caps: &opts.capabilities,
            facts: &facts,
            invoke: opts.invoke.is_some(),
            selected: &selected,
            args: &cfg.args,
            runs: cfg.runs,
            warmup: cfg.warmup,
            work: work.path(),
        };
        sections.push(ssh::bench(remote, &plan)?);
    }
    Ok(Report {
        module: cfg.input.display().to_string(),
        args: cfg.args.clone(),
        runs: cfg.runs,
        warmup: cfg.warmup,
        sections,
    })
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// The section measured on this machine.
fn local(
    exe: &Path,
    module: &Path,
    facts: &ModuleFacts,
    selected: &[&'static str],
    opts: &BuildOptions,
    cfg: &Config,
    work: &Path,
) -> Result<Section> {
    let prefix = opts.target.run_prefix();
    let emulated = !prefix.is_empty();
    let wafer = match prefix.split_first() {
        None => Invocation {
            program: exe.to_path_buf(),
            args: vec![],
            arg0: Some(cfg.input.clone().into_os_string()),
        },
        Some((program, rest)) => {
            let Some(program) = runtimes::find_on_path(program) else {
                bail!(
                    "`{program}` is needed to run {} executables here: install the Debian package `{}`",
                    opts.target.name(),
                    opts.target.runner_package
                );
            };
            let mut args: Vec<_> = rest.iter().map(Into::into).collect();
            args.push(exe.into());
            Invocation {
                program,
                args,
                arg0: None,
            }
        }
    };
    let others = if emulated {
        selected
            .iter()
            .filter(|k| **k != "wafer")
            .map(|&key| runtimes::Runtime {
                key,
                name: runtimes::display_name(key).into(),
                state: State::CannotRun(format!(
                    "the executable is built for {} and runs emulated (qemu-user) here; \
                     measure the others on the board (--ssh)",
                    opts.target.name()
                )),
            })
            .collect()
    } else {
        let argv0 = cfg.input.to_string_lossy();
        runtimes::discover(
            selected,
            &runtimes::Setup {
                module,
                argv0: &argv0,
                caps: &opts.capabilities,
                facts,
                invoke: opts.invoke.is_some(),
                work,
            },
        )
    };

    let wafer_name = if emulated {
        "wafer, emulated (qemu-user)".to_string()
    } else {
        "wafer".to_string()
    };
    let mut rows = vec![Row {
        name: wafer_name,
        command: wafer.display(&cfg.args),
        outcome: Outcome::CannotRun(String::new()),
    }];
    let mut timed: Vec<(usize, Invocation)> = vec![(0, wafer.clone())];

    // The output check: one run each, compared with wafer's.
    let (reference, stderr) = measure::observe(&wafer, &cfg.args)?;
    if reference.status != 0 {
        eprintln!(
            "wafer bench: note: the driver exits with status {}{}",
            reference.status,
            stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .map(|l| format!(": {}", l.trim()))
                .unwrap_or_default()
        );
    }
    for rt in others {
        let mut row = Row {
            name: rt.name,
            command: String::new(),
            outcome: Outcome::CannotRun(String::new()),
        };
        match rt.state {
            State::NotFound(why) => row.outcome = Outcome::NotFound(why),
            State::CannotRun(why) => row.outcome = Outcome::CannotRun(why),
            State::Ready(inv) => {
                row.command = inv.display(&cfg.args);
                let (observed, _) = measure::observe(&inv, &cfg.args)?;
                match compare(&reference, &observed) {
                    Some(why) => row.outcome = Outcome::Mismatch(why),
                    None => timed.push((rows.len(), inv)),
                }
            }
        }
        rows.push(row);
    }

    let invocations: Vec<&Invocation> = timed.iter().map(|(_, inv)| inv).collect();
    eprintln!(
        "wafer bench: {} warm-up and {} timed rounds of {} runtime{}",
        cfg.warmup,
        cfg.runs,
        invocations.len(),
        if invocations.len() == 1 { "" } else { "s" }
    );
    let samples = measure::interleaved(&invocations, &cfg.args, cfg.runs, cfg.warmup)?;
    for ((i, _), samples) in timed.iter().zip(samples) {
        let row = &mut rows[*i];
        if let Some((k, why)) = samples
            .iter()
            .enumerate()
            .find_map(|(k, s)| compare(&reference, &s.observed).map(|why| (k, why)))
        {
            row.outcome = Outcome::Mismatch(format!("timed run {}: {why}", k + 1));
            continue;
        }
        let exit: Vec<f64> = samples.iter().map(|s| s.exit_ns).collect();
        let first: Vec<f64> = samples.iter().filter_map(|s| s.first_ns).collect();
        row.outcome = Outcome::Timed {
            exit: Stats::of(&exit).expect("at least one run"),
            first: Stats::of(&first),
        };
    }
    Ok(Section {
        place: "this machine".into(),
        host: host_name(),
        arch: opts
            .target
            .triple
            .split('-')
            .next()
            .unwrap_or("?")
            .to_string(),
        emulated,
        rows,
    })
}
