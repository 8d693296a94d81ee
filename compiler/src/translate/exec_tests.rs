//! Runs translated code: every spec-suite module that needs no imports and no libcalls is
//! compiled for the host (x86_64 only), loaded into executable memory with a hand-built
//! `vmctx`, and its `assert_return`s are checked. Traps are not exercised here (they would
//! kill the test process); the runtime's harness covers them end to end.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{
    self, AbiParam, ExternalName, Function, InstBuilder, Signature, UserFuncName,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use wafer_abi::{
    BoundsChecks, FuncRef, Limits, MemoryDef, TableDef, VmctxLayout, GUARDED_RESERVATION,
    WASM_PAGE_SIZE,
};
use wasmparser::{
    DataKind, ElementItems, ElementKind, ExternalKind, FuncType, Operator, Parser, Payload,
    ValType, Validator,
};
use wast::core::{NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::token::{F32, F64};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastRet};

use super::tests::{features, make_isa, make_isa_with, module_info, testsuite};
use super::translate_function;
use crate::module_info::ModuleInfo;

/// Executable code of one module plus everything its `vmctx` points at.
struct Instance {
    code: *mut u8,
    code_len: usize,
    memory: Option<*mut u8>,
    vmctx: Vec<u64>,
    func_addrs: Vec<usize>,
    types: Vec<FuncType>,
    func_types: Vec<u32>,
    exports: HashMap<String, u32>,
    trampolines: HashMap<u32, usize>,
    // Kept alive because `vmctx` points into them.
    _limits: Box<Limits>,
    _memory_def: Box<MemoryDef>,
    _func_refs: Vec<FuncRef>,
    _type_ids: Vec<u32>,
    _tables: Vec<(Box<TableDef>, Vec<usize>)>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        unsafe {
            libc::munmap(self.code.cast(), self.code_len);
            if let Some(m) = self.memory {
                libc::munmap(m.cast(), GUARDED_RESERVATION as usize);
            }
        }
    }
}

/// A call site to patch: offset in the function, callee's defined index, addend.
type CallReloc = (u32, u32, i64);

fn compile(isa: &dyn TargetIsa, func: Function) -> Option<(Vec<u8>, Vec<CallReloc>)> {
    let params = func.params.clone();
    let mut ctx = Context::for_function(func);
    let code = match ctx.compile(isa, &mut ControlPlane::default()) {
        Ok(code) => code,
        Err(e) => {
            if std::env::var_os("WAFER_SHOW_SKIPPED").is_some() {
                eprintln!("does not compile: {:?}", e.inner);
            }
            return None;
        }
    };
    let mut relocs = Vec::new();
    for r in code.buffer.relocs() {
        let name = match &r.target {
            FinalizedRelocTarget::ExternalName(ExternalName::User(name)) => {
                Some(&params.user_named_funcs()[*name])
            }
            _ => None,
        };
        // Namespace 1 is a libcall: not available in this harness.
        let Some(name) = name.filter(|n| {
            n.namespace == 0 && r.kind == cranelift_codegen::binemit::Reloc::X86CallPCRel4
        }) else {
            if std::env::var_os("WAFER_SHOW_SKIPPED").is_some() {
                eprintln!("needs a relocation the harness lacks: {:?}", r.target);
            }
            return None;
        };
        relocs.push((r.offset, name.index, r.addend));
    }
    Some((code.code_buffer().to_vec(), relocs))
}

/// Bytes per value slot of the test trampolines: room for a `v128`.
const SLOT: usize = 16;

/// `fn(code, vmctx, values)`: loads params from the slots, calls, stores results from slot 0.
/// Values are in the types `ir` (the SIMD lowering under test).
fn trampoline(isa: &dyn TargetIsa, ir: super::IrTypes, ty: &FuncType) -> Function {
    let ptr = isa.pointer_type();
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params.extend([AbiParam::new(ptr); 3]);
    let mut func = Function::with_name_signature(UserFuncName::user(9, 0), sig);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let [code, vmctx, values] = b.block_params(block).try_into().unwrap();
    let flags = ir::MemFlagsData::trusted();
    let mut args = vec![vmctx];
    for (i, &p) in ty.params().iter().enumerate() {
        let t = super::wasm_value_type(ir, p);
        args.push(b.ins().load(t, flags, values, (i * SLOT) as i32));
    }
    let callee_sig = b.import_signature(super::wasm_signature_with(isa, ir, ty));
    let call = b.ins().call_indirect(callee_sig, code, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        b.ins().store(flags, r, values, (i * SLOT) as i32);
    }
    b.ins().return_(&[]);
    b.finalize(isa.frontend_config());
    func
}

