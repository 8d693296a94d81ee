//! Target 2, modules with imports: each generated module imports a few of the host functions
//! wafer provides (WASI preview1, WASI 0.2, WASI-I2C, `wafer:hal`, WASI-USB and its 2024 API,
//! as their core-level imports) and calls them with hostile arguments: pointers inside, at the
//! edge of and outside its memory, huge lengths, forged and stale handles, bad discriminants,
//! paths that climb out of the granted directory or through a symlink that leaves it, and a
//! `cabi_realloc` that may answer with a pointer outside memory. The runtime must answer every
//! call with an error or a clean trap: a crash (a fault outside wasm code, an abort), a hang
//! or a write outside the granted directory is a finding.
//!
//! A batch of modules shares one spec-script executable built with the host functions bound
//! and these grants: a directory (with a symlink to a canary directory outside it), the
//! simulated I2C bus `bus` (an EEPROM and a BME280) and the simulated USB echo device and
//! flash drive. Left out, because they do what they are asked for as long as asked: calls
//! that end the process (`proc_exit`, `proc_raise`, `wasi:cli/exit`), that sleep or block
//! without a device to wake them (`poll_oneoff`, `wasi:io/poll`, I2C delays), that start
//! threads (`thread-spawn`) or resolve names (`ip-name-lookup`).

use std::path::Path;

use wafer_abi::capabilities::{parse_dir_option, parse_i2c_option, parse_usb_option};
use wafer_abi::{all_host_funcs, valtype, BoundsChecks, HostFunc};
use wafer_tests::protocol::{Command, Outcome};
use wafer_tests::run::{run_commands, Limits};
use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function,
    FunctionSection, GlobalSection, GlobalType, ImportSection, Instruction as I, MemorySection,
    MemoryType, Module, TypeSection, ValType,
};

use crate::core::config_name;
use crate::report::{Finding, Tally};
use crate::rng::Rng;

/// Host calls per module.
const CALLS: usize = 24;

/// Strings in the module's data at [`STRINGS`]: bus labels and paths, some of them escapes.
const TEXTS: &[&str] = &[
    "bus",
    "f.txt",
    "sub/../f.txt",
    "../escape",
    "/etc/passwd",
    "out/planted",
    "out",
    "",
    "a/b/c",
    ".",
    "sub",
    "..",
    "nope",
];
const STRINGS: u32 = 0x100;
/// An iovec / list area: (pointer, length) pairs, some pointing outside memory.
const IOVECS: u32 = 0x400;
/// Random bytes.
const NOISE: u32 = 0x1000;
const PAGE: u32 = 0x1_0000;

/// The host functions a generated module may import.
pub fn candidates() -> Vec<&'static HostFunc> {
    const ENDS_OR_BLOCKS: &[&str] = &[
        "proc_exit",
        "proc_raise",
        "poll_oneoff",
        "thread-spawn",
        "exit",
        "exit-with-code",
        "poll",
        "[method]pollable.block",
        "[method]delay.delay-ns",
        "resolve-addresses",
        "[method]resolve-address-stream.resolve-next-address",
    ];
    all_host_funcs()
        .filter(|f| !ENDS_OR_BLOCKS.contains(&f.name))
        .filter(|f| !f.module.starts_with("wasi:io/poll"))
        .filter(|f| f.params.iter().chain(f.results).all(|t| *t <= valtype::F64))
        .collect()
}

fn val_type(code: u8) -> ValType {
    match code {
        valtype::I32 => ValType::I32,
        valtype::I64 => ValType::I64,
        valtype::F32 => ValType::F32,
        _ => ValType::F64,
    }
}

/// Where each of [`TEXTS`] sits and how long it is.
fn strings() -> Vec<(u32, u32)> {
    let mut at = STRINGS;
    TEXTS
        .iter()
        .map(|t| {
            let s = (at, t.len() as u32);
            at += t.len() as u32 + 1;
            s
        })
        .collect()
}

/// An `i32` argument: a pointer, a length, a handle or discriminant, or anything. After a
/// string's pointer, usually its length (`pending`).
fn i32_arg(rng: &mut Rng, s: &[(u32, u32)], pending: &mut Option<u32>) -> I<'static> {
    if let Some(len) = pending.take() {
        if rng.below(4) != 0 {
            return I::I32Const(len as i32);
        }
    }
    let v: u32 = match rng.below(6) {
        0 => [
            0,
            1,
            IOVECS,
            NOISE,
            PAGE - 16,
            PAGE - 4,
            PAGE - 1,
            PAGE,
            PAGE + 1,
            0x7fff_ffff,
            0xffff_fff0,
            0xffff_ffff,
        ][rng.below(12) as usize],
        1 => {
            let (at, len) = s[rng.below(s.len() as u64) as usize];
            *pending = Some(len);
            at
        }
        2 => [
            0,
            1,
            2,
            4,
            16,
            255,
            0x1000,
            0xffff,
            PAGE,
            0x7fff_ffff,
            0xffff_ffff,
        ][rng.below(11) as usize],
        3 => rng.below(8) as u32,
        4 => return I::GlobalGet(0),
        _ => rng.word() as u32,
    };
    I::I32Const(v as i32)
}

