//! Array-call trampolines (one per module type) and the value-slot store shared with `init`.

use crate::translate::{slot_flags, wasm_signature};
use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder, MemFlagsData};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use wasmparser::FuncType;

/// Size of one `wafer_abi::ValueSlot`.
const SLOT: i32 = wafer_abi::ValueSlot::SIZE as i32;

/// `extern "C" fn(code, callee_vmctx, values: *mut ValueSlot)`.
pub fn array_call_signature(isa: &dyn TargetIsa) -> ir::Signature {
    let ptr = isa.pointer_type();
    let mut sig = ir::Signature::new(isa.default_call_conv());
    sig.params
        .extend([AbiParam::new(ptr), AbiParam::new(ptr), AbiParam::new(ptr)]);
    sig
}

/// Stores `value` into the slot at `base + offset` as `ValueSlot` defines it: integers and
/// references zero-extended to 8 bytes, floats by their bits, a `v128` as its 16 bytes.
pub fn store_slot(b: &mut FunctionBuilder, value: ir::Value, base: ir::Value, offset: i32) {
    let flags = slot_flags(b.func.dfg.value_type(value));
    let wide = match b.func.dfg.value_type(value) {
        types::I32 => b.ins().uextend(types::I64, value),
        types::F32 => {
            let bits = b.ins().bitcast(types::I32, MemFlagsData::new(), value);
            b.ins().uextend(types::I64, bits)
        }
        types::F64 => b.ins().bitcast(types::I64, MemFlagsData::new(), value),
        // i64, 64-bit references and v128 (i8x16 or i128) are stored as they are.
        _ => value,
    };
    b.ins().store(flags, wide, base, offset);
}

/// The body of the trampoline for functions of type `ty`.
pub fn build(isa: &dyn TargetIsa, ty: &FuncType, func: &mut ir::Function) {
    let callee_sig = wasm_signature(isa, ty);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let [code, vmctx, values] = b.block_params(block) else {
        unreachable!("array-call signature has three parameters")
    };
    let (code, vmctx, values) = (*code, *vmctx, *values);

    let mut args = vec![vmctx];
    // Parameter types come from the callee's signature (after vmctx), so the trampoline
    // agrees with the translator on how each wasm type is passed.
    for (i, param) in callee_sig.params.iter().skip(1).enumerate() {
        let v = b.ins().load(
            param.value_type,
            slot_flags(param.value_type),
            values,
            i as i32 * SLOT,
        );
        args.push(v);
    }
    let sig_ref = b.import_signature(callee_sig);
    let call = b.ins().call_indirect(sig_ref, code, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        store_slot(&mut b, r, values, i as i32 * SLOT);
    }
    b.ins().return_(&[]);
    b.finalize(isa.frontend_config());
}