fn eval_const(ops: wasmparser::ConstExpr, func_refs: *const FuncRef) -> Option<u64> {
    let mut stack: Vec<u64> = Vec::new();
    for op in ops.get_operators_reader() {
        match op.ok()? {
            Operator::I32Const { value } => stack.push(value as u32 as u64),
            Operator::I64Const { value } => stack.push(value as u64),
            Operator::F32Const { value } => stack.push(u64::from(value.bits())),
            Operator::F64Const { value } => stack.push(value.bits()),
            Operator::RefNull { .. } => stack.push(0),
            Operator::RefFunc { function_index } => {
                stack.push(unsafe { func_refs.add(function_index as usize) } as u64)
            }
            Operator::End => {}
            _ => return None,
        }
    }
    stack.pop()
}

/// `v128` is the type the module's `v128` values get: the SIMD lowering to run.
fn instantiate(
    wasm: &[u8],
    isa: &dyn TargetIsa,
    mode: BoundsChecks,
    v128: ir::Type,
) -> Option<Instance> {
    let (info, bodies) = module_info(wasm, mode, v128);
    if info.num_imported_funcs > 0 || !info.tables.iter().all(|t| !t.imported) {
        return None;
    }
    if info.num_imported_globals > 0 || info.memory.as_ref().is_some_and(|m| m.imported) {
        return None;
    }
    let mut compiled = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let index = info.num_imported_funcs + i as u32;
        let func = match translate_function(&info, isa, index, body) {
            Ok(func) => func,
            Err(e) => {
                if std::env::var_os("WAFER_SHOW_SKIPPED").is_some() {
                    eprintln!("does not translate: {e}");
                }
                return None;
            }
        };
        compiled.push(compile(isa, func)?);
    }
    let mut trampolines = Vec::new();
    for (i, ty) in info.types.iter().enumerate() {
        let func = trampoline(isa, info.ir_types(), ty);
        trampolines.push((i as u32, compile(isa, func)?.0));
    }

    // Lay out all code in one mapping, resolve calls, then make it executable.
    let mut offsets = Vec::new();
    let mut total = 0usize;
    for (code, _) in &compiled {
        offsets.push(total);
        total = (total + code.len() + 15) & !15;
    }
    let mut tramp_offsets = Vec::new();
    for (_, code) in &trampolines {
        tramp_offsets.push(total);
        total = (total + code.len() + 15) & !15;
    }
    let code_len = total.max(4096);
    let code = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            code_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        p.cast::<u8>()
    };
    for (i, (bytes, relocs)) in compiled.iter().enumerate() {
        let base = offsets[i];
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), code.add(base), bytes.len()) };
        for &(offset, target, addend) in relocs {
            let site = code as i64 + (base + offset as usize) as i64;
            let target = code as i64 + offsets[target as usize] as i64;
            let rel = (target + addend - site) as i32;
            unsafe {
                code.add(base + offset as usize)
                    .cast::<i32>()
                    .write_unaligned(rel)
            };
        }
    }
    for (i, (_, bytes)) in trampolines.iter().enumerate() {
        let at = tramp_offsets[i];
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), code.add(at), bytes.len()) };
    }
    unsafe { libc::mprotect(code.cast(), code_len, libc::PROT_READ | libc::PROT_EXEC) };
    let func_addrs: Vec<usize> = offsets.iter().map(|o| code as usize + o).collect();

    let mut inst = Instance {
        code,
        code_len,
        memory: None,
        vmctx: vec![0u64; info.layout.size() as usize / 8],
        func_addrs,
        types: info.types.clone(),
        func_types: info.func_types.clone(),
        exports: HashMap::new(),
        trampolines: trampolines
            .iter()
            .zip(&tramp_offsets)
            .map(|((t, _), o)| (*t, code as usize + o))
            .collect(),
        _limits: Box::new(Limits { stack_limit: 0 }),
        _memory_def: Box::new(MemoryDef {
            base: std::ptr::null_mut(),
            length: 0,
        }),
        _func_refs: Vec::new(),
        _type_ids: Vec::new(),
        _tables: Vec::new(),
    };
    populate(&mut inst, &info, wasm)?;
    Some(inst)
}

