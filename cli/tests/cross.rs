//! Every target, the same behaviour: executables for aarch64 and riscv64 (built on this
//! machine, run under qemu-user) print, exit, trap and report traps exactly like the host's,
//! link statically or dynamically as asked, and board builds run on their board's CPU.
//!
//! scripts/setup.sh installs the cross toolchains and qemu-user these tests need.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wafer::Target;

/// The targets every test here runs on; the host's executables run directly.
const TARGETS: [&str; 3] = ["x86_64", "aarch64", "riscv64"];
const BOARDS: [&str; 6] = [
    "rpi4",
    "rpi5",
    "visionfive2",
    "spacemit-k1",
    "x86-64-v2",
    "x86-64-v3",
];

/// `--target NAME` or `--board NAME`, whichever `name` is.
fn target_flag(name: &str) -> [&str; 2] {
    if BOARDS.contains(&name) {
        ["--board", name]
    } else {
        ["--target", name]
    }
}

/// Builds `input` for the target or board `name`; panics with wafer's message on failure.
fn build(input: &Path, name: &str, flags: &[&str], exe: &Path) {
    let out = wafer()
        .arg("build")
        .arg(input)
        .arg("-o")
        .arg(exe)
        .args(target_flag(name))
        .args(flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: build failed: {}",
        text(&out.stderr)
    );
}

/// Runs `exe` as built for the target or board `name`: directly on the host's architecture,
/// otherwise under qemu (emulating the board's CPU for a board).
fn run(name: &str, exe: &Path, args: &[&str]) -> Output {
    let target = Target::resolve(name).unwrap();
    let prefix = if target.board.is_some() {
        &target.runner[..]
    } else {
        target.run_prefix()
    };
    let mut cmd = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name}: running {}: {e}", exe.display()))
}

fn build_and_run_wat(wat: &str, name: &str, flags: &[&str]) -> Output {
    let dir = scratch();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, wat).unwrap();
    let exe = dir.path().join("m");
    build(&input, name, flags, &exe);
    run(name, &exe, &[])
}

const WASI_EXIT: &str = r#"(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))"#;
const WASI_WRITE: &str = r#"(import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))"#;

#[test]
fn output_and_exit_status_are_the_same_on_every_target() {
    let wat = format!(
        r#"(module {WASI_WRITE} {WASI_EXIT}
             (memory (export "memory") 1)
             (data (i32.const 16) "sandboxed hello\n")
             (func (export "_start")
               (i32.store (i32.const 0) (i32.const 16))
               (i32.store (i32.const 4) (i32.const 16))
               (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
               (call $exit (i32.const 7))))"#
    );
    for name in TARGETS {
        for mode in ["guard", "explicit"] {
            let out = build_and_run_wat(&wat, name, &["--bounds-checks", mode]);
            assert_eq!(text(&out.stdout), "sandboxed hello\n", "{name} {mode}");
            assert_eq!(out.status.code(), Some(7), "{name} {mode}");
        }
    }
}

/// Each case traps on every target, in both bounds-check modes, with the same message and
/// the name of the wasm function.
fn assert_traps_everywhere(cases: &[(&str, &str, &str)]) {
    for &(wat, message, function) in cases {
        for name in TARGETS {
            for mode in ["guard", "explicit"] {
                let out = build_and_run_wat(wat, name, &["--bounds-checks", mode]);
                let stderr = text(&out.stderr);
                assert_eq!(
                    out.status.code(),
                    Some(wafer_abi::TRAP_EXIT_STATUS),
                    "{name} {mode}: {stderr}"
                );
                assert!(
                    stderr.contains(&format!("wasm trap: {message}\n")),
                    "{name} {mode}: expected `{message}`: {stderr}"
                );
                assert!(
                    stderr.contains(&format!("in function {function}")),
                    "{name} {mode}: function `{function}` missing: {stderr}"
                );
            }
        }
    }
}

