//! Drivers on a real Linux kernel: runs tests/kernel/run.sh, which boots a Debian kernel in a
//! QEMU q35 system guest and checks what wafer-built I2C drivers see on its i2c-dev (the
//! i2c-i801 SMBus, an i2c-echo device, the board's SPD EEPROMs). The rig installs QEMU 10
//! and unpacks a kernel on first use (apt, as root or through sudo).

mod common;

use common::*;
use std::process::{Command, Output};

fn rig(args: &[&str], expect_wrong: bool) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("tests/kernel/run.sh"))
        .args(args)
        .current_dir(root())
        .env("WAFER", env!("CARGO_BIN_EXE_wafer"))
        // The guest crate is built for wasm32-wasip1: host flags must not leak into it.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if expect_wrong {
        cmd.env("WAFER_KERNEL_EXPECT_WRONG", "1");
    } else {
        cmd.env_remove("WAFER_KERNEL_EXPECT_WRONG");
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// One test, so the boots share target/kernel one after the other.
#[test]
fn i2c_drivers_on_a_real_kernel() {
    let out = rig(&[], false);
    let log = text(&out);
    assert!(out.status.success(), "kernel rig failed:\n{log}");
    assert!(log.contains("i2c.echo.write_read2 5a b2"), "{log}");
    assert!(log.contains("i2c.denied.0x51 err:other"), "{log}");
    assert!(log.contains("results as expected"), "{log}");

    // The same command with one expectation flipped must fail, naming the mismatch.
    let wrong = rig(&[], true);
    let wrong_log = text(&wrong);
    assert!(
        !wrong.status.success(),
        "a wrong expectation passed:\n{wrong_log}"
    );
    assert!(
        wrong_log.contains("expected, not seen") && wrong_log.contains("deliberately-wrong"),
        "{wrong_log}"
    );
}