/// Fills `vmctx` and applies globals and active segments, as the runtime's instantiation does.
fn populate(inst: &mut Instance, info: &ModuleInfo, wasm: &[u8]) -> Option<()> {
    inst._type_ids = (0..info.types.len())
        .map(|i| info.types.iter().position(|t| *t == info.types[i]).unwrap() as u32)
        .collect();
    let vmctx_addr = inst.vmctx.as_mut_ptr() as *mut wafer_abi::VmCtx;
    inst._func_refs = (0..info.func_types.len())
        .map(|i| FuncRef {
            code: inst.func_addrs[i] as *const u8,
            vmctx: vmctx_addr,
            type_id: inst._type_ids[info.func_types[i] as usize],
            _pad: 0,
        })
        .collect();
    if let Some(mem) = &info.memory {
        let len = mem.initial_pages * WASM_PAGE_SIZE;
        let base = unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                GUARDED_RESERVATION as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            if len > 0 {
                libc::mprotect(p, len as usize, libc::PROT_READ | libc::PROT_WRITE);
            }
            p.cast::<u8>()
        };
        inst.memory = Some(base);
        *inst._memory_def = MemoryDef { base, length: len };
    }
    for t in &info.tables {
        let mut elements = vec![0usize; t.initial as usize];
        let def = Box::new(TableDef {
            elements: elements.as_mut_ptr(),
            length: t.initial,
        });
        inst._tables.push((def, elements));
    }
    let func_refs = inst._func_refs.as_ptr();
    let mut globals = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.ok()? {
            // The harness does not run start functions.
            Payload::StartSection { .. } => return None,
            Payload::GlobalSection(r) => {
                for g in r {
                    globals.push(eval_const(g.ok()?.init_expr, func_refs)?);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.ok()?;
                    if e.kind == ExternalKind::Func {
                        inst.exports.insert(e.name.to_string(), e.index);
                    }
                }
            }
            Payload::ElementSection(r) => {
                for seg in r {
                    let seg = seg.ok()?;
                    let ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = seg.kind
                    else {
                        continue;
                    };
                    let offset = eval_const(offset_expr, func_refs)? as usize;
                    let items: Vec<usize> = match seg.items {
                        ElementItems::Functions(r) => r
                            .into_iter()
                            .map(|f| f.map(|f| func_refs as usize + f as usize * 24))
                            .collect::<Result<_, _>>()
                            .ok()?,
                        ElementItems::Expressions(_, r) => r
                            .into_iter()
                            .map(|e| e.ok().and_then(|e| eval_const(e, func_refs)))
                            .map(|v| v.map(|v| v as usize))
                            .collect::<Option<_>>()?,
                    };
                    let table = &mut inst._tables[table_index.unwrap_or(0) as usize].1;
                    table
                        .get_mut(offset..offset + items.len())?
                        .copy_from_slice(&items);
                }
            }
            Payload::DataSection(r) => {
                for seg in r {
                    let seg = seg.ok()?;
                    let DataKind::Active { offset_expr, .. } = seg.kind else {
                        continue;
                    };
                    let offset = eval_const(offset_expr, func_refs)? as u32 as u64;
                    if offset + seg.data.len() as u64 > inst._memory_def.length {
                        return None;
                    }
                    unsafe {
                        let dst = inst._memory_def.base.add(offset as usize);
                        std::ptr::copy_nonoverlapping(seg.data.as_ptr(), dst, seg.data.len());
                    }
                }
            }
            _ => {}
        }
    }
    let layout = &info.layout;
    let v = &mut inst.vmctx;
    let set = |v: &mut Vec<u64>, offset: u32, value: u64| v[offset as usize / 8] = value;
    set(v, VmctxLayout::MEMORY_BASE, inst._memory_def.base as u64);
    set(
        v,
        VmctxLayout::MEMORY,
        &*inst._memory_def as *const MemoryDef as u64,
    );
    set(
        v,
        VmctxLayout::LIMITS,
        &*inst._limits as *const Limits as u64,
    );
    set(v, VmctxLayout::FUNC_REFS, inst._func_refs.as_ptr() as u64);
    set(v, VmctxLayout::TYPE_IDS, inst._type_ids.as_ptr() as u64);
    for (i, (def, _)) in inst._tables.iter().enumerate() {
        set(v, layout.table(i as u32), &**def as *const TableDef as u64);
    }
    for (i, g) in globals.into_iter().enumerate() {
        set(v, layout.defined_global(i as u32), g);
    }
    Some(())
}