#[test]
fn stack_overflow_traps_on_every_target() {
    let locals = "(local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)";
    let big_frames = format!(
        r#"(module (func $deep (export "_start") {locals}
              (local.set 0 (i64.const 1)) (call $deep) (drop (i64.add (local.get 0) (local.get 15)))))"#
    );
    assert_traps_everywhere(&[
        (
            r#"(module (func $bomb (export "_start") (call $bomb)))"#,
            "call stack exhausted",
            "bomb",
        ),
        (&big_frames, "call stack exhausted", "deep"),
    ]);
}

#[test]
fn out_of_bounds_memory_traps_on_every_target() {
    assert_traps_everywhere(&[
        // The farthest address wasm can form: base + 4 GiB - 1 + offset, deep in the guard.
        (
            r#"(module (memory 1)
                 (func $peek (export "_start")
                   (drop (i64.load offset=0xfffffff0 (i32.const 0xffffffff)))))"#,
            "out of bounds memory access",
            "peek",
        ),
        (
            r#"(module (memory 1)
                 (func $poke (export "_start") (i32.store8 (i32.const 65536) (i32.const 1))))"#,
            "out of bounds memory access",
            "poke",
        ),
        // An access straddling the end: the first bytes are in bounds.
        (
            r#"(module (memory 1)
                 (func $straddle (export "_start") (i64.store (i32.const 65532) (i64.const -1))))"#,
            "out of bounds memory access",
            "straddle",
        ),
    ]);
}

#[test]
fn arithmetic_traps_on_every_target() {
    // aarch64 and riscv64 division does not fault: these come from the compiler's checks.
    assert_traps_everywhere(&[
        (
            r#"(module (global $zero (mut i32) (i32.const 0))
                 (func $divide (export "_start")
                   (drop (i32.div_u (i32.const 1) (global.get $zero)))))"#,
            "integer divide by zero",
            "divide",
        ),
        (
            r#"(module (global $zero (mut i64) (i64.const 0))
                 (func $remainder (export "_start")
                   (drop (i64.rem_s (i64.const 1) (global.get $zero)))))"#,
            "integer divide by zero",
            "remainder",
        ),
        (
            r#"(module (global $m1 (mut i64) (i64.const -1))
                 (func $overflow (export "_start")
                   (drop (i64.div_s (i64.const 0x8000000000000000) (global.get $m1)))))"#,
            "integer overflow",
            "overflow",
        ),
        // Float-to-int conversions of NaN and of out-of-range values must trap (the hardware
        // saturates on aarch64 and riscv64).
        (
            r#"(module (global $nan (mut f64) (f64.const nan))
                 (func $convert (export "_start") (drop (i32.trunc_f64_s (global.get $nan)))))"#,
            "invalid conversion to integer",
            "convert",
        ),
        (
            r#"(module (global $big (mut f32) (f32.const 1e10))
                 (func $narrow (export "_start") (drop (i32.trunc_f32_u (global.get $big)))))"#,
            "integer overflow",
            "narrow",
        ),
        (
            r#"(module (func $stop (export "_start") unreachable))"#,
            "unreachable",
            "stop",
        ),
    ]);
}

#[test]
fn table_and_runtime_traps_on_every_target() {
    assert_traps_everywhere(&[
        (
            r#"(module (type $v (func)) (table 1 funcref) (elem (i32.const 0) $takes_i32)
                 (func $takes_i32 (param i32))
                 (func $caller (export "_start") (call_indirect (type $v) (i32.const 0))))"#,
            "indirect call type mismatch",
            "caller",
        ),
        (
            r#"(module (type $v (func)) (table 2 funcref)
                 (func $null (export "_start") (call_indirect (type $v) (i32.const 1))))"#,
            "uninitialized element",
            "null",
        ),
        (
            r#"(module (type $v (func)) (table 2 funcref)
                 (func $past (export "_start") (call_indirect (type $v) (i32.const 2))))"#,
            "undefined element",
            "past",
        ),
        // Raised inside the runtime (a libcall): the name comes from the frame-pointer walk,
        // whose layout differs per architecture.
        (
            r#"(module (memory 1)
                 (func $clear_buffer (export "_start")
                   (memory.fill (i32.const 65000) (i32.const 0) (i32.const 1000))))"#,
            "out of bounds memory access",
            "clear_buffer",
        ),
        (
            r#"(module (table 1 funcref)
                 (func $lookup (drop (table.get (i32.const 5))))
                 (func (export "_start") (call $lookup)))"#,
            "out of bounds table access",
            "lookup",
        ),
    ]);
}

