//! The object holding an executable's C `main`, which hands the linked modules' descriptors to
//! the runtime, and, for a component, one trampoline per adapter of its plan.

use crate::error::{CompileError, Result};
use crate::object::{module_error, new_object_module};
use cranelift_codegen::ir::{
    types, AbiParam, InstBuilder, Signature, StackSlotData, StackSlotKind, UserFuncName,
};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, FuncId, Linkage, Module};
use cranelift_object::ObjectModule;
use wafer_abi::EntryMode;

/// `main(argc, argv)` calling the runtime's entry for `mode` (`EntryMode::rt_main`):
/// `wafer_rt_main_<mode>(argc, argv, modules, count, mode, caps, caps_len, plan, plan_len)`, where
/// `modules` is an array of the descriptors named by `prefixes`, in order, `caps` the encoded
/// capabilities and `plan` a component's encoded plan or an invocation (empty for other modes), each kept in a
/// section of its own so `wafer inspect` finds them in an executable (stripped or not)
/// without symbols. `adapters` are the flat core signatures (params, results as
/// `wafer_abi::valtype` codes) of the plan's adapters, in order: each gets a trampoline.
pub fn emit(
    isa: OwnedTargetIsa,
    prefixes: &[String],
    mode: EntryMode,
    capabilities: &[u8],
    plan: &[u8],
    adapters: &[(Vec<u8>, Vec<u8>)],
) -> Result<Vec<u8>> {
    let mut module = new_object_module(isa, "wafer_entry")?;
    emit_adapters(&mut module, adapters)?;
    let ptr = module.isa().pointer_type();
    let call_conv = module.isa().default_call_conv();
    let ptr_bytes = ptr.bytes() as usize;

    let mut table = DataDescription::new();
    table.set_align(ptr_bytes as u64);
    for (i, prefix) in prefixes.iter().enumerate() {
        crate::check_prefix(prefix)?;
        let symbol = wafer_abi::descriptor_symbol(prefix);
        let id = module
            .declare_data(symbol.as_str(), Linkage::Import, false, false)
            .map_err(module_error)?;
        let gv = module.declare_data_in_data(id, &mut table);
        table.write_data_addr((i * ptr_bytes) as u32, gv, 0);
    }
    // `define_zeroinit` would place the table in .bss, where relocations cannot go.
    table.define(vec![0u8; ptr_bytes * prefixes.len().max(1)].into_boxed_slice());
    let table_id = module
        .declare_anonymous_data(false, false)
        .map_err(module_error)?;
    module.define_data(table_id, &table).map_err(module_error)?;

    let mut caps = DataDescription::new();
    caps.set_custom_section(wafer_abi::capabilities::SECTION);
    // An empty section would have no address to point at; the length passed stays 0.
    caps.define(capabilities.to_vec().max(vec![0]).into_boxed_slice());
    let caps_id = module
        .declare_anonymous_data(false, false)
        .map_err(module_error)?;
    module.define_data(caps_id, &caps).map_err(module_error)?;

    let mut plan_data = DataDescription::new();
    plan_data.set_custom_section(match mode {
        EntryMode::Invoke => wafer_abi::invoke::SECTION,
        _ => wafer_abi::component::SECTION,
    });
    plan_data.define(plan.to_vec().max(vec![0]).into_boxed_slice());
    let plan_id = module
        .declare_anonymous_data(false, false)
        .map_err(module_error)?;
    module
        .define_data(plan_id, &plan_data)
        .map_err(module_error)?;

    let mut rt_sig = Signature::new(call_conv);
    rt_sig.params.extend([
        AbiParam::new(types::I32),
        AbiParam::new(ptr),
        AbiParam::new(ptr),
        AbiParam::new(ptr),
        AbiParam::new(types::I32),
        AbiParam::new(ptr),
        AbiParam::new(ptr),
        AbiParam::new(ptr),
        AbiParam::new(ptr),
    ]);
    rt_sig.returns.push(AbiParam::new(types::I32));
    let rt_main = module
        .declare_function(mode.rt_main(), Linkage::Import, &rt_sig)
        .map_err(module_error)?;

    let mut main_sig = Signature::new(call_conv);
    main_sig
        .params
        .extend([AbiParam::new(types::I32), AbiParam::new(ptr)]);
    main_sig.returns.push(AbiParam::new(types::I32));
    let main_id = module
        .declare_function(wafer_abi::SYM_MAIN, Linkage::Export, &main_sig)
        .map_err(module_error)?;

    let mut ctx = Context::new();
    ctx.func.signature = main_sig;
    ctx.func.name = UserFuncName::user(0, main_id.as_u32());
    {
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let (argc, argv) = (b.block_params(block)[0], b.block_params(block)[1]);
        let callee = module.declare_func_in_func(rt_main, b.func);
        let gv = module.declare_data_in_func(table_id, b.func);
        let modules = b.ins().symbol_value(ptr, gv);
        let count = b.ins().iconst(ptr, prefixes.len() as i64);
        let mode = b.ins().iconst(types::I32, mode as u32 as i64);
        let caps_gv = module.declare_data_in_func(caps_id, b.func);
        let caps = b.ins().symbol_value(ptr, caps_gv);
        let caps_len = b.ins().iconst(ptr, capabilities.len() as i64);
        let plan_gv = module.declare_data_in_func(plan_id, b.func);
        let plan_ptr = b.ins().symbol_value(ptr, plan_gv);
        let plan_len = b.ins().iconst(ptr, plan.len() as i64);
        let call = b.ins().call(
            callee,
            &[
                argc, argv, modules, count, mode, caps, caps_len, plan_ptr, plan_len,
            ],
        );
        let status = b.inst_results(call)[0];
        b.ins().return_(&[status]);
        b.finalize(module.isa().frontend_config());
    }
    module
        .define_function(main_id, &mut ctx)
        .map_err(module_error)?;
    module
        .finish()
        .emit()
        .map_err(|e| CompileError::Codegen(format!("writing the object: {e}")))
}