impl Instance {
    /// Calls an exported function; `None` when the harness cannot express the arguments.
    /// Each value is in a 16-byte slot, its bits zero-extended.
    fn invoke(&mut self, name: &str, args: &[u128]) -> Option<Vec<u128>> {
        let func_index = *self.exports.get(name)?;
        let type_index = self.func_types[func_index as usize];
        let ty = &self.types[type_index as usize];
        if args.len() != ty.params().len() {
            return None;
        }
        let mut slots = vec![0u128; ty.params().len().max(ty.results().len())];
        slots[..args.len()].copy_from_slice(args);
        let tramp: unsafe extern "C" fn(usize, *mut u64, *mut u128) =
            unsafe { std::mem::transmute(self.trampolines[&type_index]) };
        let code = self.func_addrs[func_index as usize];
        unsafe { tramp(code, self.vmctx.as_mut_ptr(), slots.as_mut_ptr()) };
        slots.truncate(ty.results().len());
        Some(slots)
    }

    fn result_types(&self, name: &str) -> Option<Vec<ValType>> {
        let f = *self.exports.get(name)?;
        Some(
            self.types[self.func_types[f as usize] as usize]
                .results()
                .to_vec(),
        )
    }
}

fn arg_bits(arg: &WastArg) -> Option<u128> {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => Some(u128::from(*v as u32)),
        WastArg::Core(WastArgCore::I64(v)) => Some(u128::from(*v as u64)),
        WastArg::Core(WastArgCore::F32(v)) => Some(u128::from(v.bits)),
        WastArg::Core(WastArgCore::F64(v)) => Some(u128::from(v.bits)),
        WastArg::Core(WastArgCore::V128(v)) => Some(u128::from_le_bytes(v.to_le_bytes())),
        WastArg::Core(WastArgCore::RefNull(_)) => Some(0),
        _ => None,
    }
}

fn f32_matches(expected: &NanPattern<F32>, bits: u32) -> bool {
    let payload = bits & 0x7f_ffff;
    let nan = f32::from_bits(bits).is_nan();
    match expected {
        NanPattern::Value(v) => bits == v.bits,
        NanPattern::CanonicalNan => nan && payload == 0x40_0000,
        NanPattern::ArithmeticNan => nan && payload & 0x40_0000 != 0,
    }
}

fn f64_matches(expected: &NanPattern<F64>, bits: u64) -> bool {
    let payload = bits & 0xf_ffff_ffff_ffff;
    let nan = f64::from_bits(bits).is_nan();
    match expected {
        NanPattern::Value(v) => bits == v.bits,
        NanPattern::CanonicalNan => nan && payload == 0x8_0000_0000_0000,
        NanPattern::ArithmeticNan => nan && payload & 0x8_0000_0000_0000 != 0,
    }
}

/// Lane `i` of `width` bits of a `v128`.
fn v128_lane(v: u128, width: u32, i: usize) -> u128 {
    (v >> (width as usize * i)) & (u128::MAX >> (128 - width))
}