#[test]
fn float_semantics_are_the_same_on_every_target() {
    // Exit status = the number of checks that failed, each a property where targets' native
    // instructions differ from wasm (the spec suite checks the full tables).
    let wat = format!(
        r#"(module {WASI_EXIT}
             (global $nan (mut f32) (f32.const nan:0x200000))
             (global $negz (mut f64) (f64.const -0.0))
             (global $half (mut f64) (f64.const 2.5))
             (func $check (param i32) (param $fails i32) (result i32)
               (i32.add (local.get $fails) (i32.eqz (local.get 0))))
             (func (export "_start") (local $f i32)
               ;; min/max propagate NaN and order the zeros.
               (local.set $f (call $check (f32.ne (f32.min (global.get $nan) (f32.const 1)) (f32.min (global.get $nan) (f32.const 1))) (local.get $f)))
               (local.set $f (call $check (i64.eq (i64.reinterpret_f64 (f64.min (f64.const 0) (global.get $negz))) (i64.const 0x8000000000000000)) (local.get $f)))
               (local.set $f (call $check (i64.eq (i64.reinterpret_f64 (f64.max (global.get $negz) (f64.const 0))) (i64.const 0)) (local.get $f)))
               ;; nearest rounds half to even; trunc, floor and ceil keep the sign of zero.
               (local.set $f (call $check (f64.eq (f64.nearest (global.get $half)) (f64.const 2)) (local.get $f)))
               (local.set $f (call $check (i64.eq (i64.reinterpret_f64 (f64.ceil (f64.const -0.5))) (i64.const 0x8000000000000000)) (local.get $f)))
               ;; Saturating conversions.
               (local.set $f (call $check (i32.eq (i32.trunc_sat_f32_s (global.get $nan)) (i32.const 0)) (local.get $f)))
               (local.set $f (call $check (i64.eq (i64.trunc_sat_f64_u (f64.const -7)) (i64.const 0)) (local.get $f)))
               ;; A NaN result is a NaN, whatever its payload.
               (local.set $f (call $check (f32.ne (f32.sqrt (f32.const -1)) (f32.sqrt (f32.const -1))) (local.get $f)))
               (call $exit (local.get $f))))"#
    );
    for name in TARGETS {
        let out = build_and_run_wat(&wat, name, &[]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
    }
}

/// The ELF machine and whether the executable asks for a dynamic loader (`PT_INTERP`).
fn elf_machine_and_interp(path: &Path) -> (u16, bool) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let machine = u16_at(18);
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
    const PT_INTERP: u32 = 3;
    let interp = (0..phnum as usize).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == PT_INTERP
    });
    (machine, interp)
}

fn elf_machine(name: &str) -> u16 {
    match Target::resolve(name).unwrap().short.as_str() {
        "x86_64" => 62,
        "aarch64" => 183,
        "riscv64" => 243,
        other => panic!("no ELF machine for {other}"),
    }
}

/// The C example from examples/hello, built to wasm with clang (scripts/setup.sh).
fn c_hello_wasm(dir: &Path) -> PathBuf {
    c_wasm(dir, "examples/hello/hello.c", &[])
}

/// A C source of the repository built to wasm with clang `-O2` and `flags`.
fn c_wasm(dir: &Path, source: &str, flags: &[&str]) -> PathBuf {
    let name = Path::new(source).file_stem().unwrap();
    let wasm = dir.join(name).with_extension("wasm");
    let clang = Command::new("clang")
        .args(["--target=wasm32-wasi", "-O2"])
        .args(flags)
        .arg(root().join(source))
        .arg("-o")
        .arg(&wasm)
        .output();
    match clang {
        Ok(out) if out.status.success() => wasm,
        _ => panic!("clang for wasm32-wasi is missing: run scripts/setup.sh"),
    }
}

