//! The upstream WALI unit-test suite (`../shared/wali/tests`: 144 tests, 524 runs), run by its
//! own runner (`run_tests.py`) with wafer as the engine, and Lua and SQLite smoke checks
//! (`cargo test --release -p wafer-tests --test wali`; tests/wali/README.md explains it all).
//!
//! Per target, in `target/wali/<target>/`: the native side of every test is built with gcc
//! (the cross gcc with `-static` for aarch64 and riscv64, then run under qemu-user), the suite
//! is copied to a scratch directory with the native binaries in `bin/unit/elf/`, every module
//! is built once by `wali-engine` (tests/wali/engine.rs, cached in `target/wali-cache/`), and
//! the runner runs there with an `engines.toml` naming `wali-engine`. Its output is parsed;
//! `tests/wali/native-run.c` records each native exit status, which the runner does not print.
//!
//! Fails when a run whose native baseline passed does not match, unless
//! `tests/wali-known-failures.toml` lists it with a reason, and when a listed run or check
//! passes (the list must not go stale). Closes with `N passed, M failed, K known failures`.
//!
//! Environment:
//! - `WAFER_WALI`: the material (default `<workspace>/../shared/wali`; missing: skipped);
//! - `WAFER_WALI_TARGETS`: comma-separated targets (default `x86_64`);
//! - `WAFER_WALI_FILTER`: comma-separated unit tests to run (default: all); app checks run
//!   only without a filter or when it names them (`app/lua-test`, ...);
//! - `WAFER_WALI_JOBS`: parallel native and wasm builds (default: available cores);
//! - `WAFER_WALI_TIMEOUT`: seconds the runner may take per target (default 1200; each run is
//!   also bounded by the runner's own 20 s).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use wafer::Target;
use wafer_tests::wali_report::{
    judge, parse_native_log, parse_runner_output, runs, Baseline, Item, KnownFailures, Run,
};

const ENGINE: &str = env!("CARGO_BIN_EXE_wali-engine");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

struct Config {
    material: PathBuf,
    targets: Vec<Target>,
    filter: Option<Vec<String>>,
    jobs: usize,
    timeout: Duration,
}

fn env_number(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(text) => {
            Ok(Some(text.trim().parse().with_context(|| {
                format!("{name}={text} is not a number")
            })?))
        }
        Err(_) => Ok(None),
    }
}

fn config(material: PathBuf) -> Result<Config> {
    let targets = std::env::var("WAFER_WALI_TARGETS")
        .unwrap_or_else(|_| "x86_64".into())
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Target::find(t).with_context(|| "WAFER_WALI_TARGETS"))
        .collect::<Result<Vec<_>>>()?;
    if targets.is_empty() {
        bail!("WAFER_WALI_TARGETS names no target");
    }
    let filter = std::env::var("WAFER_WALI_FILTER").ok().map(|f| {
        f.split([',', ' '])
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect()
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Config {
        material,
        targets,
        filter,
        jobs: env_number("WAFER_WALI_JOBS")?.map_or(cores, |n| n.max(1) as usize),
        timeout: Duration::from_secs(env_number("WAFER_WALI_TIMEOUT")?.unwrap_or(1200)),
    })
}

/// The unit tests of the material, as the runner finds them (`unit/*.c` but `*_hooks.c`).
fn unit_tests(material: &Path) -> Result<Vec<String>> {
    let mut tests = Vec::new();
    for entry in std::fs::read_dir(material.join("tests/unit"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(test) = name.strip_suffix(".c") {
            if !test.ends_with("_hooks") {
                tests.push(test.to_string());
            }
        }
    }
    tests.sort();
    Ok(tests)
}

/// A smoke check of a real program: its module, the files it works on, its arguments.
struct App {
    id: &'static str,
    dir: &'static str,
    wasm: &'static str,
    files: &'static [&'static str],
    args: &'static [&'static str],
    /// In tests/wali/expect/: its standard output (`<seconds>` stands for a decimal number).
    expect: &'static str,
}