fn v128_matches(expected: &V128Pattern, got: u128) -> bool {
    let lane = |width: u32, i: usize| v128_lane(got, width, i);
    match expected {
        V128Pattern::I8x16(l) => l
            .iter()
            .enumerate()
            .all(|(i, v)| lane(8, i) == u128::from(*v as u8)),
        V128Pattern::I16x8(l) => l
            .iter()
            .enumerate()
            .all(|(i, v)| lane(16, i) == u128::from(*v as u16)),
        V128Pattern::I32x4(l) => l
            .iter()
            .enumerate()
            .all(|(i, v)| lane(32, i) == u128::from(*v as u32)),
        V128Pattern::I64x2(l) => l
            .iter()
            .enumerate()
            .all(|(i, v)| lane(64, i) == u128::from(*v as u64)),
        V128Pattern::F32x4(l) => l
            .iter()
            .enumerate()
            .all(|(i, p)| f32_matches(p, lane(32, i) as u32)),
        V128Pattern::F64x2(l) => l
            .iter()
            .enumerate()
            .all(|(i, p)| f64_matches(p, lane(64, i) as u64)),
    }
}

/// Whether `got` (a slot of type `ty`) matches the expected result; `None` if not checkable.
fn matches(expected: &WastRetCore, ty: ValType, got: u128) -> Option<bool> {
    Some(match (expected, ty) {
        // A result fills only its own width of the slot.
        (WastRetCore::I32(v), ValType::I32) => got as u32 == *v as u32,
        (WastRetCore::I64(v), ValType::I64) => got as u64 == *v as u64,
        (WastRetCore::F32(p), ValType::F32) => f32_matches(p, got as u32),
        (WastRetCore::F64(p), ValType::F64) => f64_matches(p, got as u64),
        (WastRetCore::V128(p), ValType::V128) => v128_matches(p, got),
        (WastRetCore::RefNull(_), ValType::Ref(_)) => got as u64 == 0,
        (WastRetCore::RefFunc(None), ValType::Ref(_)) => got as u64 != 0,
        // Relaxed SIMD: any one of the listed results.
        (WastRetCore::Either(options), _) => {
            let mut any = false;
            for option in options {
                any |= matches(option, ty, got)?;
            }
            any
        }
        _ => return None,
    })
}

/// The spec files about SIMD, which [`spec_simd_assert_return_executes`] runs with both
/// lowerings.
fn is_simd_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with("simd_") || name.contains("relaxed")
}

fn wast_files(dir: &Path, simd: bool) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast") && is_simd_file(p) == simd)
        .collect();
    files.sort();
    files
}

#[test]
fn spec_assert_return_executes() {
    let dir = &testsuite();
    if !cfg!(target_arch = "x86_64") || !dir.is_dir() {
        eprintln!("needs an x86_64 host and the spec test suite; skipped");
        return;
    }
    let isa = make_isa("x86_64-unknown-linux-gnu");
    for mode in [BoundsChecks::Guard, BoundsChecks::Explicit] {
        let mut all = Outcome::default();
        for file in wast_files(dir, false) {
            all.add(run_file(&file, &*isa, mode, ir::types::I8X16));
        }
        eprintln!(
            "{mode:?} bounds checks: {} assert_return checks passed",
            all.passed
        );
        all.assert_clean();
        assert!(all.passed > 5000, "only {} checks ran", all.passed);
    }
}

/// Every SIMD and relaxed-SIMD spec file, with the vector lowering (`i8x16`: what x86_64
/// gets) and with the scalar one (`i128`: what riscv64 without V gets, run here on x86_64).
/// `simd_linking.wast` needs imports and `simd_memory-multi.wast` multiple memories, so
/// neither runs anything; modules with `v128` globals are skipped too (see `eval_const`).
#[test]
fn spec_simd_assert_return_executes() {
    let dir = &testsuite();
    if !cfg!(target_arch = "x86_64") || !dir.is_dir() {
        eprintln!("needs an x86_64 host and the spec test suite; skipped");
        return;
    }
    let host = "x86_64-unknown-linux-gnu";
    // x64 passes i128 arguments only with this setting (riscv64 always does).
    let i128_args = [("enable_llvm_abi_extensions", "true")];
    let lowerings = [
        ("vector", ir::types::I8X16, make_isa(host)),
        ("scalar", ir::types::I128, make_isa_with(host, &i128_args)),
    ];
    let mut totals: Vec<Outcome> = lowerings.iter().map(|_| Outcome::default()).collect();
    for file in wast_files(dir, true) {
        let mut line = format!("{:40}", file.file_name().unwrap().to_string_lossy());
        for ((name, v128, isa), total) in lowerings.iter().zip(&mut totals) {
            for mode in [BoundsChecks::Guard, BoundsChecks::Explicit] {
                let outcome = run_file(&file, &**isa, mode, *v128);
                if mode == BoundsChecks::Explicit {
                    let failed = outcome.failures.len();
                    line += &format!(" {name} {:5} passed {failed:3} failed", outcome.passed);
                }
                total.add(outcome);
            }
        }
        eprintln!("{line}");
    }
    for ((name, _, _), total) in lowerings.iter().zip(&totals) {
        eprintln!(
            "{name}: {} passed, {} failed",
            total.passed,
            total.failures.len()
        );
    }
    for total in &totals {
        total.assert_clean();
        assert!(total.passed > 10000, "only {} checks ran", total.passed);
    }
}