#[test]
fn c_hello_runs_static_and_dynamic_on_every_target() {
    let dir = scratch();
    let wasm = c_hello_wasm(dir.path());
    for name in TARGETS {
        for (link, dynamic) in [("--static", false), ("--dynamic", true)] {
            let exe = dir.path().join(format!("hello-{name}{link}"));
            build(&wasm, name, &[link], &exe);
            assert_eq!(
                elf_machine_and_interp(&exe),
                (elf_machine(name), dynamic),
                "{name} {link}"
            );
            let out = run(name, &exe, &["edge", "board", "--exit", "5"]);
            assert_eq!(
                text(&out.stdout),
                "hello from a wafer driver edge board\n",
                "{name} {link}: {}",
                text(&out.stderr)
            );
            assert_eq!(out.status.code(), Some(5), "{name} {link}");
        }
    }
}

#[test]
fn rust_hello_runs_on_every_target() {
    let target_dir = root().join("target").join("examples-rust");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip1",
            "--manifest-path",
        ])
        .arg(root().join("examples/hello-rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(
        built.success(),
        "building the Rust guest failed: run scripts/setup.sh"
    );
    let wasm = target_dir.join("wasm32-wasip1/release/hello-rust.wasm");
    let dir = scratch();
    for name in TARGETS {
        let exe = dir.path().join(format!("hello-rust-{name}"));
        build(&wasm, name, &[], &exe);
        let out = run(name, &exe, &["on", "a", "board", "--exit", "9"]);
        assert_eq!(
            text(&out.stdout),
            "hello from Rust on wafer: on a board --exit 9\n",
            "{name}"
        );
        // The checksum exercises integer and float code: it must agree across targets.
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("checksum "), "{name}: {stderr}");
        assert_eq!(out.status.code(), Some(9), "{name}");
    }
}

/// Bit manipulation and address arithmetic: what the visionfive2 profile's Zba/Zbb change.
const BIT_WORK: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (global $seed (mut i64) (i64.const 0x0123456789abcdef))
  (func (export "_start") (local $i i32) (local $acc i64) (local $x i64)
    (local.set $x (global.get $seed))
    (loop $next
      (i64.store (i32.shl (i32.and (local.get $i) (i32.const 255)) (i32.const 3)) (local.get $x))
      (local.set $acc (i64.add (local.get $acc)
        (i64.add (i64.popcnt (local.get $x))
          (i64.add (i64.clz (local.get $x)) (i64.ctz (i64.rotl (local.get $x) (i64.const 13)))))))
      (local.set $x (i64.xor (i64.load (i32.shl (i32.and (i32.mul (local.get $i) (i32.const 7)) (i32.const 255)) (i32.const 3)))
        (i64.mul (local.get $x) (i64.const 6364136223846793005))))
      (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1000))))
    (call $exit (i32.wrap_i64 (i64.rem_u (local.get $acc) (i64.const 251))))))"#;

#[test]
fn board_builds_run_on_their_cpu_and_agree_with_the_host() {
    let host = build_and_run_wat(BIT_WORK, "x86_64", &[]);
    let expected = host.status.code().unwrap();
    for board in BOARDS {
        let out = build_and_run_wat(BIT_WORK, board, &[]);
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{board}: {}",
            text(&out.stderr)
        );
    }
    // The C example on every board, under its CPU.
    let dir = scratch();
    let wasm = c_hello_wasm(dir.path());
    for board in BOARDS {
        let exe = dir.path().join(format!("hello-{board}"));
        build(&wasm, board, &[], &exe);
        let out = run(board, &exe, &["on", board]);
        assert_eq!(
            text(&out.stdout),
            format!("hello from a wafer driver on {board}\n")
        );
    }
}

