//! Function calls: direct calls to defined functions, calls through the import table, and
//! `call_indirect` through a table of funcrefs.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use wafer_abi::{
    TrapKind, VmctxLayout, FUNC_REF_CODE, FUNC_REF_TYPE_ID, FUNC_REF_VMCTX, IMPORTED_FUNC_CODE,
    IMPORTED_FUNC_VMCTX, TABLE_DEF_ELEMENTS, TABLE_DEF_LENGTH,
};
use wasmparser::Operator;

use super::{trap_code, vmctx, FuncTranslator};
use crate::error::{CompileError, Result};

/// Returns false for operators that are not calls.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    match *op {
        Operator::Call { function_index } => call(t, function_index)?,
        Operator::CallIndirect {
            type_index,
            table_index,
        } => call_indirect(t, type_index, table_index)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn call(t: &mut FuncTranslator, func_index: u32) -> Result<()> {
    let type_index = *t
        .info
        .func_types
        .get(func_index as usize)
        .ok_or_else(|| CompileError::Invalid(format!("unknown function {func_index}")))?;
    let num_params = t.info.types[type_index as usize].params().len();
    let args = t.popn(num_params)?;
    let call = if t.info.is_imported_func(func_index) {
        let offset = t.info.layout.imported_func(func_index);
        let flags = vmctx::trusted_readonly();
        let ptr = t.info.pointer_type;
        let code = t
            .builder
            .ins()
            .load(ptr, flags, t.vmctx, (offset + IMPORTED_FUNC_CODE) as i32);
        let callee_vmctx =
            t.builder
                .ins()
                .load(ptr, flags, t.vmctx, (offset + IMPORTED_FUNC_VMCTX) as i32);
        let sig = t.sig_ref(type_index)?;
        let all = with_vmctx(callee_vmctx, &args);
        t.builder.ins().call_indirect(sig, code, &all)
    } else {
        let callee = t.defined_func_ref(func_index)?;
        let all = with_vmctx(t.vmctx, &args);
        t.builder.ins().call(callee, &all)
    };
    let results = t.builder.inst_results(call).to_vec();
    t.stack.extend(results);
    Ok(())
}

fn with_vmctx(vmctx: Value, args: &[Value]) -> Vec<Value> {
    let mut all = Vec::with_capacity(args.len() + 1);
    all.push(vmctx);
    all.extend_from_slice(args);
    all
}

/// Loads the element at `index` of table `table_index` after checking the index against the
/// table's current length, trapping with `out_of_bounds` when it is past the end.
pub(crate) fn checked_table_element(
    t: &mut FuncTranslator,
    table_index: u32,
    index: Value,
    out_of_bounds: TrapKind,
) -> Result<Value> {
    if table_index as usize >= t.info.tables.len() {
        return Err(CompileError::Invalid(format!(
            "unknown table {table_index}"
        )));
    }
    let ptr = t.info.pointer_type;
    let table = vmctx::load_fixed_ptr(
        &mut t.builder,
        t.info,
        t.vmctx,
        t.info.layout.table(table_index),
    );
    // Length and element array change when the table grows.
    let length = t
        .builder
        .ins()
        .load(types::I64, vmctx::trusted(), table, TABLE_DEF_LENGTH as i32);
    let index = t.builder.ins().uextend(types::I64, index);
    let in_bounds = t.builder.ins().icmp(IntCC::UnsignedLessThan, index, length);
    t.builder.ins().trapz(in_bounds, trap_code(out_of_bounds));
    let elements = t
        .builder
        .ins()
        .load(ptr, vmctx::trusted(), table, TABLE_DEF_ELEMENTS as i32);
    // Keep a mispredicted bounds check from reading past the table speculatively.
    let zero = t.builder.ins().iconst(types::I64, 0);
    let index = t.builder.ins().select_spectre_guard(in_bounds, index, zero);
    let byte_offset = t.builder.ins().imul_imm_u(index, i64::from(ptr.bytes()));
    let addr = t.builder.ins().iadd(elements, byte_offset);
    Ok(t.builder.ins().load(ptr, vmctx::trusted(), addr, 0))
}

fn call_indirect(t: &mut FuncTranslator, type_index: u32, table_index: u32) -> Result<()> {
    let num_params = t
        .info
        .types
        .get(type_index as usize)
        .ok_or_else(|| CompileError::Invalid(format!("unknown type {type_index}")))?
        .params()
        .len();
    let index = t.pop()?;
    let args = t.popn(num_params)?;
    let func_ref = checked_table_element(t, table_index, index, TrapKind::IndirectCallOutOfBounds)?;
    t.builder
        .ins()
        .trapz(func_ref, trap_code(TrapKind::IndirectCallToNull));

    // Signatures are compared by their process-wide canonical ids, so functions from other
    // instances with a structurally equal type match.
    let flags = vmctx::trusted_readonly();
    let actual_id = t
        .builder
        .ins()
        .load(types::I32, flags, func_ref, FUNC_REF_TYPE_ID as i32);
    let type_ids = vmctx::load_fixed_ptr(&mut t.builder, t.info, t.vmctx, VmctxLayout::TYPE_IDS);
    let expected_id = t.builder.ins().load(
        types::I32,
        flags.with_can_move(),
        type_ids,
        (type_index * 4) as i32,
    );
    let mismatch = t
        .builder
        .ins()
        .icmp(IntCC::NotEqual, actual_id, expected_id);
    t.builder
        .ins()
        .trapnz(mismatch, trap_code(TrapKind::BadSignature));

    let ptr = t.info.pointer_type;
    let code = t
        .builder
        .ins()
        .load(ptr, flags, func_ref, FUNC_REF_CODE as i32);
    let callee_vmctx = t
        .builder
        .ins()
        .load(ptr, flags, func_ref, FUNC_REF_VMCTX as i32);
    let sig = t.sig_ref(type_index)?;
    let all = with_vmctx(callee_vmctx, &args);
    let call = t.builder.ins().call_indirect(sig, code, &all);
    let results = t.builder.inst_results(call).to_vec();
    t.stack.extend(results);
    Ok(())
}
