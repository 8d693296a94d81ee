//! Drivers on a real Linux kernel: runs tests/kernel/run.sh, which boots a Debian kernel in a
//! QEMU q35 system guest and checks what wafer-built I2C drivers see on its i2c-dev (the
//! i2c-i801 SMBus, an i2c-echo device, the board's SPD EEPROMs) and USB drivers see on its
//! xHCI, and what a WALI program may do in its kernel sandbox; then the same on an aarch64
//! `virt` guest (Debian's arm64 kernel, i2c-stub for I2C) and a riscv64 `virt` guest
//! (Debian 13's riscv64 kernel under OpenSBI, i2c-stub for I2C).
//! The rig installs QEMU 10 and unpacks the kernels on first use (apt, as root or through
//! sudo).

mod common;

use common::*;
use std::process::{Command, Output};
use std::sync::Mutex;

/// The rig's install step and cargo target directory are shared by the guests: one boot at
/// a time.
static RIG: Mutex<()> = Mutex::new(());

fn rig(args: &[&str], expect_wrong: bool) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("tests/kernel/run.sh"))
        .args(args)
        .current_dir(root())
        .env("WAFER", env!("CARGO_BIN_EXE_wafer"))
        // The aarch64 and riscv64 tests read the console from the default work directory.
        .env_remove("WORK")
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

/// The rig with one expectation flipped (`args` as for the passing run) must fail, naming it.
fn a_flipped_expectation_fails(args: &[&str]) {
    let wrong = rig(args, true);
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

#[test]
fn i2c_drivers_on_a_real_kernel() {
    let _one = RIG.lock().unwrap_or_else(|e| e.into_inner());
    let out = rig(&[], false);
    let log = text(&out);
    assert!(out.status.success(), "kernel rig failed:\n{log}");
    assert!(log.contains("i2c.echo.write_read2 5a b2"), "{log}");
    assert!(log.contains("i2c.denied.0x51 err:other"), "{log}");
    assert!(log.contains("wali.sandboxed.open.outside 13"), "{log}");
    assert!(log.contains("results as expected"), "{log}");

    // The same command with one expectation flipped must fail, naming the mismatch.
    a_flipped_expectation_fails(&[]);
}

#[test]
fn drivers_on_a_real_aarch64_kernel() {
    let _one = RIG.lock().unwrap_or_else(|e| e.into_inner());
    let out = rig(&["--arch", "aarch64"], false);
    let log = text(&out);
    assert!(out.status.success(), "aarch64 kernel rig failed:\n{log}");
    assert!(log.contains("kernel.i2c-0 i2c-stub"), "{log}");
    assert!(
        log.contains("i2c.spd.readback_block 01 02 03 04 05 06 07 08"),
        "{log}"
    );
    assert!(log.contains("usb.kbd.0627:0001.hid.detach ok"), "{log}");
    assert!(log.contains("results as expected"), "{log}");

    // The aarch64 expectations are checked too: one flipped must fail on the same console.
    let console = root().join("target/kernel/aarch64/console.log");
    a_flipped_expectation_fails(&["--arch", "aarch64", "--check", console.to_str().unwrap()]);
}

#[test]
fn drivers_on_a_real_riscv64_kernel() {
    let _one = RIG.lock().unwrap_or_else(|e| e.into_inner());
    let out = rig(&["--arch", "riscv64"], false);
    let log = text(&out);
    assert!(out.status.success(), "riscv64 kernel rig failed:\n{log}");
    assert!(log.contains("kernel.i2c-0 i2c-stub"), "{log}");
    assert!(
        log.contains("i2c.spd.readback_block 01 02 03 04 05 06 07 08"),
        "{log}"
    );
    // virt on riscv64 has no default network card: the xHCI controller is in slot 1.
    assert!(
        log.contains("usb.storage.46f4:0001.string.serial 1-0000:00:01.0-2"),
        "{log}"
    );
    // Debian 13's 6.12 kernel: Landlock ABI 6.
    assert!(log.contains("wali.sandboxed.landlock-abi 6"), "{log}");
    assert!(log.contains("results as expected"), "{log}");

    // The riscv64 expectations are checked too: one flipped must fail on the same console.
    let console = root().join("target/kernel/riscv64/console.log");
    a_flipped_expectation_fails(&["--arch", "riscv64", "--check", console.to_str().unwrap()]);
}