#[test]
fn visionfive2_code_uses_its_bit_manipulation_extensions() {
    // The board profile is not a no-op: on a RV64GC CPU without Zbb its code hits an
    // illegal instruction, which the runtime reports as a fault outside trap sites.
    let dir = scratch();
    let input = dir.path().join("bits.wat");
    std::fs::write(&input, BIT_WORK).unwrap();
    let exe = dir.path().join("bits");
    build(&input, "visionfive2", &[], &exe);
    let out = Command::new("qemu-riscv64")
        .args(["-cpu", "rv64,zba=false,zbb=false"])
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("wafer: fatal signal 4"),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
}

/// A select and single-bit operations: what the spacemit-k1 profile's Zicond and Zbs change.
/// Exits 37.
const SELECT_AND_BITS: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func $pick (param i64 i64 i32) (result i64) (select (local.get 0) (local.get 1) (local.get 2)))
  (func $bit (param i64 i64) (result i64)
    (i64.and (i64.shr_u (local.get 0) (local.get 1)) (i64.const 1)))
  (func $set (param i64 i64) (result i64) (i64.or (local.get 0) (i64.shl (i64.const 1) (local.get 1))))
  (func (export "_start")
    (call $exit (i32.wrap_i64 (i64.add
      (i64.add (call $pick (i64.const 3) (i64.const 4) (i32.const 0))
               (call $bit (i64.const 8) (i64.const 3)))
      (call $set (i64.const 0) (i64.const 5)))))))"#;

#[test]
fn spacemit_k1_code_uses_zicond_and_zbs() {
    let dir = scratch();
    let input = dir.path().join("select.wat");
    std::fs::write(&input, SELECT_AND_BITS).unwrap();
    let exe = dir.path().join("select");
    build(&input, "spacemit-k1", &[], &exe);
    let cpu = wafer::target::Board::find("spacemit-k1")
        .unwrap()
        .emulator_cpu;
    let on = |cpu: &str| {
        Command::new("qemu-riscv64")
            .args(["-cpu", cpu])
            .arg(&exe)
            .output()
            .unwrap()
    };
    let out = on(&cpu);
    assert_eq!(out.status.code(), Some(37), "{}", text(&out.stderr));
    // The same CPU without either extension refuses the code.
    for without in ["zicond", "zbs"] {
        let lacking = cpu.replace(&format!("{without}=true"), &format!("{without}=false"));
        assert_ne!(lacking, cpu);
        let out = on(&lacking);
        assert!(
            text(&out.stderr).contains("in wasm code: an instruction this CPU lacks"),
            "without {without}: {:?}: {}",
            out.status,
            text(&out.stderr)
        );
    }
}

#[test]
fn drivers_fit_the_smallest_board_address_space() {
    // qemu on an x86_64 host gives the guest a 47-bit address space; boards may have less
    // (39-bit aarch64 kernels: 512 GiB, RISC-V Sv39: 256 GiB). A driver's memory reserves
    // 8 GiB + 64 KiB of it, so check a driver inside a 256 GiB guest space (qemu `-R`).
    let wat = format!(
        r#"(module {WASI_EXIT} (memory 1)
             (func (export "_start")
               (i32.store (i32.const 65532) (i32.const 5))
               (call $exit (i32.add (i32.load (i32.const 65532)) (memory.grow (i32.const 1))))))"#
    );
    let dir = scratch();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, wat).unwrap();
    for name in ["aarch64", "riscv64"] {
        let exe = dir.path().join(format!("m-{name}"));
        build(&input, name, &[], &exe);
        let target = Target::resolve(name).unwrap();
        let out = Command::new(&target.runner[0])
            .args(["-R", "256G"])
            .arg(&exe)
            .output()
            .unwrap();
        // 5 stored and read back, plus the old size (1) from memory.grow.
        assert_eq!(out.status.code(), Some(6), "{name}: {}", text(&out.stderr));
    }
    // The guard region faults there too.
    let trap = r#"(module (memory 1)
        (func $far (export "_start") (drop (i64.load offset=0xfffffff0 (i32.const 0xffffffff)))))"#;
    std::fs::write(&input, trap).unwrap();
    for name in ["aarch64", "riscv64"] {
        let exe = dir.path().join(format!("t-{name}"));
        build(&input, name, &[], &exe);
        let target = Target::resolve(name).unwrap();
        let out = Command::new(&target.runner[0])
            .args(["-R", "256G"])
            .arg(&exe)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(wafer_abi::TRAP_EXIT_STATUS),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains("out of bounds memory access"),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn a_missing_cross_toolchain_is_one_line_naming_the_package() {
    let dir = scratch();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, r#"(module (func (export "_start")))"#).unwrap();
    for (name, package) in [
        ("aarch64", "gcc-aarch64-linux-gnu"),
        ("riscv64", "gcc-riscv64-linux-gnu"),
        ("rpi4", "gcc-aarch64-linux-gnu"),
    ] {
        let out = wafer()
            .arg("build")
            .arg(&input)
            .arg("-o")
            .arg(dir.path().join("m"))
            .args(target_flag(name))
            .env("PATH", dir.path())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("apt-get install {package}")),
            "{stderr}"
        );
    }
}

