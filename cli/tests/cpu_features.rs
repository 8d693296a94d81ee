//! CPU levels on x86_64 and `--cpu-features`: the default build is SSE2 code that runs on
//! every x86_64 CPU (floor, ceil, trunc and nearest through libm, popcnt without POPCNT), the
//! x86-64-v2 and x86-64-v3 profiles use what their level adds, and a bad feature list is one
//! error line naming the valid features.
//!
//! The executables run under `qemu-x86_64 -cpu MODEL` where a test needs a CPU this machine is
//! not (one with SSE2 only), and directly where this machine's CPU has what the code needs.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};
use wafer::Target;

/// qemu's 64-bit CPU with SSE3 and CMPXCHG16B taken away: the x86-64-v1 level (SSE2), which
/// has no SSSE3, SSE4.1, SSE4.2, POPCNT or AVX either.
const SSE2_ONLY: &str = "qemu64,sse3=off,cx16=off";

/// Rounding and bit counting, each checked bit for bit (the sign of a zero included): exits 0
/// when all are right, otherwise with the number of the first wrong one. The operands are
/// arguments of small functions, so nothing is folded at compile time.
const ROUNDING: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func $floor32 (param f32) (result i32) (i32.reinterpret_f32 (f32.floor (local.get 0))))
  (func $ceil32 (param f32) (result i32) (i32.reinterpret_f32 (f32.ceil (local.get 0))))
  (func $trunc32 (param f32) (result i32) (i32.reinterpret_f32 (f32.trunc (local.get 0))))
  (func $nearest32 (param f32) (result i32) (i32.reinterpret_f32 (f32.nearest (local.get 0))))
  (func $floor64 (param f64) (result i64) (i64.reinterpret_f64 (f64.floor (local.get 0))))
  (func $ceil64 (param f64) (result i64) (i64.reinterpret_f64 (f64.ceil (local.get 0))))
  (func $trunc64 (param f64) (result i64) (i64.reinterpret_f64 (f64.trunc (local.get 0))))
  (func $nearest64 (param f64) (result i64) (i64.reinterpret_f64 (f64.nearest (local.get 0))))
  (func $popcnt32 (param i32) (result i32) (i32.popcnt (local.get 0)))
  (func $popcnt64 (param i64) (result i64) (i64.popcnt (local.get 0)))
  (func $nan32 (param f32) (result i32) (f32.ne (f32.floor (local.get 0)) (f32.floor (local.get 0))))
  (func $nan64 (param f64) (result i32) (f64.ne (f64.nearest (local.get 0)) (f64.nearest (local.get 0))))
  (func $want32 (param $case i32) (param $got i32) (param $want i32)
    (if (i32.ne (local.get $got) (local.get $want)) (then (call $exit (local.get $case)))))
  (func $want64 (param $case i32) (param $got i64) (param $want i64)
    (if (i64.ne (local.get $got) (local.get $want)) (then (call $exit (local.get $case)))))
  (func (export "_start")
    ;; nearest rounds half to even, and keeps the sign of a zero.
    (call $want32 (i32.const 1) (call $nearest32 (f32.const 2.5)) (i32.const 0x40000000))
    (call $want32 (i32.const 2) (call $nearest32 (f32.const 3.5)) (i32.const 0x40800000))
    (call $want32 (i32.const 3) (call $nearest32 (f32.const -0.5)) (i32.const 0x80000000))
    (call $want64 (i32.const 4) (call $nearest64 (f64.const 0.5)) (i64.const 0))
    (call $want64 (i32.const 5) (call $nearest64 (f64.const -2.5)) (i64.const 0xc000000000000000))
    (call $want64 (i32.const 6) (call $nearest64 (f64.const 4503599627370497))
      (i64.reinterpret_f64 (f64.const 4503599627370497)))
    (call $want32 (i32.const 7) (call $nearest32 (f32.const 8388609))
      (i32.reinterpret_f32 (f32.const 8388609)))
    (call $want32 (i32.const 8) (call $floor32 (f32.const -0.5)) (i32.const 0xbf800000))
    (call $want32 (i32.const 9) (call $ceil32 (f32.const 1.25)) (i32.const 0x40000000))
    (call $want32 (i32.const 10) (call $trunc32 (f32.const -1.75)) (i32.const 0xbf800000))
    (call $want32 (i32.const 11) (call $ceil32 (f32.const -0.25)) (i32.const 0x80000000))
    (call $want64 (i32.const 12) (call $floor64 (f64.const -1e-300)) (i64.const 0xbff0000000000000))
    (call $want64 (i32.const 13) (call $ceil64 (f64.const -0.5)) (i64.const 0x8000000000000000))
    (call $want64 (i32.const 14) (call $trunc64 (f64.const 1e300))
      (i64.reinterpret_f64 (f64.const 1e300)))
    (call $want64 (i32.const 15) (call $trunc64 (f64.const -2.9)) (i64.const 0xc000000000000000))
    (call $want32 (i32.const 16) (call $nan32 (f32.const nan)) (i32.const 1))
    ;; A signalling NaN comes out quiet (an arithmetic NaN).
    (call $want32 (i32.const 22)
      (i32.and (call $floor32 (f32.const nan:0x200000)) (i32.const 0x400000)) (i32.const 0x400000))
    (call $want32 (i32.const 23)
      (i32.and (call $trunc32 (f32.const -nan:0x200000)) (i32.const 0x400000)) (i32.const 0x400000))
    (call $want64 (i32.const 24)
      (i64.and (call $ceil64 (f64.const nan:0x4000000000000)) (i64.const 0x8000000000000))
      (i64.const 0x8000000000000))
    (call $want32 (i32.const 17) (call $nan64 (f64.const -nan:0x4)) (i32.const 1))
    (call $want32 (i32.const 18) (call $popcnt32 (i32.const 0xf0f0f0f1)) (i32.const 17))
    (call $want32 (i32.const 19) (call $popcnt32 (i32.const 0)) (i32.const 0))
    (call $want64 (i32.const 20) (call $popcnt64 (i64.const -1)) (i64.const 64))
    (call $want64 (i32.const 21) (call $popcnt64 (i64.const 0x8000000000000001)) (i64.const 2))
    (call $exit (i32.const 0))))"#;

