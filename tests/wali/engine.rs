//! `wali-engine`: wafer as a wasm engine for the upstream WALI test runner (`run_tests.py`),
//! which calls an engine as `<command> <args...>` from a TOML template (`tests/wali.rs` writes
//! it; see tests/wali/README.md).
//!
//! ```text
//! wali-engine [OPTIONS] -- WASM ENV_FILE [ARGS...]
//! wali-engine [OPTIONS] --build-only -- WASM...
//! ```
//!
//! The first form builds WASM with wafer (the same library call as `wafer build`), unless an
//! executable for the same module, options, engine and runtime is already in the cache, and
//! then replaces itself with that executable, run with ARGS in the current directory and with
//! argv[0] = WASM, as other engines give it. For a target other than this machine it runs
//! under the target's emulator with `WAFER_ALLOW_UNSANDBOXED=1` (the kernel sandbox cannot
//! confine a program inside qemu-user). ENV_FILE holds `KEY=VALUE` lines (the runner's
//! per-run environment): each KEY is granted as a pass-through variable (`wafer build --env
//! KEY`) and set to VALUE for the executable, so the guest's environment is exactly the
//! file's. The second form only fills the cache (trying every module, failing at the end if
//! any failed) and prints the cache directory it used.
//!
//! Options:
//! - `--target NAME`: x86_64, aarch64, riscv64 or a board (default: this machine);
//! - `--dir PATH` (repeatable): grant PATH read-write under its own name (`wafer build --dir`);
//! - `--net GRANT` (repeatable): grant sockets (`wafer build --net`: `all`, `unix`,
//!   `tcp-connect:PORTS`, `tcp-bind:PORTS`);
//! - `--cache DIR`: where executables are kept (default `<workspace>/target/wali-cache`);
//!   they live in `DIR/<generation>/<key>`, the generation naming this engine binary and the
//!   runtime library, the key the module and the build options;
//! - `--runtime-dir DIR`: prebuilt runtime libraries (`DIR/<triple>/libwafer_rt.a`, as
//!   `WAFER_RUNTIME_DIR`), so that every build of a test run links the same runtime even
//!   while rt/ is being edited.
//!
//! Errors are reported on stderr as `wali-engine: error: ...`, with exit status 125.

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use wafer::{BuildOptions, Target};
use wafer_abi::capabilities::{parse_dir_option, parse_net_option, Capabilities, EnvGrant};

/// What the command line asks for.
struct Options {
    target: Target,
    dirs: Vec<String>,
    net: Vec<String>,
    cache: PathBuf,
    build_only: bool,
    /// After `--`: the module and the rest.
    operands: Vec<OsString>,
}

fn parse(args: Vec<OsString>) -> Result<Options> {
    let mut target = None;
    let mut dirs = Vec::new();
    let mut net = Vec::new();
    let mut cache = None;
    let mut build_only = false;
    let mut args = args.into_iter();
    let value = |args: &mut dyn Iterator<Item = OsString>, flag: &str| -> Result<String> {
        args.next()
            .and_then(|v| v.into_string().ok())
            .with_context(|| format!("{flag} needs a (UTF-8) value"))
    };
    loop {
        let Some(arg) = args.next() else {
            bail!("missing `--` before the module (usage: wali-engine [OPTIONS] -- WASM ENV_FILE [ARGS...])");
        };
        match arg.to_str() {
            Some("--") => break,
            Some("--target") => target = Some(Target::resolve(&value(&mut args, "--target")?)?),
            Some("--dir") => dirs.push(value(&mut args, "--dir")?),
            Some("--net") => net.push(value(&mut args, "--net")?),
            Some("--cache") => cache = Some(PathBuf::from(value(&mut args, "--cache")?)),
            Some("--runtime-dir") => {
                // Read by wafer's runtime lookup; set before any other thread exists.
                std::env::set_var("WAFER_RUNTIME_DIR", value(&mut args, "--runtime-dir")?);
            }
            Some("--build-only") => build_only = true,
            _ => bail!("unknown option {arg:?}"),
        }
    }
    Ok(Options {
        target: target.unwrap_or_else(Target::host),
        dirs,
        net,
        cache: cache
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wali-cache")),
        build_only,
        operands: args.collect(),
    })
}

/// The keys and values of an env file: `KEY=VALUE` per line, blank lines ignored.
fn read_env_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => bail!("{}: `{line}` is not KEY=VALUE", path.display()),
        })
        .collect()
}

fn build_options(opts: &Options, env_keys: &[String]) -> Result<BuildOptions> {
    let mut caps = Capabilities::default();
    for dir in &opts.dirs {
        caps.dirs
            .push(parse_dir_option(dir, false).map_err(anyhow::Error::msg)?);
    }
    for grant in &opts.net {
        caps.net
            .push(parse_net_option(grant).map_err(anyhow::Error::msg)?);
    }
    for key in env_keys {
        caps.env.push(EnvGrant::Pass {
            key: key.as_bytes().to_vec(),
        });
    }
    caps.validate().map_err(anyhow::Error::msg)?;
    Ok(BuildOptions {
        target: opts.target.clone(),
        capabilities: caps,
        ..Default::default()
    })
}

