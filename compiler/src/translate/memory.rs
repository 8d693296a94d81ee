//! Linear memory: loads and stores (with or without explicit bounds checks), and the
//! memory instructions that the runtime implements as libcalls.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Endianness, InstBuilder, MemFlagsData, Type, Value};
use wafer_abi::{libcall, BoundsChecks, TrapKind, VmctxLayout, MEMORY_DEF_LENGTH};
use wasmparser::{MemArg, MemArgTarget, Operator};

use super::{trap_code, vmctx, FuncTranslator};
use crate::error::{CompileError, Result};

/// How a load widens its value.
#[derive(Clone, Copy)]
enum Ext {
    None,
    Signed,
    Unsigned,
}

/// Returns false for operators that do not touch linear memory.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    use types::{F32, F64, I32, I64};
    use Operator as O;
    match op {
        O::I32Load { memarg } => load(t, memarg, I32, 4, Ext::None)?,
        O::I64Load { memarg } => load(t, memarg, I64, 8, Ext::None)?,
        O::F32Load { memarg } => load(t, memarg, F32, 4, Ext::None)?,
        O::F64Load { memarg } => load(t, memarg, F64, 8, Ext::None)?,
        O::I32Load8S { memarg } => load(t, memarg, I32, 1, Ext::Signed)?,
        O::I32Load8U { memarg } => load(t, memarg, I32, 1, Ext::Unsigned)?,
        O::I32Load16S { memarg } => load(t, memarg, I32, 2, Ext::Signed)?,
        O::I32Load16U { memarg } => load(t, memarg, I32, 2, Ext::Unsigned)?,
        O::I64Load8S { memarg } => load(t, memarg, I64, 1, Ext::Signed)?,
        O::I64Load8U { memarg } => load(t, memarg, I64, 1, Ext::Unsigned)?,
        O::I64Load16S { memarg } => load(t, memarg, I64, 2, Ext::Signed)?,
        O::I64Load16U { memarg } => load(t, memarg, I64, 2, Ext::Unsigned)?,
        O::I64Load32S { memarg } => load(t, memarg, I64, 4, Ext::Signed)?,
        O::I64Load32U { memarg } => load(t, memarg, I64, 4, Ext::Unsigned)?,
        O::I32Store { memarg } | O::F32Store { memarg } => store(t, memarg, 4, false)?,
        O::I64Store { memarg } | O::F64Store { memarg } => store(t, memarg, 8, false)?,
        O::I32Store8 { memarg } | O::I64Store8 { memarg } => store(t, memarg, 1, true)?,
        O::I32Store16 { memarg } | O::I64Store16 { memarg } => store(t, memarg, 2, true)?,
        O::I64Store32 { memarg } => store(t, memarg, 4, true)?,
        O::MemorySize { mem } => {
            check_memory_index(*mem)?;
            let length = memory_length(t);
            let pages = t.builder.ins().ushr_imm_u(length, 16);
            let pages = t.builder.ins().ireduce(I32, pages);
            t.push(pages);
        }
        O::MemoryGrow { mem } => {
            check_memory_index(*mem)?;
            let delta = t.pop()?;
            let old = t.call_libcall(libcall::MEMORY_GROW, &[delta]);
            t.push(old[0]);
        }
        O::MemoryFill { mem } => {
            check_memory_index(*mem)?;
            let (dst, value, len) = t.pop3()?;
            t.call_libcall(libcall::MEMORY_FILL, &[dst, value, len]);
        }
        O::MemoryCopy { dst_mem, src_mem } => {
            check_memory_index(*dst_mem)?;
            check_memory_index(*src_mem)?;
            let (dst, src, len) = t.pop3()?;
            t.call_libcall(libcall::MEMORY_COPY, &[dst, src, len]);
        }
        O::MemoryInit { data_index, mem } => {
            check_memory_index(*mem)?;
            let (dst, src, len) = t.pop3()?;
            let segment = t.builder.ins().iconst(I32, i64::from(*data_index));
            t.call_libcall(libcall::MEMORY_INIT, &[segment, dst, src, len]);
        }
        O::DataDrop { data_index } => {
            let segment = t.builder.ins().iconst(I32, i64::from(*data_index));
            t.call_libcall(libcall::DATA_DROP, &[segment]);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

pub(crate) fn check_memory_index(index: u32) -> Result<()> {
    if index == 0 {
        Ok(())
    } else {
        Err(CompileError::Unsupported("multiple memories".into()))
    }
}

/// Wasm memory is little-endian on every target; accesses may be unaligned, and in guard
/// mode an access past the end faults, so it keeps the default heap-out-of-bounds trap code.
pub(crate) fn heap_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// The memory's current byte length. Not readonly: `memory.grow` (here or in another
/// instance sharing the memory) changes it.
pub(crate) fn memory_length(t: &mut FuncTranslator) -> Value {
    let def = vmctx::load_fixed_ptr(&mut t.builder, t.info, t.vmctx, VmctxLayout::MEMORY);
    t.builder
        .ins()
        .load(types::I64, vmctx::trusted(), def, MEMORY_DEF_LENGTH as i32)
}

/// Traps `MemoryOutOfBounds` when the 64-bit end offset `end` of an access lies past the
/// memory's current length.
pub(crate) fn trap_if_past_end(t: &mut FuncTranslator, end: Value) {
    let length = memory_length(t);
    let out_of_bounds = t
        .builder
        .ins()
        .icmp(IntCC::UnsignedGreaterThan, end, length);
    t.builder
        .ins()
        .trapnz(out_of_bounds, trap_code(TrapKind::MemoryOutOfBounds));
}

/// Pops the index operand and returns the native address and static offset of an access of
/// `size` bytes, after the bounds check that explicit mode requires.
pub(crate) fn address(t: &mut FuncTranslator, memarg: &MemArg, size: u64) -> Result<(Value, i32)> {
    match memarg.target {
        MemArgTarget::Memory(index) => check_memory_index(index)?,
        MemArgTarget::Array(_) => {
            return Err(CompileError::Unsupported("garbage collection (gc)".into()))
        }
    }
    let base = t
        .memory_base
        .ok_or_else(|| CompileError::Invalid("memory access without a memory".into()))?;
    let index = t.pop()?;
    let index = t.builder.ins().uextend(t.info.pointer_type, index);
    let offset = memarg.offset;
    if offset > u64::from(u32::MAX) {
        return Err(CompileError::Unsupported(
            "64-bit memory offsets (memory64)".into(),
        ));
    }
    if t.info.bounds_checks == BoundsChecks::Explicit {
        // index < 2^32, offset < 2^32 and size <= 16, so the sum cannot wrap in 64 bits.
        let end = t.builder.ins().iadd_imm_u(index, (offset + size) as i64);
        trap_if_past_end(t, end);
    }
    let addr = t.builder.ins().iadd(base, index);
    match i32::try_from(offset) {
        Ok(imm) => Ok((addr, imm)),
        Err(_) => Ok((t.builder.ins().iadd_imm_u(addr, offset as i64), 0)),
    }
}

fn load(t: &mut FuncTranslator, memarg: &MemArg, ty: Type, size: u64, ext: Ext) -> Result<()> {
    let (addr, offset) = address(t, memarg, size)?;
    let flags = heap_flags();
    let ins = t.builder.ins();
    let value = match (ext, size) {
        (Ext::None, _) => ins.load(ty, flags, addr, offset),
        (Ext::Signed, 1) => ins.sload8(ty, flags, addr, offset),
        (Ext::Unsigned, 1) => ins.uload8(ty, flags, addr, offset),
        (Ext::Signed, 2) => ins.sload16(ty, flags, addr, offset),
        (Ext::Unsigned, 2) => ins.uload16(ty, flags, addr, offset),
        (Ext::Signed, _) => ins.sload32(flags, addr, offset),
        (Ext::Unsigned, _) => ins.uload32(flags, addr, offset),
    };
    t.push(value);
    Ok(())
}

/// `narrow` stores only the low `size` bytes of the value.
fn store(t: &mut FuncTranslator, memarg: &MemArg, size: u64, narrow: bool) -> Result<()> {
    let value = t.pop()?;
    let (addr, offset) = address(t, memarg, size)?;
    let flags = heap_flags();
    let ins = t.builder.ins();
    match (narrow, size) {
        (false, _) => ins.store(flags, value, addr, offset),
        (true, 1) => ins.istore8(flags, value, addr, offset),
        (true, 2) => ins.istore16(flags, value, addr, offset),
        (true, _) => ins.istore32(flags, value, addr, offset),
    };
    Ok(())
}
