//! Writing a parsed module into one relocatable object: compiled functions (in parallel),
//! array-call trampolines, the `init` function and the descriptor.

use crate::descriptor::{self, DescriptorOptions, FunctionCode, Symbols};
use crate::error::{CompileError, Result};
use crate::module::ParsedModule;
use crate::module_info::HostTarget;
use crate::module_info::ModuleInfo;
use crate::translate::{libcall_signature, translate_function, wasm_signature};
use crate::{host_stubs, init_func, trampoline, translate};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, TrapCode, UserExternalName, UserFuncName};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::Context;
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module, ModuleError, ModuleReloc};
use cranelift_object::{ObjectBuilder, ObjectModule};
use rayon::prelude::*;
use wafer_abi::TrapKind;
use wasmparser::FunctionBody;

pub struct ObjectOptions<'a> {
    pub prefix: &'a str,
    pub memory_cap_pages: u32,
    pub wasm_stack: u64,
}

/// Machine code of one function, ready to be placed in the text section.
struct Compiled {
    bytes: Vec<u8>,
    alignment: u64,
    relocs: Vec<ModuleReloc>,
    traps: Vec<(u32, u8)>,
}

pub fn module_error(e: ModuleError) -> CompileError {
    CompileError::Codegen(e.to_string())
}

pub fn new_object_module(isa: OwnedTargetIsa, name: &str) -> Result<ObjectModule> {
    let builder = ObjectBuilder::new(isa, name, Box::new(libcall_name)).map_err(module_error)?;
    Ok(ObjectModule::new(builder))
}

/// The symbol a call Cranelift makes on its own resolves to. Rounding (x86_64 without SSE4.1)
/// goes to the runtime, which gives wasm's results; anything else to the C library's function
/// of Cranelift's default name.
fn libcall_name(call: ir::LibCall) -> String {
    use wafer_abi::libcall as rt;
    let name = match call {
        ir::LibCall::FloorF32 => rt::FLOOR_F32,
        ir::LibCall::FloorF64 => rt::FLOOR_F64,
        ir::LibCall::CeilF32 => rt::CEIL_F32,
        ir::LibCall::CeilF64 => rt::CEIL_F64,
        ir::LibCall::TruncF32 => rt::TRUNC_F32,
        ir::LibCall::TruncF64 => rt::TRUNC_F64,
        ir::LibCall::NearestF32 => rt::NEAREST_F32,
        ir::LibCall::NearestF64 => rt::NEAREST_F64,
        other => return default_libcall_names()(other),
    };
    name.to_string()
}

/// The trap kind the runtime reports for a Cranelift trap code.
fn trap_kind(code: TrapCode) -> Option<TrapKind> {
    Some(match code {
        TrapCode::STACK_OVERFLOW => TrapKind::StackOverflow,
        TrapCode::HEAP_OUT_OF_BOUNDS => TrapKind::MemoryOutOfBounds,
        TrapCode::INTEGER_OVERFLOW => TrapKind::IntegerOverflow,
        TrapCode::INTEGER_DIVISION_BY_ZERO => TrapKind::IntegerDivisionByZero,
        TrapCode::BAD_CONVERSION_TO_INTEGER => TrapKind::BadConversionToInteger,
        other => return TrapKind::from_u8(other.as_raw().get()),
    })
}

