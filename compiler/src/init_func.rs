//! The instantiation-time `init(vmctx)` function: defined globals, then element segments, then
//! data segments, in the order the specification's instantiation performs them.

use crate::module_info::{ConstOp::GlobalGet, ModuleInfo, SegmentMode};
use crate::trampoline::store_slot;
use crate::translate::translate_const_expr;
use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{FuncId, Module};
use wafer_abi::libcall;

pub fn signature(isa: &dyn TargetIsa) -> ir::Signature {
    let mut sig = ir::Signature::new(isa.default_call_conv());
    sig.params.push(AbiParam::new(isa.pointer_type()));
    sig
}

/// Builds the body of `init` into `func`. `libcall_id` gives the declared id of a runtime
/// function by its `wafer_abi::libcall` symbol.
pub fn build(
    module: &mut dyn Module,
    info: &ModuleInfo,
    libcall_id: &dyn Fn(&str) -> FuncId,
    func: &mut ir::Function,
) {
    let frontend_config = module.isa().frontend_config();
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let vmctx = b.block_params(block)[0];

    let mut call = |b: &mut FunctionBuilder, symbol: &str, args: &[i64], dynamic: &[ir::Value]| {
        let callee = module.declare_func_in_func(libcall_id(symbol), b.func);
        let mut values = vec![vmctx];
        values.extend(args.iter().map(|a| b.ins().iconst(types::I32, *a)));
        values.extend_from_slice(dynamic);
        b.ins().call(callee, &values);
    };

    for global in info.num_imported_globals..info.globals.len() as u32 {
        let Some(init) = &info.globals[global as usize].init else {
            continue;
        };
        let value = translate_const_expr(&mut b, info, vmctx, init);
        store_slot(
            &mut b,
            value,
            vmctx,
            info.global_vmctx_offset(global) as i32,
        );
    }

    for (segment, elem) in info.elems.iter().enumerate() {
        let segment = segment as i64;
        match &elem.mode {
            SegmentMode::Active { index, offset } => {
                let dst = translate_const_expr(&mut b, info, vmctx, offset);
                let len = b.ins().iconst(types::I32, elem.items.len() as i64);
                // (table, segment) then (dst, src, len): dst is computed, src is always 0.
                let src = b.ins().iconst(types::I32, 0);
                call(
                    &mut b,
                    libcall::TABLE_INIT,
                    &[*index as i64, segment],
                    &[dst, src, len],
                );
                // table.init has checked the bounds, so these writes stay in range.
                for (position, global) in &elem.global_items {
                    let value = translate_const_expr(&mut b, info, vmctx, &[GlobalGet(*global)]);
                    let at = b.ins().iadd_imm_u(dst, *position as i64);
                    call(&mut b, libcall::TABLE_SET, &[*index as i64], &[at, value]);
                }
                call(&mut b, libcall::ELEM_DROP, &[segment], &[]);
            }
            SegmentMode::Declared => call(&mut b, libcall::ELEM_DROP, &[segment], &[]),
            SegmentMode::Passive => {}
        }
    }

    for (segment, data) in info.data.iter().enumerate() {
        let segment = segment as i64;
        if let SegmentMode::Active { offset, .. } = &data.mode {
            let dst = translate_const_expr(&mut b, info, vmctx, offset);
            let src = b.ins().iconst(types::I32, 0);
            let len = b.ins().iconst(types::I32, data.bytes.len() as i64);
            call(&mut b, libcall::MEMORY_INIT, &[segment], &[dst, src, len]);
            call(&mut b, libcall::DATA_DROP, &[segment], &[]);
        }
    }

    b.ins().return_(&[]);
    b.finalize(frontend_config);
}
