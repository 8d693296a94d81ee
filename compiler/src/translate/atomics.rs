//! The threads proposal's instructions: atomic loads, stores, read-modify-writes and
//! compare-exchanges at every width, `atomic.fence`, and `memory.atomic.wait32/wait64/notify`
//! (runtime libcalls).
//!
//! Every atomic access checks its alignment (a misaligned effective address traps
//! `UnalignedAtomic`) and then its bounds explicitly, in both bounds-check modes: an atomic
//! read-modify-write may lower to a load-linked/store-conditional loop or a compare-exchange
//! loop whose faulting instruction is not a trap site, so atomics never rely on the guard
//! region. The accesses themselves are Cranelift's sequentially consistent atomics, which each
//! backend lowers to its native sequence (x86_64 `lock` instructions, aarch64 exclusive pairs
//! or LSE with `has_lse`, riscv64 the A extension).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AtomicRmwOp, Endianness, InstBuilder, MemFlagsData, Type, Value,
};
use wafer_abi::{libcall, TrapKind};
use wasmparser::{MemArg, MemArgTarget, Operator};

use super::memory::{check_memory_index, trap_if_past_end};
use super::{trap_code, FuncTranslator};
use crate::error::{CompileError, Result};

/// Bounds and alignment are checked before the access, so it cannot fault.
fn atomic_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_endianness(Endianness::Little)
}

/// The width of an access in memory, and the wasm type of its operand and result.
#[derive(Clone, Copy)]
struct Access {
    mem: Type,
    wasm: Type,
}

impl Access {
    fn bytes(self) -> u64 {
        u64::from(self.mem.bytes())
    }
}

fn access(wasm: Type, mem: Type) -> Access {
    Access { mem, wasm }
}