const LEADING_ZEROS: &str = r#"(module
  (func (export "clz") (param i64) (result i64) (i64.clz (local.get 0))))"#;

/// Builds `wat` with `flags`; panics with wafer's message on failure.
fn build(dir: &Path, name: &str, wat: &str, flags: &[&str]) -> std::path::PathBuf {
    let input = dir.join(format!("{name}.wat"));
    std::fs::write(&input, wat).unwrap();
    let exe = dir.join(name);
    let out = wafer()
        .arg("build")
        .arg(&input)
        .arg("-o")
        .arg(&exe)
        .args(flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: build failed: {}",
        text(&out.stderr)
    );
    exe
}

/// The CPU qemu emulates for a profile (`targets/boards/NAME.toml`).
fn emulator_cpu(profile: &str) -> String {
    wafer::target::Board::find(profile).unwrap().emulator_cpu
}

/// Runs the x86_64 executable `exe` under qemu emulating `cpu`.
fn on_cpu(cpu: &str, exe: &Path) -> Output {
    Command::new("qemu-x86_64")
        .args(["-cpu", cpu])
        .arg(exe)
        .output()
        .unwrap()
}

/// Runs `exe` as `wafer run` would for `target`: directly when this machine's CPU has what
/// the code needs, under the emulator otherwise.
fn as_wafer_runs(target: &Target, exe: &Path) -> Output {
    let mut cmd = match target.run_prefix().split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.output().unwrap()
}

/// The runtime's report of an instruction the CPU lacks, in the wasm code.
fn assert_illegal_instruction(out: &Output, what: &str) {
    assert!(
        text(&out.stderr).contains("in wasm code: an instruction this CPU lacks"),
        "{what}: {:?}: {}",
        out.status,
        text(&out.stderr)
    );
}

/// The machine code wafer compiles `wat` into (functions, trampolines and the `init` function;
/// not the runtime) for the x86_64 target `name` with `--cpu-features` `extra`: its mnemonics,
/// and the symbols its relocations name.
fn disassemble(name: &str, extra: Option<&str>, wat: &str) -> (Vec<String>, Vec<String>) {
    let mut target = Target::resolve(name).unwrap();
    if let Some(spec) = extra {
        target = target.with_cpu_features(spec).unwrap();
    }
    let mut opts = wafer_compiler::CompileOptions::host("wafer");
    opts.triple = target.triple().unwrap();
    opts.isa_flags = target.isa_flags.clone();
    let object = wafer_compiler::compile(&wat::parse_str(wat).unwrap(), &opts).unwrap();
    let dir = scratch();
    let path = dir.path().join("m.o");
    std::fs::write(&path, object).unwrap();
    let out = Command::new("x86_64-linux-gnu-objdump")
        .args(["-dr", "--no-show-raw-insn"])
        .arg(&path)
        .output()
        .expect("x86_64-linux-gnu-objdump (binutils) is installed");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    // Instruction lines are `  addr:\tmnemonic operands`, relocations `  addr: R_X86_64_...\tsym`.
    let mnemonics = listing
        .lines()
        .filter_map(|l| l.split_once(":\t").map(|(_, insn)| insn))
        .filter_map(|insn| insn.split_whitespace().next().map(str::to_string))
        .collect();
    let symbols = listing
        .lines()
        .filter(|l| l.contains(": R_X86_64_"))
        .filter_map(|l| l.split('\t').next_back())
        .map(|s| s.split(['-', '+']).next().unwrap_or(s).to_string())
        .collect();
    (mnemonics, symbols)
}

