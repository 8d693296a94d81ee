//! The object holding an executable's C `main`, which hands the linked modules' descriptors to
//! the runtime.

use crate::error::{CompileError, Result};
use crate::object::{module_error, new_object_module};
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, Signature, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, Linkage, Module};
use wafer_abi::EntryMode;

/// `main(argc, argv)` calling
/// `wafer_rt_main(argc, argv, modules, count, mode, caps, caps_len, plan, plan_len)`, where
/// `modules` is an array of the descriptors named by `prefixes`, in order, `caps` the encoded
/// capabilities and `plan` a component's encoded plan (empty for other modes), each kept in a
/// section of its own so `wafer inspect` finds them in an executable (stripped or not)
/// without symbols.
pub fn emit(
    isa: OwnedTargetIsa,
    prefixes: &[String],
    mode: EntryMode,
    capabilities: &[u8],
    plan: &[u8],
) -> Result<Vec<u8>> {
    let mut module = new_object_module(isa, "wafer_entry")?;
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
    plan_data.set_custom_section(wafer_abi::component::SECTION);
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
        .declare_function(wafer_abi::SYM_RT_MAIN, Linkage::Import, &rt_sig)
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