/// Returns false for operators that are not atomics.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    use types::{I16, I32, I64, I8};
    use AtomicRmwOp as R;
    use Operator as O;
    match op {
        O::AtomicFence { .. } => {
            t.builder.ins().fence();
        }
        O::MemoryAtomicNotify { memarg } => {
            let count = t.pop()?;
            let address = effective_address(t, memarg)?;
            let woken = t.call_libcall(libcall::MEMORY_ATOMIC_NOTIFY, &[address, count]);
            t.push(woken[0]);
        }
        O::MemoryAtomicWait32 { memarg } | O::MemoryAtomicWait64 { memarg } => {
            let (expected, timeout) = t.pop2()?;
            let address = effective_address(t, memarg)?;
            let symbol = if matches!(op, O::MemoryAtomicWait32 { .. }) {
                libcall::MEMORY_ATOMIC_WAIT32
            } else {
                libcall::MEMORY_ATOMIC_WAIT64
            };
            let result = t.call_libcall(symbol, &[address, expected, timeout]);
            t.push(result[0]);
        }

        O::I32AtomicLoad { memarg } => load(t, memarg, access(I32, I32))?,
        O::I64AtomicLoad { memarg } => load(t, memarg, access(I64, I64))?,
        O::I32AtomicLoad8U { memarg } => load(t, memarg, access(I32, I8))?,
        O::I32AtomicLoad16U { memarg } => load(t, memarg, access(I32, I16))?,
        O::I64AtomicLoad8U { memarg } => load(t, memarg, access(I64, I8))?,
        O::I64AtomicLoad16U { memarg } => load(t, memarg, access(I64, I16))?,
        O::I64AtomicLoad32U { memarg } => load(t, memarg, access(I64, I32))?,

        O::I32AtomicStore { memarg } => store(t, memarg, access(I32, I32))?,
        O::I64AtomicStore { memarg } => store(t, memarg, access(I64, I64))?,
        O::I32AtomicStore8 { memarg } => store(t, memarg, access(I32, I8))?,
        O::I32AtomicStore16 { memarg } => store(t, memarg, access(I32, I16))?,
        O::I64AtomicStore8 { memarg } => store(t, memarg, access(I64, I8))?,
        O::I64AtomicStore16 { memarg } => store(t, memarg, access(I64, I16))?,
        O::I64AtomicStore32 { memarg } => store(t, memarg, access(I64, I32))?,

        O::I32AtomicRmwAdd { memarg } => rmw(t, memarg, access(I32, I32), R::Add)?,
        O::I64AtomicRmwAdd { memarg } => rmw(t, memarg, access(I64, I64), R::Add)?,
        O::I32AtomicRmw8AddU { memarg } => rmw(t, memarg, access(I32, I8), R::Add)?,
        O::I32AtomicRmw16AddU { memarg } => rmw(t, memarg, access(I32, I16), R::Add)?,
        O::I64AtomicRmw8AddU { memarg } => rmw(t, memarg, access(I64, I8), R::Add)?,
        O::I64AtomicRmw16AddU { memarg } => rmw(t, memarg, access(I64, I16), R::Add)?,
        O::I64AtomicRmw32AddU { memarg } => rmw(t, memarg, access(I64, I32), R::Add)?,

        O::I32AtomicRmwSub { memarg } => rmw(t, memarg, access(I32, I32), R::Sub)?,
        O::I64AtomicRmwSub { memarg } => rmw(t, memarg, access(I64, I64), R::Sub)?,
        O::I32AtomicRmw8SubU { memarg } => rmw(t, memarg, access(I32, I8), R::Sub)?,
        O::I32AtomicRmw16SubU { memarg } => rmw(t, memarg, access(I32, I16), R::Sub)?,
        O::I64AtomicRmw8SubU { memarg } => rmw(t, memarg, access(I64, I8), R::Sub)?,
        O::I64AtomicRmw16SubU { memarg } => rmw(t, memarg, access(I64, I16), R::Sub)?,
        O::I64AtomicRmw32SubU { memarg } => rmw(t, memarg, access(I64, I32), R::Sub)?,

        O::I32AtomicRmwAnd { memarg } => rmw(t, memarg, access(I32, I32), R::And)?,
        O::I64AtomicRmwAnd { memarg } => rmw(t, memarg, access(I64, I64), R::And)?,
        O::I32AtomicRmw8AndU { memarg } => rmw(t, memarg, access(I32, I8), R::And)?,
        O::I32AtomicRmw16AndU { memarg } => rmw(t, memarg, access(I32, I16), R::And)?,
        O::I64AtomicRmw8AndU { memarg } => rmw(t, memarg, access(I64, I8), R::And)?,
        O::I64AtomicRmw16AndU { memarg } => rmw(t, memarg, access(I64, I16), R::And)?,
        O::I64AtomicRmw32AndU { memarg } => rmw(t, memarg, access(I64, I32), R::And)?,

        O::I32AtomicRmwOr { memarg } => rmw(t, memarg, access(I32, I32), R::Or)?,
        O::I64AtomicRmwOr { memarg } => rmw(t, memarg, access(I64, I64), R::Or)?,
        O::I32AtomicRmw8OrU { memarg } => rmw(t, memarg, access(I32, I8), R::Or)?,
        O::I32AtomicRmw16OrU { memarg } => rmw(t, memarg, access(I32, I16), R::Or)?,
        O::I64AtomicRmw8OrU { memarg } => rmw(t, memarg, access(I64, I8), R::Or)?,
        O::I64AtomicRmw16OrU { memarg } => rmw(t, memarg, access(I64, I16), R::Or)?,
        O::I64AtomicRmw32OrU { memarg } => rmw(t, memarg, access(I64, I32), R::Or)?,

        O::I32AtomicRmwXor { memarg } => rmw(t, memarg, access(I32, I32), R::Xor)?,
        O::I64AtomicRmwXor { memarg } => rmw(t, memarg, access(I64, I64), R::Xor)?,
        O::I32AtomicRmw8XorU { memarg } => rmw(t, memarg, access(I32, I8), R::Xor)?,
        O::I32AtomicRmw16XorU { memarg } => rmw(t, memarg, access(I32, I16), R::Xor)?,
        O::I64AtomicRmw8XorU { memarg } => rmw(t, memarg, access(I64, I8), R::Xor)?,
        O::I64AtomicRmw16XorU { memarg } => rmw(t, memarg, access(I64, I16), R::Xor)?,
        O::I64AtomicRmw32XorU { memarg } => rmw(t, memarg, access(I64, I32), R::Xor)?,

        O::I32AtomicRmwXchg { memarg } => rmw(t, memarg, access(I32, I32), R::Xchg)?,
        O::I64AtomicRmwXchg { memarg } => rmw(t, memarg, access(I64, I64), R::Xchg)?,
        O::I32AtomicRmw8XchgU { memarg } => rmw(t, memarg, access(I32, I8), R::Xchg)?,
        O::I32AtomicRmw16XchgU { memarg } => rmw(t, memarg, access(I32, I16), R::Xchg)?,
        O::I64AtomicRmw8XchgU { memarg } => rmw(t, memarg, access(I64, I8), R::Xchg)?,
        O::I64AtomicRmw16XchgU { memarg } => rmw(t, memarg, access(I64, I16), R::Xchg)?,
        O::I64AtomicRmw32XchgU { memarg } => rmw(t, memarg, access(I64, I32), R::Xchg)?,

        O::I32AtomicRmwCmpxchg { memarg } => cmpxchg(t, memarg, access(I32, I32))?,
        O::I64AtomicRmwCmpxchg { memarg } => cmpxchg(t, memarg, access(I64, I64))?,
        O::I32AtomicRmw8CmpxchgU { memarg } => cmpxchg(t, memarg, access(I32, I8))?,
        O::I32AtomicRmw16CmpxchgU { memarg } => cmpxchg(t, memarg, access(I32, I16))?,
        O::I64AtomicRmw8CmpxchgU { memarg } => cmpxchg(t, memarg, access(I64, I8))?,
        O::I64AtomicRmw16CmpxchgU { memarg } => cmpxchg(t, memarg, access(I64, I16))?,
        O::I64AtomicRmw32CmpxchgU { memarg } => cmpxchg(t, memarg, access(I64, I32))?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Pops the index operand and returns `index + offset` as a 64-bit value (it cannot wrap:
/// both parts are below 2^32).
fn effective_address(t: &mut FuncTranslator, memarg: &MemArg) -> Result<Value> {
    match memarg.target {
        MemArgTarget::Memory(index) => check_memory_index(index)?,
        MemArgTarget::Array(_) => {
            return Err(CompileError::Unsupported("garbage collection (gc)".into()))
        }
    }
    if memarg.offset > u64::from(u32::MAX) {
        return Err(CompileError::Unsupported(
            "64-bit memory offsets (memory64)".into(),
        ));
    }
    if t.memory_base.is_none() {
        return Err(CompileError::Invalid(
            "atomic access without a memory".into(),
        ));
    }
    let index = t.pop()?;
    let index = t.builder.ins().uextend(types::I64, index);
    Ok(t.builder.ins().iadd_imm_u(index, memarg.offset as i64))
}

/// Pops the index and returns the native address of a checked atomic access.
fn checked_address(t: &mut FuncTranslator, memarg: &MemArg, a: Access) -> Result<Value> {
    let ea = effective_address(t, memarg)?;
    let size = a.bytes();
    if size > 1 {
        let misaligned = t.builder.ins().band_imm_u(ea, (size - 1) as i64);
        t.builder
            .ins()
            .trapnz(misaligned, trap_code(TrapKind::UnalignedAtomic));
    }
    let end = t.builder.ins().iadd_imm_u(ea, size as i64);
    trap_if_past_end(t, end);
    let base = t.memory_base.expect("checked by effective_address");
    let ea = if t.info.pointer_type == types::I64 {
        ea
    } else {
        t.builder.ins().ireduce(t.info.pointer_type, ea)
    };
    Ok(t.builder.ins().iadd(base, ea))
}

/// The operand narrowed to the access width.
fn narrow(t: &mut FuncTranslator, value: Value, a: Access) -> Value {
    if a.mem == a.wasm {
        value
    } else {
        t.builder.ins().ireduce(a.mem, value)
    }
}

/// A narrow access's result, zero-extended to the wasm type.
fn widen(t: &mut FuncTranslator, value: Value, a: Access) -> Value {
    if a.mem == a.wasm {
        value
    } else {
        t.builder.ins().uextend(a.wasm, value)
    }
}

fn load(t: &mut FuncTranslator, memarg: &MemArg, a: Access) -> Result<()> {
    let addr = checked_address(t, memarg, a)?;
    let value = t.builder.ins().atomic_load(a.mem, atomic_flags(), addr);
    let value = widen(t, value, a);
    t.push(value);
    Ok(())
}

fn store(t: &mut FuncTranslator, memarg: &MemArg, a: Access) -> Result<()> {
    let value = t.pop()?;
    let addr = checked_address(t, memarg, a)?;
    let value = narrow(t, value, a);
    t.builder.ins().atomic_store(atomic_flags(), value, addr);
    Ok(())
}

fn rmw(t: &mut FuncTranslator, memarg: &MemArg, a: Access, op: AtomicRmwOp) -> Result<()> {
    let value = t.pop()?;
    let addr = checked_address(t, memarg, a)?;
    let value = narrow(t, value, a);
    let old = t
        .builder
        .ins()
        .atomic_rmw(a.mem, atomic_flags(), op, addr, value);
    let old = widen(t, old, a);
    t.push(old);
    Ok(())
}

fn cmpxchg(t: &mut FuncTranslator, memarg: &MemArg, a: Access) -> Result<()> {
    let (expected, replacement) = t.pop2()?;
    let addr = checked_address(t, memarg, a)?;
    let expected = narrow(t, expected, a);
    let replacement = narrow(t, replacement, a);
    let riscv = matches!(
        t.isa.triple().architecture,
        target_lexicon::Architecture::Riscv64(_)
    );
    let old = if riscv && a.mem.bytes() < 4 {
        narrow_cas_via_word(t, addr, expected, replacement, a.mem)
    } else {
        t.builder
            .ins()
            .atomic_cas(atomic_flags(), addr, expected, replacement)
    };
    let old = widen(t, old, a);
    t.push(old);
    Ok(())
}

/// An 8- or 16-bit compare-exchange built from 32-bit compare-exchanges of the aligned word
/// that contains it. Cranelift's riscv64 lowering of a narrow `atomic_cas` reloads the word
/// between its comparison and its store-conditional, so a concurrent update in between is
/// lost; the 32-bit form is a plain LR/SC loop and is correct.
fn narrow_cas_via_word(
    t: &mut FuncTranslator,
    addr: Value,
    expected: Value,
    replacement: Value,
    narrow_ty: Type,
) -> Value {
    use types::I32;
    let b = &mut t.builder;
    let bits = i64::from(narrow_ty.bits());
    let low = b.ins().band_imm_u(addr, 3);
    let word_addr = b.ins().band_imm_s(addr, !3);
    let shift = b.ins().ishl_imm_u(low, 3);
    let shift = b.ins().ireduce(I32, shift);
    let ones = b.ins().iconst(I32, (1i64 << bits) - 1);
    let mask = b.ins().ishl(ones, shift);
    let expected = b.ins().uextend(I32, expected);
    let replacement = b.ins().uextend(I32, replacement);
    let replacement = b.ins().ishl(replacement, shift);

    let retry = b.create_block();
    let try_store = b.create_block();
    let done = b.create_block();
    b.append_block_param(done, I32);
    b.ins().jump(retry, &[]);

    b.switch_to_block(retry);
    let word = b.ins().atomic_load(I32, atomic_flags(), word_addr);
    let current = b.ins().band(word, mask);
    let current = b.ins().ushr(current, shift);
    let differs = b.ins().icmp(IntCC::NotEqual, current, expected);
    b.ins()
        .brif(differs, done, &[current.into()], try_store, &[]);

    b.switch_to_block(try_store);
    b.seal_block(try_store);
    let kept = b.ins().band_not(word, mask);
    let new_word = b.ins().bor(kept, replacement);
    let seen = b
        .ins()
        .atomic_cas(atomic_flags(), word_addr, word, new_word);
    let stored = b.ins().icmp(IntCC::Equal, seen, word);
    // Another byte of the word changed meanwhile: try again with the fresh word.
    b.ins().brif(stored, done, &[current.into()], retry, &[]);
    b.seal_block(retry);

    b.switch_to_block(done);
    b.seal_block(done);
    let old = b.block_params(done)[0];
    b.ins().ireduce(narrow_ty, old)
}