/// One function per adapter, `wafer_adapter_<n>` (`wafer_abi::component::adapter_symbol`),
/// with the caller's flat core signature as compiled wasm calls it (vmctx first): it stores
/// its arguments into value slots on its stack, calls the runtime's
/// `wafer_rt_adapter_call(vmctx, n, slots)` and returns what the runtime left in the slots.
fn emit_adapters(module: &mut ObjectModule, adapters: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
    if adapters.is_empty() {
        return Ok(());
    }
    let ptr = module.isa().pointer_type();
    let mut rt_sig = Signature::new(module.isa().default_call_conv());
    rt_sig.params.extend([
        AbiParam::new(ptr),
        AbiParam::new(types::I32),
        AbiParam::new(ptr),
    ]);
    let rt_call = module
        .declare_function(wafer_abi::SYM_ADAPTER_CALL, Linkage::Import, &rt_sig)
        .map_err(module_error)?;
    for (n, (params, results)) in adapters.iter().enumerate() {
        let wasm_type = |code: &u8| match *code {
            wafer_abi::valtype::I32 => Ok(wasmparser::ValType::I32),
            wafer_abi::valtype::I64 => Ok(wasmparser::ValType::I64),
            wafer_abi::valtype::F32 => Ok(wasmparser::ValType::F32),
            wafer_abi::valtype::F64 => Ok(wasmparser::ValType::F64),
            other => Err(CompileError::Codegen(format!(
                "adapter {n}: core type code {other} in a flat signature"
            ))),
        };
        let ty = wasmparser::FuncType::new(
            params.iter().map(wasm_type).collect::<Result<Vec<_>>>()?,
            results.iter().map(wasm_type).collect::<Result<Vec<_>>>()?,
        );
        let sig = crate::translate::wasm_signature(module.isa(), &ty);
        let symbol = wafer_abi::component::adapter_symbol(n as u32);
        let id = module
            .declare_function(&symbol, Linkage::Export, &sig)
            .map_err(module_error)?;
        build_adapter(module, id, sig, rt_call, n as u32)?;
    }
    Ok(())
}

fn build_adapter(
    module: &mut ObjectModule,
    id: FuncId,
    sig: Signature,
    rt_call: FuncId,
    index: u32,
) -> Result<()> {
    const SLOT: u32 = wafer_abi::ValueSlot::SIZE;
    let ptr = module.isa().pointer_type();
    let mut ctx = Context::new();
    ctx.func.signature = sig.clone();
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    {
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let args = b.block_params(block).to_vec();
        let slots = (sig.params.len() - 1).max(sig.returns.len()).max(1) as u32;
        let area = b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            slots * SLOT,
            3,
        ));
        let values = b.ins().stack_addr(ptr, area, 0);
        for (i, v) in args[1..].iter().enumerate() {
            crate::trampoline::store_slot(&mut b, *v, values, i as i32 * SLOT as i32);
        }
        let callee = module.declare_func_in_func(rt_call, b.func);
        let index = b.ins().iconst(types::I32, i64::from(index));
        b.ins().call(callee, &[args[0], index, values]);
        let mut results = Vec::with_capacity(sig.returns.len());
        for (i, r) in sig.returns.iter().enumerate() {
            results.push(b.ins().load(
                r.value_type,
                crate::translate::slot_flags(r.value_type),
                values,
                i as i32 * SLOT as i32,
            ));
        }
        b.ins().return_(&results);
        b.finalize(module.isa().frontend_config());
    }
    module.define_function(id, &mut ctx).map_err(module_error)?;
    Ok(())
}
