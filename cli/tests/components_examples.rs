//! The examples built the way their users build them for WASI 0.2: `cargo build --target
//! wasm32-wasip2` makes each a component (WASI 0.2 from Rust's std, WASI-I2C, WASI-USB and
//! wafer:hal through `sdk/`), which `wafer build` takes unchanged. Each runs on the simulated
//! devices with the same results as its wasm32-wasip1 build, on x86_64 and under qemu-user on
//! aarch64 and riscv64.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

const TARGETS: [&str; 3] = ["x86_64", "aarch64", "riscv64"];
const P2: &str = "wasm32-wasip2";

fn build(wasm: &Path, exe: &Path, target: &str, flags: &[&str]) {
    let mut all = vec!["--target", target];
    all.extend_from_slice(flags);
    wafer_build(wasm, exe, &all);
}

/// Runs `exe` (built for `target`) with `env`, under qemu-user off the host's architecture.
fn run(target: &str, exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command_on(target, exe)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn hello_component_runs_on_every_target() {
    let wasm = build_example_for("hello-rust", P2);
    assert!(wafer::is_component(&std::fs::read(&wasm).unwrap()));
    let dir = scratch();
    for target in TARGETS {
        let exe = dir.path().join(format!("hello-{target}"));
        build(&wasm, &exe, target, &[]);
        let out = run(target, &exe, &["on", "a", "board"], &[]);
        assert_eq!(
            text(&out.stdout),
            "hello from Rust on wafer: on a board\n",
            "{target}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).starts_with("checksum "), "{target}");
        assert_eq!(out.status.code(), Some(0), "{target}");
        // WASI 0.2's exit carries ok or err only: any other status is err, 1 (as wasmtime).
        let out = run(target, &exe, &["--exit", "9"], &[]);
        assert_eq!(out.status.code(), Some(1), "{target}");
    }
}

#[test]
fn i2c_logger_component_reads_the_simulated_bme280_on_every_target() {
    let wasm = build_example_for("i2c-logger", P2);
    let dir = scratch();
    let conf = dir.path().join("sim.conf");
    std::fs::write(
        &conf,
        "bus sensors\ndevice bme280 0x76 temperature=23.5 pressure=1002.5 humidity=61\n",
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let env = [("WAFER_I2C_BACKEND", "sim"), ("WAFER_I2C_SIM", conf)];
    for target in TARGETS {
        let exe = dir.path().join(format!("logger-{target}"));
        build(
            &wasm,
            &exe,
            target,
            &["--i2c", "sensors=/dev/i2c-1:0x76,0x77"],
        );
        let out = run(target, &exe, &["sensors", "2", "5"], &env);
        assert!(out.status.success(), "{target}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "{\"seq\":0,\"temperature_c\":23.50,\"pressure_hpa\":1002.50,\"humidity_pct\":61.00}\n\
             {\"seq\":1,\"temperature_c\":23.50,\"pressure_hpa\":1002.50,\"humidity_pct\":61.00}\n",
            "{target}"
        );
    }
    // The grant still decides: the sensor's address outside it is never reached.
    let exe = dir.path().join("logger-77");
    build(&wasm, &exe, "x86_64", &["--i2c", "sensors=/dev/i2c-1:0x77"]);
    let mut env77 = env.to_vec();
    env77.push(("WAFER_TRACE", "i2c"));
    let out = run("x86_64", &exe, &["sensors", "1"], &env77);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("address 0x76 on bus sensors is not granted"));
}

#[test]
fn sensor_store_component_shares_a_bus_between_two_drivers() {
    let wasm = build_example_for("sensor-store", P2);
    let dir = scratch();
    let exe = dir.path().join("sensor-store");
    build(
        &wasm,
        &exe,
        "x86_64",
        &["--i2c", "sensors=/dev/i2c-1:0x48,0x50"],
    );
    let conf = dir.path().join("sim.conf");
    std::fs::write(
        &conf,
        "bus sensors\ndevice lm75 0x48 temperature=21.5\ndevice 24c02 0x50 file=eeprom.bin\n",
    )
    .unwrap();
    let out = Command::new(&exe)
        .current_dir(dir.path())
        .env("WAFER_I2C_BACKEND", "sim")
        .env("WAFER_I2C_SIM", &conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"temperature_c\":21.50,\"stored_c\":21.50,\"previous_c\":null}\n"
    );
}

const USB_SIM: &str =
    "device echo serial=E1\ndevice storage file=disk.img blocks=64\ndevice keyboard keys=hi\n";

#[test]
fn lsusb_component_lists_granted_devices_on_every_target() {
    let wasm = build_example_for("lsusb", P2);
    let dir = scratch();
    let conf = dir.path().join("sim.conf");
    std::fs::write(&conf, USB_SIM).unwrap();
    let conf = conf.to_str().unwrap();
    let env = [("WAFER_USB_BACKEND", "sim"), ("WAFER_USB_SIM", conf)];
    for target in TARGETS {
        let exe = dir.path().join(format!("lsusb-{target}"));
        build(
            &wasm,
            &exe,
            target,
            &["--usb", "2341:8057", "--usb", "0781:5567"],
        );
        let out = run(target, &exe, &[], &env);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{target}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(
            stdout.starts_with("2 device(s)\nBus 001 Device 002: ID 2341:8057 Arduino LLC Echo\n"),
            "{target}: {stdout}"
        );
        assert!(stdout.contains("iSerial 3 E1"), "{target}: {stdout}");
        assert!(
            stdout.contains("ID 0781:5567 wafer Sim Flash Drive"),
            "{target}: {stdout}"
        );
        assert!(!stdout.contains("046d"), "{target}: {stdout}");
    }
}

#[test]
fn usb_ping_component_round_trips_on_the_echo_device() {
    let wasm = build_example_for("usb-ping", P2);
    let dir = scratch();
    let conf = dir.path().join("sim.conf");
    std::fs::write(&conf, USB_SIM).unwrap();
    let exe = dir.path().join("ping");
    build(
        &wasm,
        &exe,
        "x86_64",
        &["--usb", "2341:8057:if=0:ep=0x81,0x01,0x82,0x02"],
    );
    let out = run(
        "x86_64",
        &exe,
        &["20"],
        &[
            ("WAFER_USB_BACKEND", "sim"),
            ("WAFER_USB_SIM", conf.to_str().unwrap()),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for kind in ["bulk", "interrupt"] {
        for size in [4, 16, 32] {
            assert!(
                stdout.contains(&format!("{kind} {size} bytes: 20 round trips ok")),
                "{stdout}"
            );
        }
    }
}

#[test]
fn inspect_shows_the_components_wit_imports() {
    let wasm = build_example_for("lsusb", P2);
    let out = wafer().arg("inspect").arg(&wasm).output().unwrap();
    let report = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for want in [
        "component (",
        "component:usb/device@0.2.1",
        "list-devices  [provided]",
        "wasi:io/streams@0.2.",
        "[method]output-stream.write  [provided]",
        "every import used is provided by wafer",
        "instance wasi:cli/run@0.2.",
    ] {
        assert!(report.contains(want), "{want:?} missing from:\n{report}");
    }
}
