//! [`wafer_abi::EntryMode::SpecScript`]: runs the spec-test command protocol documented in
//! `wafer_abi::spec_script` over the modules compiled into the executable, with the
//! `spectest` host module the test suite imports from.

use std::collections::HashMap;
use std::io::Write;

use wafer_abi::spec_script::{
    Digest, ERROR, GET, INSTANTIATE, INVOKE, OK, REF_NULL, REF_OTHER, REGISTER, STATE, TRAP,
    UNLINKABLE,
};
use wafer_abi::{extern_kind, valtype, ModuleDescriptor, ValueSlot, VmCtx};

use crate::instance::{host_binding, CallError, Extern, Instance, InstantiateError};
use crate::memory::LinearMemory;
use crate::signature::intern;
use crate::table::Table;
use crate::trap::Trap;

/// Runs the script named by `args[1]`; the exit status is 0 when every command was answered
/// (individual failures are results, not errors).
pub fn run(args: &[Vec<u8>], modules: &[&'static ModuleDescriptor]) -> i32 {
    let Some(path) = args.get(1) else {
        eprintln!("wafer: spec-script mode needs the command file as its first argument");
        return 1;
    };
    let path = String::from_utf8_lossy(path).into_owned();
    let script = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wafer: cannot read {path}: {e}");
            return 1;
        }
    };
    let mut session = Session::new(modules);
    let Some(mut out) = protocol_output() else {
        eprintln!("wafer: cannot set up the protocol's output");
        return 1;
    };
    for (n, line) in script.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let result = session.execute(line);
        // One flushed line per command: a crash later still leaves every earlier answer.
        if writeln!(out, "{} {result}", n + 1)
            .and_then(|_| out.flush())
            .is_err()
        {
            return 1;
        }
    }
    0
}

/// The protocol owns standard output: the result lines go to a duplicate of it, and file
/// descriptor 1 is pointed at standard error, so a guest writing to its standard output
/// (WASI `fd_write` to 1, `wasi:cli/stdout`) cannot garble an answer.
fn protocol_output() -> Option<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain descriptor calls; the duplicate is owned by the returned File alone.
    unsafe {
        let fd = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return None;
        }
        Some(std::fs::File::from_raw_fd(fd))
    }
}

/// State of one script: instances by number, registered names, the spectest module.
pub struct Session<'m> {
    modules: &'m [&'static ModuleDescriptor],
    /// Instances live until the process exits: others may import from them.
    instances: HashMap<u32, Box<Instance>>,
    /// Instances whose number was reused by a later `instantiate`: still alive for the same
    /// reason. Boxed because `vmctx` points at each instance, which must never move.
    #[allow(clippy::vec_box)]
    retired: Vec<Box<Instance>>,
    /// Registered names bind the instance as it was when registered, not its number.
    registered: HashMap<Vec<u8>, *const Instance>,
    spectest: Option<SpecTest>,
}

