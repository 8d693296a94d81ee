//! WebAssembly threads end to end: shared memory, atomics and wasi-threads.
//!
//! Differential: the Rust programs in tests/guests/threads-rust, built for
//! wasm32-wasip1-threads and compiled by wafer for x86_64, aarch64 and riscv64, must print and
//! exit exactly like the same source compiled natively for that target by cargo (statically
//! linked; both sides run under qemu-user off the host's architecture).
//!
//! Edges: a worker thread that exits or traps ends the whole process (with its status, or 134
//! and `wasm trap:`) without hanging, and so does main returning while threads still run;
//! spawning past the runtime's thread limit is an error the guest sees, not a crash; WASI
//! calls from many threads at once on a granted directory (on the host only); and two
//! hand-written modules (tests/guests/threads-*.wat) that use wasi-threads and the atomic
//! instructions with no libc in between.
//!
//! scripts/setup.sh installs the wasm32-wasip1-threads and cross Rust targets, the cross gcc
//! and qemu-user these tests need.

mod common;

use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wafer::Target;

const TARGETS: [&str; 3] = ["x86_64", "aarch64", "riscv64"];
const GUESTS: &str = "tests/guests/threads-rust";
/// How long any one run may take before it counts as hung (qemu included).
const TIMEOUT: Duration = Duration::from_secs(120);

/// The guest programs as wasm32-wasip1-threads modules, built once per test process.
fn wasm(program: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_guest_crate(GUESTS, "wasm32-wasip1-threads", None))
        .join(format!("{program}.wasm"))
}

/// The same programs compiled natively for `target`, built once per target.
fn native(target: &Target, program: &str) -> PathBuf {
    static DIRS: [OnceLock<PathBuf>; 3] = [const { OnceLock::new() }; 3];
    let index = TARGETS.iter().position(|t| *t == target.short).unwrap();
    DIRS[index]
        .get_or_init(|| {
            let linker = (!target.is_host()).then(|| target.linker());
            build_guest_crate(GUESTS, &target.triple, linker)
        })
        .join(program)
}

/// `wafer build input --target NAME flags -o dir/stem-NAME`; panics with wafer's message.
fn wafer_build(input: &Path, target: &Target, flags: &[&str], dir: &Path) -> PathBuf {
    let stem = input.file_stem().unwrap().to_string_lossy();
    let exe = dir.join(format!("{stem}-{}", target.short));
    let out = wafer()
        .arg("build")
        .arg(input)
        .args(["--target", &target.short])
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: wafer build {stem} failed: {}",
        target.short,
        text(&out.stderr)
    );
    exe
}

