//! Runs translated code: every spec-suite module that needs no imports and no libcalls is
//! compiled for the host (x86_64 only), loaded into executable memory with a hand-built
//! `vmctx`, and its `assert_return`s are checked. Traps are not exercised here (they would
//! kill the test process); the runtime's harness covers them end to end.

use std::collections::HashMap;
use std::path::Path;

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
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastRet};

use super::tests::{features, make_isa, module_info, testsuite};
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
    let code = ctx.compile(isa, &mut ControlPlane::default()).ok()?;
    let mut relocs = Vec::new();
    for r in code.buffer.relocs() {
        let FinalizedRelocTarget::ExternalName(ExternalName::User(name)) = &r.target else {
            return None;
        };
        let name = &params.user_named_funcs()[*name];
        // Namespace 1 is a libcall: not available in this harness.
        if name.namespace != 0 || r.kind != cranelift_codegen::binemit::Reloc::X86CallPCRel4 {
            return None;
        }
        relocs.push((r.offset, name.index, r.addend));
    }
    Some((code.code_buffer().to_vec(), relocs))
}

/// `fn(code, vmctx, values)`: loads params from the slots, calls, stores results from slot 0.
fn trampoline(isa: &dyn TargetIsa, ty: &FuncType) -> Function {
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
        let t = super::wasm_value_type(super::IrTypes::of(isa), p);
        args.push(b.ins().load(t, flags, values, (i * 8) as i32));
    }
    let callee_sig = b.import_signature(super::wasm_signature(isa, ty));
    let call = b.ins().call_indirect(callee_sig, code, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        b.ins().store(flags, r, values, (i * 8) as i32);
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

fn instantiate(wasm: &[u8], isa: &dyn TargetIsa, mode: BoundsChecks) -> Option<Instance> {
    let (info, bodies) = module_info(wasm, mode);
    if info.num_imported_funcs > 0 || !info.tables.iter().all(|t| !t.imported) {
        return None;
    }
    if info.num_imported_globals > 0 || info.memory.as_ref().is_some_and(|m| m.imported) {
        return None;
    }
    let mut compiled = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let func = translate_function(&info, isa, info.num_imported_funcs + i as u32, body).ok()?;
        compiled.push(compile(isa, func)?);
    }
    let mut trampolines = Vec::new();
    for (i, ty) in info.types.iter().enumerate() {
        trampolines.push((i as u32, compile(isa, trampoline(isa, ty))?.0));
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
    fn invoke(&mut self, name: &str, args: &[u64]) -> Option<Vec<u64>> {
        let func_index = *self.exports.get(name)?;
        let type_index = self.func_types[func_index as usize];
        let ty = &self.types[type_index as usize];
        let mut slots = vec![0u64; ty.params().len().max(ty.results().len())];
        slots[..args.len()].copy_from_slice(args);
        let tramp: unsafe extern "C" fn(usize, *mut u64, *mut u64) =
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

fn arg_bits(arg: &WastArg) -> Option<u64> {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => Some(*v as u32 as u64),
        WastArg::Core(WastArgCore::I64(v)) => Some(*v as u64),
        WastArg::Core(WastArgCore::F32(v)) => Some(u64::from(v.bits)),
        WastArg::Core(WastArgCore::F64(v)) => Some(v.bits),
        WastArg::Core(WastArgCore::RefNull(_)) => Some(0),
        _ => None,
    }
}

/// Whether `got` (a slot of type `ty`) matches the expected result; `None` if not checkable.
fn matches(expected: &WastRet, ty: ValType, got: u64) -> Option<bool> {
    let f32_nan = |bits: u32, canonical: bool| {
        let payload = bits & 0x7f_ffff;
        f32::from_bits(bits).is_nan()
            && (!canonical || payload == 0x40_0000)
            && (canonical || payload & 0x40_0000 != 0)
    };
    let f64_nan = |bits: u64, canonical: bool| {
        let payload = bits & 0xf_ffff_ffff_ffff;
        f64::from_bits(bits).is_nan()
            && (!canonical || payload == 0x8_0000_0000_0000)
            && (canonical || payload & 0x8_0000_0000_0000 != 0)
    };
    let WastRet::Core(ret) = expected else {
        return None;
    };
    Some(match (ret, ty) {
        (WastRetCore::I32(v), ValType::I32) => got as u32 == *v as u32,
        (WastRetCore::I64(v), ValType::I64) => got == *v as u64,
        (WastRetCore::F32(p), ValType::F32) => match p {
            NanPattern::Value(v) => got as u32 == v.bits,
            NanPattern::CanonicalNan => f32_nan(got as u32, true),
            NanPattern::ArithmeticNan => f32_nan(got as u32, false),
        },
        (WastRetCore::F64(p), ValType::F64) => match p {
            NanPattern::Value(v) => got == v.bits,
            NanPattern::CanonicalNan => f64_nan(got, true),
            NanPattern::ArithmeticNan => f64_nan(got, false),
        },
        (WastRetCore::RefNull(_), ValType::Ref(_)) => got == 0,
        (WastRetCore::RefFunc(None), ValType::Ref(_)) => got != 0,
        _ => return None,
    })
}

#[test]
fn spec_assert_return_executes() {
    let dir = &testsuite();
    if !cfg!(target_arch = "x86_64") || !dir.is_dir() {
        eprintln!("needs an x86_64 host and the spec test suite; skipped");
        return;
    }
    for mode in [BoundsChecks::Guard, BoundsChecks::Explicit] {
        run_spec_asserts(dir, mode);
    }
}

fn run_spec_asserts(dir: &Path, mode: BoundsChecks) {
    let isa = make_isa("x86_64-unknown-linux-gnu");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    let (mut passed, mut failures) = (0usize, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let Ok(buf) = wast::parser::ParseBuffer::new(&text) else {
            continue;
        };
        let Ok(script) = wast::parser::parse::<wast::Wast>(&buf) else {
            continue;
        };
        let mut current: Option<Instance> = None;
        for directive in script.directives {
            match directive {
                WastDirective::Module(mut quote) => {
                    current = None;
                    let named =
                        matches!(&quote, QuoteWat::Wat(wast::Wat::Module(m)) if m.id.is_some());
                    let Ok(wasm) = quote.encode() else { continue };
                    if named
                        || Validator::new_with_features(features())
                            .validate_all(&wasm)
                            .is_err()
                    {
                        continue;
                    }
                    current = instantiate(&wasm, &*isa, mode);
                }
                WastDirective::Invoke(invoke) => {
                    let Some(inst) = current.as_mut() else {
                        continue;
                    };
                    let args = invoke.args.iter().map(arg_bits).collect::<Option<Vec<_>>>();
                    match args {
                        Some(args) if invoke.module.is_none() => {
                            inst.invoke(invoke.name, &args);
                        }
                        // State we cannot reproduce: later results would be meaningless.
                        _ => current = None,
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
                        .map(|((r, t), g)| matches(r, *t, *g))
                        .collect();
                    match checks {
                        Some(c) if c.iter().all(|&ok| ok) => passed += 1,
                        Some(_) => {
                            let (line, _) = span.linecol_in(&text);
                            failures.push(format!(
                                "{}:{} {} -> {:x?}",
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
    }
    eprintln!("{mode:?} bounds checks: {passed} assert_return checks passed");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed > 5000, "only {passed} checks ran");
}