impl<'m> Session<'m> {
    pub fn new(modules: &'m [&'static ModuleDescriptor]) -> Session<'m> {
        Session {
            modules,
            instances: HashMap::new(),
            retired: Vec::new(),
            registered: HashMap::new(),
            spectest: None,
        }
    }

    /// Executes one command line and returns its result line (without the line number).
    pub fn execute(&mut self, line: &str) -> String {
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        let outcome = match words.as_slice() {
            [INSTANTIATE, module, instance] => self.instantiate(module, instance),
            [REGISTER, name, instance] => self.register(name, instance),
            [INVOKE, instance, export, args @ ..] => self.invoke(instance, export, args),
            [GET, instance, export] => self.get(instance, export),
            [STATE, instance] => self.state(instance),
            _ => Err(format!("{ERROR} unknown command: {line}")),
        };
        outcome.unwrap_or_else(|e| e)
    }

    fn instance(&self, number: &str) -> Result<&Instance, String> {
        let n: u32 = number
            .parse()
            .map_err(|_| format!("{ERROR} bad instance number {number}"))?;
        self.instances
            .get(&n)
            .map(|b| &**b)
            .ok_or_else(|| format!("{ERROR} unknown instance {n}"))
    }

    fn instantiate(&mut self, module: &str, instance: &str) -> Result<String, String> {
        let index: usize = module
            .parse()
            .map_err(|_| format!("{ERROR} bad module number {module}"))?;
        let number: u32 = instance
            .parse()
            .map_err(|_| format!("{ERROR} bad instance number {instance}"))?;
        let desc = *self
            .modules
            .get(index)
            .ok_or_else(|| format!("{ERROR} unknown module {index}"))?;
        let mut imports = Vec::new();
        // SAFETY: descriptors are static data emitted by the compiler.
        for import in unsafe { desc.imports.as_slice() } {
            let ext = match host_binding(desc, import) {
                Some(ext) => Some(ext),
                None => self.resolve(unsafe { import.module.as_slice() }, unsafe {
                    import.field.as_slice()
                }),
            };
            imports.push(ext.ok_or_else(|| format!("{UNLINKABLE} unknown import"))?);
        }
        match Instance::new(desc, &imports) {
            Ok(inst) => {
                if let Some(old) = self.instances.insert(number, inst) {
                    self.retired.push(old);
                }
                Ok(OK.to_string())
            }
            Err(InstantiateError::Unlinkable(msg)) => Ok(format!("{UNLINKABLE} {msg}")),
            Err(InstantiateError::Trap(trap)) => Ok(trap_result(&trap)),
            Err(InstantiateError::Error(msg)) => Ok(format!("{ERROR} {}", one_line(&msg))),
        }
    }

    fn resolve(&mut self, module: &[u8], field: &[u8]) -> Option<Extern> {
        if let Some(inst) = self.registered.get(module) {
            // SAFETY: registered instances are never dropped before the session.
            return unsafe { &**inst }.export_extern(field);
        }
        if module == b"spectest" {
            return self
                .spectest
                .get_or_insert_with(SpecTest::new)
                .lookup(field);
        }
        None
    }

    fn register(&mut self, name: &str, instance: &str) -> Result<String, String> {
        let name = decode_name(name).ok_or_else(|| format!("{ERROR} bad name {name}"))?;
        let inst: *const Instance = self.instance(instance)?;
        self.registered.insert(name, inst);
        Ok(OK.to_string())
    }

    fn invoke(&self, instance: &str, export: &str, args: &[&str]) -> Result<String, String> {
        let inst = self.instance(instance)?;
        let name = decode_name(export).ok_or_else(|| format!("{ERROR} bad name {export}"))?;
        let e = inst
            .export(&name)
            .filter(|e| e.kind == extern_kind::FUNC)
            .ok_or_else(|| {
                format!(
                    "{ERROR} no exported function {}",
                    String::from_utf8_lossy(&name)
                )
            })?;
        let ty = inst
            .func_type(e.index)
            .ok_or_else(|| format!("{ERROR} bad function index"))?;
        // SAFETY: descriptor data is static.
        let (params, results) = unsafe { (ty.params.as_slice(), ty.results.as_slice()) };
        if params.len() != args.len() {
            return Err(format!(
                "{ERROR} {} arguments given, the function takes {}",
                args.len(),
                params.len()
            ));
        }
        let mut values = vec![ValueSlot::ZERO; params.len().max(results.len()).max(1)];
        for ((slot, arg), ty) in values.iter_mut().zip(args).zip(params) {
            *slot = parse_value(arg, *ty).map_err(|m| format!("{ERROR} {m}"))?;
        }
        match inst.call(e.index, &mut values) {
            Ok(()) => {
                let mut line = OK.to_string();
                for (v, ty) in values.iter().zip(results) {
                    line.push(' ');
                    line.push_str(&format_value(*v, *ty));
                }
                Ok(line)
            }
            Err(CallError::Trap(trap)) => Ok(trap_result(&trap)),
            Err(CallError::Invalid(msg)) => Err(format!("{ERROR} {}", one_line(&msg))),
        }
    }

    fn get(&self, instance: &str, export: &str) -> Result<String, String> {
        let inst = self.instance(instance)?;
        let name = decode_name(export).ok_or_else(|| format!("{ERROR} bad name {export}"))?;
        let e = inst
            .export(&name)
            .filter(|e| e.kind == extern_kind::GLOBAL)
            .ok_or_else(|| {
                format!(
                    "{ERROR} no exported global {}",
                    String::from_utf8_lossy(&name)
                )
            })?;
        let (ty, _) = inst
            .global_type(e.index)
            .ok_or_else(|| format!("{ERROR} bad global index"))?;
        let value = inst
            .read_global(e.index)
            .ok_or_else(|| format!("{ERROR} bad global index"))?;
        Ok(format!("{OK} {}", format_value(value, ty)))
    }
}