/// The mnemonics of [`disassemble`].
fn mnemonics(name: &str, extra: Option<&str>, wat: &str) -> Vec<String> {
    disassemble(name, extra, wat).0
}

/// Instructions beyond SSE2 that Cranelift emits for rounding and bit counting when it may.
const ABOVE_SSE2: [&str; 8] = [
    "roundss", "roundsd", "popcnt", "pshufb", "lzcnt", "tzcnt", "ptest", "pinsrq",
];

#[test]
fn the_default_x86_64_build_is_sse2_code() {
    let (code, symbols) = disassemble("x86_64", None, ROUNDING);
    assert!(code.len() > 100, "{code:?}");
    for m in &code {
        assert!(
            !ABOVE_SSE2.contains(&m.as_str()) && !m.starts_with('v'),
            "the baseline uses `{m}`"
        );
    }
    // floor, ceil, trunc and nearest are calls into the runtime there.
    for rounding in wafer_abi::libcall::ROUNDING {
        assert!(
            symbols.iter().any(|s| s == rounding),
            "{rounding}: {symbols:?}"
        );
    }
    let (_, v2_symbols) = disassemble("x86-64-v2", None, ROUNDING);
    for rounding in wafer_abi::libcall::ROUNDING {
        assert!(!v2_symbols.iter().any(|s| s == rounding), "{v2_symbols:?}");
    }

    // The profiles do use their instructions: a check of this list that can fail.
    let v2 = mnemonics("x86-64-v2", None, ROUNDING);
    assert!(v2.iter().any(|m| m == "roundss") && v2.iter().any(|m| m == "roundsd"));
    assert!(v2.iter().any(|m| m == "popcnt"), "{v2:?}");
    assert!(!v2.iter().any(|m| m.starts_with('v')), "{v2:?}");
    let v3 = mnemonics("x86-64-v3", None, ROUNDING);
    assert!(v3.iter().any(|m| m.starts_with("vround")), "{v3:?}");
    // --cpu-features on the baseline adds what it names and what that needs: LZCNT alone,
    // POPCNT with SSE4.2 (and so SSE4.1's ROUNDSS), without which Cranelift does not use it.
    let lzcnt = mnemonics("x86_64", Some("+lzcnt"), LEADING_ZEROS);
    assert!(lzcnt.iter().any(|m| m == "lzcnt"), "{lzcnt:?}");
    assert!(!mnemonics("x86_64", None, LEADING_ZEROS)
        .iter()
        .any(|m| m == "lzcnt"));
    let popcnt = mnemonics("x86_64", Some("+popcnt"), ROUNDING);
    assert!(popcnt.iter().any(|m| m == "popcnt") && popcnt.iter().any(|m| m == "roundss"));
    assert!(!popcnt.iter().any(|m| m.starts_with('v')), "{popcnt:?}");
}