fn compile_one(
    info: &ModuleInfo,
    isa: &dyn TargetIsa,
    func_index: u32,
    id: FuncId,
    body: &FunctionBody<'_>,
) -> Result<Compiled> {
    let func = translate_function(info, isa, func_index, body)?;
    let mut ctx = Context::for_function(func);
    let name = info.func_display_name(func_index);
    ctx.compile(isa, &mut ControlPlane::default())
        .map_err(|e| CompileError::Codegen(format!("function {name}: {:?}", e.inner)))?;
    let buffer = &ctx.compiled_code().expect("compiled above").buffer;
    let traps = buffer
        .traps()
        .iter()
        .map(|t| {
            trap_kind(t.code)
                .map(|k| (t.offset, k as u8))
                .ok_or_else(|| {
                    CompileError::Codegen(format!("function {name}: unknown trap code {}", t.code))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let relocs = buffer
        .relocs()
        .iter()
        .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id))
        .collect();
    Ok(Compiled {
        bytes: buffer.data().to_vec(),
        alignment: buffer.alignment as u64,
        relocs,
        traps,
    })
}

fn define_built(module: &mut ObjectModule, id: FuncId, func: ir::Function) -> Result<()> {
    let mut ctx = Context::for_function(func);
    module.define_function(id, &mut ctx).map_err(module_error)
}

pub fn emit(
    parsed: ParsedModule<'_>,
    isa: OwnedTargetIsa,
    opts: &ObjectOptions<'_>,
) -> Result<Vec<u8>> {
    let ParsedModule { mut info, bodies } = parsed;
    let prefix = opts.prefix;
    let mut module = new_object_module(isa, prefix)?;

    let num_imported = info.num_imported_funcs;
    let mut defined_ids = Vec::with_capacity(bodies.len());
    for defined in 0..bodies.len() as u32 {
        let index = num_imported + defined;
        let sig = wasm_signature(module.isa(), info.func_type(index));
        let id = module
            .declare_function(&format!("{prefix}_f{index}"), Linkage::Local, &sig)
            .map_err(module_error)?;
        defined_ids.push(id);
        info.defined_func_names
            .push(UserExternalName::new(0, id.as_u32()));
    }

    let mut libcall_ids = Vec::new();
    for symbol in wafer_abi::libcall::ALL {
        let sig = libcall_signature(module.isa(), symbol);
        let id = module
            .declare_function(symbol, Linkage::Import, &sig)
            .map_err(module_error)?;
        libcall_ids.push((symbol, id));
        info.libcall_names
            .push((symbol, UserExternalName::new(0, id.as_u32())));
    }
    // The stub that WALI modules' signal safe points call (see translate::signals).
    if translate::wants_safe_points(&info) {
        let sig = translate::safepoint_stub_signature(module.isa());
        let id = module
            .declare_function(&format!("{prefix}_wali_safepoint"), Linkage::Local, &sig)
            .map_err(module_error)?;
        let deliver = libcall_ids
            .iter()
            .find(|(s, _)| *s == wafer_abi::libcall::WALI_DELIVER_SIGNALS)
            .map(|(_, id)| *id)
            .expect("all libcalls declared");
        let mut func = ir::Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig);
        let deliver = module.declare_func_in_func(deliver, &mut func);
        translate::build_safepoint_stub(module.isa(), &mut func, deliver);
        define_built(&mut module, id, func)?;
        info.libcall_names.push((
            translate::SAFEPOINT_STUB,
            UserExternalName::new(0, id.as_u32()),
        ));
    }

    let mut host_code = Vec::with_capacity(info.imports.len());
    for (i, import) in info.imports.iter().enumerate() {
        let sig = || wasm_signature(module.isa(), info.func_type(import.index));
        host_code.push(match &import.host {
            Some(HostTarget::Symbol(symbol)) => Some(
                module
                    .declare_function(symbol, Linkage::Import, &sig())
                    .map_err(module_error)?,
            ),
            Some(HostTarget::Enosys) => {
                let sig = sig();
                let id = module
                    .declare_function(&format!("{prefix}_enosys{i}"), Linkage::Local, &sig)
                    .map_err(module_error)?;
                let mut func =
                    ir::Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig);
                host_stubs::build_enosys(module.isa(), &mut func);
                define_built(&mut module, id, func)?;
                Some(id)
            }
            Some(HostTarget::WaliSyscall { index, drop_result }) => {
                let sig = sig();
                let entry_sig = host_stubs::syscall_entry_signature(module.isa());
                let entry = module
                    .declare_function(wafer_abi::wali::SYSCALL_ENTRY, Linkage::Import, &entry_sig)
                    .map_err(module_error)?;
                let name = wafer_abi::wali::SYSCALLS[*index as usize].name;
                let id = module
                    .declare_function(&format!("{prefix}_wali_{name}_{i}"), Linkage::Local, &sig)
                    .map_err(module_error)?;
                let mut func =
                    ir::Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig);
                let entry = module.declare_func_in_func(entry, &mut func);
                host_stubs::build_syscall_adapter(
                    module.isa(),
                    &mut func,
                    entry,
                    *index,
                    *drop_result,
                );
                define_built(&mut module, id, func)?;
                Some(id)
            }
            None => None,
        });
    }

    let tramp_sig = trampoline::array_call_signature(module.isa());
    let mut trampolines = Vec::with_capacity(info.types.len());
    for ty in 0..info.types.len() {
        let name = format!("{prefix}_array_call{ty}");
        trampolines.push(
            module
                .declare_function(&name, Linkage::Local, &tramp_sig)
                .map_err(module_error)?,
        );
    }
    let init_sig = init_func::signature(module.isa());
    let init_id = module
        .declare_function(&format!("{prefix}_init"), Linkage::Local, &init_sig)
        .map_err(module_error)?;

    // Each thread translates and compiles with its own Context; the module is only read.
    let compiled: Vec<Compiled> = {
        let isa = module.isa();
        let info = &info;
        bodies
            .par_iter()
            .zip(defined_ids.par_iter())
            .enumerate()
            .map(|(defined, (body, id))| {
                compile_one(info, isa, num_imported + defined as u32, *id, body)
            })
            .collect::<Result<Vec<_>>>()?
    };

    // Defining in index order lays the text section out in index order, which keeps the
    // descriptor's trap table sorted by start address.
    let mut functions = Vec::with_capacity(compiled.len());
    for (defined, (code, id)) in compiled.into_iter().zip(&defined_ids).enumerate() {
        module
            .define_function_bytes(*id, code.alignment, &code.bytes, &code.relocs)
            .map_err(module_error)?;
        functions.push(FunctionCode {
            func_index: num_imported + defined as u32,
            id: *id,
            len: code.bytes.len() as u32,
            traps: code.traps,
        });
    }

    for (ty, id) in trampolines.iter().enumerate() {
        let mut func = ir::Function::with_name_signature(
            UserFuncName::user(0, id.as_u32()),
            tramp_sig.clone(),
        );
        trampoline::build(module.isa(), &info.types[ty], &mut func);
        define_built(&mut module, *id, func)?;
    }

    let mut init =
        ir::Function::with_name_signature(UserFuncName::user(0, init_id.as_u32()), init_sig);
    let libcall_id = |symbol: &str| {
        libcall_ids
            .iter()
            .find(|(s, _)| *s == symbol)
            .map(|(_, id)| *id)
            .expect("all libcalls declared")
    };
    init_func::build(&mut module, &info, &libcall_id, &mut init);
    define_built(&mut module, init_id, init)?;

    let symbol = wafer_abi::descriptor_symbol(prefix);
    descriptor::emit(
        &mut module,
        &info,
        &Symbols {
            functions: &functions,
            trampolines: &trampolines,
            init: init_id,
            host_code: &host_code,
        },
        &DescriptorOptions {
            symbol: symbol.as_str(),
            memory_cap_pages: opts.memory_cap_pages,
            wasm_stack: opts.wasm_stack,
        },
    )?;

    module
        .finish()
        .emit()
        .map_err(|e| CompileError::Codegen(format!("writing the object: {e}")))
}
