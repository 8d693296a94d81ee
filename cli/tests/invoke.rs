//! `wafer build --invoke`: library-style guests, as the 2024 WASI-I2C prototype's were written
//! (they export a function taking the handles), run one call whose arguments the build parsed
//! against the export's WIT type, on the simulated I2C bus.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Builds `examples/NAME` (a cdylib) for wasm32-wasip1: the path of its `.wasm`.
fn library(name: &str) -> PathBuf {
    let dir = build_example(name);
    dir.with_file_name(format!("{}.wasm", name.replace('-', "_")))
}

fn build(wasm: &Path, exe: &Path, flags: &[&str]) -> Output {
    wafer()
        .arg("build")
        .arg(wasm)
        .arg("-o")
        .arg(exe)
        .args(flags)
        .output()
        .unwrap()
}

fn run_sim(dir: &Path, exe: &Path, sim: &str) -> Output {
    let conf = dir.join("sim.conf");
    std::fs::write(&conf, sim).unwrap();
    Command::new(exe)
        .env("WAFER_I2C_BACKEND", "sim")
        .env("WAFER_I2C_SIM", &conf)
        .env("WAFER_I2C_SIM_DUMP", "1")
        .output()
        .unwrap()
}

#[test]
fn the_hts221_guest_answers_each_reading() {
    let wasm = library("paper-hts221");
    let dir = scratch();
    for (call, sim, want) in [
        (
            "get-temperature(sensor)",
            "temperature=24 humidity=40",
            "ok(\"24.0 C\")\n",
        ),
        (
            "get-humidity(sensor)",
            "temperature=24 humidity=40",
            "ok(\"40.0 %RH\")\n",
        ),
        (
            "get-temperature(sensor)",
            "temperature=-5.5 humidity=71",
            "ok(\"-5.5 C\")\n",
        ),
    ] {
        let exe = dir.path().join("hts221");
        let out = build(
            &wasm,
            &exe,
            &["--i2c", "sensor=/dev/i2c-1:0x5f", "--invoke", call],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let sim = format!("bus sensor\ndevice hts221 0x5f {sim}\n");
        let out = run_sim(dir.path(), &exe, &sim);
        assert!(out.status.success(), "{call}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), want, "{call} on {sim}");
    }
    // No sensor on the bus: the guest's own error comes back as the WIT's variant.
    let exe = dir.path().join("absent");
    let out = build(
        &wasm,
        &exe,
        &[
            "--i2c",
            "sensor=/dev/i2c-1:0x5f",
            "--invoke",
            "get-humidity(sensor)",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run_sim(dir.path(), &exe, "bus sensor\n");
    assert_eq!(text(&out.stdout), "err(no-acknowledge(address))\n");
}

#[test]
fn the_lcd_guest_writes_its_message() {
    let wasm = library("paper-lcd");
    let dir = scratch();
    let exe = dir.path().join("lcd");
    let out = build(
        &wasm,
        &exe,
        &[
            "--i2c",
            "lcd=/dev/i2c-1:0x27",
            "--invoke",
            r#"write(lcd, delay, "Hello, \"2024\"")"#,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run_sim(dir.path(), &exe, "bus lcd\ndevice lcd 0x27 size=16x2\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "", "write has no result to print");
    assert!(
        text(&out.stderr).contains("|Hello, \"2024\"   |"),
        "{}",
        text(&out.stderr)
    );
    // The guest traps when the bus refuses a write (no display at 0x27).
    let out = run_sim(dir.path(), &exe, "bus lcd\n");
    assert_eq!(out.status.code(), Some(134), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("wasm trap: unreachable"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_calls_are_refused_at_build_time() {
    let wasm = library("paper-lcd");
    let dir = scratch();
    let exe = dir.path().join("x");
    for (call, why) in [
        (
            r#"write(nope, delay, "x")"#,
            "\"nope\" is not the label of a bus granted with --i2c",
        ),
        ("write(lcd, delay)", "expected ','"),
        ("write(lcd, delay, 5)", "expected '\"'"),
        (
            "read(lcd)",
            "the module exports no function \"read\" (it exports write)",
        ),
        (
            r#"write(lcd, delay, "x") more"#,
            "unexpected text after the call",
        ),
    ] {
        let out = build(
            &wasm,
            &exe,
            &["--i2c", "lcd=/dev/i2c-1:0x27", "--invoke", call],
        );
        assert_eq!(out.status.code(), Some(1), "{call}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(why), "{call}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
    // Without --invoke the library is refused, pointing at the option.
    let out = build(&wasm, &exe, &[]);
    assert!(
        text(&out.stderr).contains("--invoke"),
        "{}",
        text(&out.stderr)
    );
    // A module without embedded WIT cannot be invoked.
    let wat = dir.path().join("plain.wat");
    std::fs::write(&wat, r#"(module (func (export "f")))"#).unwrap();
    let out = build(&wat, &exe, &["--invoke", "f()"]);
    assert!(
        text(&out.stderr).contains("embeds no WIT"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_invoked_guest_runs_on_the_other_targets() {
    let wasm = library("paper-hts221");
    let dir = scratch();
    for target in ["aarch64", "riscv64"] {
        let exe = dir.path().join(format!("hts221-{target}"));
        let out = build(
            &wasm,
            &exe,
            &[
                "--target",
                target,
                "--i2c",
                "sensor=/dev/i2c-1:0x5f",
                "--invoke",
                "get-temperature(sensor)",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let conf = dir.path().join("sim.conf");
        std::fs::write(
            &conf,
            "bus sensor\ndevice hts221 0x5f temperature=21.5 humidity=50\n",
        )
        .unwrap();
        let out = command_on(target, &exe)
            .env("WAFER_I2C_BACKEND", "sim")
            .env("WAFER_I2C_SIM", &conf)
            .output()
            .unwrap();
        assert!(out.status.success(), "{target}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "ok(\"21.5 C\")\n", "{target}");
    }
}

#[test]
fn the_tm1650_guest_shows_four_digits() {
    let wasm = library("paper-tm1650");
    let dir = scratch();
    let grant = "display=/dev/i2c-1:0x24,0x34,0x35,0x36,0x37";
    for (call, stdout, screen) in [
        (
            r#"show(display, "12.34")"#,
            "ok\n",
            "[12.34] display on, brightness 2/8",
        ),
        (
            r#"show(display, "-7 0")"#,
            "ok\n",
            "[-7 0] display on, brightness 2/8",
        ),
        (r#"show(display, "12345")"#, "err(other)\n", ""),
    ] {
        let exe = dir.path().join("segments");
        let out = build(&wasm, &exe, &["--i2c", grant, "--invoke", call]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = run_sim(dir.path(), &exe, "bus display\ndevice tm1650 0x24\n");
        assert!(out.status.success(), "{call}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), stdout, "{call}");
        assert!(
            text(&out.stderr).contains(screen),
            "{call}: {}",
            text(&out.stderr)
        );
    }
}
