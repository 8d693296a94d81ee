//! The `wafer` command line.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wafer::{BuildOptions, Target};
use wafer_abi::{BoundsChecks, MAX_WASM_PAGES};

#[derive(Parser)]
#[command(
    name = "wafer",
    version,
    about = "Compile WebAssembly drivers ahead of time into sandboxed native executables"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a .wasm or .wat module into a native executable.
    Build {
        input: PathBuf,
        /// Output path (default: the input's name without extension).
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        options: BuildArgs,
    },
    /// Build into a cache and run, passing the arguments after `--` to the guest.
    Run {
        input: PathBuf,
        #[command(flatten)]
        options: BuildArgs,
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Measure a driver's startup beside the other WebAssembly runtimes found here.
    ///
    /// Builds the driver as `wafer build` does, checks that every other runtime (wasmtime on
    /// the .wasm and on a precompiled .cwasm; WAMR's iwasm, also on wamrc AOT code; node's WASI
    /// for preview1 core modules) prints the same stdout and exit status, then times them all
    /// in interleaved rounds. Two figures per runtime: exec to exit, and exec to first output,
    /// the time until the first byte arrives on the child's stdout pipe, taken by this process
    /// whatever the runtime; for a driver whose first host call writes, that is exec to its
    /// first host call: the I2C cold path (start, one device call, exit) that the NOMS 2025
    /// WASI-USB paper measured and found dominated by runtime initialisation.
    /// With --target/--board for another architecture the executable runs under qemu-user;
    /// with --ssh it is also timed on the board, by a small helper running there.
    Bench {
        input: PathBuf,
        #[command(flatten)]
        options: BuildArgs,
        #[command(flatten)]
        bench: BenchArgs,
        /// The guest's arguments.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Show a module's imports (and whether wafer provides them), exports, memories and
    /// tables, or the capabilities a built executable was granted.
    Inspect { input: PathBuf },
    /// List the targets and boards wafer compiles for.
    Targets,
}

#[derive(Args, Clone)]
struct BuildArgs {
    /// Target triple or short name (x86_64, aarch64, riscv64).
    #[arg(long)]
    target: Option<String>,
    /// Board or CPU profile (rpi4, rpi5, visionfive2, spacemit-k1, x86-64-v2, x86-64-v3; `wafer
    /// targets` lists them): its target, and the CPU features the code may use.
    #[arg(long, conflicts_with = "target")]
    board: Option<String>,
    /// CPU features to add or remove, on top of the board's or the target's baseline:
    /// comma-separated +NAME (with the features it needs), -NAME (with those that need it) or
    /// native (this machine's CPU). `wafer targets` lists the names per target.
    #[arg(long, value_name = "+NAME,-NAME,native", allow_hyphen_values = true)]
    cpu_features: Option<String>,
    /// How linear-memory accesses are checked.
    #[arg(long, value_enum, default_value_t = BoundsMode::Guard)]
    bounds_checks: BoundsMode,
    /// Cap on linear memory in 64 KiB pages, whatever the module declares.
    #[arg(long, default_value_t = MAX_WASM_PAGES as u32, value_parser = clap::value_parser!(u32).range(0..=MAX_WASM_PAGES as i64))]
    max_memory_pages: u32,
    /// Native stack for wasm code on each thread, in KiB (default 1024, or 4096 for WALI
    /// programs).
    #[arg(long, value_name = "KIB", value_parser = clap::value_parser!(u64).range(64..=1048576))]
    stack_kib: Option<u64>,
    /// Link against the system's shared C library instead of statically.
    #[arg(long, conflicts_with = "static_link")]
    dynamic: bool,
    /// Link statically (the default).
    #[arg(long = "static")]
    static_link: bool,
    /// The C library the executable carries: glibc from the target's gcc (the default), or
    /// musl from Rust's musl target (smaller, faster to start; static only; its runtime's C
    /// part is compiled with zig).
    #[arg(long, value_enum, default_value_t = LibcArg::Glibc)]
    libc: LibcArg,
    /// Grant a host directory, read-write: HOST or HOST::GUEST (the guest's name for it).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Grant a host directory, read-only: HOST or HOST::GUEST.
    #[arg(long = "ro-dir", value_name = "HOST[::GUEST]")]
    ro_dirs: Vec<String>,
    /// Grant an environment variable: KEY=VALUE (fixed now) or KEY (its value where the
    /// executable runs).
    #[arg(long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,
    /// Grant an I2C bus: LABEL=DEVICE:ADDR[,ADDR...][:ro] (e.g. sensors=/dev/i2c-1:0x76,0x77).
    /// The driver opens it by LABEL and reaches only those addresses.
    #[arg(long = "i2c", value_name = "LABEL=DEVICE:ADDRS[:ro]")]
    i2c: Vec<String>,
    /// Grant the USB devices with this vendor and product id (4 hex digits each), optionally
    /// only some interfaces and endpoints: VID:PID[:if=N[,N...]][:ep=0xNN[,0xNN...]]
    /// (e.g. 2341:8057:if=0:ep=0x81,0x01). Other devices are invisible to the driver.
    #[arg(long = "usb", value_name = "VID:PID[:if=..][:ep=..]")]
    usb: Vec<String>,
    /// Grant a WALI program sockets: tcp-connect:PORT[,PORT...] (TCP connections to these
    /// ports), tcp-bind:PORT[,PORT...] (listening on them; 0: a port the kernel picks), unix
    /// (Unix-domain sockets) or all (every socket). Without it only socketpair works.
    #[arg(long = "net", value_name = "tcp-connect:PORTS|tcp-bind:PORTS|unix|all")]
    net: Vec<String>,
    /// Run a WALI program with the authority of the user running it: no Landlock, no
    /// seccomp filter (shown by `wafer inspect`).
    #[arg(long, conflicts_with = "net")]
    wali_unrestricted: bool,
    /// WALI programs: run signal handlers only when a syscall returns, leaving out the checks
    /// at function entries and loop headers (a CPU-bound loop then runs on until its next
    /// syscall). For measuring what the checks cost.
    #[arg(long)]
    no_signal_safe_points: bool,
    /// For a module without an entry point that exports WIT functions (a library-style
    /// guest built with wit-bindgen): the call the executable makes, `name(arg, ...)` with
    /// WAVE-syntax arguments (`"text"`, `42`, `[1, 2]`, `{field: 1}`, `some(x)`, ...); an
    /// `i2c` parameter takes the label of a bus granted with --i2c, a `delay` parameter any
    /// name. The executable prints the result in WAVE syntax.
    #[arg(long, value_name = "CALL")]
    invoke: Option<String>,
    /// Link wafer's WASI module, WASI preview1 written in wasm over WALI, into the
    /// executable instead of the runtime's native WASI host: WASI's logic (descriptors,
    /// rights, path resolution) then runs sandboxed as wasm, the runtime serves it only
    /// syscalls, and the kernel sandbox of a WALI program applies underneath. Same grants,
    /// same behaviour (see README, "WASI over WALI").
    #[arg(long)]
    wasi_over_wali: bool,
}

#[derive(Args, Clone)]
struct BenchArgs {
    /// Timed runs per runtime.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Untimed runs per runtime first.
    #[arg(long, default_value_t = 10)]
    warmup: u32,
    /// Print the results as JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Also draw both measurements as bars in an SVG file.
    #[arg(long, value_name = "OUT.svg")]
    chart: Option<PathBuf>,
    /// The runtimes to set beside wafer, comma-separated (default: all of wasmtime,
    /// wasmtime-precompiled, iwasm, iwasm-aot, node).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    runtimes: Vec<String>,
    /// Also measure on a board over ssh: copies the executable there and times it (and
    /// wasmtime, if the board has it) with the board's clock.
    #[arg(long, value_name = "USER@HOST")]
    ssh: Option<String>,
    /// The board's ssh port.
    #[arg(long, requires = "ssh")]
    ssh_port: Option<u16>,
    /// The directory on the board the files go to (default /tmp/wafer-bench).
    #[arg(long, requires = "ssh", value_name = "DIR")]
    ssh_dir: Option<String>,
    /// The private key ssh logs in with.
    #[arg(long, requires = "ssh", value_name = "FILE")]
    ssh_identity: Option<PathBuf>,
    /// An ssh option (`-o`), such as StrictHostKeyChecking=no; repeatable.
    #[arg(long = "ssh-option", requires = "ssh", value_name = "OPTION")]
    ssh_options: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LibcArg {
    Glibc,
    Musl,
}

#[derive(Clone, Copy, ValueEnum)]
enum BoundsMode {
    /// A guard region makes out-of-bounds accesses fault: no checks in the code.
    Guard,
    /// Compare every access with the memory's size.
    Explicit,
}

impl BuildArgs {
    fn options(&self) -> Result<BuildOptions> {
        let mut target = match (&self.target, &self.board) {
            (_, Some(board)) => wafer::target::Board::find(board)?.target()?,
            (Some(name), None) => Target::find(name)?,
            (None, None) => Target::host(),
        };
        if let Some(spec) = &self.cpu_features {
            target = target.with_cpu_features(spec)?;
        }
        let target = target.with_libc(match self.libc {
            LibcArg::Glibc => wafer::target::Libc::Glibc,
            LibcArg::Musl if self.dynamic => {
                bail!("--libc musl links statically only: drop --dynamic")
            }
            LibcArg::Musl => wafer::target::Libc::Musl,
        });
        Ok(BuildOptions {
            target,
            bounds_checks: match self.bounds_checks {
                BoundsMode::Guard => BoundsChecks::Guard,
                BoundsMode::Explicit => BoundsChecks::Explicit,
            },
            memory_cap_pages: self.max_memory_pages,
            static_link: !self.dynamic,
            capabilities: self.capabilities()?,
            wasm_stack: self.stack_kib.map(|k| k * 1024),
            signal_safe_points: !self.no_signal_safe_points,
            invoke: self.invoke.clone(),
            wasi_over_wali: self.wasi_over_wali,
        })
    }

    /// `--net` and `--wali-unrestricted` concern WALI programs only (others reach the host
    /// through WASI, which has no sockets): refused for a module importing nothing from `wali`,
    /// where they would only mislead.
    fn check_wali_grants(&self, wasm: &[u8]) -> Result<()> {
        if self.net.is_empty() && !self.wali_unrestricted {
            return Ok(());
        }
        let imports_wali = wasmparser::Parser::new(0)
            .parse_all(wasm)
            .filter_map(Result::ok)
            .any(|payload| match payload {
                wasmparser::Payload::ImportSection(reader) => reader
                    .into_imports()
                    .filter_map(Result::ok)
                    .any(|i| i.module == wafer_abi::wali::MODULE),
                _ => false,
            });
        if !imports_wali {
            bail!(
                "--net and --wali-unrestricted apply to WALI programs, and this module imports nothing from `{}`",
                wafer_abi::wali::MODULE
            );
        }
        Ok(())
    }

    fn capabilities(&self) -> Result<wafer_abi::capabilities::Capabilities> {
        use wafer_abi::capabilities::{parse_dir_option, parse_env_option, Capabilities};
        let mut caps = Capabilities::default();
        let dirs = self.dirs.iter().map(|d| (d, false));
        for (arg, read_only) in dirs.chain(self.ro_dirs.iter().map(|d| (d, true))) {
            caps.dirs
                .push(parse_dir_option(arg, read_only).map_err(anyhow::Error::msg)?);
        }
        for arg in &self.env {
            caps.env
                .push(parse_env_option(arg).map_err(anyhow::Error::msg)?);
        }
        for arg in &self.i2c {
            caps.i2c
                .push(wafer_abi::capabilities::parse_i2c_option(arg).map_err(anyhow::Error::msg)?);
        }
        for arg in &self.usb {
            caps.usb
                .push(wafer_abi::capabilities::parse_usb_option(arg).map_err(anyhow::Error::msg)?);
        }
        for arg in &self.net {
            caps.net
                .push(wafer_abi::capabilities::parse_net_option(arg).map_err(anyhow::Error::msg)?);
        }
        caps.wali_unrestricted = self.wali_unrestricted;
        caps.validate().map_err(anyhow::Error::msg)?;
        Ok(caps)
    }
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("wafer: error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Build {
            input,
            output,
            options,
        } => {
            let wasm = wafer::load_module(&input)?;
            options.check_wali_grants(&wasm)?;
            let out = output.unwrap_or_else(|| default_output(&input));
            wafer::build_executable(&wasm, &out, &options.options()?)?;
            Ok(0)
        }
        Command::Run {
            input,
            options,
            args,
        } => {
            let wasm = wafer::load_module(&input)?;
            options.check_wali_grants(&wasm)?;
            let opts = options.options()?;
            let exe = cached_build(&wasm, &opts)?;
            exec(&exe, &input, &opts.target, &args)
        }
        Command::Bench {
            input,
            options,
            bench,
            args,
        } => {
            let wasm = wafer::load_module(&input)?;
            options.check_wali_grants(&wasm)?;
            let config = wafer::bench::Config {
                input,
                runs: bench.runs as usize,
                warmup: bench.warmup as usize,
                json: bench.json,
                chart: bench.chart,
                runtimes: bench.runtimes,
                ssh: bench.ssh.map(|dest| wafer::bench::ssh::Remote {
                    dest,
                    port: bench.ssh_port,
                    dir: bench.ssh_dir,
                    identity: bench.ssh_identity,
                    options: bench.ssh_options,
                }),
                args,
            };
            wafer::bench::run(&wasm, &options.options()?, &config)
        }
        Command::Inspect { input } => {
            print!("{}", wafer::inspect::describe_file(&input)?);
            Ok(0)
        }
        Command::Targets => {
            print!("{}", wafer::target::listing());
            Ok(0)
        }
    }
}

fn default_output(input: &Path) -> PathBuf {
    let stem = input.file_stem().unwrap_or(input.as_os_str());
    input.with_file_name(stem)
}

/// Builds into `~/.cache/wafer/run/<key>` unless an executable for the same module, options,
/// wafer version and runtime is already there.
fn cached_build(wasm: &[u8], opts: &BuildOptions) -> Result<PathBuf> {
    let runtime = wafer::runtime::library(&opts.target)?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    wasm.hash(&mut hasher);
    format!("{opts:?}").hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    std::fs::metadata(&runtime)?.modified()?.hash(&mut hasher);
    std::fs::metadata(std::env::current_exe()?)?
        .modified()?
        .hash(&mut hasher);
    let dir = cache_dir()?.join("run");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let exe = dir.join(format!("{:016x}", hasher.finish()));
    if !exe.exists() {
        let partial = dir.join(format!(
            "{:016x}.{}.tmp",
            hasher.finish(),
            std::process::id()
        ));
        wafer::build_executable(wasm, &partial, opts)?;
        std::fs::rename(&partial, &exe)?;
    }
    Ok(exe)
}

fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("wafer"));
    }
    match std::env::var_os("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("wafer")),
        None => bail!("neither XDG_CACHE_HOME nor HOME is set: no place for the build cache"),
    }
}

/// Runs the executable (through the target's emulator when this machine's CPU cannot: another
/// architecture, or features it lacks) and returns its exit status; a death by signal is
/// reported like a shell does (128 + signal).
fn exec(exe: &Path, input: &Path, target: &Target, args: &[String]) -> Result<i32> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let emulator = target.run_prefix();
    let mut cmd = match emulator.split_first() {
        None => {
            let mut c = std::process::Command::new(exe);
            // The guest sees the module's name as argv[0], as it would under other runtimes.
            c.arg0(input.as_os_str());
            c
        }
        Some((program, rest)) => {
            let mut c = std::process::Command::new(program);
            c.args(rest).arg(exe);
            c
        }
    };
    let status = match cmd.args(args).status() {
        Ok(status) => status,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !emulator.is_empty() => bail!(
            "`{}` is needed to run {} executables on this machine: install the Debian package `{}`",
            emulator[0],
            target.name(),
            target.runner_package
        ),
        Err(e) => return Err(e).with_context(|| format!("running {}", exe.display())),
    };
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}