#[test]
fn unknown_boards_and_targets_are_named() {
    let dir = scratch();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, r#"(module (func (export "_start")))"#).unwrap();
    let out = wafer()
        .arg("build")
        .arg(&input)
        .args(["--board", "rpi1"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unknown board `rpi1`") && stderr.contains("rpi4"),
        "{stderr}"
    );
    let out = wafer().arg("targets").output().unwrap();
    let stdout = text(&out.stdout);
    for name in TARGETS.iter().chain(BOARDS.iter()) {
        assert!(stdout.contains(name), "{stdout}");
    }
}

/// A USB driver carries libusb (built from source for each target by the runtime's build) and
/// still links statically everywhere; it lists the simulated device it was granted under every
/// target's CPU.
#[test]
fn usb_drivers_link_statically_with_libusb_on_every_target() {
    let dir = scratch();
    let wat = dir.path().join("usb.wat");
    std::fs::write(
        &wat,
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "component:usb/device@0.2.1" "init" (func $init (param i32)))
  (import "component:usb/device@0.2.1" "list-devices" (func $list (param i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 0x1000))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "_start")
    (call $init (i32.const 0x100))
    (call $list (i32.const 0x100))
    ;; 50 + the number of devices listed, or 90 + the error.
    (if (i32.load8_u (i32.const 0x100))
      (then (call $exit (i32.add (i32.const 90) (i32.load8_u (i32.const 0x104))))))
    (call $exit (i32.add (i32.const 50) (i32.load (i32.const 0x108))))))"#,
    )
    .unwrap();
    let conf = dir.path().join("sim.conf");
    std::fs::write(&conf, "device echo serial=E1\ndevice keyboard keys=hi\n").unwrap();
    for name in TARGETS {
        let exe = dir.path().join(format!("usb-{name}"));
        build(&wat, name, &["--static", "--usb", "2341:8057"], &exe);
        assert_eq!(
            elf_machine_and_interp(&exe),
            (elf_machine(name), false),
            "{name}"
        );
        // The symbol table names it (host nm may not read every target's ELF).
        let bytes = std::fs::read(&exe).unwrap();
        let needle = b"libusb_submit_transfer";
        assert!(
            bytes.windows(needle.len()).any(|w| w == needle),
            "{name}: libusb is not linked in"
        );
        let target = Target::resolve(name).unwrap();
        let mut cmd = match target.run_prefix().split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd
            .env("WAFER_USB_BACKEND", "sim")
            .env("WAFER_USB_SIM", &conf)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(51), "{name}: {}", text(&out.stderr));
    }
}

/// A contended atomic read-modify-write (threads proposal) on a shared memory.
const ATOMIC_WORK: &str = r#"
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1 1 shared)
  (func $bump (param i32) (result i32) (i32.atomic.rmw.add (local.get 0) (i32.const 3)))
  (func (export "_start")
    (drop (call $bump (i32.const 8)))
    (drop (call $bump (i32.const 8)))
    (call $exit (i32.atomic.load (i32.const 8)))))