/// Runs `exe` for `target` (under its emulator off the host's architecture), killing it and
/// failing the test if it has not ended within `timeout`.
fn run(target: &Target, exe: &Path, args: &[&str], timeout: Duration) -> Output {
    let mut cmd = match target.run_prefix().split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: running {}: {e}", target.short, exe.display()));
    // Drain both pipes while waiting, so a chatty program cannot block on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "{}: {} {args:?} still running after {timeout:?}: killed",
                target.short,
                exe.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn target(name: &str) -> Target {
    Target::resolve(name).unwrap()
}

/// Builds `program` with wafer and natively for `name`, runs both with `args`, and checks
/// that they print the same and both exit with `status`.
fn differential(name: &str, program: &str, args: &[&str], status: i32) -> Result<(), String> {
    let target = target(name);
    let dir = scratch();
    let exe = wafer_build(&wasm(program), &target, &[], dir.path());
    let under_wafer = run(&target, &exe, args, TIMEOUT);
    let natively = run(&target, &native(&target, program), args, TIMEOUT);
    let (stdout, native_stdout) = (text(&under_wafer.stdout), text(&natively.stdout));
    let problem = if natively.status.code() != Some(status) {
        format!("native exit status {:?}, not {status}", natively.status)
    } else if under_wafer.status.code() != Some(status) {
        format!("exit status {:?}, not {status}", under_wafer.status)
    } else if stdout.is_empty() || stdout != native_stdout {
        "stdout differs".to_owned()
    } else {
        return Ok(());
    };
    Err(format!(
        "{name}: {program} {args:?}: {problem}\n--- wafer stdout:\n{stdout}\n--- native \
         stdout:\n{native_stdout}\n--- wafer stderr:\n{}\n--- native stderr:\n{}",
        text(&under_wafer.stderr),
        text(&natively.stderr)
    ))
}

/// The deterministic programs and their arguments (sized for qemu), each exiting 0.
const PROGRAMS: &[(&str, &[&str])] = &[
    ("parallel-sum", &["4", "200000", "2"]),
    ("parallel-sum", &["3", "100001"]),
    ("mutex-counter", &["20000", "8"]),
    ("channel", &["5000"]),
    ("scope", &[]),
    ("condvar", &["1000"]),
    ("atomics", &["10000"]),
    ("stress", &[]),
    ("detached", &[]),
];

/// Every program, all run even when one fails, so the message lists each that differs.
fn programs_match_native(name: &str) {
    let failures: Vec<String> = PROGRAMS
        .iter()
        .filter_map(|&(program, args)| differential(name, program, args, 0).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn programs_print_and_exit_like_native_on_x86_64() {
    programs_match_native("x86_64");
}

#[test]
fn programs_print_and_exit_like_native_on_aarch64() {
    programs_match_native("aarch64");
}

#[test]
fn programs_print_and_exit_like_native_on_riscv64() {
    programs_match_native("riscv64");
}

#[test]
fn explicit_bounds_checks_run_threads_too() {
    let target = Target::host();
    let dir = scratch();
    for (program, args) in [("atomics", &["5000"][..]), ("stress", &[])] {
        let exe = wafer_build(
            &wasm(program),
            &target,
            &["--bounds-checks", "explicit"],
            dir.path(),
        );
        let out = run(&target, &exe, args, TIMEOUT);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{program}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn a_worker_calling_exit_ends_the_process_with_its_status() {
    for name in TARGETS {
        differential(name, "exit-from-thread", &[], 7).unwrap();
    }
}

#[test]
fn a_trap_in_a_worker_ends_the_process_with_134() {
    let dir = scratch();
    for name in TARGETS {
        let target = target(name);
        let exe = wafer_build(&wasm("trap-in-thread"), &target, &[], dir.path());
        let out = run(&target, &exe, &[], Duration::from_secs(30));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(wafer_abi::TRAP_EXIT_STATUS),
            "{name}: {stdout}{stderr}"
        );
        assert!(
            stderr.contains("wasm trap: unreachable"),
            "{name}: {stderr}"
        );
        assert_eq!(
            stdout, "main: waiting for the worker\nworker: trapping\n",
            "{name}"
        );
    }
}

#[test]
fn spawning_past_the_thread_limit_is_refused_not_a_crash() {
    let dir = scratch();
    for name in TARGETS {
        let target = target(name);
        let exe = wafer_build(&wasm("spawn-many"), &target, &[], dir.path());
        let out = run(&target, &exe, &["100000"], TIMEOUT);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {stdout}{}",
            text(&out.stderr)
        );
        let spawned: usize = stdout
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("spawned "))
            .and_then(|l| l.strip_suffix(" then refused"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no refusal: {stdout}"));
        assert!(spawned >= 16, "{name}: only {spawned} threads: {stdout}");
        assert!(
            stdout.contains(&format!("started {spawned}\njoined {spawned}\n")),
            "{name}: {stdout}"
        );
        // Natively nothing refuses a few dozen threads: a check of the program itself.
        let natively = run(&target, &native(&target, "spawn-many"), &["40"], TIMEOUT);
        assert_eq!(
            text(&natively.stdout),
            "spawned 40, none refused\nstarted 40\njoined 40\n",
            "{name}"
        );
    }
}

/// Lines sorted: threads write theirs in whatever order they run.
fn sorted_lines(out: &str) -> String {
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    lines.join("\n")
}

/// On the host only: qemu-user 7.2 (Debian 12) has no `openat2`, through which the runtime
/// resolves every path inside a grant, so path calls fail with ENOSYS under emulation.
#[test]
fn wasi_calls_from_many_threads_at_once() {
    let target = Target::host();
    let dir = scratch();
    let (granted, native_dir) = (dir.path().join("granted"), dir.path().join("native"));
    std::fs::create_dir(&granted).unwrap();
    std::fs::create_dir(&native_dir).unwrap();
    let grant = format!("{}::/data", granted.display());
    let exe = wafer_build(
        &wasm("wasi-concurrent"),
        &target,
        &["--dir", &grant],
        dir.path(),
    );
    let under_wafer = run(&target, &exe, &["/data", "6"], TIMEOUT);
    let native_dir = native_dir.to_string_lossy();
    let exe = native(&target, "wasi-concurrent");
    let natively = run(&target, &exe, &[&native_dir, "6"], TIMEOUT);
    let stderr = text(&under_wafer.stderr);
    assert_eq!(under_wafer.status.code(), Some(0), "{stderr}");
    assert_eq!(
        natively.status.code(),
        Some(0),
        "{}",
        text(&natively.stderr)
    );
    let stdout = sorted_lines(&text(&under_wafer.stdout));
    assert_eq!(stdout, sorted_lines(&text(&natively.stdout)), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(granted.join("t5/f7.txt")).unwrap(),
        "thread 5 file 7\n".repeat(8) + "appended\n"
    );
}

/// Builds and runs a hand-written module from tests/guests on every target.
fn wat_guest_on_every_target(file: &str, expected_stdout: &str) {
    let dir = scratch();
    let input = root().join("tests/guests").join(file);
    for name in TARGETS {
        let target = target(name);
        let exe = wafer_build(&input, &target, &[], dir.path());
        let out = run(&target, &exe, &[], TIMEOUT);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{name}: {stdout}{stderr}");
        assert_eq!(stdout, expected_stdout, "{name}: {stderr}");
    }
}

#[test]
fn hand_written_wasi_threads_module_counts_to_4000() {
    wat_guest_on_every_target("threads-wat.wat", "4000\n");
}

#[test]
fn narrow_compare_exchange_is_atomic_on_every_target() {
    wat_guest_on_every_target("threads-narrow-cas.wat", "ok\n");
}
