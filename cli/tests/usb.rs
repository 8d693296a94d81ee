//! WASI-USB end to end on the simulated backend: the Rust examples built for wasm32-wasip1,
//! capability enforcement (devices, interfaces, endpoints), and hostile guests written in WAT
//! that break the canonical ABI or the transfer rules on purpose.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn build(input: &Path, exe: &Path, grants: &[&str]) {
    let mut cmd = wafer();
    cmd.arg("build").arg(input).arg("-o").arg(exe);
    for g in grants {
        cmd.arg("--usb").arg(g);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

const SIM: &str =
    "device echo serial=E1\ndevice storage file=disk.img blocks=64\ndevice keyboard keys=hi\n";

fn run_sim(dir: &Path, exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let conf = dir.join("sim.conf");
    std::fs::write(&conf, SIM).unwrap();
    Command::new(exe)
        .args(args)
        .env("WAFER_USB_BACKEND", "sim")
        .env("WAFER_USB_SIM", &conf)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn lsusb_lists_granted_devices_with_descriptors_and_strings() {
    let wasm = build_example("lsusb");
    let dir = scratch();
    let exe = dir.path().join("lsusb");
    build(&wasm, &exe, &["2341:8057", "0781:5567"]);
    let inspect = text(&wafer().arg("inspect").arg(&exe).output().unwrap().stdout);
    assert!(inspect.contains("usb devices (2):"), "{inspect}");
    assert!(
        inspect.contains("2341:8057  interfaces all  endpoints all"),
        "{inspect}"
    );

    let out = run_sim(dir.path(), &exe, &[], &[("WAFER_TRACE", "usb")]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.starts_with("2 device(s)\nBus 001 Device 002: ID 2341:8057 Arduino LLC Echo\n"),
        "{stdout}"
    );
    assert!(stdout.contains("iSerial 3 E1"), "{stdout}");
    assert!(
        stdout.contains("      Endpoint 0x82 IN Interrupt wMaxPacketSize 64 bInterval 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ID 0781:5567 wafer Sim Flash Drive"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Interface 0 alt 0: class 08/06/50, 2 endpoints"),
        "{stdout}"
    );
    // The keyboard was not granted: never listed, and tracing says why.
    assert!(!stdout.contains("046d"), "{stdout}");
    assert!(text(&out.stderr).contains("046d:c31c at 1-4 is not granted: not listed"));

    // Without any grant the driver sees nothing.
    let bare = dir.path().join("bare");
    build(&wasm, &bare, &[]);
    let out = run_sim(dir.path(), &bare, &[], &[]);
    assert_eq!(text(&out.stdout), "0 device(s)\n");
}

#[test]
fn usb_ping_round_trips_and_endpoint_grants_hold() {
    let wasm = build_example("usb-ping");
    let dir = scratch();
    let exe = dir.path().join("ping");
    build(&wasm, &exe, &["2341:8057:if=0:ep=0x81,0x01,0x82,0x02"]);
    let out = run_sim(dir.path(), &exe, &["20"], &[]);
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
    // Only the bulk endpoints granted: interrupt transfers answer `access`.
    let bulk_only = dir.path().join("ping-bulk");
    build(&wasm, &bulk_only, &["2341:8057:ep=0x81,0x01"]);
    let out = run_sim(dir.path(), &bulk_only, &["3"], &[("WAFER_TRACE", "usb")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("bulk 32 bytes: 3 round trips ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains("interrupt 4 bytes: FAILED round 0") && stdout.contains("access"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("endpoint 0x02 of 2341:8057 is not granted"));
    // An interface outside the grant cannot be claimed.
    let if1 = dir.path().join("ping-if1");
    build(&wasm, &if1, &["2341:8057:if=1"]);
    let out = run_sim(dir.path(), &if1, &["1"], &[]);
    assert!(
        text(&out.stderr).contains("configuring"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_usb_grants_are_refused_at_build_time() {
    let dir = scratch();
    let wat = dir.path().join("m.wat");
    std::fs::write(&wat, "(module (func (export \"_start\")))").unwrap();
    for bad in [
        "2341",
        "2341:8057:ep=0x00",
        "2341:8057:if=x",
        "2341:8057:mode=ro",
    ] {
        let out = wafer()
            .arg("build")
            .arg(&wat)
            .arg("-o")
            .arg(dir.path().join("m"))
            .args(["--usb", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("wafer: error: ") && err.lines().count() == 1,
            "{bad}: {err}"
        );
    }
}

/// A WAT guest: memory, a bump `cabi_realloc`, the USB imports under `pkg` (`component:usb`
/// or `wasi:usb`), and a `_start` running `body`, which ends with `proc_exit`.
fn guest(pkg: &str, body: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "{pkg}/device@0.2.1" "init" (func $init (param i32)))
  (import "{pkg}/device@0.2.1" "list-devices" (func $list (param i32)))
  (import "{pkg}/device@0.2.1" "[method]usb-device.open" (func $open (param i32 i32)))
  (import "{pkg}/device@0.2.1" "[resource-drop]usb-device" (func $drop_dev (param i32)))
  (import "{pkg}/device@0.2.1" "[method]device-handle.set-configuration" (func $setcfg (param i32 i32 i32 i32)))
  (import "{pkg}/device@0.2.1" "[method]device-handle.new-transfer" (func $new (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "{pkg}/transfers@0.2.1" "[method]transfer.submit-transfer" (func $submit (param i32 i32 i32 i32)))
  (import "{pkg}/transfers@0.2.1" "await-transfer" (func $await (param i32 i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 0x1000))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  ;; The first listed device, opened and configured: its device-handle.
  (func $first (result i32)
    (call $init (i32.const 0x100))
    (call $list (i32.const 0x100))
    (if (i32.eqz (i32.load (i32.const 0x108))) (then (call $exit (i32.const 100))))
    (call $open (i32.load (i32.load (i32.const 0x104))) (i32.const 0x100))
    (if (i32.load8_u (i32.const 0x100)) (then (call $exit (i32.const 101))))
    (call $setcfg (i32.load (i32.const 0x104)) (i32.const 1) (i32.const 1) (i32.const 0x100))
    (i32.load (i32.const 0x104)))
  ;; The first listed device, opened and left in the configuration it came in.
  (func $first_as_is (result i32)
    (call $init (i32.const 0x100))
    (call $list (i32.const 0x100))
    (if (i32.eqz (i32.load (i32.const 0x108))) (then (call $exit (i32.const 100))))
    (call $open (i32.load (i32.load (i32.const 0x104))) (i32.const 0x100))
    (if (i32.load8_u (i32.const 0x100)) (then (call $exit (i32.const 101))))
    (i32.load (i32.const 0x104)))
  ;; A bulk transfer of $size bytes on $ep: its handle, or exit with 200 + the error.
  (func $bulk (param $h i32) (param $ep i32) (param $size i32) (result i32)
    (call $new (local.get $h) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (local.get $size) (local.get $ep) (i32.const 100) (i32.const 0) (i32.const 0) (i32.const 0x100))
    (if (i32.load8_u (i32.const 0x100))
      (then (call $exit (i32.add (i32.const 200) (i32.load8_u (i32.const 0x104))))))
    (i32.load (i32.const 0x104)))
  (func (export "_start") (local $h i32) (local $t i32)
    {body}))
"#
    )
}

/// Builds and runs a WAT guest granted the echo device; its exit status and stderr.
fn run_guest(pkg: &str, body: &str) -> (Option<i32>, String) {
    let dir = scratch();
    let wat = dir.path().join("g.wat");
    std::fs::write(&wat, guest(pkg, body)).unwrap();
    let exe = dir.path().join("g");
    build(&wat, &exe, &["2341:8057:if=0:ep=0x81,0x01"]);
    let out = run_sim(dir.path(), &exe, &[], &[]);
    (out.status.code(), text(&out.stderr))
}

#[test]
fn transfers_follow_the_reference_host_rules() {
    // Round trip under the wasi:usb spelling: 3 bytes out, back in; exit with their sum.
    let echo = r#"
    (local.set $h (call $first))
    (i32.store (i32.const 0x200) (i32.const 0x030201))
    (local.set $t (call $bulk (local.get $h) (i32.const 0x01) (i32.const 3)))
    (call $submit (local.get $t) (i32.const 0x200) (i32.const 3) (i32.const 0x100))
    (call $await (local.get $t) (i32.const 0x100))
    (local.set $t (call $bulk (local.get $h) (i32.const 0x81) (i32.const 64)))
    (call $submit (local.get $t) (i32.const 0) (i32.const 0) (i32.const 0x100))
    (call $await (local.get $t) (i32.const 0x100))
    (if (i32.ne (i32.load (i32.const 0x108)) (i32.const 3)) (then (call $exit (i32.const 99))))
    (call $exit (i32.add (i32.load8_u (i32.load (i32.const 0x104)))
                (i32.load8_u (i32.add (i32.load (i32.const 0x104)) (i32.const 2)))))"#;
    for pkg in ["component:usb", "wasi:usb"] {
        assert_eq!(run_guest(pkg, echo).0, Some(4), "{pkg}");
    }
    // A guest that never sets a configuration: the device is in configuration 1, as the
    // kernel leaves it after enumeration (the real-kernel rig reports the same).
    let as_is = echo.replace("(call $first)", "(call $first_as_is)");
    assert_eq!(run_guest("component:usb", &as_is).0, Some(4));
    // OUT data shorter than buf-size: invalid-param (1).
    let short = r#"
    (local.set $t (call $bulk (call $first) (i32.const 0x01) (i32.const 4)))
    (call $submit (local.get $t) (i32.const 0x200) (i32.const 3) (i32.const 0x100))
    (call $exit (i32.load8_u (i32.const 0x101)))"#;
    assert_eq!(run_guest("component:usb", short).0, Some(1));
    // Submitting twice: busy (5).
    let twice = r#"
    (local.set $t (call $bulk (call $first) (i32.const 0x01) (i32.const 1)))
    (call $submit (local.get $t) (i32.const 0x200) (i32.const 1) (i32.const 0x100))
    (call $submit (local.get $t) (i32.const 0x200) (i32.const 1) (i32.const 0x100))
    (call $exit (i32.load8_u (i32.const 0x101)))"#;
    assert_eq!(run_guest("component:usb", twice).0, Some(5));
    // A huge buf-size: no-mem (10), nothing allocated.
    let huge = r#"(drop (call $bulk (call $first) (i32.const 0x81) (i32.const -1))) (call $exit (i32.const 0))"#;
    assert_eq!(run_guest("component:usb", huge).0, Some(210));
    // An endpoint outside the grant: access (2).
    let ungranted = r#"(drop (call $bulk (call $first) (i32.const 0x82) (i32.const 8))) (call $exit (i32.const 0))"#;
    assert_eq!(run_guest("component:usb", ungranted).0, Some(202));
    // Nothing arrives: timeout (6) after the transfer's 100 ms.
    let timeout = r#"
    (local.set $t (call $bulk (call $first) (i32.const 0x81) (i32.const 8)))
    (call $submit (local.get $t) (i32.const 0) (i32.const 0) (i32.const 0x100))
    (call $await (local.get $t) (i32.const 0x100))
    (call $exit (i32.load8_u (i32.const 0x104)))"#;
    assert_eq!(run_guest("component:usb", timeout).0, Some(6));
}

#[test]
fn hostile_guests_trap() {
    let cases = [
        // A forged usb-device handle.
        ("(call $open (i32.const 77) (i32.const 0x100)) (call $exit (i32.const 0))", "unknown handle"),
        // A dropped one.
        ("(call $list (i32.const 0x100)) (call $drop_dev (i32.load (i32.load (i32.const 0x104))))
          (call $open (i32.load (i32.load (i32.const 0x104))) (i32.const 0x100)) (call $exit (i32.const 0))", "unknown handle"),
        // A device-handle used as a usb-device.
        ("(call $open (call $first) (i32.const 0x100)) (call $exit (i32.const 0))", "unknown handle"),
        // A transfer awaited twice (await takes ownership).
        ("(local.set $t (call $bulk (call $first) (i32.const 0x01) (i32.const 1)))
          (call $await (local.get $t) (i32.const 0x100)) (call $await (local.get $t) (i32.const 0x100))
          (call $exit (i32.const 0))", "unknown handle"),
        // Return area outside memory, misaligned.
        ("(call $list (i32.const 0xFFFFFFF0)) (call $exit (i32.const 0))", "out of bounds"),
        ("(call $list (i32.const 0x101)) (call $exit (i32.const 0))", "out of bounds"),
        // OUT data outside memory.
        ("(local.set $t (call $bulk (call $first) (i32.const 0x01) (i32.const 16)))
          (call $submit (local.get $t) (i32.const 0xFFFF) (i32.const 16) (i32.const 0x100))
          (call $exit (i32.const 0))", "out of bounds"),
        // A transfer-type and a config-value case that do not exist (the generated glue's
        // `unreachable` trap for a value its type does not allow).
        ("(call $new (call $first) (i32.const 9) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
          (i32.const 1) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x100))
          (call $exit (i32.const 0))", "9 is not a case of transfer-type"),
        ("(call $setcfg (call $first) (i32.const 2) (i32.const 1) (i32.const 0x100)) (call $exit (i32.const 0))", "2 is not a case of config-value"),
    ];
    for (body, message) in cases {
        let (code, stderr) = run_guest("component:usb", body);
        assert_eq!(code, Some(134), "{body}: {stderr}");
        assert!(stderr.contains(message), "{body}: {stderr}");
    }
}

/// The USB host functions and their backends reach an executable only through its imports:
/// a driver that imports no USB function carries none of them (the linker drops them).
#[test]
fn usb_code_is_linked_only_into_drivers_that_import_it() {
    let dir = scratch();
    let hello = dir.path().join("hello.wat");
    std::fs::write(
        &hello,
        "(module (memory (export \"memory\") 1) (func (export \"_start\")))",
    )
    .unwrap();
    let plain = dir.path().join("plain");
    build(&hello, &plain, &[]);
    let wat = dir.path().join("g.wat");
    std::fs::write(&wat, guest("component:usb", "(call $exit (call $first))")).unwrap();
    let usb = dir.path().join("usb");
    build(&wat, &usb, &[]);
    let symbols = |exe: &Path| {
        let out = Command::new("nm")
            .arg(exe)
            .output()
            .expect("nm (binutils) is installed");
        text(&out.stdout)
    };
    let (plain, usb) = (symbols(&plain), symbols(&usb));
    assert!(
        usb.contains("wafer_g_component_usb_device_list_devices"),
        "the USB driver has its host functions"
    );
    assert!(usb.contains("SimHost"), "and the backends behind them");
    assert!(
        usb.contains("libusb_submit_transfer"),
        "libusb among them (the linux backend)"
    );
    for s in ["wafer_g_component_usb_", "SimHost", "libusb"] {
        assert!(
            !plain.contains(s),
            "{s} linked into a driver without USB imports"
        );
    }
}

#[test]
fn usb_storage_driver_writes_reads_and_verifies_through_bot_and_scsi() {
    let wasm = build_example("usb-storage");
    let dir = scratch();
    let exe = dir.path().join("usb-storage");
    // Only the drive's one interface and its two bulk endpoints.
    build(&wasm, &exe, &["0781:5567:if=0:ep=0x81,0x02"]);
    let conf = dir.path().join("sim.conf");
    std::fs::write(
        &conf,
        "device echo\ndevice storage file=disk.img blocks=8192\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(&exe)
            .args(args)
            .env("WAFER_USB_BACKEND", "sim")
            .env("WAFER_USB_SIM", &conf)
            .output()
            .unwrap()
    };
    let out = run(&["8", "3000"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for line in [
        "device 0781:5567 at bus 1 address 3, interface 0, bulk IN 0x81 OUT 0x02",
        "INQUIRY: wafer Sim Flash Drive 1.00 (removable)",
        "capacity: 8192 blocks of 512 bytes (4.0 MiB)",
        "wrote 1 MiB at LBA 8\nwrote 1 MiB at LBA 3000\n",
        "read: 2 MiB in ",
        "verified 2 MiB",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    assert!(!stdout.contains("kernel driver"), "{stdout}");

    // The data reached the image file at the right offsets, and nothing else was touched.
    let image = std::fs::read(dir.path().join("disk.img")).unwrap();
    assert_eq!(image.len(), 8192 * 512);
    const MIB: usize = 1 << 20;
    for lba in [8usize, 3000] {
        let at = lba * 512;
        assert!(
            image[at..at + MIB] == storage_pattern(at as u64, MIB)[..],
            "the chunk at LBA {lba} is not in the image"
        );
    }
    assert!(image[..8 * 512].iter().all(|b| *b == 0));
    assert!(image[8 * 512 + MIB..3000 * 512].iter().all(|b| *b == 0));
    assert!(image[3000 * 512 + MIB..].iter().all(|b| *b == 0));

    // Spread over the disk by default, last chunk ending at the last block; past the end is
    // refused by the driver before any transfer.
    let out = run(&[]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("wrote 1 MiB at LBA 6144\nwrite: 4 MiB"),
        "{stdout}"
    );
    let out = run(&["7000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("do not fit READ/WRITE(10)"),
        "{}",
        text(&out.stderr)
    );
}

/// A module importing every USB function the runtime lists, under both package spellings,
/// builds, `wafer inspect` reports nothing missing, and it runs. Generated from the
/// contract's table, so a function added there is covered here without editing the test.
#[test]
fn a_guest_importing_every_usb_function_builds() {
    for spelling in ["component:usb/", "wasi:usb/"] {
        let (_, count) = imports_of_host_functions(|m| m.starts_with(spelling));
        assert!(count >= 28, "{count} functions under {spelling}");
    }
    let (imports, _) = imports_of_host_functions(|m| {
        m.starts_with("component:usb/") || m.starts_with("wasi:usb/")
    });
    let dir = scratch();
    let input = dir.path().join("all.wat");
    std::fs::write(
        &input,
        format!(
            "(module {imports} (memory (export \"memory\") 1)
               (func (export \"cabi_realloc\") (param i32 i32 i32 i32) (result i32) i32.const 0)
               (func (export \"_start\")))"
        ),
    )
    .unwrap();
    let listing = text(&wafer().arg("inspect").arg(&input).output().unwrap().stdout);
    assert!(
        listing.contains("every import is provided by wafer"),
        "{listing}"
    );
    let exe = dir.path().join("all");
    build(&input, &exe, &["2341:8057"]);
    assert_eq!(Command::new(&exe).status().unwrap().code(), Some(0));
}

/// A guest written against the 2026 revision of `component:usb@0.2.1` (`await-transfer`
/// borrows the transfer and answers a transfer-result) binds that revision from the WIT it
/// carries, as a core module (wasm32-wasip1) and as a component (wasm32-wasip2), while the
/// other examples keep the older one.
#[test]
fn the_2026_await_transfer_binds_from_the_guests_wit() {
    let dir = scratch();
    for triple in ["wasm32-wasip1", "wasm32-wasip2"] {
        let wasm = build_sdk_guest_crate("tests/guests/usb-2026", triple).join("usb-2026.wasm");
        let exe = dir.path().join(format!("usb-2026-{triple}"));
        build(&wasm, &exe, &["2341:8057:if=0"]);
        let out = run_sim(dir.path(), &exe, &[], &[]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{triple}: {stdout}{}",
            text(&out.stderr)
        );
        assert_eq!(
            stdout,
            "OUT: 0 bytes of data, 0 packets; again: Some(\"not-found\")\n\
             control: 18 bytes, bLength 18, bDescriptorType 1\n\
             IN: 16 bytes, 0 packets, echoed\n",
            "{triple}"
        );
    }
    let wasm =
        build_sdk_guest_crate("tests/guests/usb-2026", "wasm32-wasip1").join("usb-2026.wasm");
    let inspect = wafer().arg("inspect").arg(&wasm).output().unwrap();
    let report = text(&inspect.stdout);
    assert!(
        report.contains("embedded WIT worlds (1):\n  component:usb@0.2.1 world guest"),
        "{report}"
    );
    assert!(
        report.contains("every import is provided by wafer"),
        "{report}"
    );
}
