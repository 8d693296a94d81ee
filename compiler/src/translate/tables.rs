//! Table instructions. `table.size` reads the table inline; everything that can trap or
//! reallocate goes through the runtime's libcalls.

use cranelift_codegen::ir::{types, InstBuilder, Value};
use wafer_abi::{libcall, TABLE_DEF_LENGTH};
use wasmparser::Operator;

use super::{vmctx, FuncTranslator};
use crate::error::{CompileError, Result};

/// Returns false for operators that are not table instructions.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    match *op {
        Operator::TableGet { table } => {
            let index = t.pop()?;
            let table = table_operand(t, table)?;
            let value = t.call_libcall(libcall::TABLE_GET, &[table, index]);
            t.push(value[0]);
        }
        Operator::TableSet { table } => {
            let (index, value) = t.pop2()?;
            let table = table_operand(t, table)?;
            t.call_libcall(libcall::TABLE_SET, &[table, index, value]);
        }
        Operator::TableSize { table } => {
            check_table(t, table)?;
            let offset = t.info.layout.table(table);
            let def = vmctx::load_fixed_ptr(&mut t.builder, t.info, t.vmctx, offset);
            let length =
                t.builder
                    .ins()
                    .load(types::I64, vmctx::trusted(), def, TABLE_DEF_LENGTH as i32);
            let length = t.builder.ins().ireduce(types::I32, length);
            t.push(length);
        }
        Operator::TableGrow { table } => {
            let (init, delta) = t.pop2()?;
            let table = table_operand(t, table)?;
            let old = t.call_libcall(libcall::TABLE_GROW, &[table, init, delta]);
            t.push(old[0]);
        }
        Operator::TableFill { table } => {
            let (dst, value, len) = t.pop3()?;
            let table = table_operand(t, table)?;
            t.call_libcall(libcall::TABLE_FILL, &[table, dst, value, len]);
        }
        Operator::TableCopy {
            dst_table,
            src_table,
        } => {
            let (dst, src, len) = t.pop3()?;
            let dst_table = table_operand(t, dst_table)?;
            let src_table = table_operand(t, src_table)?;
            t.call_libcall(libcall::TABLE_COPY, &[dst_table, src_table, dst, src, len]);
        }
        Operator::TableInit { elem_index, table } => {
            let (dst, src, len) = t.pop3()?;
            let table = table_operand(t, table)?;
            let segment = t.builder.ins().iconst(types::I32, i64::from(elem_index));
            t.call_libcall(libcall::TABLE_INIT, &[table, segment, dst, src, len]);
        }
        Operator::ElemDrop { elem_index } => {
            let segment = t.builder.ins().iconst(types::I32, i64::from(elem_index));
            t.call_libcall(libcall::ELEM_DROP, &[segment]);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn check_table(t: &FuncTranslator, table: u32) -> Result<()> {
    if (table as usize) < t.info.tables.len() {
        Ok(())
    } else {
        Err(CompileError::Invalid(format!("unknown table {table}")))
    }
}

/// A table index as the `u32` operand of a libcall.
fn table_operand(t: &mut FuncTranslator, table: u32) -> Result<Value> {
    check_table(t, table)?;
    Ok(t.builder.ins().iconst(types::I32, i64::from(table)))
}