/// Size and modification time: enough to tell two builds of a file apart.
fn identity(path: &Path, hasher: &mut DefaultHasher) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    path.hash(hasher);
    meta.len().hash(hasher);
    meta.modified()?.hash(hasher);
    Ok(())
}

/// `cache/<generation>`: one directory per engine binary (which holds the compiler) and
/// runtime library, so a change of either never reuses an executable built before it.
fn generation_dir(opts: &Options) -> Result<PathBuf> {
    let mut hasher = DefaultHasher::new();
    identity(&std::env::current_exe()?, &mut hasher)?;
    identity(&wafer::runtime::library(&opts.target)?, &mut hasher)?;
    Ok(opts.cache.join(format!("{:016x}", hasher.finish())))
}

/// The cached executable for `wasm` built with `build`, building it first when missing.
fn cached_build(generation: &Path, wasm_path: &Path, build: &BuildOptions) -> Result<PathBuf> {
    let wasm = wafer::load_module(wasm_path)?;
    let mut hasher = DefaultHasher::new();
    wasm.hash(&mut hasher);
    format!("{build:?}").hash(&mut hasher);
    let key = format!("{:016x}", hasher.finish());
    let exe = generation.join(&key);
    if exe.exists() {
        return Ok(exe);
    }
    std::fs::create_dir_all(generation)
        .with_context(|| format!("creating {}", generation.display()))?;
    // Built aside and renamed, so a concurrent or interrupted build never leaves half a file.
    let partial = generation.join(format!("{key}.{}.tmp", std::process::id()));
    wafer::build_executable(&wasm, &partial, build)
        .with_context(|| format!("building {}", wasm_path.display()))?;
    std::fs::rename(&partial, &exe)?;
    Ok(exe)
}

fn run(opts: Options) -> Result<()> {
    let generation = generation_dir(&opts)?;
    if opts.build_only {
        // Every module is tried; the failures are reported together.
        let build = build_options(&opts, &[])?;
        let mut failed = 0;
        for wasm in &opts.operands {
            if let Err(e) = cached_build(&generation, Path::new(wasm), &build) {
                eprintln!("wali-engine: error: {e:#}");
                failed += 1;
            }
        }
        println!("{}", generation.display());
        if failed > 0 {
            bail!(
                "{failed} of {} modules failed to build",
                opts.operands.len()
            );
        }
        return Ok(());
    }
    let [wasm, env_file, args @ ..] = &opts.operands[..] else {
        bail!("usage: wali-engine [OPTIONS] -- WASM ENV_FILE [ARGS...]");
    };
    let env = read_env_file(Path::new(env_file))?;
    let keys: Vec<String> = env.iter().map(|(k, _)| k.clone()).collect();
    let exe = cached_build(&generation, Path::new(wasm), &build_options(&opts, &keys)?)?;
    let mut cmd = match opts.target.run_prefix() {
        [] => {
            let mut cmd = Command::new(&exe);
            cmd.arg0(wasm);
            cmd
        }
        [emulator, emulator_args @ ..] => {
            let mut cmd = Command::new(emulator);
            cmd.args(emulator_args).arg("-0").arg(wasm).arg(&exe);
            // The kernel sandbox (seccomp, Landlock) would confine the emulator rather than the
            // program, so the runtime refuses to start under qemu-user unless told to run
            // without it: what is tested on these targets is the syscall layer, not the sandbox.
            cmd.env("WAFER_ALLOW_UNSANDBOXED", "1");
            cmd
        }
    };
    cmd.args(args).envs(env);
    let err = cmd.exec();
    Err(err).with_context(|| format!("running {}", exe.display()))
}

fn main() {
    let result = parse(std::env::args_os().skip(1).collect()).and_then(run);
    if let Err(e) = result {
        eprintln!("wali-engine: error: {e:#}");
        std::process::exit(125);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_key_value_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.env");
        std::fs::write(&file, "A=foo\nEMPTY=\n\nB=x=y\n").unwrap();
        let env = read_env_file(&file).unwrap();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        assert_eq!(pairs, [("A", "foo"), ("EMPTY", ""), ("B", "x=y")]);
        std::fs::write(&file, "no-equals\n").unwrap();
        assert!(read_env_file(&file).is_err());
    }

    #[test]
    fn options_stop_at_the_separator() {
        let args = ["--dir", "/tmp", "--build-only", "--", "a.wasm", "--dir"];
        let opts = parse(args.iter().map(OsString::from).collect()).unwrap();
        assert_eq!(opts.dirs, ["/tmp"]);
        assert!(opts.build_only);
        assert_eq!(opts.operands, [OsString::from("a.wasm"), "--dir".into()]);
        assert!(parse(vec!["a.wasm".into()]).is_err());
    }
}
