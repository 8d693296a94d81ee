//! The board half of `wafer bench --ssh`: copy the executable, the module and a small timing
//! helper (timer.c, built with the target's gcc) to the board, check the outputs, and time the
//! runs there with the board's own clock, so no ssh round trip is in the figures.

use super::measure::{compare, Observed, Stats};
use super::report::{Outcome, Row, Section};
use super::runtimes::{self, shell_quote, ModuleFacts};
use crate::Target;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use wafer_abi::capabilities::Capabilities;

const TIMER_SOURCE: &str = include_str!("timer.c");

/// Where and how to log in.
#[derive(Clone, Debug)]
pub struct Remote {
    /// `user@host` (or anything ssh takes as a destination).
    pub dest: String,
    pub port: Option<u16>,
    /// The directory on the board the files go to (default /tmp/wafer-bench).
    pub dir: Option<String>,
    pub identity: Option<PathBuf>,
    /// `-o` options for ssh (`StrictHostKeyChecking=no`, ...).
    pub options: Vec<String>,
}

/// What to run on the board.
pub struct Plan<'a> {
    pub exe: &'a Path,
    pub module: &'a Path,
    pub target: &'a Target,
    pub caps: &'a Capabilities,
    pub facts: &'a ModuleFacts,
    pub invoke: bool,
    pub selected: &'a [&'static str],
    pub args: &'a [String],
    pub runs: usize,
    pub warmup: usize,
    pub work: &'a Path,
}

impl Remote {
    fn dir(&self) -> String {
        self.dir
            .clone()
            .unwrap_or_else(|| "/tmp/wafer-bench".into())
    }

