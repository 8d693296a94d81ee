//! The 2024 WASI-USB prototype (`wadu436:usb@0.0.1`) end to end on the simulated backend: the
//! paper's two benchmarks as guests (examples/paper-ping on every target, examples/paper-storage),
//! the `--usb` grants enforced by traps (the API has no error to answer), and hostile guests in
//! WAT that pass forged, dropped, foreign or wrong-type handles.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

const TARGETS: [&str; 3] = ["x86_64", "aarch64", "riscv64"];

/// Blocks of the simulated drive: the examples write from LBA 8192, 4 MiB (8192 blocks) here.
const DISK_BLOCKS: u64 = 16384;

fn sim_conf(dir: &Path) -> std::path::PathBuf {
    let conf = dir.join("sim.conf");
    std::fs::write(
        &conf,
        format!(
            "device echo serial=E1\ndevice storage file=disk.img blocks={DISK_BLOCKS}\ndevice keyboard keys=hi\n"
        ),
    )
    .unwrap();
    conf
}

/// Runs `exe` (built for `target`) on the simulated devices.
fn run_sim(target: &str, dir: &Path, exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command_on(target, exe)
        .args(args)
        .env("WAFER_USB_BACKEND", "sim")
        .env("WAFER_USB_SIM", sim_conf(dir))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn build(input: &Path, exe: &Path, target: &str, grants: &[&str]) {
    let mut flags = vec!["--target", target];
    for g in grants {
        flags.extend(["--usb", g]);
    }
    wafer_build(input, exe, &flags);
}

#[test]
fn paper_ping_round_trips_on_every_target() {
    let wasm = build_example("paper-ping");
    let dir = scratch();
    for target in TARGETS {
        let exe = dir.path().join(format!("ping-{target}"));
        build(
            &wasm,
            &exe,
            target,
            &["2341:8057:if=0:ep=0x81,0x01,0x82,0x02"],
        );
        let out = run_sim(target, dir.path(), &exe, &["20"], &[]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{target}: {stdout}{}",
            text(&out.stderr)
        );
        for kind in ["bulk", "interrupt"] {
            for size in [4, 16, 32] {
                let line = format!("{kind} {size} bytes: 20 round trips ok, median ");
                assert!(stdout.contains(&line), "{target}: {line}: {stdout}");
            }
        }
        assert_eq!(stdout.lines().count(), 6, "{target}: {stdout}");
    }
}

#[test]
fn paper_ping_traps_outside_its_grant() {
    let wasm = build_example("paper-ping");
    let dir = scratch();
    // Only the bulk endpoints: the bulk cases pass, the first interrupt write traps naming
    // the endpoint (the API has no `access` error to answer).
    let exe = dir.path().join("ping-bulk");
    build(&wasm, &exe, "x86_64", &["2341:8057:ep=0x81,0x01"]);
    let out = run_sim("x86_64", dir.path(), &exe, &["3"], &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(134), "{stdout}{stderr}");
    assert!(
        stdout.contains("bulk 32 bytes: 3 round trips ok"),
        "{stdout}"
    );
    assert!(!stdout.contains("interrupt"), "{stdout}");
    assert!(
        stderr.contains(
            "wafer: usb: write-interrupt on endpoint 0x02: endpoint 0x02 of 2341:8057 is not granted (granted: 0x81,0x01)"
        ),
        "{stderr}"
    );
    // Another interface than the one it claims.
    let exe = dir.path().join("ping-if1");
    build(&wasm, &exe, "x86_64", &["2341:8057:if=1"]);
    let out = run_sim("x86_64", dir.path(), &exe, &["1"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(134), "{stderr}");
    assert!(
        stderr.contains(
            "wafer: usb: claim-interface 0: interface 0 of 2341:8057 is not granted (granted: 1)"
        ),
        "{stderr}"
    );
    // Not granted at all: request-device finds nothing, and tracing says why.
    let exe = dir.path().join("ping-none");
    build(&wasm, &exe, "x86_64", &["0781:5567"]);
    let out = run_sim("x86_64", dir.path(), &exe, &[], &[("WAFER_TRACE", "usb")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2341:8057 at 1-2 is not granted: not listed")
            && stderr.contains("paper-ping: no echo device 2341:8057"),
        "{stderr}"
    );
}

#[test]
fn paper_storage_writes_reads_and_verifies_from_lba_8192() {
    let wasm = build_example("paper-storage");
    let dir = scratch();
    let exe = dir.path().join("storage");
    build(&wasm, &exe, "x86_64", &["0781:5567:if=0:ep=0x81,0x02"]);
    let out = run_sim("x86_64", dir.path(), &exe, &["4"], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for line in [
        // Strings from the device, found by its interface class through the resources.
        "device 0781:5567 wafer Sim Flash Drive, configuration 1, interface 0, bulk IN 0x81 OUT 0x02\n",
        "INQUIRY: wafer Sim Flash Drive 1.00\n",
        "capacity: 16384 blocks of 512 bytes (8.0 MiB)\n",
        "write: 4194304 bytes (4 MiB) at LBA 8192 in ",
        "read: 4194304 bytes (4 MiB) in ",
        "verified 4 MiB\n",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    // The data is in the image from LBA 8192 on, and nothing before it was touched.
    let image = std::fs::read(dir.path().join("disk.img")).unwrap();
    assert_eq!(image.len() as u64, DISK_BLOCKS * 512);
    let at = 8192 * 512;
    assert!(image[at..] == storage_pattern(at as u64, 4 << 20)[..]);
    assert!(image[..at].iter().all(|b| *b == 0));

    // More than fits: refused by the driver before any transfer.
    let out = run_sim("x86_64", dir.path(), &exe, &["5"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("5 MiB from LBA 8192 do not fit a disk of 16384 blocks"),
        "{}",
        text(&out.stderr)
    );
    // The drive's endpoint OUT outside the grant: the CBW write traps.
    let exe = dir.path().join("storage-in-only");
    build(&wasm, &exe, "x86_64", &["0781:5567:ep=0x81"]);
    let out = run_sim("x86_64", dir.path(), &exe, &["1"], &[]);
    assert_eq!(out.status.code(), Some(134));
    assert!(
        text(&out.stderr).contains(
            "wafer: usb: write-bulk on endpoint 0x02: endpoint 0x02 of 0781:5567 is not granted"
        ),
        "{}",
        text(&out.stderr)
    );
    // Without the drive's grant it is never enumerated.
    let exe = dir.path().join("storage-echo");
    build(&wasm, &exe, "x86_64", &["2341:8057"]);
    let out = run_sim("x86_64", dir.path(), &exe, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("paper-storage: no mass-storage device"),
        "{}",
        text(&out.stderr)
    );
}

/// A WAT guest importing `wadu436:usb/device@0.0.1` directly, with a bump `cabi_realloc`, and
/// a `_start` running `body`. `$dev` enumerates and answers the first device (its handle);
/// `$first_of` the first handle of a list a method of `h` returns.
fn guest(body: &str) -> String {
    let m = "wadu436:usb/device@0.0.1";
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "{m}" "[static]usb-device.enumerate" (func $enumerate (param i32)))
  (import "{m}" "[static]usb-device.request-device" (func $request
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "{m}" "[method]usb-device.open" (func $open (param i32)))
  (import "{m}" "[method]usb-device.opened" (func $opened (param i32) (result i32)))
  (import "{m}" "[method]usb-device.close" (func $close (param i32)))
  (import "{m}" "[method]usb-device.configurations" (func $configurations (param i32 i32)))
  (import "{m}" "[method]usb-device.claim-interface" (func $claim (param i32 i32)))
  (import "{m}" "[method]usb-device.read-control" (func $read_control
    (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "{m}" "[method]usb-device.read-bulk" (func $read_bulk (param i32 i32 i64 i32)))
  (import "{m}" "[method]usb-device.write-bulk" (func $write_bulk (param i32 i32 i32 i32) (result i64)))
  (import "{m}" "[method]usb-device.read-isochronous" (func $read_iso (param i32 i32 i32)))
  (import "{m}" "[method]usb-configuration.interfaces" (func $interfaces (param i32 i32)))
  (import "{m}" "[method]usb-interface.endpoints" (func $endpoints (param i32 i32)))
  (import "{m}" "[resource-drop]usb-device" (func $drop_device (param i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 0x1000))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func $dev (result i32)
    (call $enumerate (i32.const 0x100))
    (if (i32.eqz (i32.load (i32.const 0x104))) (then (call $exit (i32.const 100))))
    (i32.load (i32.load (i32.const 0x100))))
  ;; Element $i of the list at 0x100 (handles).
  (func $nth (param $i i32) (result i32)
    (i32.load (i32.add (i32.load (i32.const 0x100)) (i32.mul (local.get $i) (i32.const 4)))))
  ;; Endpoint $i of interface 0 of the first configuration of $d (0x81, 0x01, 0x82, 0x02).
  (func $endpoint (param $d i32) (param $i i32) (result i32)
    (call $configurations (local.get $d) (i32.const 0x100))
    (call $interfaces (call $nth (i32.const 0)) (i32.const 0x100))
    (call $endpoints (call $nth (i32.const 0)) (i32.const 0x100))
    (call $nth (local.get $i)))
  (func (export "_start") (local $d i32) (local $e i32)
    {body}))
"#
    )
}

/// Builds and runs a WAT guest granted the echo device's interface 0 with its bulk
/// endpoints; its exit status and stderr.
fn run_guest(body: &str) -> (Option<i32>, String) {
    let dir = scratch();
    let wat = dir.path().join("g.wat");
    std::fs::write(&wat, guest(body)).unwrap();
    let exe = dir.path().join("g");
    build(&wat, &exe, "x86_64", &["2341:8057:if=0:ep=0x81,0x01"]);
    let out = run_sim("x86_64", dir.path(), &exe, &[], &[]);
    (out.status.code(), text(&out.stderr))
}

#[test]
fn direct_calls_follow_the_prototype() {
    // request-device by serial number (the string at 0x300): E1 is the echo device, E2 is
    // nothing. Exits with the option's case.
    for (serial, found) in [("E1", 1), ("E2", 0)] {
        let [a, b] = serial.as_bytes() else {
            unreachable!()
        };
        let body = format!(
            "(i32.store8 (i32.const 0x300) (i32.const {a})) (i32.store8 (i32.const 0x301) (i32.const {b}))
    (call $request (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 1) (i32.const 0x300) (i32.const 2) (i32.const 0x100))
    (call $exit (i32.load8_u (i32.const 0x100)))"
        );
        let (code, stderr) = run_guest(&body);
        assert_eq!(code, Some(found), "{serial}: {stderr}");
    }
    // open, opened, close; a standard GET_DESCRIPTOR(DEVICE) read-control: 18 bytes, of which
    // the first is bLength (18) and the second bDescriptorType (1).
    let control = r#"
    (local.set $d (call $dev))
    (if (call $opened (local.get $d)) (then (call $exit (i32.const 90))))
    (call $open (local.get $d))
    (if (i32.eqz (call $opened (local.get $d))) (then (call $exit (i32.const 91))))
    (call $read_control (local.get $d) (i32.const 0) (i32.const 0) (i32.const 6)
      (i32.const 0x100) (i32.const 0) (i32.const 64) (i32.const 0x200))
    (if (i32.ne (i32.load (i32.const 0x204)) (i32.const 18)) (then (call $exit (i32.const 92))))
    (if (i32.ne (i32.load8_u (i32.add (i32.load (i32.const 0x200)) (i32.const 1))) (i32.const 1))
      (then (call $exit (i32.const 93))))
    (call $close (local.get $d))
    (if (call $opened (local.get $d)) (then (call $exit (i32.const 94))))
    (call $exit (i32.load8_u (i32.load (i32.const 0x200))))"#;
    let (code, stderr) = run_guest(control);
    assert_eq!(code, Some(18), "{stderr}");
}

#[test]
fn hostile_guests_trap_with_a_clear_message() {
    let cases = [
        // A forged usb-device handle.
        ("(call $open (i32.const 77))", "usb-device handle 77 is not owned by this instance"),
        // A configuration handle where an interface is expected.
        (
            "(local.set $d (call $dev)) (call $open (local.get $d))
             (call $configurations (local.get $d) (i32.const 0x100))
             (call $claim (local.get $d) (call $nth (i32.const 0)))",
            "usb-interface handle 2 is not owned by this instance",
        ),
        // A dropped device.
        (
            "(local.set $d (call $dev)) (call $drop_device (local.get $d)) (call $open (local.get $d))",
            "usb-device handle 1 is not owned by this instance",
        ),
        // Dropped twice.
        (
            "(local.set $d (call $dev)) (call $drop_device (local.get $d)) (call $drop_device (local.get $d))",
            "usb-device handle 1 is not owned by this instance",
        ),
        // An endpoint of another usb-device resource (the same device, enumerated again).
        (
            "(local.set $e (call $endpoint (call $dev) (i32.const 0)))
             (local.set $d (call $dev)) (call $open (local.get $d))
             (call $read_bulk (local.get $d) (local.get $e) (i64.const 8) (i32.const 0x200))",
            "usb-endpoint handle 4 belongs to another usb-device",
        ),
        // A transfer on a device never opened.
        (
            "(local.set $d (call $dev))
             (call $read_bulk (local.get $d) (call $endpoint (local.get $d) (i32.const 0))
               (i64.const 8) (i32.const 0x200))",
            "read-bulk on endpoint 0x81: usb-device 2341:8057 is not open (call open first)",
        ),
        // Writing to an IN endpoint; an isochronous read on a bulk one (the simulated
        // devices have no isochronous endpoints).
        (
            "(local.set $d (call $dev)) (call $open (local.get $d))
             (drop (call $write_bulk (local.get $d) (call $endpoint (local.get $d) (i32.const 0))
               (i32.const 0) (i32.const 4)))",
            "write-bulk on endpoint 0x81: it is an IN endpoint, not OUT",
        ),
        (
            "(local.set $d (call $dev)) (call $open (local.get $d))
             (call $read_iso (local.get $d) (call $endpoint (local.get $d) (i32.const 0)) (i32.const 0x200))",
            "read-isochronous on endpoint 0x81: it is a bulk endpoint, not isochronous",
        ),
        // An interrupt endpoint outside the grant.
        (
            "(local.set $d (call $dev)) (call $open (local.get $d))
             (call $read_bulk (local.get $d) (call $endpoint (local.get $d) (i32.const 2))
               (i64.const 8) (i32.const 0x200))",
            "read-bulk on endpoint 0x82: endpoint 0x82 of 2341:8057 is not granted",
        ),
        // More than a transfer may hold.
        (
            "(local.set $d (call $dev)) (call $open (local.get $d))
             (call $read_bulk (local.get $d) (call $endpoint (local.get $d) (i32.const 0))
               (i64.const 0x100000000) (i32.const 0x200))",
            "read-bulk on endpoint 0x81: 4294967296 bytes is over the limit",
        ),
        // A vendor request to the device itself needs an unrestricted grant.
        (
            "(local.set $d (call $dev)) (call $open (local.get $d))
             (call $read_control (local.get $d) (i32.const 2) (i32.const 0) (i32.const 1)
               (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 0x200))",
            "read-control 0xc0/0x01: control request 0xc0/0x01 to the device 2341:8057 needs a grant without interface or endpoint limits",
        ),
        // A control-setup-type that does not exist.
        (
            "(local.set $d (call $dev)) (call $open (local.get $d))
             (call $read_control (local.get $d) (i32.const 3) (i32.const 0) (i32.const 1)
               (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 0x200))",
            "3 is not a case of control-setup-type",
        ),
    ];
    for (body, message) in cases {
        let (code, stderr) = run_guest(&format!("{body} (call $exit (i32.const 0))"));
        assert_eq!(code, Some(134), "{body}: {stderr}");
        assert!(stderr.contains(message), "{body}: {stderr}");
        assert!(stderr.starts_with("wafer: usb: "), "{body}: {stderr}");
    }
}

/// Nothing arrives on bulk IN: the read traps after the fixed 20 s timeout, naming the call
/// and the error.
#[test]
fn a_read_with_nothing_to_read_times_out_after_20_s() {
    let start = std::time::Instant::now();
    let (code, stderr) = run_guest(
        "(local.set $d (call $dev)) (call $open (local.get $d))
         (call $read_bulk (local.get $d) (call $endpoint (local.get $d) (i32.const 0))
           (i64.const 8) (i32.const 0x200))
         (call $exit (i32.const 0))",
    );
    assert_eq!(code, Some(134), "{stderr}");
    assert!(
        stderr.starts_with("wafer: usb: read-bulk on endpoint 0x81: timed out\n"),
        "{stderr}"
    );
    let waited = start.elapsed().as_secs_f64();
    assert!((20.0..40.0).contains(&waited), "{waited} s");
}

/// `wafer inspect` finds every function of the prototype provided, and a module importing
/// them all builds and runs.
#[test]
fn a_guest_importing_every_prototype_function_builds() {
    let (imports, count) = imports_of_host_functions(|m| m == "wadu436:usb/device@0.0.1");
    assert_eq!(count, 31);
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
    build(&input, &exe, "x86_64", &["2341:8057"]);
    assert_eq!(Command::new(&exe).status().unwrap().code(), Some(0));
}