impl Session<'_> {
    /// Memory pages and the digests of memory, tables and globals (`wafer_abi::spec_script::STATE`).
    fn state(&self, instance: &str) -> Result<String, String> {
        let inst = self.instance(instance)?;
        let desc = inst.descriptor();
        let ident = |ty: u8, v: usize| match ty {
            _ if v == 0 => REF_NULL,
            valtype::FUNCREF => inst.func_index_of(v).unwrap_or(REF_OTHER),
            _ => REF_OTHER,
        };
        let (mut memory, mut pages) = (Digest::default(), 0u64);
        let def = inst.memory_def();
        if !def.is_null() {
            // SAFETY: the instance's memory definition describes its live linear memory.
            let bytes = unsafe { std::slice::from_raw_parts((*def).base, (*def).length as usize) };
            memory.bytes(bytes);
            pages = bytes.len() as u64 / 65536;
        }
        let mut tables = Digest::default();
        for index in 0..desc.tables.len as u32 {
            let def = inst
                .table_def(index)
                .ok_or_else(|| format!("{ERROR} bad table index"))?;
            // SAFETY: the instance's tables stay alive as long as it does.
            let table = unsafe { Table::from_def(def) };
            tables.word(table.len());
            for &v in table.elements() {
                tables.table_entry(ident(table.elem_type(), v));
            }
        }
        let mut globals = Digest::default();
        // SAFETY: descriptor data is static.
        let mut exported: Vec<u32> = unsafe { desc.exports.as_slice() }
            .iter()
            .filter(|e| e.kind == extern_kind::GLOBAL)
            .map(|e| e.index)
            .collect();
        exported.sort_unstable();
        exported.dedup();
        for index in exported {
            let (ty, _) = inst.global_type(index).unwrap_or((valtype::I64, false));
            let slot = inst.read_global(index).unwrap_or_default();
            let bits = match ty {
                valtype::FUNCREF | valtype::EXTERNREF => u128::from(ident(ty, slot.lo as usize)),
                _ => slot.as_v128(),
            };
            globals.global(ty, bits);
        }
        Ok(format!(
            "{OK} i64:{pages:x} i64:{:x} i64:{:x} i64:{:x}",
            memory.0, tables.0, globals.0
        ))
    }
}

fn trap_result(trap: &Trap) -> String {
    format!("{TRAP} {} {}", trap.kind as u8, trap.kind.message())
}

fn one_line(msg: &str) -> String {
    msg.replace(['\n', '\r'], " ")
}

