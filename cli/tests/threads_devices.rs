//! WASI-I2C and WASI-USB called from several guest threads at once: the guests of
//! tests/guests/threads-devices, built for wasm32-wasip1-threads, run on the simulated
//! backends on x86_64 and on aarch64 under qemu-user. Each guest checks every answer itself
//! and prints a summary that is the same on every run. A thread using a handle that another
//! thread dropped gets the trap a single thread gets for a dropped handle (see
//! `forged_and_dropped_handles_trap` in i2c.rs and `hostile_guests_trap` in usb.rs).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wafer::Target;

/// Every test runs on each of these; the host's executables run directly.
const TARGETS: [&str; 2] = ["x86_64", "aarch64"];
/// A run that takes longer has hung: it is killed and the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(30);

const I2C_GRANTS: [&str; 4] = [
    "--i2c",
    "mem=/dev/i2c-1:0x50",
    "--i2c",
    "env=/dev/i2c-2:0x76,0x48",
];
const I2C_SIM: &str = "bus mem\ndevice 24c02 0x50\n\
                       bus env\ndevice bme280 0x76 temperature=23.5\n\
                       device tmp102 0x48 temperature=25.0625\n";
const USB_SIM: &str = "device echo serial=W0\ndevice echo serial=W1\ndevice echo serial=W2\n\
                       device echo serial=W3\ndevice echo serial=SHARED\n";

/// The guest `name`.wasm; the crate is built once per test process, next to the examples.
fn guest(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        build_sdk_guest_crate("tests/guests/threads-devices", "wasm32-wasip1-threads")
    })
    .join(format!("{name}.wasm"))
}

/// Builds guest `name` for `target` with the grant flags `grants`, into `dir`.
fn build(dir: &Path, name: &str, target: &str, grants: &[&str]) -> PathBuf {
    let exe = dir.join(format!("{name}-{target}"));
    let out = wafer()
        .arg("build")
        .arg(guest(name))
        .arg("-o")
        .arg(&exe)
        .args(["--target", target])
        .args(grants)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{target}: building {name}: {}",
        text(&out.stderr)
    );
    exe
}

/// Runs `exe` (built for `target`) with `args` on the I2C and USB simulations `i2c_sim` and
/// `usb_sim`, killing it after [`RUN_LIMIT`].
fn run(
    dir: &Path,
    target: &str,
    exe: &Path,
    args: &[&str],
    i2c_sim: &str,
    usb_sim: &str,
) -> Output {
    let (i2c, usb) = (dir.join("i2c.sim"), dir.join("usb.sim"));
    std::fs::write(&i2c, i2c_sim).unwrap();
    std::fs::write(&usb, usb_sim).unwrap();
    let prefix = Target::resolve(target).unwrap().run_prefix().to_vec();
    let mut cmd = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    // Output goes to files, so waiting for the process needs no reader threads.
    let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = cmd
        .args(args)
        .env("WAFER_I2C_BACKEND", "sim")
        .env("WAFER_I2C_SIM", &i2c)
        .env("WAFER_USB_BACKEND", "sim")
        .env("WAFER_USB_SIM", &usb)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{target}: {} {args:?} hung; stdout so far:\n{}",
                exe.display(),
                std::fs::read_to_string(&stdout).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: std::fs::read(&stdout).unwrap(),
        stderr: std::fs::read(&stderr).unwrap(),
    }
}

/// Asserts a clean run that printed exactly `expected`.
fn assert_passes(target: &str, out: &Output, expected: &str) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{target}:\n{stdout}{stderr}");
    assert_eq!(stdout, expected, "{target}: {stderr}");
    assert_eq!(stderr, "", "{target}");
}

#[test]
fn i2c_from_six_threads_at_once_answers_every_call_right() {
    let expected = "i2c-threads: 4 eeprom workers, 2 sensor workers, 40 rounds\n\
                    setup: 6 checks ok\n\
                    eeprom worker 0 (shared handle): 1000 checks ok\n\
                    eeprom worker 1 (shared handle): 1000 checks ok\n\
                    eeprom worker 2 (own handle, dropped on the main thread): 1000 checks ok\n\
                    eeprom worker 3 (own handle): 1000 checks ok\n\
                    sensor worker 0 (shared handle): 240 checks ok\n\
                    sensor worker 1 (own handle): 240 checks ok\n\
                    final contents and handles: 2 checks ok\n\
                    all checks passed\n";
    for target in TARGETS {
        let dir = scratch();
        let exe = build(dir.path(), "i2c-threads", target, &I2C_GRANTS);
        let out = run(dir.path(), target, &exe, &[], I2C_SIM, "");
        assert_passes(target, &out, expected);
    }
}

#[test]
fn usb_transfers_from_four_threads_at_once_all_echo_right() {
    let expected = "usb-threads: 4 workers, 30 rounds\n\
                    setup: 4 checks ok\n\
                    worker 0: 364 checks ok\n\
                    worker 1: 364 checks ok\n\
                    worker 2: 364 checks ok\n\
                    worker 3: 364 checks ok\n\
                    shared device and handles: 13 checks ok\n\
                    all checks passed\n";
    for target in TARGETS {
        let dir = scratch();
        let exe = build(dir.path(), "usb-threads", target, &["--usb", "2341:8057"]);
        let out = run(dir.path(), target, &exe, &[], "", USB_SIM);
        assert_passes(target, &out, expected);
    }
}

#[test]
fn a_handle_dropped_while_another_thread_uses_it_traps_as_on_one_thread() {
    let grants = ["--i2c", "bus=/dev/i2c-1:0x76", "--usb", "2341:8057"];
    let (i2c_sim, usb_sim) = ("bus bus\ndevice bme280 0x76\n", "device echo\n");
    let dropping = "A: dropping the handle B is using\n";
    for target in TARGETS {
        let dir = scratch();
        let exe = build(dir.path(), "drop-race", target, &grants);
        for (mode, handle) in [("i2c", "i2c handle 1"), ("usb", "device-handle handle 2")] {
            let out = run(dir.path(), target, &exe, &[mode], i2c_sim, usb_sim);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            let context = format!("{target} {mode}:\n{stdout}{stderr}");
            assert_eq!(out.status.code(), Some(134), "{context}");
            assert_eq!(stdout, dropping, "{context}");
            assert!(
                stderr.contains(&format!("{handle} is not owned by this instance\n"))
                    && stderr.contains("wasm trap: unknown handle\n"),
                "{context}"
            );
        }
        // Closing instead of dropping is defined: the other thread gets `no-device`.
        let out = run(dir.path(), target, &exe, &["usb-close"], i2c_sim, usb_sim);
        let closed = format!("{dropping}B: no-device once the handle was closed\n");
        assert_passes(target, &out, &closed);
    }
}