/// The `assert_return` checks of some spec files.
#[derive(Default)]
struct Outcome {
    passed: usize,
    failures: Vec<String>,
}

impl Outcome {
    fn add(&mut self, other: Outcome) {
        self.passed += other.passed;
        self.failures.extend(other.failures);
    }

    fn assert_clean(&self) {
        assert!(
            self.failures.is_empty(),
            "{} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// Runs the `assert_return`s of one spec file that the harness can express.
fn run_file(file: &Path, isa: &dyn TargetIsa, mode: BoundsChecks, v128: ir::Type) -> Outcome {
    let mut outcome = Outcome::default();
    let text = std::fs::read_to_string(file).unwrap();
    let Ok(buf) = wast::parser::ParseBuffer::new(&text) else {
        return outcome;
    };
    let Ok(script) = wast::parser::parse::<wast::Wast>(&buf) else {
        return outcome;
    };
    let mut current: Option<Instance> = None;
    for directive in script.directives {
        match directive {
            WastDirective::Module(mut quote) => {
                current = None;
                let named = matches!(&quote, QuoteWat::Wat(wast::Wat::Module(m)) if m.id.is_some());
                let Ok(wasm) = quote.encode() else { continue };
                if named
                    || Validator::new_with_features(features())
                        .validate_all(&wasm)
                        .is_err()
                {
                    continue;
                }
                current = instantiate(&wasm, isa, mode, v128);
            }
            WastDirective::Invoke(invoke) => {
                let Some(inst) = current.as_mut() else {
                    continue;
                };
                let args = invoke.args.iter().map(arg_bits).collect::<Option<Vec<_>>>();
                let done = match args {
                    Some(args) if invoke.module.is_none() => {
                        inst.invoke(invoke.name, &args).is_some()
                    }
                    _ => false,
                };
                if !done {
                    // State we cannot reproduce: later results would be meaningless.
                    current = None;
                }
            }
            WastDirective::AssertReturn {
                exec: WastExecute::Invoke(invoke),
                results,
                span,
            } => {
                let Some(inst) = current.as_mut() else {
                    continue;
                };
                if invoke.module.is_some() {
                    continue;
                }
                let Some(args) = invoke.args.iter().map(arg_bits).collect::<Option<Vec<_>>>()
                else {
                    continue;
                };
                let Some(types) = inst.result_types(invoke.name) else {
                    continue;
                };
                let Some(got) = inst.invoke(invoke.name, &args) else {
                    continue;
                };
                let checks: Option<Vec<bool>> = results
                    .iter()
                    .zip(&types)
                    .zip(&got)
                    .map(|((r, t), g)| match r {
                        WastRet::Core(r) => matches(r, *t, *g),
                        _ => None,
                    })
                    .collect();
                match checks {
                    Some(c) if c.iter().all(|&ok| ok) => outcome.passed += 1,
                    Some(_) => {
                        let (line, _) = span.linecol_in(&text);
                        outcome.failures.push(format!(
                            "{}:{} {} ({v128} {mode:?}) -> {:x?}",
                            file.display(),
                            line + 1,
                            invoke.name,
                            got
                        ));
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }
    outcome
}