"#;

/// Counts the 32-bit instruction words of an object's code sections that match `mask`/`bits`.
fn count_instructions(object_bytes: &[u8], mask: u32, bits: u32) -> usize {
    use object::{Object, ObjectSection, SectionKind};
    let file = object::File::parse(object_bytes).unwrap();
    file.sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .map(|s| {
            s.data()
                .unwrap()
                .chunks_exact(4)
                .filter(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) & mask == bits)
                .count()
        })
        .sum()
}

#[test]
fn rpi5_atomics_use_lse_instructions() {
    // The board's `has_lse` is what makes its code differ from plain aarch64 for atomics:
    // one LDADDAL instead of a load-exclusive/store-exclusive loop.
    let wasm = wat::parse_str(ATOMIC_WORK).unwrap();
    let object_for = |name: &str| {
        let target = Target::resolve(name).unwrap();
        let mut opts = wafer_compiler::CompileOptions::host("wafer");
        opts.triple = target.triple().unwrap();
        opts.isa_flags = target.isa_flags.clone();
        wafer_compiler::compile(&wasm, &opts).unwrap()
    };
    // LDADD{,A,L,AL} of any size (LSE), and LDAXR of any size (exclusive load-acquire).
    let (ldadd_mask, ldadd) = (0x3F20_FC00, 0x3820_0000);
    let (ldaxr_mask, ldaxr) = (0x3FFF_FC00, 0x085F_FC00);
    let rpi5 = object_for("rpi5");
    let plain = object_for("aarch64");
    assert!(count_instructions(&rpi5, ldadd_mask, ldadd) >= 1);
    assert_eq!(count_instructions(&rpi5, ldaxr_mask, ldaxr), 0);
    assert_eq!(count_instructions(&plain, ldadd_mask, ldadd), 0);
    assert!(count_instructions(&plain, ldaxr_mask, ldaxr) >= 1);

    // And it runs: on the board's CPU it computes the same as everywhere; on a Cortex-A72
    // (ARMv8.0, no LSE) the rpi5 build dies on an illegal instruction, the plain one works.
    let dir = scratch();
    let input = dir.path().join("atomic.wat");
    std::fs::write(&input, ATOMIC_WORK).unwrap();
    for name in ["rpi5", "aarch64"] {
        let exe = dir.path().join(name);
        build(&input, name, &[], &exe);
        let on = |cpu: &str| {
            Command::new("qemu-aarch64")
                .args(["-cpu", cpu])
                .arg(&exe)
                .output()
                .unwrap()
        };
        assert_eq!(on("cortex-a76").status.code(), Some(6), "{name}");
        let old = on("cortex-a72");
        if name == "rpi5" {
            assert!(
                text(&old.stderr).contains("wafer: fatal signal 4"),
                "{:?}: {}",
                old.status,
                text(&old.stderr)
            );
        } else {
            assert_eq!(old.status.code(), Some(6));
        }
    }
}

/// A C program of SIMD intrinsics checks itself against plain C on every target and board:
/// vector code on x86_64, aarch64 and boards with a vector unit, the scalar lowering on
/// riscv64 without V (the default riscv64 build and the VisionFive 2), under qemu emulating
/// each board's CPU so an instruction the board lacks would fault.
#[test]
fn simd_c_program_agrees_with_itself_on_every_target_and_board() {
    let dir = scratch();
    let wasm = c_wasm(dir.path(), "tests/guests/simd/simd.c", &["-msimd128"]);
    let mut summaries = Vec::new();
    for name in TARGETS.iter().chain(BOARDS.iter()) {
        let exe = dir.path().join(format!("simd-{name}"));
        build(&wasm, name, &[], &exe);
        let out = run(name, &exe, &[]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.contains(" 0 failures"), "{name}: {stdout}");
        summaries.push((name, stdout));
    }
    for (name, summary) in &summaries {
        assert_eq!(summary, &summaries[0].1, "{name} differs from x86_64");
    }
}
