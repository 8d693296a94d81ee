//! Faults under a running driver, on the simulated devices and a real, full file system: what
//! the guest sees must be an error value it can act on (then carry on or exit as it chooses),
//! never a crash, a hang or a wrong answer. The guest is tests/guests/faults.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn guest() -> PathBuf {
    build_sdk_guest_crate("tests/guests/faults", "wasm32-wasip1").join("faults.wasm")
}

fn run(exe: &Path, target: &str, mode: &str, env: &[(&str, &Path)]) -> (String, Duration) {
    let start = Instant::now();
    let out = command_on(target, exe)
        .arg(mode)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{target} {mode}: {}",
        text(&out.stderr)
    );
    (text(&out.stdout), elapsed)
}

#[test]
fn a_usb_device_unplugged_during_a_bulk_read() {
    let wasm = guest();
    let dir = scratch();
    // Unplugged 700 ms in, while the read (5 s timeout) waits for data the echo never sends.
    let conf = dir.path().join("usb.conf");
    std::fs::write(&conf, "device echo leave-ms=700\n").unwrap();
    for target in ["x86_64", "aarch64", "riscv64"] {
        let exe = dir.path().join(format!("usb-{target}"));
        wafer_build(&wasm, &exe, &["--target", target, "--usb", "2341:8057"]);
        let env = [
            ("WAFER_USB_BACKEND", Path::new("sim")),
            ("WAFER_USB_SIM", &conf),
        ];
        let (out, elapsed) = run(&exe, target, "usb-unplug", &env);
        assert!(
            out.contains("echo: [112, 105, 110, 103]"),
            "{target}: {out}"
        );
        assert!(
            out.contains("waiting read: Err(LibusbError { code: 3, name: \"no-device\""),
            "{target}: {out}"
        );
        assert!(
            out.contains("next write: Err(LibusbError { code: 3, name: \"no-device\""),
            "{target}: {out}"
        );
        assert!(out.contains("list: 0 devices"), "{target}: {out}");
        // The read ended at the unplug, not at its timeout.
        assert!(elapsed < Duration::from_secs(4), "{target}: {elapsed:?}");
    }
}

#[test]
fn an_i2c_sensor_that_leaves_the_bus() {
    let wasm = guest();
    let dir = scratch();
    let conf = dir.path().join("i2c.conf");
    std::fs::write(&conf, "bus sensors\ndevice lm75 0x48 leave-ms=300\n").unwrap();
    for target in ["x86_64", "aarch64", "riscv64"] {
        let exe = dir.path().join(format!("i2c-{target}"));
        wafer_build(
            &wasm,
            &exe,
            &["--target", target, "--i2c", "sensors=sensors:0x48"],
        );
        let env = [
            ("WAFER_I2C_BACKEND", Path::new("sim")),
            ("WAFER_I2C_SIM", &conf),
        ];
        let (out, _) = run(&exe, target, "i2c-remove", &env);
        let reads: u32 = out.split_whitespace().next().unwrap().parse().unwrap();
        assert!(reads >= 1, "{target}: {out}");
        assert!(
            out.contains("reads, then: NoAcknowledge(Address)"),
            "{target}: {out}"
        );
        assert!(
            out.contains("again: Err(NoAcknowledge(Address))"),
            "{target}: {out}"
        );
    }
}

/// A 64 KiB tmpfs mounted in a mount namespace of its own (`unshare`, util-linux): the
/// guest's file grows until the kernel answers ENOSPC, which reaches it as WASI `nospc`.
#[test]
fn a_full_file_system() {
    let wasm = guest();
    let dir = scratch();
    let fs = dir.path().join("fs");
    std::fs::create_dir(&fs).unwrap();
    let exe = dir.path().join("fill");
    let grant = format!("{}::/work", fs.display());
    wafer_build(&wasm, &exe, &["--dir", &grant]);
    let script = format!(
        "mount -t tmpfs -o size=64k none '{}' && exec '{}' enospc",
        fs.display(),
        exe.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    if !out.status.success() && stderr.contains("unshare") {
        eprintln!("skipped: this machine cannot mount a tmpfs in a namespace: {stderr}");
        return;
    }
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("wrote 65536 bytes, then: No space left on device"),
        "{stdout}"
    );
    assert!(
        stdout.contains("after removing it: Ok(\"room again\\n\")"),
        "{stdout}"
    );
}

/// Starts `exe` (under qemu-user for another target), sends SIGTERM once it has had `after`
/// to get into its transfers, and returns how it ended, how long that took, and its output.
fn terminate(
    exe: &Path,
    target: &str,
    args: &[&str],
    conf: &Path,
    after: Duration,
) -> (std::process::ExitStatus, Duration, String, String) {
    use std::process::Stdio;
    let child = command_on(target, exe)
        .args(args)
        .env("WAFER_USB_BACKEND", "sim")
        .env("WAFER_USB_SIM", conf)
        .env("WAFER_TRACE", "usb")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        sent.elapsed(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

const SIGTERM: i32 = 15;

#[test]
fn sigterm_during_a_usb_transfer_cancels_it_and_gives_the_device_back() {
    use std::os::unix::process::ExitStatusExt;
    let dir = scratch();
    // A read waiting on the echo device (component:usb, 5 s timeout): cancelled, and the
    // process ends by the signal at once, without the guest seeing the cancellation.
    let wasm = guest();
    let conf = dir.path().join("usb.conf");
    std::fs::write(&conf, "device echo kernel-driver=yes\n").unwrap();
    let plain = dir.path().join("plain.conf");
    std::fs::write(&plain, "device echo\n").unwrap();
    let ping = build_example("paper-ping");
    for target in ["x86_64", "aarch64"] {
        let exe = dir.path().join(format!("wait-{target}"));
        wafer_build(&wasm, &exe, &["--target", target, "--usb", "2341:8057"]);
        let after = Duration::from_millis(if target == "x86_64" { 300 } else { 1500 });
        let (status, took, out, err) = terminate(&exe, target, &["usb-unplug"], &plain, after);
        assert_eq!(
            status.signal(),
            Some(SIGTERM),
            "{target}: {status:?} {out} {err}"
        );
        assert!(took < Duration::from_millis(1500), "{target}: {took:?}");
        assert!(out.contains("echo: [112"), "{target}: {out}");
        assert!(!out.contains("waiting read"), "{target}: {out}");
        assert!(
            err.contains("signal 15: cancelling transfers in flight"),
            "{target}: {err}"
        );

        // The 2024 API detaches the kernel driver when it opens a device (the sim binds one
        // to every interface with kernel-driver=yes): it is attached again on the way out.
        let exe = dir.path().join(format!("ping-{target}"));
        wafer_build(&ping, &exe, &["--target", target, "--usb", "2341:8057"]);
        let (status, _, _, err) = terminate(&exe, target, &["10000000"], &conf, after);
        assert_eq!(status.signal(), Some(SIGTERM), "{target}: {status:?} {err}");
        assert!(
            err.contains("open: kernel driver detached from interface 0"),
            "{target}: {err}"
        );
        assert!(
            err.contains("exit: attaching the kernel driver of interface 0: Ok(())"),
            "{target}: {err}"
        );
    }
}