    fn ssh(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]);
        if let Some(port) = self.port {
            cmd.arg("-p").arg(port.to_string());
        }
        if let Some(id) = &self.identity {
            cmd.arg("-i").arg(id);
        }
        for opt in &self.options {
            cmd.arg("-o").arg(opt);
        }
        cmd.arg(&self.dest).arg("--");
        cmd
    }

    /// Runs a shell script on the board, `stdin` fed from a file.
    fn run(&self, script: &str, stdin: Option<&Path>) -> Result<Output> {
        let mut cmd = self.ssh();
        cmd.arg(script);
        match stdin {
            Some(file) => cmd.stdin(
                std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
            ),
            None => cmd.stdin(Stdio::null()),
        };
        let out = cmd
            .output()
            .context("running ssh (install the Debian package `openssh-client`)")?;
        if out.status.code() == Some(255) {
            bail!(
                "cannot reach {} over ssh: {}",
                self.dest,
                last_line(&out.stderr)
            );
        }
        Ok(out)
    }

    /// Runs a script that must succeed; its stdout.
    fn check(&self, script: &str, stdin: Option<&Path>, what: &str) -> Result<String> {
        let out = self.run(script, stdin)?;
        if !out.status.success() {
            bail!("{what} on {} failed: {}", self.dest, last_line(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn upload(&self, file: &Path, remote: &str) -> Result<()> {
        let q = shell_quote(remote);
        self.check(
            &format!("cat > {q} && chmod +x {q}"),
            Some(file),
            &format!("copying {}", file.display()),
        )?;
        Ok(())
    }
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_string()
}

/// The `uname -m` names of an architecture.
fn arch_matches(triple: &str, uname: &str) -> bool {
    let arch = triple.split('-').next().unwrap_or("");
    match arch {
        "riscv64gc" => uname == "riscv64",
        "aarch64" => uname == "aarch64" || uname == "arm64",
        other => other == uname,
    }
}

/// Builds the timing helper for the target with its gcc, statically.
fn build_timer(target: &Target, work: &Path) -> Result<PathBuf> {
    let src = work.join("timer.c");
    let exe = work.join("timer");
    std::fs::write(&src, TIMER_SOURCE)?;
    let linker = crate::link::find_linker(target)?;
    let out = Command::new(&linker)
        .args(["-O2", "-static", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .with_context(|| format!("running {}", linker.display()))?;
    if !out.status.success() {
        bail!(
            "building the timing helper with {} failed: {}",
            linker.display(),
            last_line(&out.stderr)
        );
    }
    Ok(exe)
}

fn words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks that the board answers, before anything is measured here.
pub fn reachable(remote: &Remote) -> Result<()> {
    remote.check("true", None, "logging in")?;
    Ok(())
}

/// Measures on the board; the section is labelled with the board's host name.
pub fn bench(remote: &Remote, plan: &Plan) -> Result<Section> {
    let dir = remote.dir();
    let probe = remote.check(
        &format!(
            "mkdir -p {} && uname -n && uname -m && (command -v wasmtime || true)",
            shell_quote(&dir)
        ),
        None,
        "looking at the board",
    )?;
    let mut lines = probe.lines();
    let host = lines.next().unwrap_or("?").trim().to_string();
    let arch = lines.next().unwrap_or("?").trim().to_string();
    let wasmtime = lines
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());
    if !arch_matches(&plan.target.triple, &arch) {
        bail!(
            "{} is {arch}, and the executable is built for {}: pass --target or --board for it",
            remote.dest,
            plan.target.triple
        );
    }

    let timer = build_timer(plan.target, plan.work)?;
    let exe_remote = format!("{dir}/driver");
    let module_remote = format!("{dir}/module.wasm");
    let timer_remote = format!("{dir}/timer");
    remote.upload(plan.exe, &exe_remote)?;
    remote.upload(&timer, &timer_remote)?;

    // The runtimes on the board: wafer's executable, and wasmtime if the board has it.
    let mut rows: Vec<(Row, Option<Vec<String>>)> = vec![(
        Row {
            name: format!("wafer on {host}"),
            command: String::new(),
            outcome: Outcome::CannotRun(String::new()),
        },
        Some(vec![exe_remote.clone()]),
    )];
    let mut module_uploaded = false;
    for &key in plan.selected.iter().filter(|k| **k != "wafer") {
        let name = format!("{} on {host}", runtimes::display_name(key));
        let outcome = |o| {
            (
                Row {
                    name: name.clone(),
                    command: String::new(),
                    outcome: o,
                },
                None,
            )
        };
        if !key.starts_with("wasmtime") {
            rows.push(outcome(Outcome::CannotRun(
                "on a board wafer bench measures wafer and wasmtime only".into(),
            )));
            continue;
        }
        let Some(wasmtime) = &wasmtime else {
            rows.push(outcome(Outcome::NotFound(
                "`command -v wasmtime` finds nothing on the board".into(),
            )));
            continue;
        };
        if let Some(why) = runtimes::unsupported(key, plan.facts, plan.caps, plan.invoke) {
            rows.push(outcome(Outcome::CannotRun(why)));
            continue;
        }
        if !module_uploaded {
            remote.upload(plan.module, &module_remote)?;
            module_uploaded = true;
        }
        let flags = runtimes::wasmtime_flags(plan.caps, plan.facts);
        let mut argv = vec![wasmtime.clone(), "run".into()];
        let module = if key == "wasmtime-precompiled" {
            let cwasm = format!("{dir}/module.cwasm");
            let threads = if plan.facts.threads {
                "-W threads=y "
            } else {
                ""
            };
            let compiled = remote.run(
                &format!(
                    "{} compile {threads}{} -o {}",
                    shell_quote(wasmtime),
                    shell_quote(&module_remote),
                    shell_quote(&cwasm)
                ),
                None,
            )?;
            if !compiled.status.success() {
                rows.push(outcome(Outcome::CannotRun(format!(
                    "`wasmtime compile` failed: {}",
                    last_line(&compiled.stderr)
                ))));
                continue;
            }
            argv.push("--allow-precompiled".into());
            cwasm
        } else {
            module_remote.clone()
        };
        argv.extend(["--argv0".into(), exe_remote.clone()]);
        argv.extend(flags);
        argv.push(module);
        rows.push((
            Row {
                name,
                command: String::new(),
                outcome: Outcome::CannotRun(String::new()),
            },
            Some(argv),
        ));
    }

    // Every runtime must print what wafer printed before its time means anything.
    let mut reference: Option<Observed> = None;
    let mut timed: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, (row, argv)) in rows.iter_mut().enumerate() {
        let Some(argv) = argv else { continue };
        argv.extend(plan.args.iter().cloned());
        row.command = words(argv);
        let out = remote.run(&row.command, None)?;
        let observed = Observed {
            stdout: out.stdout,
            status: out.status.code().unwrap_or(255),
        };
        match &reference {
            None => reference = Some(observed),
            Some(r) => {
                if let Some(why) = compare(r, &observed) {
                    row.outcome = Outcome::Mismatch(why);
                    continue;
                }
            }
        }
        timed.push((i, argv.clone()));
    }

    let mut script = format!(
        "{} {} {} {}",
        shell_quote(&timer_remote),
        plan.runs,
        plan.warmup,
        timed.len()
    );
    for (_, argv) in &timed {
        script += &format!(" {} {}", argv.len(), words(argv));
    }
    let out = remote.check(&script, None, "the timing runs")?;
    let mut exit: Vec<Vec<f64>> = vec![Vec::new(); timed.len()];
    let mut first: Vec<Vec<f64>> = vec![Vec::new(); timed.len()];
    let mut statuses: Vec<Vec<i32>> = vec![Vec::new(); timed.len()];
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let parsed = (|| -> Option<(usize, f64, f64, i32)> {
            Some((
                f.first()?.parse().ok()?,
                f.get(1)?.parse().ok()?,
                f.get(2)?.parse().ok()?,
                f.get(3)?.parse().ok()?,
            ))
        })();
        let Some((c, e, fo, st)) = parsed.filter(|p| p.0 < timed.len()) else {
            bail!("unexpected line from the timing helper on the board: {line:?}");
        };
        exit[c].push(e);
        if fo >= 0.0 {
            first[c].push(fo);
        }
        statuses[c].push(st);
    }
    let wanted = reference.map(|r| r.status).unwrap_or(0);
    for (c, (i, _)) in timed.iter().enumerate() {
        let row = &mut rows[*i].0;
        if let Some(st) = statuses[c].iter().find(|s| **s != wanted) {
            row.outcome = Outcome::Mismatch(format!(
                "a timed run exited with status {st}, the check run with {wanted}"
            ));
            continue;
        }
        row.outcome = match Stats::of(&exit[c]) {
            Some(exit_stats) => Outcome::Timed {
                exit: exit_stats,
                first: Stats::of(&first[c]),
            },
            None => Outcome::Mismatch("the timing helper reported no runs".into()),
        };
    }
    Ok(Section {
        place: format!("board {}", remote.dest),
        host,
        arch,
        emulated: false,
        rows: rows.into_iter().map(|(r, _)| r).collect(),
    })
}