#[test]
fn the_default_x86_64_build_runs_on_an_sse2_only_cpu() {
    let dir = scratch();
    let baseline = build(dir.path(), "baseline", ROUNDING, &["--target", "x86_64"]);
    let out = on_cpu(SSE2_ONLY, &baseline);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = as_wafer_runs(&Target::find("x86_64").unwrap(), &baseline);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The emulated CPU really refuses what it lacks: the x86-64-v2 build (ROUNDSS) dies
    // there, and runs on the profile's own emulated CPU.
    let v2 = build(dir.path(), "v2", ROUNDING, &["--board", "x86-64-v2"]);
    assert_illegal_instruction(&on_cpu(SSE2_ONLY, &v2), "x86-64-v2 on SSE2");
    let out = on_cpu(&emulator_cpu("x86-64-v2"), &v2);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_v3_profile_runs_where_its_cpu_is() {
    let dir = scratch();
    let v3 = build(dir.path(), "v3", ROUNDING, &["--board", "x86-64-v3"]);
    let board = Target::resolve("x86-64-v3").unwrap();
    // Directly on a machine with AVX2, BMI2 and FMA (this one), under qemu's Haswell elsewhere.
    let out = as_wafer_runs(&board, &v3);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = on_cpu(&emulator_cpu("x86-64-v3"), &v3);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Its VEX-encoded code is more than a v2 CPU runs.
    let v2 = emulator_cpu("x86-64-v2");
    assert_illegal_instruction(&on_cpu(&v2, &v3), "x86-64-v3 on a v2 CPU");
    // `wafer run` picks the same way.
    let out = wafer()
        .arg("run")
        .arg(dir.path().join("v3.wat"))
        .args(["--board", "x86-64-v3"])
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn cpu_features_combine_with_boards() {
    // x86-64-v3 without AVX (and so without AVX2 and FMA, which need it) runs on a v2 CPU
    // with v3's bit-manipulation instructions, as the Pentiums and Celerons of the AVX2 years.
    let dir = scratch();
    let no_avx = build(
        dir.path(),
        "no-avx",
        ROUNDING,
        &["--board", "x86-64-v3", "--cpu-features", "-avx"],
    );
    let v2 = emulator_cpu("x86-64-v2");
    let out = on_cpu(&format!("{v2},bmi1=on,bmi2=on,abm=on"), &no_avx);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Features added to the baseline bring what they need: +sse41 is SSSE3 and SSE3 too.
    let sse41 = build(
        dir.path(),
        "sse41",
        ROUNDING,
        &["--target", "x86_64", "--cpu-features=+sse41"],
    );
    assert_illegal_instruction(&on_cpu(SSE2_ONLY, &sse41), "+sse41 on SSE2");
    let out = on_cpu(&v2, &sse41);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// `wafer build` with these arguments fails with one `wafer: error:` line containing every
/// one of `needles`.
fn assert_one_error_line(args: &[&str], needles: &[&str]) {
    let dir = scratch();
    let input = dir.path().join("m.wat");
    std::fs::write(&input, r#"(module (func (export "_start")))"#).unwrap();
    let out = wafer()
        .arg("build")
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("m"))
        .args(args)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("wafer: error: "), "{stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: `{needle}` missing: {stderr}"
        );
    }
    assert!(!dir.path().join("m").exists());
}

#[test]
fn bad_cpu_features_are_one_error_line() {
    assert_one_error_line(
        &["--target", "x86_64", "--cpu-features", "+avx3"],
        &[
            "unknown CPU feature `avx3` for x86_64",
            "avx2",
            "bmi2",
            "sse41",
        ],
    );
    // A feature of another architecture is unknown here, and the list is this target's.
    assert_one_error_line(
        &["--board", "rpi5", "--cpu-features", "-sse42"],
        &["unknown CPU feature `sse42` for aarch64", "dotprod", "lse"],
    );
    assert_one_error_line(
        &["--board", "spacemit-k1", "--cpu-features", "+avx2"],
        &["for riscv64", "zba", "zvl256b"],
    );
    assert_one_error_line(&["--cpu-features", "bmi2"], &["`+bmi2`", "`-bmi2`"]);
    assert_one_error_line(&["--cpu-features", "+bmi2,"], &["empty entry"]);
    let other = if Target::host().short == "riscv64" {
        "aarch64"
    } else {
        "riscv64"
    };
    assert_one_error_line(
        &["--target", other, "--cpu-features", "native"],
        &["native", "this machine is"],
    );
}

#[test]
fn targets_lists_the_profiles_and_the_features() {
    let out = wafer().arg("targets").output().unwrap();
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for needle in [
        "x86-64-v2",
        "x86-64-v3",
        "spacemit-k1",
        "rpi5",
        "--cpu-features",
        "native",
    ] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }
    // Each board's features, and each target's names, in the words --cpu-features takes.
    let line_after = |name: &str| {
        let lines: Vec<&str> = stdout.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {stdout}"));
        (
            lines[i].to_string(),
            lines.get(i + 1).unwrap_or(&"").to_string(),
        )
    };
    assert!(
        line_after("rpi5").1.contains("lse fp16 dotprod"),
        "{stdout}"
    );
    assert!(line_after("x86-64-v3").1.contains("avx2"), "{stdout}");
    assert!(line_after("spacemit-k1").1.contains("zvl256b"), "{stdout}");
    assert!(
        line_after("rpi4")
            .1
            .contains("none beyond the aarch64 baseline"),
        "{stdout}"
    );
    let features = stdout.split("--cpu-features").nth(1).unwrap();
    for needle in ["avx512vl", "lzcnt", "dotprod", "zicond"] {
        assert!(features.contains(needle), "{needle}: {stdout}");
    }
}
