//! WASI-I2C end to end on the simulated backend: the Rust examples built for wasm32-wasip1
//! (with the published `bme280` driver, unchanged), capability enforcement, and hostile
//! guests written in WAT that break the canonical ABI on purpose.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn build(input: &Path, exe: &Path, grants: &[&str]) {
    let mut cmd = wafer();
    cmd.arg("build").arg(input).arg("-o").arg(exe);
    for g in grants {
        cmd.arg("--i2c").arg(g);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Runs `exe` on the simulation described by `sim`.
fn run_sim(dir: &Path, exe: &Path, sim: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let conf = dir.join("sim.conf");
    std::fs::write(&conf, sim).unwrap();
    Command::new(exe)
        .args(args)
        .env("WAFER_I2C_BACKEND", "sim")
        .env("WAFER_I2C_SIM", &conf)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn bme280_logger_reads_the_simulated_sensor() {
    let wasm = build_example("i2c-logger");
    let dir = scratch();
    let exe = dir.path().join("logger");
    build(&wasm, &exe, &["sensors=/dev/i2c-1:0x76,0x77"]);

    let inspect = wafer().arg("inspect").arg(&exe).output().unwrap();
    assert!(
        text(&inspect.stdout)
            .contains("sensors  ->  /dev/i2c-1  addresses 0x76,0x77  [read-write]"),
        "{}",
        text(&inspect.stdout)
    );

    let sim = "bus sensors\ndevice bme280 0x76 temperature=23.5 pressure=1002.5 humidity=61\n";
    let out = run_sim(dir.path(), &exe, sim, &["sensors", "2", "5"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"seq\":0,\"temperature_c\":23.50,\"pressure_hpa\":1002.50,\"humidity_pct\":61.00}\n\
         {\"seq\":1,\"temperature_c\":23.50,\"pressure_hpa\":1002.50,\"humidity_pct\":61.00}\n"
    );

    // The sensor at an address outside the grant: refused before the bus, said when tracing.
    let sim77 = "bus sensors\ndevice bme280 0x76\n";
    let exe77 = dir.path().join("logger77");
    build(&wasm, &exe77, &["sensors=/dev/i2c-1:0x77"]);
    let out = run_sim(
        dir.path(),
        &exe77,
        sim77,
        &["sensors", "1"],
        &[("WAFER_TRACE", "i2c")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("address 0x76 on bus sensors is not granted"),
        "{err}"
    );
    assert!(err.contains("Other"), "{err}");

    // A label that was not granted.
    let out = run_sim(dir.path(), &exe, sim, &["other", "1"], &[]);
    assert!(
        text(&out.stderr).contains("not-granted"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn lcd_hello_shows_on_the_dumped_screen() {
    let wasm = build_example("lcd-hello");
    let dir = scratch();
    let exe = dir.path().join("lcd");
    build(&wasm, &exe, &["display=/dev/i2c-1:0x27"]);
    let sim = "bus display\ndevice lcd 0x27 size=20x4\ndump screen.txt\n";
    let out = run_sim(dir.path(), &exe, sim, &[], &[("WAFER_I2C_SIM_DUMP", "1")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let screen = std::fs::read_to_string(dir.path().join("screen.txt")).unwrap();
    let expected = "# bus display address 0x27\nlcd 20x4 display=on backlight=on\n\
                    +--------------------+\n|hello               |\n|                    |\n\
                    |                    |\n|                    |\n+--------------------+\n";
    assert_eq!(screen, expected);
    assert_eq!(text(&out.stderr), expected);
}

const BUMP_REALLOC: &str = "(global.set $bump (i32.and
      (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
      (i32.sub (i32.const 0) (local.get 2))))
    (global.get $bump)
    (global.set $bump (i32.add (global.get $bump) (local.get 3)))";

/// A guest that opens bus `bus` (granted address 0x76 only) and runs `body` in `_start`.
fn hostile(realloc: &str, body: &str) -> Output {
    let wat = format!(
        r#"(module
  (import "wafer:hal/buses@0.1.0" "open-i2c" (func $open (param i32 i32 i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.read" (func $read (param i32 i32 i64 i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.write" (func $write (param i32 i32 i32 i32 i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.transaction" (func $txn (param i32 i32 i32 i32 i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[resource-drop]i2c" (func $drop (param i32)))
  (import "wasi:i2c/delay@0.2.0-draft" "[method]delay.delay-ns" (func $delay (param i32 i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "bus")
  (global $bump (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) {realloc})
  (func $bus (result i32)
    (call $open (i32.const 0) (i32.const 3) (i32.const 16))
    (if (i32.load8_u (i32.const 16)) (then (call $exit (i32.const 99))))
    (i32.load (i32.const 20)))
  ;; 10 * discriminant + error case of the result at 32
  (func $status (result i32)
    (i32.add (i32.mul (i32.load8_u (i32.const 32)) (i32.const 10)) (i32.load8_u (i32.const 36))))
  (func (export "_start") (local $h i32) {body}))"#
    );
    let dir = scratch();
    let input = dir.path().join("h.wat");
    std::fs::write(&input, wat).unwrap();
    let exe = dir.path().join("h");
    build(&input, &exe, &["bus=sim0:0x76"]);
    run_sim(dir.path(), &exe, "bus sim0\ndevice bme280 0x76\n", &[], &[])
}

fn read_status(address: &str, len: &str) -> String {
    format!(
        "(call $read (call $bus) (i32.const {address}) (i64.const {len}) (i32.const 32))
         (call $exit (call $status))"
    )
}

#[test]
fn reads_answer_error_codes_for_refused_requests() {
    // A good read: ok, and the id register through a transaction-free write then read.
    assert_eq!(
        hostile(BUMP_REALLOC, &read_status("0x76", "2"))
            .status
            .code(),
        Some(0)
    );
    // Outside the grant, 10-bit tricks whose low byte is the granted address, huge lengths:
    // `other` (case 4), and nothing reached the bus.
    for (address, len) in [
        ("0x50", "1"),
        ("0x176", "1"),
        ("0xFF76", "1"),
        ("0x76", "1099511627776"),
    ] {
        let out = hostile(BUMP_REALLOC, &read_status(address, len));
        assert_eq!(
            out.status.code(),
            Some(14),
            "{address} {len}: {}",
            text(&out.stderr)
        );
    }
    // An absent device NACKs its address: no-acknowledge (2) from the address (0).
    let body = "(call $write (call $bus) (i32.const 0x76) (i32.const 0) (i32.const 0) (i32.const 40))
                (call $exit (i32.add (i32.mul (i32.load8_u (i32.const 40)) (i32.const 10)) (i32.load8_u (i32.const 41))))";
    assert_eq!(hostile(BUMP_REALLOC, body).status.code(), Some(0));
}

#[test]
fn transactions_return_one_list_per_read() {
    // ops at 64: write [0xD0] (ptr 8), then read 1; result list of (ptr, len) pairs.
    let body = "(i32.store8 (i32.const 8) (i32.const 0xD0))
        (i32.store8 (i32.const 64) (i32.const 1))
        (i32.store (i32.const 72) (i32.const 8))
        (i32.store (i32.const 76) (i32.const 1))
        (i32.store8 (i32.const 80) (i32.const 0))
        (i64.store (i32.const 88) (i64.const 1))
        (call $txn (call $bus) (i32.const 0x76) (i32.const 64) (i32.const 2) (i32.const 32))
        (if (i32.load8_u (i32.const 32)) (then (call $exit (i32.const 98))))
        (if (i32.ne (i32.load (i32.const 40)) (i32.const 1)) (then (call $exit (i32.const 97))))
        (call $exit (i32.load8_u (i32.load (i32.load (i32.const 36)))))";
    let out = hostile(BUMP_REALLOC, body);
    assert_eq!(out.status.code(), Some(0x60), "{}", text(&out.stderr));
}

fn assert_traps(out: Output, message: &str) {
    assert_eq!(out.status.code(), Some(134), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("wasm trap: {message}")), "{err}");
}

#[test]
fn abi_violations_trap() {
    let oob = "out of bounds memory access";
    // Return area outside memory, and misaligned.
    assert_traps(
        hostile(
            BUMP_REALLOC,
            &read_status("0x76", "1").replace("(i32.const 32))", "(i32.const 65530))"),
        ),
        oob,
    );
    assert_traps(
        hostile(
            BUMP_REALLOC,
            &read_status("0x76", "1").replace("(i32.const 32))", "(i32.const 33))"),
        ),
        oob,
    );
    // Data outside memory.
    let body = "(call $write (call $bus) (i32.const 0x76) (i32.const 0xFFFF0000) (i32.const 16) (i32.const 40))";
    assert_traps(hostile(BUMP_REALLOC, body), oob);
    // An unknown operation tag: a value its type does not allow, which the generated glue
    // traps as `unreachable` (crate::canon::typed::invalid), not a pointer leaving memory.
    let body = "(i32.store8 (i32.const 64) (i32.const 7))
        (call $txn (call $bus) (i32.const 0x76) (i32.const 64) (i32.const 1) (i32.const 32))";
    assert_traps(hostile(BUMP_REALLOC, body), "unreachable");
    // cabi_realloc answering an address past the end of memory.
    assert_traps(
        hostile("(i32.const 0xFFFFFFF0)", &read_status("0x76", "2")),
        oob,
    );
}

#[test]
fn forged_and_dropped_handles_trap() {
    let unknown = "unknown handle";
    for forged in ["0", "7", "-1"] {
        let body = format!("(drop (call $bus)) (call $read (i32.const {forged}) (i32.const 0x76) (i64.const 1) (i32.const 32))");
        assert_traps(hostile(BUMP_REALLOC, &body), unknown);
    }
    let use_after_drop = "(local.set $h (call $bus)) (call $drop (local.get $h))
        (call $read (local.get $h) (i32.const 0x76) (i64.const 1) (i32.const 32))";
    assert_traps(hostile(BUMP_REALLOC, use_after_drop), unknown);
    let double_drop =
        "(local.set $h (call $bus)) (call $drop (local.get $h)) (call $drop (local.get $h))";
    assert_traps(hostile(BUMP_REALLOC, double_drop), unknown);
    // A bus handle is not a delay handle.
    let wrong_type = "(call $delay (call $bus) (i32.const 1))";
    assert_traps(hostile(BUMP_REALLOC, wrong_type), unknown);
}

/// Two more published drivers, unchanged: `lm75` reads the sensor and `eeprom24x` keeps the
/// reading in a 24C02 backed by a file, so the second run sees the first run's value.
#[test]
fn lm75_and_eeprom24x_drivers_share_a_bus() {
    let wasm = build_example("sensor-store");
    let dir = scratch();
    let exe = dir.path().join("sensor-store");
    build(&wasm, &exe, &["sensors=/dev/i2c-1:0x48,0x50"]);
    let sim = "bus sensors\ndevice lm75 0x48 temperature=21.5\ndevice 24c02 0x50 file=eeprom.bin\n";

    let first = run_sim(dir.path(), &exe, sim, &[], &[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(
        text(&first.stdout),
        "{\"temperature_c\":21.50,\"stored_c\":21.50,\"previous_c\":null}\n"
    );
    let image = std::fs::read(dir.path().join("eeprom.bin")).unwrap();
    assert_eq!(image.len(), 256);
    assert_eq!(&image[0x10..0x13], &[b'T', 0x08, 0x66]); // 2150 centi-degrees

    let warmer = sim.replace("21.5", "-7.5");
    let second = run_sim(dir.path(), &exe, &warmer, &[], &[]);
    assert_eq!(
        text(&second.stdout),
        "{\"temperature_c\":-7.50,\"stored_c\":-7.50,\"previous_c\":21.50}\n"
    );
    let image = std::fs::read(dir.path().join("eeprom.bin")).unwrap();

    // Without the EEPROM's address in the grant the driver gets an error, never the device.
    let denied = dir.path().join("sensor-only");
    build(&wasm, &denied, &["sensors=/dev/i2c-1:0x48"]);
    let out = run_sim(dir.path(), &denied, sim, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("eeprom read"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.path().join("eeprom.bin")).unwrap(), image);
}

/// A module importing every I2C function the runtime lists builds, `wafer inspect` reports
/// nothing missing, and it runs. Generated from the contract's table, so a function added
/// there is covered here without editing the test.
#[test]
fn a_guest_importing_every_i2c_function_builds() {
    let modules = [
        "wasi:i2c/i2c@0.2.0-draft",
        "wasi:i2c/delay@0.2.0-draft",
        "wafer:hal/buses@0.1.0",
    ];
    let (imports, count) = imports_of_host_functions(|m| modules.contains(&m));
    assert!(count >= 9, "{count} I2C functions listed");
    let dir = scratch();
    let input = dir.path().join("all.wat");
    std::fs::write(
        &input,
        format!("(module {imports} (memory (export \"memory\") 1) (func (export \"_start\")))"),
    )
    .unwrap();
    let inspect = wafer().arg("inspect").arg(&input).output().unwrap();
    let listing = text(&inspect.stdout);
    assert!(
        listing.contains("every import is provided by wafer"),
        "{listing}"
    );
    let exe = dir.path().join("all");
    build(&input, &exe, &[]);
    assert_eq!(Command::new(&exe).status().unwrap().code(), Some(0));
}

/// A guest of a world in public use: the interfaces imported without their version (a local
/// copy of the WIT), and the bus from the world-level getter `get-i2c-bus`. It reads the
/// LM75's temperature register and exits with its high byte (the whole degrees).
const PUBLIC_WORLD_GUEST: &str = r#"(module
  (import "$root" "get-i2c-bus" (func $bus (result i32)))
  (import "wasi:i2c/i2c" "[method]i2c.write-read" (func $wr (param i32 i32 i32 i32 i64 i32)))
  (import "wasi:i2c/i2c" "[resource-drop]i2c" (func $drop (param i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "_start") (local $h i32)
    (local.set $h (call $bus))
    ;; write-read(0x48, [0], 2) into the result at 32
    (call $wr (local.get $h) (i32.const 0x48) (i32.const 0) (i32.const 1) (i64.const 2) (i32.const 32))
    (if (i32.load8_u (i32.const 32)) (then (call $exit (i32.const 99))))
    (call $drop (local.get $h))
    (call $exit (i32.load8_u (i32.load (i32.const 36))))))"#;

#[test]
fn unversioned_wit_and_the_world_level_bus_getter() {
    let dir = scratch();
    let input = dir.path().join("g.wat");
    std::fs::write(&input, PUBLIC_WORLD_GUEST).unwrap();
    let exe = dir.path().join("g");
    build(&input, &exe, &["sensors=/dev/i2c-1:0x48"]);
    let sim = "bus sensors\ndevice lm75 0x48 temperature=21.5\n";
    let out = run_sim(dir.path(), &exe, sim, &[], &[]);
    assert_eq!(out.status.code(), Some(21), "{}", text(&out.stderr));

    // Which bus the getter means must be clear when the driver is built.
    for grants in [&[][..], &["a=/dev/i2c-1:0x48", "b=/dev/i2c-2:0x48"][..]] {
        let mut cmd = wafer();
        cmd.arg("build")
            .arg(&input)
            .arg("-o")
            .arg(dir.path().join("x"));
        for g in grants {
            cmd.arg("--i2c").arg(g);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains("get-i2c-bus")
                && err.contains(&format!("{} buses are granted", grants.len())),
            "{err}"
        );
    }
}

/// The research prototype's two I2C workloads on the simulated parts: six one-byte writes to
/// a TM1650 (display control at 0x24, four digits at 0x34–0x37, then the control again) and
/// an HTS221's identity read (WHO_AM_I, register 0x0f, is 0xbc), through the world-level
/// getter. Exits with the identity byte; the display shows in the dump.
const PAPER_I2C_GUEST: &str = r#"(module
  (import "$root" "get-i2c-bus" (func $bus (result i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.write" (func $w (param i32 i32 i32 i32 i32)))
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.write-read" (func $wr (param i32 i32 i32 i32 i64 i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  ;; control: on, brightness 2; digits "1", "2." , "3", "4"; register 0x0f
  (data (i32.const 0) "\21\06\db\4f\66\21\0f")
  (global $bump (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func $put (param $h i32) (param $addr i32) (param $byte_at i32)
    (call $w (local.get $h) (local.get $addr) (local.get $byte_at) (i32.const 1) (i32.const 64))
    (if (i32.load8_u (i32.const 64)) (then (call $exit (i32.add (i32.const 100) (local.get $addr))))))
  (func (export "_start") (local $h i32)
    (local.set $h (call $bus))
    (call $put (local.get $h) (i32.const 0x24) (i32.const 0))
    (call $put (local.get $h) (i32.const 0x34) (i32.const 1))
    (call $put (local.get $h) (i32.const 0x35) (i32.const 2))
    (call $put (local.get $h) (i32.const 0x36) (i32.const 3))
    (call $put (local.get $h) (i32.const 0x37) (i32.const 4))
    (call $put (local.get $h) (i32.const 0x24) (i32.const 5))
    (call $wr (local.get $h) (i32.const 0x5f) (i32.const 6) (i32.const 1) (i64.const 1) (i32.const 32))
    (if (i32.load8_u (i32.const 32)) (then (call $exit (i32.const 99))))
    (call $exit (i32.load8_u (i32.load (i32.const 36))))))"#;

#[test]
fn tm1650_display_and_hts221_identity_on_the_simulated_bus() {
    let dir = scratch();
    let input = dir.path().join("paper.wat");
    std::fs::write(&input, PAPER_I2C_GUEST).unwrap();
    let exe = dir.path().join("paper");
    build(&input, &exe, &["bus=sim0:0x24,0x34,0x35,0x36,0x37,0x5f"]);
    let sim = "bus sim0\ndevice tm1650 0x24\ndevice hts221 0x5f temperature=24 humidity=40\n";
    let out = run_sim(dir.path(), &exe, sim, &[], &[("WAFER_I2C_SIM_DUMP", "1")]);
    assert_eq!(out.status.code(), Some(0xbc), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("# bus sim0 address 0x24\n[12.34] display on, brightness 2/8"),
        "{err}"
    );
}