/// The module of `seed`: imports, memory with the strings, iovecs and noise, a `cabi_realloc`
/// (a bump allocator, or one answering outside memory or over the data), and the calls, one
/// exported function `c<i>` each.
pub fn module(seed: u64, pool: &[&'static HostFunc]) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ 0x1337);
    let count = 1 + rng.below(6) as usize;
    let imports: Vec<&HostFunc> = (0..count)
        .map(|_| pool[rng.below(pool.len() as u64) as usize])
        .collect();
    let mut types = TypeSection::new();
    let mut import_section = ImportSection::new();
    // Type `i` is import `i`'s; a function drawn twice is imported once.
    let mut imported: Vec<(&HostFunc, u32)> = Vec::new();
    for f in imports {
        if imported
            .iter()
            .any(|(g, _)| g.module == f.module && g.name == f.name)
        {
            continue;
        }
        let index = imported.len() as u32;
        types.ty().function(
            f.params.iter().map(|t| val_type(*t)),
            f.results.iter().map(|t| val_type(*t)),
        );
        import_section.import(f.module, f.name, EntityType::Function(index));
        imported.push((f, index));
    }
    let n_imports = imported.len() as u32;
    let t_run = types.len();
    types.ty().function([], []);
    let t_realloc = types.len();
    types.ty().function([ValType::I32; 4], [ValType::I32]);

    let mut funcs = FunctionSection::new();
    funcs.function(t_realloc);
    for _ in 0..CALLS {
        funcs.function(t_run);
    }
    let mut memory = MemorySection::new();
    memory.memory(MemoryType {
        minimum: 1,
        maximum: Some(1),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    // 0: the last i32 a call returned (a handle, often); 1: the allocator's top.
    for init in [0, 0x8000] {
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(init),
        );
    }
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("cabi_realloc", ExportKind::Func, n_imports);
    for i in 0..CALLS as u32 {
        exports.export(&format!("c{i}"), ExportKind::Func, n_imports + 1 + i);
    }

    let mut code = CodeSection::new();
    let mut realloc = Function::new([]);
    match seed % 4 {
        // Out of memory, or over the module's own data.
        0 => {
            realloc.instruction(&I::I32Const(0xffff_fff0u32 as i32));
        }
        1 => {
            realloc.instruction(&I::I32Const(STRINGS as i32));
        }
        // A bump allocator that gives up (with a pointer past the end) when the page is full.
        _ => {
            for i in [
                I::GlobalGet(1),
                I::LocalGet(2),
                I::I32Add,
                I::I32Const(-1),
                I::I32Add,
                I::I32Const(0),
                I::LocalGet(2),
                I::I32Sub,
                I::I32And,
                I::GlobalSet(1),
                I::GlobalGet(1),
                I::GlobalGet(1),
                I::LocalGet(3),
                I::I32Add,
                I::GlobalSet(1),
            ] {
                realloc.instruction(&i);
            }
        }
    }
    realloc.instruction(&I::End);
    code.function(&realloc);

    // One exported function per call, so that a call that traps does not stop the others.
    let texts = strings();
    for _ in 0..CALLS {
        let mut run = Function::new([]);
        let (f, index) = imported[rng.below(imported.len() as u64) as usize];
        let mut pending = None;
        for t in f.params {
            let arg = match *t {
                valtype::I32 => i32_arg(&mut rng, &texts, &mut pending),
                valtype::I64 => I::I64Const(rng.int(64) as i64),
                valtype::F32 => I::F32Const(f32::from_bits(rng.f32_bits()).into()),
                _ => I::F64Const(f64::from_bits(rng.f64_bits()).into()),
            };
            run.instruction(&arg);
        }
        run.instruction(&I::Call(index));
        for (k, t) in f.results.iter().enumerate().rev() {
            if k == 0 && *t == valtype::I32 {
                run.instruction(&I::GlobalSet(0));
            } else {
                run.instruction(&I::Drop);
            }
        }
        run.instruction(&I::End);
        code.function(&run);
    }

    let mut data = DataSection::new();
    let mut texts = Vec::new();
    for t in TEXTS {
        texts.extend_from_slice(t.as_bytes());
        texts.push(0);
    }
    data.active(0, &ConstExpr::i32_const(STRINGS as i32), texts);
    let mut iovecs = Vec::new();
    for (p, l) in [
        (NOISE, 16),
        (NOISE + 64, 0xffff_ffff),
        (PAGE - 8, 32),
        (0, 0),
        (STRINGS, 5),
        (0xffff_fff0, 16),
    ] {
        iovecs.extend_from_slice(&u32::to_le_bytes(p));
        iovecs.extend_from_slice(&u32::to_le_bytes(l));
    }
    data.active(0, &ConstExpr::i32_const(IOVECS as i32), iovecs);
    data.active(0, &ConstExpr::i32_const(NOISE as i32), rng.bytes(0x1000));

    let mut m = Module::new();
    m.section(&types)
        .section(&import_section)
        .section(&funcs)
        .section(&memory)
        .section(&globals)
        .section(&exports)
        .section(&code)
        .section(&data);
    m.finish()
}

/// The simulated devices every batch runs with.
const I2C_SIM: &str = "bus bus\ndevice 24c02 0x50\ndevice bme280 0x76\n";
const USB_SIM: &str = "device echo serial=E1\ndevice storage file=disk.img blocks=64\n";
const CANARY: &[u8] = b"the runtime must never change this file\n";

/// Builds and runs the modules of `seeds` on one target and mode.
pub fn check_batch(
    seeds: &[u64],
    config: (&str, BoundsChecks),
    dir: &Path,
    tally: &mut Tally,
) -> Vec<Finding> {
    let name = config_name(config);
    let pool = candidates();
    let modules: Vec<(u64, Vec<u8>)> = seeds.iter().map(|&s| (s, module(s, &pool))).collect();
    tally.cases += modules.len() as u64;
    let finding = |seed: u64, what: String, input: &[u8]| Finding {
        seed,
        config: name.clone(),
        what,
        input: input.to_vec(),
    };
    // A fresh grant and canary for each batch: what one batch wrote cannot hide another's.
    let grant = dir.join("grant");
    let outside = dir.join("outside");
    let _ = std::fs::remove_dir_all(&grant);
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(grant.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(grant.join("f.txt"), b"inside\n").unwrap();
    std::fs::write(outside.join("canary"), CANARY).unwrap();
    std::os::unix::fs::symlink("../outside", grant.join("out")).unwrap();
    std::fs::write(dir.join("i2c.conf"), I2C_SIM).unwrap();
    std::fs::write(dir.join("usb.conf"), USB_SIM).unwrap();

    let target = wafer::Target::find(config.0).expect("a known target");
    let mut opts = wafer::BuildOptions {
        target: target.clone(),
        bounds_checks: config.1,
        ..Default::default()
    };
    let dir_grant = format!("{}::/sandbox", grant.display());
    opts.capabilities.dirs = vec![parse_dir_option(&dir_grant, false).expect("a dir grant")];
    opts.capabilities.i2c = vec![parse_i2c_option("bus=bus:0x50,0x76").expect("an i2c grant")];
    opts.capabilities.usb = vec![
        parse_usb_option("2341:8057").expect("a usb grant"),
        parse_usb_option("0781:5567").expect("a usb grant"),
    ];
    let exe = dir.join("batch");
    let wasm: Vec<Vec<u8>> = modules.iter().map(|(_, w)| w.clone()).collect();
    if let Err(e) = wafer::build_spec_executable_with_host(&wasm, &exe, &opts) {
        let (seed, w) = &modules[0];
        return vec![finding(
            *seed,
            format!("building the batch failed: {e:#}"),
            w,
        )];
    }
    let mut commands = Vec::new();
    for i in 0..modules.len() {
        commands.push(Command::Instantiate {
            module: i,
            instance: i,
        });
        for c in 0..CALLS {
            commands.push(Command::Invoke {
                instance: i,
                export: format!("c{c}"),
                args: Vec::new(),
            });
        }
    }
    // The executable runs in `dir`, where the USB sim's disk image lives, through `env` so
    // that the simulated backends are chosen.
    let mut runner: Vec<String> = vec![
        "env".into(),
        "WAFER_I2C_BACKEND=sim".into(),
        format!("WAFER_I2C_SIM={}", dir.join("i2c.conf").display()),
        "WAFER_USB_BACKEND=sim".into(),
        format!("WAFER_USB_SIM={}", dir.join("usb.conf").display()),
        // qemu-user is not a sandbox escape: the runtime's refusal to run WALI unsandboxed
        // under it does not apply to these modules, which import no WALI.
    ];
    runner.extend(target.run_prefix().iter().cloned());
    let limits = Limits {
        timeout: std::time::Duration::from_secs(120),
        max_restarts: 16,
    };
    let answers = run_commands(&exe, &runner, &commands, dir, &limits);
    let mut findings = Vec::new();
    let per_module = 1 + CALLS;
    for (i, (seed, w)) in modules.iter().enumerate() {
        tally.count(format!("modules {name}"), 1);
        for answer in &answers[per_module * i..per_module * (i + 1)] {
            match answer {
                Ok(Outcome::Ok(_)) => tally.count("answers: ok", 1),
                Ok(Outcome::Trap { message, .. }) => {
                    tally.count(format!("answers: trap {message}"), 1)
                }
                Ok(other) => {
                    findings.push(finding(*seed, format!("answered {other}"), w));
                }
                Err(e) => findings.push(finding(*seed, e.clone(), w)),
            }
        }
        tally.calls += CALLS as u64;
    }
    // Nothing outside the grant changed.
    let entries: Vec<_> = std::fs::read_dir(&outside)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let canary = std::fs::read(outside.join("canary")).unwrap_or_default();
    if entries.len() != 1 || canary != CANARY {
        let (seed, w) = &modules[0];
        findings.push(finding(
            *seed,
            format!("a module of the batch changed the directory outside its grant: {entries:?}"),
            w,
        ));
    }
    tally.divergences += findings.len() as u64;
    let _ = std::fs::remove_file(&exe);
    findings
}