const APPS: &[App] = &[
    App {
        id: "app/lua-test",
        dir: "lua",
        wasm: "lua.wasm",
        files: &["test.lua"],
        args: &["test.lua"],
        expect: "lua-test.txt",
    },
    App {
        id: "app/lua-binary-trees",
        dir: "lua",
        wasm: "lua.wasm",
        files: &["my.lua"],
        args: &["my.lua"],
        expect: "lua-binary-trees.txt",
    },
    App {
        id: "app/sqlite-albums",
        dir: "sqlite",
        wasm: "sqlite3.wasm",
        files: &["chinook.db", "list_albums.sql"],
        args: &["chinook.db", ".read list_albums.sql"],
        expect: "sqlite-albums.txt",
    },
];

const APP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `f` over `items` on `jobs` threads; results in the items' order.
fn parallel<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// What a bounded run left: its status (`None`: killed at the deadline) and its output.
struct Bounded {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` in a process group of its own, killing the whole group at `timeout` and, once
/// it has ended, whatever it left behind. Never waits longer than `timeout` plus a few seconds,
/// even for output pipes held open by a process that left the group.
fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<Bounded> {
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    let group = child.id() as libc::pid_t;
    let collect = |mut pipe: Box<dyn Read + Send>| {
        let buffer = Arc::new(Mutex::new((Vec::new(), false)));
        let shared = Arc::clone(&buffer);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 65536];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                shared.lock().unwrap().0.extend_from_slice(&chunk[..n]);
            }
            shared.lock().unwrap().1 = true;
        });
        buffer
    };
    let stdout = collect(Box::new(child.stdout.take().expect("piped")));
    let stderr = collect(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: signals our own child's process group (the group outlives the leader while any
    // member is alive; ESRCH when none is).
    unsafe { libc::kill(-group, libc::SIGKILL) };
    if status.is_none() {
        let _ = child.wait();
    }
    let grace = Instant::now() + Duration::from_secs(5);
    let take = |buffer: &Arc<Mutex<(Vec<u8>, bool)>>| {
        while !buffer.lock().unwrap().1 && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(20));
        }
        String::from_utf8_lossy(&buffer.lock().unwrap().0).into_owned()
    };
    Ok(Bounded {
        status,
        stdout: take(&stdout),
        stderr: take(&stderr),
    })
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// True when `out` exists and is at least as new as every input.
fn fresh(out: &Path, inputs: &[PathBuf]) -> bool {
    let Some(built) = mtime(out) else {
        return false;
    };
    inputs.iter().all(|i| mtime(i).is_some_and(|t| t <= built))
}

/// Runs a compiler command writing `out` (through a temporary name, so an interrupted build
/// leaves nothing that looks fresh).
fn compile(mut cmd: Command, out: &Path) -> Result<()> {
    let partial = out.with_extension("partial");
    let output = cmd
        .arg("-o")
        .arg(&partial)
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed for {}:\n{}",
            cmd.get_program(),
            out.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::rename(&partial, out)?;
    Ok(())
}

/// Quotes `s` for /bin/sh (paths here never hold a single quote).
fn sh_quote(s: &str) -> Result<String> {
    if s.contains('\'') {
        bail!("path {s} contains a single quote");
    }
    Ok(format!("'{s}'"))
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("path {} is not UTF-8", path.display()))
}

fn write_script(path: &Path, words: &[&str]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let quoted = words
        .iter()
        .map(|w| sh_quote(w))
        .collect::<Result<Vec<_>>>()?;
    let text = format!(
        "#!/bin/sh\n# Written by tests/wali.rs.\nexec {} \"$@\"\n",
        quoted.join(" ")
    );
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Removes a directory tree, also one a test left without permissions.
fn remove_tree(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if std::fs::remove_dir_all(dir).is_ok() {
        return Ok(());
    }
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("u+rwx")
        .arg(dir)
        .status();
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// What is checked before anything is built, so a missing tool is one clear line.
fn check_tools(target: &Target) -> Result<()> {
    let python = Command::new("python3")
        .args(["-c", "import tomllib"])
        .output();
    if !python.is_ok_and(|o| o.status.success()) {
        bail!("the WALI runner needs python3 3.11 or later (with tomllib)");
    }
    wafer::link::find_linker(target)?;
    if let Some(emulator) = target.run_prefix().first() {
        let found = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join(emulator).is_file())
        });
        if !found {
            bail!(
                "`{emulator}` (runs {} programs here) not found: install the Debian package `{}`, or run scripts/setup.sh",
                target.triple,
                target.runner_package
            );
        }
    }
    Ok(())
}

/// `target/wali/native-run`, built from tests/wali/native-run.c for this machine.
fn native_run() -> Result<PathBuf> {
    let source = workspace().join("tests/wali/native-run.c");
    let out = workspace().join("target/wali/native-run");
    std::fs::create_dir_all(out.parent().expect("has a parent"))?;
    if !fresh(&out, std::slice::from_ref(&source)) {
        let mut cmd = Command::new("gcc");
        cmd.args(["-O2", "-Wall"]).arg(&source);
        compile(cmd, &out)?;
    }
    Ok(out)
}

/// Builds each test's native binary and `_hooks` fixture wrapper into `dir`, as the upstream
/// Makefile does (statically with the cross gcc for another architecture). Returns the tests
/// whose native side does not build, with the compiler's first error: they run without it
/// (the runner reports `missing binary`, a failing baseline), so a test that does not exist
/// for one architecture (rename.c calls SYS_renameat, which riscv64 lacks) stops nothing else.
fn build_natives(
    config: &Config,
    target: &Target,
    tests: &[String],
    dir: &Path,
) -> Result<BTreeMap<String, String>> {
    std::fs::create_dir_all(dir)?;
    let suite = config.material.join("tests");
    let gcc = if target.is_host() {
        "gcc".to_string()
    } else {
        target.cross_linker.clone()
    };
    let mut common = vec![];
    for entry in std::fs::read_dir(suite.join("common"))? {
        common.push(entry?.path());
    }
    let jobs: Vec<(&String, bool)> = tests.iter().flat_map(|t| [(t, false), (t, true)]).collect();
    let results = parallel(&jobs, config.jobs, |&(test, hooks)| {
        let source = suite.join(format!("unit/{test}.c"));
        let out = dir.join(if hooks {
            format!("{test}_hooks")
        } else {
            test.clone()
        });
        let mut inputs = common.clone();
        inputs.push(source.clone());
        if fresh(&out, &inputs) {
            return Ok(());
        }
        // Nothing older may stand in for a build that fails.
        let _ = std::fs::remove_file(&out);
        let mut cmd = Command::new(&gcc);
        cmd.current_dir(&suite)
            .args(["-I.", "-Icommon", "-O2", "-Wno-unused-result"]);
        if !target.is_host() {
            cmd.arg("-static");
        }
        if hooks {
            cmd.args(["-DWALI_TEST_WRAPPER", "common/hooks_main.c"])
                .arg(&source);
        } else {
            cmd.arg(&source).args(["-lm", "-lpthread"]);
        }
        compile(cmd, &out)
    });
    let mut failed = BTreeMap::new();
    for ((test, _), result) in jobs.iter().zip(results) {
        if let Err(e) = result {
            let message = format!("{e:#}");
            let first_error = message
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or("")
                .trim()
                .to_string();
            failed.entry(test.to_string()).or_insert(first_error);
        }
    }
    Ok(failed)
}

/// The runtime library for `target`, copied to `dir/<triple>/libwafer_rt.a` (for
/// `--runtime-dir`) when its content changed: every build of one test run links the same
/// runtime even if rt/ is edited meanwhile, and an unchanged runtime keeps its cache.
fn snapshot_runtime(target: &Target, dir: &Path) -> Result<PathBuf> {
    let lib = wafer::runtime::library(target)?;
    let copy = dir.join(&target.triple).join("libwafer_rt.a");
    let bytes = std::fs::read(&lib)?;
    if std::fs::read(&copy).ok().as_deref() != Some(&bytes[..]) {
        std::fs::create_dir_all(copy.parent().expect("has a parent"))?;
        let partial = copy.with_extension("partial");
        std::fs::write(&partial, &bytes)?;
        std::fs::rename(&partial, &copy)?;
    }
    Ok(dir.to_path_buf())
}

/// The engine's options for one target: everything before `--`.
fn engine_options(
    target: &Target,
    cache: &Path,
    runtime: &Path,
    dirs: &[&Path],
    net: &[&str],
) -> Result<Vec<String>> {
    let mut args = vec![
        "--target".to_string(),
        target.short.clone(),
        "--cache".into(),
        utf8(cache)?.into(),
        "--runtime-dir".into(),
        utf8(runtime)?.into(),
    ];
    for dir in dirs {
        args.push("--dir".into());
        args.push(utf8(dir)?.into());
    }
    for grant in net {
        args.push("--net".into());
        args.push(grant.to_string());
    }
    Ok(args)
}

/// Builds every module into the cache (`--build-only`), `jobs` engines at a time, and removes
/// older cache generations of this target. A module that does not build is left to fail its
/// runs (the engine tries again and prints why); the errors are returned for the report.
fn prebuild(
    config: &Config,
    cache: &Path,
    batches: &[(Vec<String>, Vec<PathBuf>)],
) -> Result<Vec<String>> {
    let results = parallel(batches, config.jobs, |(options, modules)| {
        Command::new(ENGINE)
            .args(options)
            .arg("--build-only")
            .arg("--")
            .args(modules)
            .output()
    });
    let mut keep = Vec::new();
    let mut errors = Vec::new();
    for out in results {
        let out = out.context("running wali-engine")?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            errors.extend(
                stderr
                    .lines()
                    .filter(|l| l.starts_with("wali-engine: error: building"))
                    .map(String::from),
            );
        }
        let generation = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if generation.as_os_str().is_empty() {
            bail!(
                "wali-engine --build-only failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        keep.push(generation);
    }
    for entry in std::fs::read_dir(cache)? {
        let path = entry?.path();
        if path.is_dir() && !keep.contains(&path) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    Ok(errors)
}

/// Splits `modules` into `n` batches of about equal total size.
fn balance(mut modules: Vec<PathBuf>, n: usize) -> Vec<Vec<PathBuf>> {
    modules.sort_by_key(|m| std::cmp::Reverse(std::fs::metadata(m).map_or(0, |m| m.len())));
    let mut batches: Vec<(u64, Vec<PathBuf>)> = vec![(0, Vec::new()); n.max(1)];
    for m in modules {
        let size = std::fs::metadata(&m).map_or(0, |m| m.len());
        let lightest = batches.iter_mut().min_by_key(|(s, _)| *s).expect("n >= 1");
        lightest.0 += size;
        lightest.1.push(m);
    }
    batches
        .into_iter()
        .map(|(_, b)| b)
        .filter(|b| !b.is_empty())
        .collect()
}

#[derive(serde::Serialize)]
struct EnginesFile {
    engines: Vec<EngineEntry>,
}

#[derive(serde::Serialize)]
struct EngineEntry {
    name: String,
    command: String,
    args: Vec<String>,
}

/// Outcome of an app check.
struct AppResult {
    id: &'static str,
    passed: bool,
    detail: String,
}

/// Everything one target produced.
struct TargetResult {
    runs: Vec<Run>,
    /// Unit tests the runner did not report (it stopped early).
    not_run: Vec<String>,
    apps: Vec<AppResult>,
    runner_note: Option<String>,
    /// Native sides or modules that did not build.
    notes: Vec<String>,
}

/// Matches `actual` against `expected`, where `<seconds>` in an expected line stands for a
/// decimal number.
fn output_matches(expected: &str, actual: &str) -> bool {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    e.len() == a.len()
        && e.iter()
            .zip(&a)
            .all(|(e, a)| match e.split_once("<seconds>") {
                None => e == a,
                Some((prefix, suffix)) => a
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .is_some_and(|number| number.parse::<f64>().is_ok()),
            })
}

fn run_app(config: &Config, app: &App, options: &[String], dir: &Path) -> Result<AppResult> {
    let expected = std::fs::read_to_string(workspace().join("tests/wali/expect").join(app.expect))?;
    let wasm = config.material.join("apps").join(app.dir).join(app.wasm);
    let empty_env = dir.join("empty.env");
    std::fs::write(&empty_env, "")?;
    let out = run_bounded(
        Command::new(ENGINE)
            .current_dir(dir)
            .args(options)
            .arg("--")
            .arg(&wasm)
            .arg(&empty_env)
            .args(app.args),
        APP_TIMEOUT,
    )?;
    let status = match out.status {
        None => format!("timed out after {}s", APP_TIMEOUT.as_secs()),
        Some(s) => format!("{s}"),
    };
    let passed = out.status.is_some_and(|s| s.success()) && output_matches(&expected, &out.stdout);
    let tail = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n      | ")
    };
    Ok(AppResult {
        id: app.id,
        passed,
        detail: format!(
            "{status}\n      stdout:\n      | {}\n      stderr:\n      | {}",
            tail(&out.stdout),
            tail(&out.stderr)
        ),
    })
}

fn run_target(
    config: &Config,
    target: &Target,
    tests: &[String],
    apps: &[&App],
) -> Result<TargetResult> {
    check_tools(target)?;
    let name = target.short.clone();
    let base = workspace().join("target/wali").join(&name);
    let started = Instant::now();
    let native_run = native_run()?;
    let natives = base.join("native");
    let unbuilt = build_natives(config, target, tests, &natives)?;
    let natives_took = started.elapsed();

    // The scratch copy the runner works in (tests create their fixtures in it and in /tmp).
    let scratch = base.join("tests");
    remove_tree(&scratch)?;
    let suite = config.material.join("tests");
    for part in ["unit", "common", "bin/unit/wasm"] {
        copy_tree(&suite.join(part), &scratch.join(part))?;
    }
    for file in ["run_tests.py", "Makefile", "README.md"] {
        std::fs::copy(suite.join(file), scratch.join(file))?;
    }
    let elf = scratch.join("bin/unit/elf");
    std::fs::create_dir_all(&elf)?;
    let log = base.join("native.log");
    std::fs::write(&log, "")?;
    let emulator: Vec<&str> = target.run_prefix().iter().map(String::as_str).collect();
    for test in tests.iter().filter(|t| !unbuilt.contains_key(*t)) {
        let real = natives.join(test);
        let mut words = vec![utf8(&native_run)?, utf8(&log)?, test.as_str()];
        words.extend(&emulator);
        words.push(utf8(&real)?);
        write_script(&elf.join(test), &words)?;
        let hooks = natives.join(format!("{test}_hooks"));
        if target.is_host() {
            std::fs::copy(&hooks, elf.join(format!("{test}_hooks")))?;
        } else {
            let mut words = emulator.clone();
            words.push(utf8(&hooks)?);
            write_script(&elf.join(format!("{test}_hooks")), &words)?;
        }
    }

    // Every module built once (the runner's wasm runs then only hit the cache).
    let cache = workspace().join("target/wali-cache").join(&name);
    std::fs::create_dir_all(&cache)?;
    let runtime_started = Instant::now();
    let runtime = snapshot_runtime(target, &base.join("runtime"))?;
    let runtime_took = runtime_started.elapsed();
    let tmp = Path::new("/tmp");
    // What the fixtures need: the scratch directory and /tmp, and sockets (TCP and UDP on
    // ports the kernel picks, IPv6, Unix: only `all` covers them).
    let unit_options = engine_options(target, &cache, &runtime, &[&scratch, tmp], &["all"])?;
    let modules: Vec<PathBuf> = tests
        .iter()
        .map(|t| scratch.join(format!("bin/unit/wasm/{t}.wasm")))
        .collect();
    let mut batches: Vec<(Vec<String>, Vec<PathBuf>)> = Vec::new();
    let mut app_options = BTreeMap::new();
    for app in apps {
        let dir = base.join("apps").join(app.dir);
        if !app_options.contains_key(app.dir) {
            remove_tree(&dir)?;
            std::fs::create_dir_all(&dir)?;
            let options = engine_options(target, &cache, &runtime, &[&dir, tmp], &[])?;
            let wasm = config.material.join("apps").join(app.dir).join(app.wasm);
            batches.push((options.clone(), vec![wasm]));
            app_options.insert(app.dir, (options, dir));
        }
        let (_, dir) = &app_options[app.dir];
        for file in app.files {
            use std::os::unix::fs::PermissionsExt;
            let dest = dir.join(file);
            std::fs::copy(config.material.join("apps").join(app.dir).join(file), &dest)?;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644))?;
        }
    }
    for batch in balance(modules, config.jobs) {
        batches.push((unit_options.clone(), batch));
    }
    let build_errors = prebuild(config, &cache, &batches)?;
    let builds_took = started.elapsed() - natives_took - runtime_took;

    let mut args = unit_options;
    args.extend(["--", "{wasm_file}", "{env_file}", "{args}"].map(String::from));
    let engines = EnginesFile {
        engines: vec![EngineEntry {
            name: format!("wafer-{name}"),
            command: ENGINE.to_string(),
            args,
        }],
    };
    std::fs::write(scratch.join("engines.toml"), toml::to_string(&engines)?)?;

    let run_started = Instant::now();
    let (runs, not_run, runner_note) = if tests.is_empty() {
        (Vec::new(), Vec::new(), None)
    } else {
        run_runner(config, &scratch, tests, &base, &log)?
    };
    let runner_took = run_started.elapsed();
    let mut notes = Vec::new();
    for (test, error) in &unbuilt {
        notes.push(format!("native side of {test} does not build: {error}"));
    }
    if !build_errors.is_empty() {
        // The first lines say it all (one broken runtime fails every module the same way).
        let shown: Vec<&str> = build_errors.iter().take(4).map(String::as_str).collect();
        notes.push(format!(
            "{} wafer builds failed (their runs fail); first errors:\n    {}",
            build_errors.len(),
            shown.join("\n    ")
        ));
    }

    let apps_started = Instant::now();
    let mut app_results = Vec::new();
    for app in apps {
        let (options, dir) = &app_options[app.dir];
        app_results.push(run_app(config, app, options, dir)?);
    }
    println!(
        "wali {name}: natives {:.1?}, runtime {:.1?}, wafer builds {:.1?}, runner {:.1?}, apps {:.1?}",
        natives_took,
        runtime_took,
        builds_took,
        runner_took,
        apps_started.elapsed()
    );
    Ok(TargetResult {
        runs,
        not_run,
        apps: app_results,
        runner_note,
        notes,
    })
}

/// Runs the upstream runner in `scratch` on `tests`, bounded by the configured timeout, and
/// reads its report together with the native records in `log`: the runs, the tests it never
/// reported, and why it stopped early if it did.
fn run_runner(
    config: &Config,
    scratch: &Path,
    tests: &[String],
    base: &Path,
    log: &Path,
) -> Result<(Vec<Run>, Vec<String>, Option<String>)> {
    // The runner itself, unchanged. A test may signal its whole process group (kill(0, ..)):
    // the runner catches those signals instead of dying of them (handlers, unlike ignored
    // signals, are not inherited by the programs it starts).
    const PRELUDE: &str = "import runpy, signal, sys\n\
        for s in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGHUP):\n    \
            signal.signal(s, lambda *_: None)\n\
        sys.argv = ['run_tests.py'] + sys.argv[1:]\n\
        runpy.run_path('run_tests.py', run_name='__main__')\n";
    let mut runner = Command::new("python3");
    runner
        .current_dir(scratch)
        .args(["-c", PRELUDE, "--config", "engines.toml"]);
    if config.filter.is_some() {
        runner.arg("-f").args(tests);
    }
    let out = run_bounded(&mut runner, config.timeout)?;
    std::fs::write(base.join("runner-output.txt"), &out.stdout)?;
    let parsed = parse_runner_output(&out.stdout);
    let natives_log = parse_native_log(&std::fs::read_to_string(log)?);
    let runs = runs(&parsed, &natives_log);
    let reported: Vec<&str> = parsed.suites.iter().map(|s| s.test.as_str()).collect();
    let not_run: Vec<String> = tests
        .iter()
        .filter(|t| !reported.contains(&t.as_str()))
        .cloned()
        .collect();
    let runner_note = match (out.status, parsed.summary) {
        (None, _) => Some(format!(
            "the runner was stopped after {}s (WAFER_WALI_TIMEOUT)",
            config.timeout.as_secs()
        )),
        (Some(_), Some(_)) if not_run.is_empty() => None,
        (Some(status), _) => Some(format!(
            "the runner ended early ({status}); its stderr:\n{}",
            out.stderr.trim_end()
        )),
    };
    Ok((runs, not_run, runner_note))
}

/// `a#1 a#2 a#3` as `a#1-3`, and so on.
fn run_list(runs: &[&Run]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < runs.len() {
        let mut j = i;
        while j + 1 < runs.len()
            && runs[j + 1].test == runs[i].test
            && runs[j + 1].index == runs[j].index + 1
        {
            j += 1;
        }
        out.push(if i == j {
            runs[i].id()
        } else {
            format!("{}-{}", runs[i].id(), runs[j].index)
        });
        i = j + 1;
    }
    out.join(" ")
}

fn main() -> ExitCode {
    // libtest flags that `cargo test` may pass are ignored: configuration is the environment.
    let material = std::env::var_os("WAFER_WALI")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/wali"));
    if !material.join("tests/run_tests.py").is_file() {
        println!(
            "wali suite skipped: no WALI material at $WAFER_WALI or <workspace>/../shared/wali"
        );
        println!("0 passed, 0 failed");
        return ExitCode::SUCCESS;
    }
    match suite(material) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wali: {e:#}");
            println!("0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}

fn suite(material: PathBuf) -> Result<ExitCode> {
    let material = material.canonicalize().unwrap_or(material);
    let config = config(material)?;
    let all_tests = unit_tests(&config.material)?;
    let app_ids: Vec<&str> = APPS.iter().map(|a| a.id).collect();
    let list_path = workspace().join("tests/wali-known-failures.toml");
    let shorts: Vec<String> = Target::all().into_iter().map(|t| t.short).collect();
    let sections: Vec<&str> = shorts.iter().map(String::as_str).collect();
    let known = KnownFailures::parse(
        &std::fs::read_to_string(&list_path)
            .with_context(|| format!("reading {}", list_path.display()))?,
        &sections,
        &|g| all_tests.iter().any(|t| t == g) || app_ids.contains(&g),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", list_path.display()))?;

    let (tests, apps): (Vec<String>, Vec<&App>) = match &config.filter {
        None => (all_tests.clone(), APPS.iter().collect()),
        Some(filter) => {
            for name in filter {
                if !all_tests.contains(name) && !app_ids.contains(&name.as_str()) {
                    bail!("WAFER_WALI_FILTER: no unit test or app check `{name}`");
                }
            }
            (
                all_tests
                    .iter()
                    .filter(|t| filter.contains(t))
                    .cloned()
                    .collect(),
                APPS.iter()
                    .filter(|a| filter.iter().any(|f| f == a.id))
                    .collect(),
            )
        }
    };

    let mut items: Vec<Item> = Vec::new();
    let mut passed = 0usize;
    // Failures that are not known ones: runs, app checks, stale entries, harness errors.
    let mut failed = 0usize;
    let mut per_target: Vec<(String, Result<TargetResult>)> = Vec::new();
    for target in &config.targets {
        let result = if tests.is_empty() && apps.is_empty() {
            Err(anyhow::anyhow!("nothing to run"))
        } else {
            run_target(&config, target, &tests, &apps)
        };
        per_target.push((target.short.clone(), result));
    }
    for (name, result) in &per_target {
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                println!("wali {name}: {e:#}");
                failed += 1;
                continue;
            }
        };
        for run in &result.runs {
            items.push(Item {
                target: name.clone(),
                group: run.test.clone(),
                id: run.id(),
                failing: run.is_failure(),
            });
        }
        for app in &result.apps {
            items.push(Item {
                target: name.clone(),
                group: app.id.to_string(),
                id: app.id.to_string(),
                failing: !app.passed,
            });
        }
    }
    let judgement = judge(&known, &items);

    let mut item = 0usize;
    let mut known_count = 0usize;
    for (name, result) in &per_target {
        let Ok(result) = result else { continue };
        let runs = &result.runs;
        let baseline_passed = runs
            .iter()
            .filter(|r| r.baseline == Baseline::Passed)
            .count();
        let matched = runs.iter().filter(|r| r.matched).count();
        let matched_passing = runs
            .iter()
            .filter(|r| r.matched && r.baseline == Baseline::Passed)
            .count();
        let mut explained: BTreeMap<usize, Vec<&Run>> = BTreeMap::new();
        let mut unexplained: Vec<&Run> = Vec::new();
        for run in runs {
            if run.is_failure() {
                match judgement.explained.get(&item).copied().flatten() {
                    Some(e) => explained.entry(e).or_default().push(run),
                    None => unexplained.push(run),
                }
            }
            item += 1;
        }
        let not_comparable: Vec<&Run> = runs
            .iter()
            .filter(|r| !r.matched && !r.is_failure())
            .collect();
        let failing = explained.values().map(Vec::len).sum::<usize>() + unexplained.len();
        println!(
            "wali {name}: {} runs, native baseline passed in {baseline_passed}, {matched} matched \
             ({matched_passing} of them with a passing baseline); {failing} failing: {} known, {} unexplained",
            runs.len(),
            failing - unexplained.len(),
            unexplained.len(),
        );
        passed += matched;
        known_count += failing - unexplained.len();
        // One line per reason (many entries share one).
        let mut by_reason: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
        for (e, runs) in &explained {
            by_reason
                .entry(&known.entries[*e].reason)
                .or_default()
                .extend(runs);
        }
        for (reason, mut runs) in by_reason {
            runs.sort_by(|a, b| (&a.test, a.index).cmp(&(&b.test, b.index)));
            println!("  known ({reason}): {}", run_list(&runs));
        }
        for run in &unexplained {
            let failure = run.failure.clone().unwrap_or_default();
            let baseline = if run.baseline == Baseline::Unknown {
                " (native baseline unknown)"
            } else {
                ""
            };
            println!(
                "  FAILED {}{baseline}: {} {}",
                run.id(),
                failure.reason,
                failure.args
            );
            let tail = &failure.wasm_output[failure.wasm_output.len().saturating_sub(6)..];
            for line in tail {
                println!("      | {line}");
            }
            failed += 1;
        }
        if !not_comparable.is_empty() {
            println!(
                "  not counted (mismatch against a failing native baseline): {}",
                not_comparable
                    .iter()
                    .map(|r| format!(
                        "{} ({})",
                        r.id(),
                        match &r.baseline {
                            Baseline::Failed(why) => why.as_str(),
                            _ => "",
                        }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !result.not_run.is_empty() {
            println!("  NOT RUN: {}", result.not_run.join(" "));
            failed += result.not_run.len();
        }
        for note in &result.notes {
            println!("  {note}");
        }
        if let Some(note) = &result.runner_note {
            println!("  {note}");
            failed += 1;
        }
        for app in &result.apps {
            if app.passed {
                passed += 1;
                println!("  {} ok", app.id);
            } else {
                match judgement.explained.get(&item).copied().flatten() {
                    Some(e) => {
                        known_count += 1;
                        println!("  {} failed, known: {}", app.id, known.entries[e].reason);
                        println!("      {}", app.detail.lines().next().unwrap_or(""));
                    }
                    None => {
                        println!("  {} FAILED: {}", app.id, app.detail);
                        failed += 1;
                    }
                }
            }
            item += 1;
        }
    }
    for &e in &judgement.stale {
        let entry = &known.entries[e];
        println!(
            "wali: [{}] \"{}\" passes now: fixed, remove it from tests/wali-known-failures.toml",
            entry.section, entry.key
        );
        failed += 1;
    }
    println!("{passed} passed, {failed} failed, {known_count} known failures");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
