//! SIMD on a vector unit: each wasm operator becomes the Cranelift vector instruction with the
//! same semantics, on the `i8x16` that holds every `v128`, bitcast to the operator's shape.
//!
//! Relaxed SIMD, per target (the proposal lets each result be any of a few):
//! - `relaxed_swizzle`, `relaxed_q15mulr_s`, `relaxed_dot_i8x16_i7x16{,_add}_s`: x86's
//!   `pshufb`, `pmulhrsw` and `pmaddubsw` where the CPU has SSSE3; elsewhere the
//!   deterministic `swizzle`, `q15mulr_sat_s` and a widening dot product.
//! - `relaxed_trunc_f32x4_s`: x86's `cvttps2dq` (NaN and overflow give `0x80000000`);
//!   elsewhere, and for the unsigned and `f64x2` forms, the saturating conversion.
//! - `relaxed_madd`/`relaxed_nmadd`: one fused multiply-add where the CPU has one (aarch64,
//!   riscv64, x86 with FMA), else a multiply and an add, each rounded.
//! - `relaxed_laneselect`: a bitwise select; `relaxed_min`/`relaxed_max`: wasm's `min`/`max`.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, Endianness, InstBuilder, MemFlagsData, Type, Value};
use target_lexicon::Architecture;
use wasmparser::{MemArg, Operator};

use super::{
    Builder, Half, Lanes,
    Shape::{self, F32x4, F64x2, I16x8, I32x4, I64x2, I8x16},
};
use crate::error::Result;
use crate::translate::memory::{address, heap_flags};
use crate::translate::FuncTranslator;

/// The lowering's name for [`super::Lanes`].
pub(crate) struct Vector;