/// Decodes a protocol name: hex-encoded UTF-8 bytes, `-` for the empty name.
pub fn decode_name(token: &str) -> Option<Vec<u8>> {
    if token == "-" {
        return Some(Vec::new());
    }
    if !token.len().is_multiple_of(2) {
        return None;
    }
    (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect()
}

fn parse_hex(digits: &str) -> Option<u128> {
    let digits = digits.strip_prefix("0x").unwrap_or(digits);
    u128::from_str_radix(digits, 16).ok()
}

/// Parses a protocol value that must have wasm type `ty`.
pub fn parse_value(token: &str, ty: u8) -> Result<ValueSlot, String> {
    let (tag, body) = token
        .split_once(':')
        .ok_or_else(|| format!("bad value {token}"))?;
    let expected = match tag {
        "i32" => valtype::I32,
        "i64" => valtype::I64,
        "f32" => valtype::F32,
        "f64" => valtype::F64,
        "funcref" => valtype::FUNCREF,
        "externref" => valtype::EXTERNREF,
        "v128" => valtype::V128,
        _ => return Err(format!("bad value {token}")),
    };
    if expected != ty {
        return Err(format!("value {token} does not match the parameter type"));
    }
    let bad = || format!("bad value {token}");
    let scalar = |bits: u128, max: u128| {
        if bits <= max {
            Ok(ValueSlot::scalar(bits as u64))
        } else {
            Err(bad())
        }
    };
    match ty {
        valtype::I32 | valtype::F32 => scalar(parse_hex(body).ok_or_else(bad)?, u32::MAX.into()),
        valtype::I64 | valtype::F64 => scalar(parse_hex(body).ok_or_else(bad)?, u64::MAX.into()),
        valtype::V128 => Ok(ValueSlot::v128(parse_hex(body).ok_or_else(bad)?)),
        valtype::FUNCREF if body == "null" => Ok(ValueSlot::ZERO),
        valtype::EXTERNREF if body == "null" => Ok(ValueSlot::ZERO),
        // Host reference n travels as n + 1 so that 0 stays null.
        valtype::EXTERNREF => body
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_add(1))
            .map(ValueSlot::scalar)
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// Formats a value of wasm type `ty` for a result line.
pub fn format_value(slot: ValueSlot, ty: u8) -> String {
    let v = slot.lo;
    match ty {
        valtype::I32 => format!("i32:{:x}", v as u32),
        valtype::I64 => format!("i64:{v:x}"),
        valtype::F32 => format!("f32:{:x}", v as u32),
        valtype::F64 => format!("f64:{v:x}"),
        valtype::FUNCREF if v == 0 => "funcref:null".into(),
        valtype::FUNCREF => "funcref:nonnull".into(),
        valtype::EXTERNREF if v == 0 => "externref:null".into(),
        valtype::EXTERNREF => format!("externref:{}", v - 1),
        valtype::V128 => format!("v128:{:x}", slot.as_v128()),
        _ => format!("unknown:{v:x}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The `spectest` module
// ---------------------------------------------------------------------------------------------

/// What the test suite's `spectest` module exports. Its print functions write to stderr:
/// stdout carries the protocol.
pub struct SpecTest {
    table: Box<Table>,
    memory: Box<LinearMemory>,
    /// The threads proposal's `shared_memory` (1 to 2 pages, shared).
    shared_memory: Box<LinearMemory>,
    /// global_i32, global_i64, global_f32, global_f64.
    globals: Box<[ValueSlot; 4]>,
}

impl SpecTest {
    pub fn new() -> SpecTest {
        let table = Table::new(valtype::FUNCREF, 10, Some(20)).expect("10 table elements");
        let memory = LinearMemory::new(1, Some(2), 2).unwrap_or_else(|e| {
            eprintln!("wafer: cannot create the spectest memory: {e}");
            std::process::exit(1)
        });
        let shared_memory = LinearMemory::with_sharing(1, Some(2), 2, true).unwrap_or_else(|e| {
            eprintln!("wafer: cannot create the spectest shared memory: {e}");
            std::process::exit(1)
        });
        SpecTest {
            table,
            memory,
            shared_memory,
            globals: Box::new([
                ValueSlot::scalar(666),
                ValueSlot::scalar(666),
                ValueSlot::scalar(666.6f32.to_bits().into()),
                ValueSlot::scalar(666.6f64.to_bits()),
            ]),
        }
    }

    pub fn lookup(&mut self, field: &[u8]) -> Option<Extern> {
        use valtype::*;
        let func = |code: *const u8, params: &[u8]| Extern::Func {
            code,
            vmctx: None,
            type_id: intern(params, &[]),
        };
        let global = |value: *mut ValueSlot, ty: u8| Extern::Global {
            value,
            ty,
            mutable: false,
        };
        let g = self.globals.as_mut_ptr();
        Some(match field {
            b"print" => func(print as *const u8, &[]),
            b"print_i32" => func(print_i32 as *const u8, &[I32]),
            b"print_i64" => func(print_i64 as *const u8, &[I64]),
            b"print_f32" => func(print_f32 as *const u8, &[F32]),
            b"print_f64" => func(print_f64 as *const u8, &[F64]),
            b"print_i32_f32" => func(print_i32_f32 as *const u8, &[I32, F32]),
            b"print_f64_f64" => func(print_f64_f64 as *const u8, &[F64, F64]),
            b"global_i32" => global(g, I32),
            b"global_i64" => global(unsafe { g.add(1) }, I64),
            b"global_f32" => global(unsafe { g.add(2) }, F32),
            b"global_f64" => global(unsafe { g.add(3) }, F64),
            b"table" => Extern::Table(&mut self.table.def),
            b"memory" => Extern::Memory(&mut self.memory.def),
            b"shared_memory" => Extern::Memory(&mut self.shared_memory.def),
            _ => return None,
        })
    }
}

impl Default for SpecTest {
    fn default() -> Self {
        SpecTest::new()
    }
}

extern "C" fn print(_: *mut VmCtx) {
    eprintln!("spectest.print");
}
extern "C" fn print_i32(_: *mut VmCtx, a: i32) {
    eprintln!("{a} : i32");
}
extern "C" fn print_i64(_: *mut VmCtx, a: i64) {
    eprintln!("{a} : i64");
}
extern "C" fn print_f32(_: *mut VmCtx, a: f32) {
    eprintln!("{a} : f32");
}
extern "C" fn print_f64(_: *mut VmCtx, a: f64) {
    eprintln!("{a} : f64");
}
extern "C" fn print_i32_f32(_: *mut VmCtx, a: i32, b: f32) {
    eprintln!("{a} : i32\n{b} : f32");
}
extern "C" fn print_f64_f64(_: *mut VmCtx, a: f64, b: f64) {
    eprintln!("{a} : f64\n{b} : f64");
}

#[cfg(test)]
mod tests {
    use super::*;
    use valtype::*;

    #[test]
    fn names_decode() {
        assert_eq!(decode_name("-").unwrap(), b"");
        assert_eq!(decode_name("6164").unwrap(), b"ad");
        assert_eq!(decode_name("e282ac").unwrap(), "€".as_bytes());
        assert!(decode_name("6").is_none());
        assert!(decode_name("zz").is_none());
    }

    #[test]
    fn values_parse() {
        assert_eq!(parse_value("i32:ffffffff", I32).unwrap().lo, 0xffff_ffff);
        assert_eq!(parse_value("i32:0x10", I32).unwrap().lo, 16);
        assert!(parse_value("i32:100000000", I32).is_err());
        assert_eq!(
            parse_value("i64:8000000000000000", I64).unwrap().lo,
            1 << 63
        );
        assert_eq!(parse_value("f32:7fc00000", F32).unwrap().lo, 0x7fc0_0000);
        assert_eq!(
            parse_value("f64:7ff8000000000001", F64).unwrap().lo,
            0x7ff8_0000_0000_0001
        );
        assert_eq!(parse_value("externref:null", EXTERNREF).unwrap().lo, 0);
        assert_eq!(parse_value("externref:0", EXTERNREF).unwrap().lo, 1);
        assert_eq!(parse_value("externref:41", EXTERNREF).unwrap().lo, 42);
        assert_eq!(parse_value("funcref:null", FUNCREF).unwrap().lo, 0);
        assert!(parse_value("funcref:nonnull", FUNCREF).is_err());
        assert!(parse_value("i64:1", I32).is_err());
        assert!(parse_value("garbage", I32).is_err());
        assert_eq!(
            parse_value("v128:ff000000000000000000000000000001", V128).unwrap(),
            ValueSlot {
                lo: 1,
                hi: 0xff00_0000_0000_0000
            }
        );
        assert!(parse_value("v128:1ff000000000000000000000000000001", V128).is_err());
    }

    #[test]
    fn values_format() {
        assert_eq!(
            format_value(ValueSlot::scalar(0xffff_ffff_0000_002a), I32),
            "i32:2a"
        );
        assert_eq!(
            format_value(ValueSlot::scalar(u64::MAX), I64),
            "i64:ffffffffffffffff"
        );
        assert_eq!(
            format_value(ValueSlot::scalar(0x7fc0_0000), F32),
            "f32:7fc00000"
        );
        assert_eq!(format_value(ValueSlot::scalar(0), F64), "f64:0");
        assert_eq!(format_value(ValueSlot::scalar(0), FUNCREF), "funcref:null");
        assert_eq!(
            format_value(ValueSlot::scalar(0x1234), FUNCREF),
            "funcref:nonnull"
        );
        assert_eq!(
            format_value(ValueSlot::scalar(0), EXTERNREF),
            "externref:null"
        );
        assert_eq!(
            format_value(ValueSlot::scalar(42), EXTERNREF),
            "externref:41"
        );
        assert_eq!(
            format_value(ValueSlot { lo: 1, hi: 2 }, V128),
            "v128:20000000000000001"
        );
    }

    #[test]
    fn commands_report_errors() {
        let mut s = Session::new(&[]);
        assert!(s
            .execute("instantiate 0 0")
            .starts_with("error unknown module"));
        assert!(s
            .execute("invoke 3 6162")
            .starts_with("error unknown instance"));
        assert!(s.execute("get x 6162").starts_with("error bad instance"));
        assert!(s.execute("state 2").starts_with("error unknown instance"));
        assert!(s
            .execute("register 61 1")
            .starts_with("error unknown instance"));
        assert!(s.execute("frobnicate").starts_with("error unknown command"));
    }

    #[test]
    fn spectest_exports() {
        let mut t = SpecTest::new();
        assert!(t.lookup(b"nope").is_none());
        match t.lookup(b"global_f64").unwrap() {
            Extern::Global { value, ty, mutable } => {
                assert_eq!(ty, F64);
                assert!(!mutable);
                assert_eq!(f64::from_bits(unsafe { (*value).lo }), 666.6);
            }
            _ => panic!("not a global"),
        }
        match t.lookup(b"table").unwrap() {
            Extern::Table(def) => {
                let table = unsafe { Table::from_def(def) };
                assert_eq!((table.len(), table.declared_max()), (10, Some(20)));
            }
            _ => panic!("not a table"),
        }
        match t.lookup(b"memory").unwrap() {
            Extern::Memory(def) => {
                let m = unsafe { LinearMemory::from_def(def) };
                assert_eq!((m.pages(), m.declared_max()), (1, Some(2)));
            }
            _ => panic!("not a memory"),
        }
        match t.lookup(b"print_i32_f32").unwrap() {
            Extern::Func { type_id, vmctx, .. } => {
                assert_eq!(type_id, intern(&[I32, F32], &[]));
                assert!(vmctx.is_none());
            }
            _ => panic!("not a function"),
        }
    }
}
