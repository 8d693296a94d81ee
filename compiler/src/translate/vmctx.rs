//! Reads and writes of instance state reached through `vmctx`, shared by function bodies and
//! the instantiation-time constant expressions.

use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use wafer_abi::{VmctxLayout, FUNC_REF_SIZE};

use super::signature::wasm_value_type;
use crate::error::{CompileError, Result};
use crate::module_info::ModuleInfo;

/// Flags for a runtime-owned field that is always valid and aligned but may change while the
/// code runs (lengths, mutable globals).
pub(crate) fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Flags for a runtime-owned field that never changes after instantiation, so loads of it may
/// be merged or hoisted.
pub(crate) fn trusted_readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// Flags for a value slot (`wafer_abi::ValueSlot`: a global in `vmctx`, an array-call value)
/// holding a value of type `ty`. Slots are 8-byte aligned, so a 16-byte value must not claim
/// alignment: x86 would fold its load into an SSE operand, which faults unless 16-aligned.
pub fn slot_flags(ty: Type) -> MemFlagsData {
    if ty.bytes() > 8 {
        MemFlagsData::new().with_notrap()
    } else {
        MemFlagsData::trusted()
    }
}

/// Loads a pointer-sized field of `vmctx` that is fixed for the instance's lifetime.
pub(crate) fn load_fixed_ptr(
    builder: &mut FunctionBuilder,
    info: &ModuleInfo,
    vmctx: Value,
    offset: u32,
) -> Value {
    builder.ins().load(
        info.pointer_type,
        trusted_readonly().with_can_move(),
        vmctx,
        offset as i32,
    )
}

fn global_type(info: &ModuleInfo, index: u32) -> Result<Type> {
    let global = info
        .globals
        .get(index as usize)
        .ok_or_else(|| CompileError::Invalid(format!("unknown global {index}")))?;
    Ok(wasm_value_type(info.ir_types(), global.ty))
}

/// Address of a global's value slot and the flags its value is accessed with. Constant
/// expressions run while `init` is still writing globals, so they never claim readonly.
fn global_slot(
    builder: &mut FunctionBuilder,
    info: &ModuleInfo,
    vmctx: Value,
    index: u32,
    in_init: bool,
) -> Result<(Value, i32, MemFlagsData)> {
    let immutable = !info.globals[index as usize].mutable && !in_init;
    let flags = slot_flags(global_type(info, index)?);
    let flags = if immutable {
        flags.with_readonly()
    } else {
        flags
    };
    let offset = info.global_vmctx_offset(index) as i32;
    if info.is_imported_global(index) {
        let ptr_flags = if in_init {
            trusted()
        } else {
            trusted_readonly()
        };
        let ptr = builder
            .ins()
            .load(info.pointer_type, ptr_flags, vmctx, offset);
        Ok((ptr, 0, flags))
    } else {
        Ok((vmctx, offset, flags))
    }
}

pub(crate) fn load_global(
    builder: &mut FunctionBuilder,
    info: &ModuleInfo,
    vmctx: Value,
    index: u32,
    in_init: bool,
) -> Result<Value> {
    let ty = global_type(info, index)?;
    let (base, offset, flags) = global_slot(builder, info, vmctx, index, in_init)?;
    Ok(builder.ins().load(ty, flags, base, offset))
}

pub(crate) fn store_global(
    builder: &mut FunctionBuilder,
    info: &ModuleInfo,
    vmctx: Value,
    index: u32,
    value: Value,
) -> Result<()> {
    let (base, offset, flags) = global_slot(builder, info, vmctx, index, false)?;
    // A store never claims readonly; `global_slot` only does for immutable globals, which
    // only `init` writes (with `in_init`).
    builder.ins().store(flags, value, base, offset);
    Ok(())
}

/// `ref.func`: the instance's `FuncRef` for `func_index`.
pub(crate) fn func_ref_address(
    builder: &mut FunctionBuilder,
    info: &ModuleInfo,
    vmctx: Value,
    func_index: u32,
) -> Value {
    let base = load_fixed_ptr(builder, info, vmctx, VmctxLayout::FUNC_REFS);
    let offset = u64::from(func_index) * u64::from(FUNC_REF_SIZE);
    builder.ins().iadd_imm_u(base, offset as i64)
}