/// Returns false for operators that are not SIMD.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    if super::translate_shared::<Vector>(t, op)? {
        return Ok(true);
    }
    use Operator as O;
    match *op {
        // ---- memory ----------------------------------------------------------------------
        O::V128Store { ref memarg } => {
            let value = t.pop()?;
            let (addr, offset) = address(t, memarg, 16)?;
            t.builder.ins().store(heap_flags(), value, addr, offset);
        }
        O::V128Load8x8S { ref memarg } => {
            extending_load(t, memarg, |b, a, o| b.ins().sload8x8(heap_flags(), a, o))?
        }
        O::V128Load8x8U { ref memarg } => {
            extending_load(t, memarg, |b, a, o| b.ins().uload8x8(heap_flags(), a, o))?
        }
        O::V128Load16x4S { ref memarg } => {
            extending_load(t, memarg, |b, a, o| b.ins().sload16x4(heap_flags(), a, o))?
        }
        O::V128Load16x4U { ref memarg } => {
            extending_load(t, memarg, |b, a, o| b.ins().uload16x4(heap_flags(), a, o))?
        }
        O::V128Load32x2S { ref memarg } => {
            extending_load(t, memarg, |b, a, o| b.ins().sload32x2(heap_flags(), a, o))?
        }
        O::V128Load32x2U { ref memarg } => {
            extending_load(t, memarg, |b, a, o| b.ins().uload32x2(heap_flags(), a, o))?
        }

        // ---- constants, lanes, shuffles --------------------------------------------------
        O::I8x16Shuffle { lanes } => {
            let (a, b) = t.pop2()?;
            let mask = t.builder.func.dfg.immediates.push(lanes.as_slice().into());
            let v = t.builder.ins().shuffle(a, b, mask);
            t.push(v);
        }
        O::I8x16Swizzle => Vector::binary(t, I8x16, |b, x, y| b.ins().swizzle(x, y))?,
        O::I8x16RelaxedSwizzle => {
            if x86_has(t, "has_ssse3") {
                Vector::binary(t, I8x16, |b, x, y| b.ins().x86_pshufb(x, y))?
            } else {
                Vector::binary(t, I8x16, |b, x, y| b.ins().swizzle(x, y))?
            }
        }

        // ---- bitwise ---------------------------------------------------------------------
        O::V128Not => Vector::unary(t, I8x16, |b, x| b.ins().bnot(x))?,
        O::V128And => Vector::binary(t, I8x16, |b, x, y| b.ins().band(x, y))?,
        O::V128AndNot => Vector::binary(t, I8x16, |b, x, y| b.ins().band_not(x, y))?,
        O::V128Or => Vector::binary(t, I8x16, |b, x, y| b.ins().bor(x, y))?,
        O::V128Xor => Vector::binary(t, I8x16, |b, x, y| b.ins().bxor(x, y))?,
        O::V128Bitselect
        | O::I8x16RelaxedLaneselect
        | O::I16x8RelaxedLaneselect
        | O::I32x4RelaxedLaneselect
        | O::I64x2RelaxedLaneselect => {
            let (x, y, mask) = t.pop3()?;
            let v = t.builder.ins().bitselect(mask, x, y);
            t.push(v);
        }
        O::V128AnyTrue => {
            let x = t.pop()?;
            let c = t.builder.ins().vany_true(x);
            let v = t.builder.ins().uextend(types::I32, c);
            t.push(v);
        }

        // ---- integer lanes ---------------------------------------------------------------
        O::I8x16Popcnt => Vector::unary(t, I8x16, |b, x| b.ins().popcnt(x))?,
        // Cranelift's vector shifts take the count modulo the lane width, like wasm.
        O::I8x16Shl => shift(t, I8x16, |b, x, n| b.ins().ishl(x, n))?,
        O::I16x8Shl => shift(t, I16x8, |b, x, n| b.ins().ishl(x, n))?,
        O::I32x4Shl => shift(t, I32x4, |b, x, n| b.ins().ishl(x, n))?,
        O::I64x2Shl => shift(t, I64x2, |b, x, n| b.ins().ishl(x, n))?,
        O::I8x16ShrS => shift(t, I8x16, |b, x, n| b.ins().sshr(x, n))?,
        O::I16x8ShrS => shift(t, I16x8, |b, x, n| b.ins().sshr(x, n))?,
        O::I32x4ShrS => shift(t, I32x4, |b, x, n| b.ins().sshr(x, n))?,
        O::I64x2ShrS => shift(t, I64x2, |b, x, n| b.ins().sshr(x, n))?,
        O::I8x16ShrU => shift(t, I8x16, |b, x, n| b.ins().ushr(x, n))?,
        O::I16x8ShrU => shift(t, I16x8, |b, x, n| b.ins().ushr(x, n))?,
        O::I32x4ShrU => shift(t, I32x4, |b, x, n| b.ins().ushr(x, n))?,
        O::I64x2ShrU => shift(t, I64x2, |b, x, n| b.ins().ushr(x, n))?,
        O::I8x16Add => Vector::binary(t, I8x16, |b, x, y| b.ins().iadd(x, y))?,
        O::I16x8Add => Vector::binary(t, I16x8, |b, x, y| b.ins().iadd(x, y))?,
        O::I32x4Add => Vector::binary(t, I32x4, |b, x, y| b.ins().iadd(x, y))?,
        O::I64x2Add => Vector::binary(t, I64x2, |b, x, y| b.ins().iadd(x, y))?,
        O::I8x16Sub => Vector::binary(t, I8x16, |b, x, y| b.ins().isub(x, y))?,
        O::I16x8Sub => Vector::binary(t, I16x8, |b, x, y| b.ins().isub(x, y))?,
        O::I32x4Sub => Vector::binary(t, I32x4, |b, x, y| b.ins().isub(x, y))?,
        O::I64x2Sub => Vector::binary(t, I64x2, |b, x, y| b.ins().isub(x, y))?,
        O::I8x16AddSatS => Vector::binary(t, I8x16, |b, x, y| b.ins().sadd_sat(x, y))?,
        O::I16x8AddSatS => Vector::binary(t, I16x8, |b, x, y| b.ins().sadd_sat(x, y))?,
        O::I8x16AddSatU => Vector::binary(t, I8x16, |b, x, y| b.ins().uadd_sat(x, y))?,
        O::I16x8AddSatU => Vector::binary(t, I16x8, |b, x, y| b.ins().uadd_sat(x, y))?,
        O::I8x16SubSatS => Vector::binary(t, I8x16, |b, x, y| b.ins().ssub_sat(x, y))?,
        O::I16x8SubSatS => Vector::binary(t, I16x8, |b, x, y| b.ins().ssub_sat(x, y))?,
        O::I8x16SubSatU => Vector::binary(t, I8x16, |b, x, y| b.ins().usub_sat(x, y))?,
        O::I16x8SubSatU => Vector::binary(t, I16x8, |b, x, y| b.ins().usub_sat(x, y))?,
        O::I8x16AvgrU => Vector::binary(t, I8x16, |b, x, y| b.ins().avg_round(x, y))?,
        O::I16x8AvgrU => Vector::binary(t, I16x8, |b, x, y| b.ins().avg_round(x, y))?,
        O::I16x8Q15MulrSatS => Vector::binary(t, I16x8, |b, x, y| b.ins().sqmul_round_sat(x, y))?,
        O::I16x8RelaxedQ15mulrS => {
            if x86_has(t, "has_ssse3") {
                Vector::binary(t, I16x8, |b, x, y| b.ins().x86_pmulhrsw(x, y))?
            } else {
                Vector::binary(t, I16x8, |b, x, y| b.ins().sqmul_round_sat(x, y))?
            }
        }

        // ---- widening and narrowing ------------------------------------------------------
        O::I8x16NarrowI16x8S => Vector::binary(t, I16x8, |b, x, y| b.ins().snarrow(x, y))?,
        O::I8x16NarrowI16x8U => Vector::binary(t, I16x8, |b, x, y| b.ins().unarrow(x, y))?,
        O::I16x8NarrowI32x4S => Vector::binary(t, I32x4, |b, x, y| b.ins().snarrow(x, y))?,
        O::I16x8NarrowI32x4U => Vector::binary(t, I32x4, |b, x, y| b.ins().unarrow(x, y))?,
        O::I16x8ExtendLowI8x16S => Vector::unary(t, I8x16, |b, x| b.ins().swiden_low(x))?,
        O::I16x8ExtendHighI8x16S => Vector::unary(t, I8x16, |b, x| b.ins().swiden_high(x))?,
        O::I16x8ExtendLowI8x16U => Vector::unary(t, I8x16, |b, x| b.ins().uwiden_low(x))?,
        O::I16x8ExtendHighI8x16U => Vector::unary(t, I8x16, |b, x| b.ins().uwiden_high(x))?,
        O::I32x4ExtendLowI16x8S => Vector::unary(t, I16x8, |b, x| b.ins().swiden_low(x))?,
        O::I32x4ExtendHighI16x8S => Vector::unary(t, I16x8, |b, x| b.ins().swiden_high(x))?,
        O::I32x4ExtendLowI16x8U => Vector::unary(t, I16x8, |b, x| b.ins().uwiden_low(x))?,
        O::I32x4ExtendHighI16x8U => Vector::unary(t, I16x8, |b, x| b.ins().uwiden_high(x))?,
        O::I64x2ExtendLowI32x4S => Vector::unary(t, I32x4, |b, x| b.ins().swiden_low(x))?,
        O::I64x2ExtendHighI32x4S => Vector::unary(t, I32x4, |b, x| b.ins().swiden_high(x))?,
        O::I64x2ExtendLowI32x4U => Vector::unary(t, I32x4, |b, x| b.ins().uwiden_low(x))?,
        O::I64x2ExtendHighI32x4U => Vector::unary(t, I32x4, |b, x| b.ins().uwiden_high(x))?,
        O::I32x4DotI16x8S => {
            let (x, y) = pop2_as(t, I16x8)?;
            let v = widening_dot(&mut t.builder, x, y);
            push_v(t, v);
        }
        O::I16x8RelaxedDotI8x16I7x16S => {
            let (x, y) = pop2_as(t, I8x16)?;
            let v = relaxed_dot_i8(t, x, y);
            push_v(t, v);
        }
        O::I32x4RelaxedDotI8x16I7x16AddS => {
            let acc = pop_as(t, I32x4)?;
            let (x, y) = pop2_as(t, I8x16)?;
            let pairs = relaxed_dot_i8(t, x, y);
            let lo = t.builder.ins().swiden_low(pairs);
            let hi = t.builder.ins().swiden_high(pairs);
            let quads = t.builder.ins().iadd_pairwise(lo, hi);
            let v = t.builder.ins().iadd(quads, acc);
            push_v(t, v);
        }

        // ---- float lanes -----------------------------------------------------------------
        O::F32x4Abs => Vector::unary(t, F32x4, |b, x| b.ins().fabs(x))?,
        O::F64x2Abs => Vector::unary(t, F64x2, |b, x| b.ins().fabs(x))?,
        O::F32x4Neg => Vector::unary(t, F32x4, |b, x| b.ins().fneg(x))?,
        O::F64x2Neg => Vector::unary(t, F64x2, |b, x| b.ins().fneg(x))?,
        // Cranelift's fmin/fmax follow wasm: NaN in, NaN out; -0 < +0.
        // pmin(x, y) = y < x ? y : x; pmax(x, y) = x < y ? y : x.
        O::F32x4PMin => pseudo_min_max(t, F32x4, true)?,
        O::F64x2PMin => pseudo_min_max(t, F64x2, true)?,
        O::F32x4PMax => pseudo_min_max(t, F32x4, false)?,
        O::F64x2PMax => pseudo_min_max(t, F64x2, false)?,

        // ---- conversions -----------------------------------------------------------------
        O::I32x4TruncSatF32x4S => {
            Vector::unary(t, F32x4, |b, x| b.ins().fcvt_to_sint_sat(types::I32X4, x))?
        }
        O::I32x4RelaxedTruncF32x4S => {
            if t.isa.triple().architecture == Architecture::X86_64 {
                Vector::unary(t, F32x4, |b, x| b.ins().x86_cvtt2dq(types::I32X4, x))?
            } else {
                Vector::unary(t, F32x4, |b, x| b.ins().fcvt_to_sint_sat(types::I32X4, x))?
            }
        }
        O::I32x4TruncSatF32x4U | O::I32x4RelaxedTruncF32x4U => {
            Vector::unary(t, F32x4, |b, x| b.ins().fcvt_to_uint_sat(types::I32X4, x))?
        }
        O::I32x4TruncSatF64x2SZero | O::I32x4RelaxedTruncF64x2SZero => {
            Vector::unary(t, F64x2, |b, x| {
                let wide = b.ins().fcvt_to_sint_sat(types::I64X2, x);
                let zero = super::v128_const(b, types::I64X2, 0);
                b.ins().snarrow(wide, zero)
            })?
        }
        O::I32x4TruncSatF64x2UZero | O::I32x4RelaxedTruncF64x2UZero => {
            Vector::unary(t, F64x2, |b, x| {
                let wide = b.ins().fcvt_to_uint_sat(types::I64X2, x);
                let zero = super::v128_const(b, types::I64X2, 0);
                b.ins().uunarrow(wide, zero)
            })?
        }
        O::F32x4ConvertI32x4S => {
            Vector::unary(t, I32x4, |b, x| b.ins().fcvt_from_sint(types::F32X4, x))?
        }
        O::F32x4ConvertI32x4U => {
            Vector::unary(t, I32x4, |b, x| b.ins().fcvt_from_uint(types::F32X4, x))?
        }
        O::F64x2ConvertLowI32x4S => Vector::unary(t, I32x4, |b, x| {
            let wide = b.ins().swiden_low(x);
            b.ins().fcvt_from_sint(types::F64X2, wide)
        })?,
        O::F64x2ConvertLowI32x4U => Vector::unary(t, I32x4, |b, x| {
            let wide = b.ins().uwiden_low(x);
            b.ins().fcvt_from_uint(types::F64X2, wide)
        })?,
        O::F32x4DemoteF64x2Zero => Vector::unary(t, F64x2, |b, x| b.ins().fvdemote(x))?,
        O::F64x2PromoteLowF32x4 => Vector::unary(t, F32x4, |b, x| b.ins().fvpromote_low(x))?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Vector bitcasts reinterpret the register's bytes in wasm's (little-endian) lane order.
fn lane_order() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// `value` reinterpreted as type `ty` (a no-op when it already has that type).
fn cast(b: Builder, ty: Type, value: Value) -> Value {
    if b.func.dfg.value_type(value) == ty {
        value
    } else {
        b.ins().bitcast(ty, lane_order(), value)
    }
}

fn pop_as(t: &mut FuncTranslator, shape: Shape) -> Result<Value> {
    let v = t.pop()?;
    Ok(cast(&mut t.builder, shape.vector(), v))
}

fn pop2_as(t: &mut FuncTranslator, shape: Shape) -> Result<(Value, Value)> {
    let (x, y) = t.pop2()?;
    let ty = shape.vector();
    Ok((cast(&mut t.builder, ty, x), cast(&mut t.builder, ty, y)))
}

/// Pushes a vector of any shape as the `i8x16` every `v128` is on the operand stack.
fn push_v(t: &mut FuncTranslator, value: Value) {
    let v = cast(&mut t.builder, types::I8X16, value);
    t.push(v);
}

/// A shift by the i32 on top of the stack.
fn shift(
    t: &mut FuncTranslator,
    shape: Shape,
    f: impl FnOnce(Builder, Value, Value) -> Value,
) -> Result<()> {
    let count = t.pop()?;
    let x = pop_as(t, shape)?;
    let v = f(&mut t.builder, x, count);
    push_v(t, v);
    Ok(())
}

/// Whether the target is x86_64 with the named Cranelift x64 flag set.
fn x86_has(t: &FuncTranslator, flag: &str) -> bool {
    t.isa.triple().architecture == Architecture::X86_64
        && t.isa
            .isa_flags()
            .iter()
            .any(|f| f.name == flag && f.as_bool() == Some(true))
}

/// The scalar operand of a lane operation, narrowed to the lane type (i8/i16 lanes take an
/// i32 operand in wasm).
fn lane_operand(b: Builder, shape: Shape, value: Value) -> Value {
    match shape {
        I8x16 | I16x8 => b.ins().ireduce(shape.lane(), value),
        _ => value,
    }
}

fn extending_load(
    t: &mut FuncTranslator,
    memarg: &MemArg,
    f: impl FnOnce(Builder, Value, i32) -> Value,
) -> Result<()> {
    let (addr, offset) = address(t, memarg, 8)?;
    let v = f(&mut t.builder, addr, offset);
    push_v(t, v);
    Ok(())
}

fn lane_bytes(shape: Shape) -> u64 {
    u64::from(shape.lane().bytes())
}

fn widen(b: Builder, x: Value, half: Half, signed: bool) -> Value {
    match (half, signed) {
        (Half::Low, true) => b.ins().swiden_low(x),
        (Half::High, true) => b.ins().swiden_high(x),
        (Half::Low, false) => b.ins().uwiden_low(x),
        (Half::High, false) => b.ins().uwiden_high(x),
    }
}

/// The sums of the products of adjacent lanes, widened: `i32x4.dot_i16x8_s` on `i16x8`
/// operands, the deterministic `relaxed_dot_i8x16_i7x16_s` on `i8x16` ones.
fn widening_dot(b: Builder, x: Value, y: Value) -> Value {
    let lo = {
        let x = b.ins().swiden_low(x);
        let y = b.ins().swiden_low(y);
        b.ins().imul(x, y)
    };
    let hi = {
        let x = b.ins().swiden_high(x);
        let y = b.ins().swiden_high(y);
        b.ins().imul(x, y)
    };
    b.ins().iadd_pairwise(lo, hi)
}

/// i16x8.relaxed_dot_i8x16_i7x16_s, `y` holding 7-bit values. x86 with SSSE3: `pmaddubsw`,
/// which reads `y` as unsigned (and saturates the sums): equal to the exact dot product
/// while `y`'s lanes are 7-bit, one of the permitted results otherwise.
fn relaxed_dot_i8(t: &mut FuncTranslator, x: Value, y: Value) -> Value {
    if x86_has(t, "has_ssse3") {
        t.builder.ins().x86_pmaddubsw(x, y)
    } else {
        widening_dot(&mut t.builder, x, y)
    }
}

fn pseudo_min_max(t: &mut FuncTranslator, shape: Shape, min: bool) -> Result<()> {
    Vector::binary(t, shape, |b, x, y| {
        let (lhs, rhs) = if min { (y, x) } else { (x, y) };
        let pick_y = b.ins().fcmp(FloatCC::LessThan, lhs, rhs);
        let mask = cast(b, shape.vector(), pick_y);
        b.ins().bitselect(mask, y, x)
    })
}

/// The operators whose decoding the lowerings share (see [`super::Lanes`]).
impl Lanes for Vector {
    fn load_splat(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape) -> Result<()> {
        let (addr, offset) = address(t, memarg, lane_bytes(shape))?;
        let lane = t
            .builder
            .ins()
            .load(shape.lane(), heap_flags(), addr, offset);
        let v = t.builder.ins().splat(shape.vector(), lane);
        push_v(t, v);
        Ok(())
    }

    fn load_zero(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape) -> Result<()> {
        let (addr, offset) = address(t, memarg, lane_bytes(shape))?;
        let lane = t
            .builder
            .ins()
            .load(shape.lane(), heap_flags(), addr, offset);
        let v = t.builder.ins().scalar_to_vector(shape.vector(), lane);
        push_v(t, v);
        Ok(())
    }

    fn load_lane(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape, lane: u8) -> Result<()> {
        let x = pop_as(t, shape)?;
        let (addr, offset) = address(t, memarg, lane_bytes(shape))?;
        let value = t
            .builder
            .ins()
            .load(shape.lane(), heap_flags(), addr, offset);
        let v = t.builder.ins().insertlane(x, value, lane);
        push_v(t, v);
        Ok(())
    }

    fn store_lane(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape, lane: u8) -> Result<()> {
        let x = pop_as(t, shape)?;
        let (addr, offset) = address(t, memarg, lane_bytes(shape))?;
        let value = t.builder.ins().extractlane(x, lane);
        t.builder.ins().store(heap_flags(), value, addr, offset);
        Ok(())
    }

    fn splat(t: &mut FuncTranslator, shape: Shape) -> Result<()> {
        let x = t.pop()?;
        let lane = lane_operand(&mut t.builder, shape, x);
        let v = t.builder.ins().splat(shape.vector(), lane);
        push_v(t, v);
        Ok(())
    }

    /// `signed`: `Some` for the i8/i16 lanes that wasm widens to i32.
    fn extract_lane(
        t: &mut FuncTranslator,
        shape: Shape,
        lane: u8,
        signed: Option<bool>,
    ) -> Result<()> {
        let x = pop_as(t, shape)?;
        let mut v = t.builder.ins().extractlane(x, lane);
        match signed {
            Some(true) => v = t.builder.ins().sextend(types::I32, v),
            Some(false) => v = t.builder.ins().uextend(types::I32, v),
            None => {}
        }
        t.push(v);
        Ok(())
    }

    fn replace_lane(t: &mut FuncTranslator, shape: Shape, lane: u8) -> Result<()> {
        let value = t.pop()?;
        let x = pop_as(t, shape)?;
        let value = lane_operand(&mut t.builder, shape, value);
        let v = t.builder.ins().insertlane(x, value, lane);
        push_v(t, v);
        Ok(())
    }

    fn icmp(t: &mut FuncTranslator, shape: Shape, cc: IntCC) -> Result<()> {
        Vector::binary(t, shape, |b, x, y| b.ins().icmp(cc, x, y))
    }

    fn fcmp(t: &mut FuncTranslator, shape: Shape, cc: FloatCC) -> Result<()> {
        Vector::binary(t, shape, |b, x, y| b.ins().fcmp(cc, x, y))
    }

    fn unary(
        t: &mut FuncTranslator,
        shape: Shape,
        mut f: impl FnMut(Builder, Value) -> Value,
    ) -> Result<()> {
        let x = pop_as(t, shape)?;
        let v = f(&mut t.builder, x);
        push_v(t, v);
        Ok(())
    }

    fn binary(
        t: &mut FuncTranslator,
        shape: Shape,
        mut f: impl FnMut(Builder, Value, Value) -> Value,
    ) -> Result<()> {
        let (x, y) = pop2_as(t, shape)?;
        let v = f(&mut t.builder, x, y);
        push_v(t, v);
        Ok(())
    }

    fn all_true(t: &mut FuncTranslator, shape: Shape) -> Result<()> {
        let x = pop_as(t, shape)?;
        let c = t.builder.ins().vall_true(x);
        let v = t.builder.ins().uextend(types::I32, c);
        t.push(v);
        Ok(())
    }

    fn bitmask(t: &mut FuncTranslator, shape: Shape) -> Result<()> {
        let x = pop_as(t, shape)?;
        let v = t.builder.ins().vhigh_bits(types::I32, x);
        t.push(v);
        Ok(())
    }

    /// Each pair of adjacent lanes of shape `from`, widened and added.
    fn ext_add_pairwise(t: &mut FuncTranslator, from: Shape, signed: bool) -> Result<()> {
        Vector::unary(t, from, |b, x| {
            let lo = widen(b, x, Half::Low, signed);
            let hi = widen(b, x, Half::High, signed);
            b.ins().iadd_pairwise(lo, hi)
        })
    }

    /// The product of the widened low (or high) halves of two vectors of shape `from`.
    fn ext_mul(t: &mut FuncTranslator, from: Shape, half: Half, signed: bool) -> Result<()> {
        Vector::binary(t, from, |b, x, y| {
            let x = widen(b, x, half, signed);
            let y = widen(b, y, half, signed);
            b.ins().imul(x, y)
        })
    }

    /// `relaxed_madd(a, b, c) = a * b + c`; `relaxed_nmadd = -(a * b) + c`.
    fn madd(t: &mut FuncTranslator, shape: Shape, negate: bool) -> Result<()> {
        let c = pop_as(t, shape)?;
        let (x, y) = pop2_as(t, shape)?;
        let fused = t.isa.has_native_fma();
        let b = &mut t.builder;
        let x = if negate { b.ins().fneg(x) } else { x };
        let v = if fused {
            b.ins().fma(x, y, c)
        } else {
            let product = b.ins().fmul(x, y);
            b.ins().fadd(product, c)
        };
        push_v(t, v);
        Ok(())
    }
}
