//! SIMD without a vector unit: a `v128` is an `i128`, and each operator works on scalar
//! values only (i8 to i64 lanes, f32/f64 lanes, the two i64 halves of the `i128`).
//!
//! Most operators take the value apart into lanes ([`lanes`]), apply the scalar Cranelift
//! instruction with wasm's semantics to each lane, and put the results back together
//! ([`from_lanes`]). Where it is just as exact and much shorter, an operator works on the
//! two 64-bit halves at once instead: the bitwise operators, integer `add`/`sub` (carries kept
//! inside their lanes), `popcnt`, `bitmask`, `all_true`, float `abs`/`neg` (sign bits) and
//! shuffles (whole runs of bytes moved by one shift and mask).
//!
//! Relaxed SIMD always takes the deterministic result: `relaxed_swizzle` is `swizzle`,
//! `relaxed_q15mulr_s` is `q15mulr_sat_s`, the relaxed truncations saturate,
//! `relaxed_laneselect` is a bitwise select, `relaxed_min`/`relaxed_max` are `min`/`max`,
//! and `relaxed_dot_i8x16_i7x16{,_add}_s` multiply both operands as signed (summing pairs in
//! wrapping i16). `relaxed_madd`/`relaxed_nmadd` are one fused multiply-add per lane where
//! the target has a native one (riscv64's `fmadd`), else a multiply and an add, each
//! rounded.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use wasmparser::{MemArg, Operator};

use super::{
    Builder, Half, Lanes,
    Shape::{self, F32x4, F64x2, I16x8, I32x4, I64x2, I8x16},
};
use crate::error::{CompileError, Result};
use crate::translate::memory::{address, heap_flags};
use crate::translate::FuncTranslator;

/// The lowering's name for [`super::Lanes`].
pub(crate) struct Scalar;

/// Returns false for operators that are not SIMD.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    if super::translate_shared::<Scalar>(t, op)? {
        return Ok(true);
    }
    use Operator as O;
    match *op {
        // ---- memory ----------------------------------------------------------------------
        O::V128Store { ref memarg } => store(t, memarg)?,
        O::V128Load8x8S { ref memarg } => extending_load(t, memarg, I8x16, true)?,
        O::V128Load8x8U { ref memarg } => extending_load(t, memarg, I8x16, false)?,
        O::V128Load16x4S { ref memarg } => extending_load(t, memarg, I16x8, true)?,
        O::V128Load16x4U { ref memarg } => extending_load(t, memarg, I16x8, false)?,
        O::V128Load32x2S { ref memarg } => extending_load(t, memarg, I32x4, true)?,
        O::V128Load32x2U { ref memarg } => extending_load(t, memarg, I32x4, false)?,

        // ---- constants, lanes, shuffles --------------------------------------------------
        O::I8x16Shuffle { ref lanes } => {
            let (x, y) = t.pop2()?;
            let v = shuffle(&mut t.builder, x, y, lanes)?;
            t.push(v);
        }
        O::I8x16Swizzle | O::I8x16RelaxedSwizzle => {
            let (x, indices) = t.pop2()?;
            let v = swizzle(&mut t.builder, x, indices);
            t.push(v);
        }

        // ---- bitwise ---------------------------------------------------------------------
        O::V128Not => words1(t, |b, x| b.ins().bnot(x))?,
        O::V128And => words2(t, |b, x, y| b.ins().band(x, y))?,
        O::V128AndNot => words2(t, |b, x, y| b.ins().band_not(x, y))?,
        O::V128Or => words2(t, |b, x, y| b.ins().bor(x, y))?,
        O::V128Xor => words2(t, |b, x, y| b.ins().bxor(x, y))?,
        O::V128Bitselect
        | O::I8x16RelaxedLaneselect
        | O::I16x8RelaxedLaneselect
        | O::I32x4RelaxedLaneselect
        | O::I64x2RelaxedLaneselect => {
            let (x, y, mask) = t.pop3()?;
            let b = &mut t.builder;
            let [x, y, mask] = [x, y, mask].map(|v| words(b, v));
            let w = [0, 1].map(|i| {
                let from_x = b.ins().band(x[i], mask[i]);
                let from_y = b.ins().band_not(y[i], mask[i]);
                b.ins().bor(from_x, from_y)
            });
            let v = join(b, w);
            t.push(v);
        }
        O::V128AnyTrue => {
            let x = t.pop()?;
            let b = &mut t.builder;
            let [lo, hi] = words(b, x);
            let any = b.ins().bor(lo, hi);
            let c = b.ins().icmp_imm_u(IntCC::NotEqual, any, 0);
            let v = b.ins().uextend(types::I32, c);
            t.push(v);
        }

        // ---- integer lanes ---------------------------------------------------------------
        O::I8x16Popcnt => words1(t, byte_popcnt)?,
        O::I8x16Shl => shift(t, I8x16, Shift::Left)?,
        O::I16x8Shl => shift(t, I16x8, Shift::Left)?,
        O::I32x4Shl => shift(t, I32x4, Shift::Left)?,
        O::I64x2Shl => shift(t, I64x2, Shift::Left)?,
        O::I8x16ShrS => shift(t, I8x16, Shift::RightSigned)?,
        O::I16x8ShrS => shift(t, I16x8, Shift::RightSigned)?,
        O::I32x4ShrS => shift(t, I32x4, Shift::RightSigned)?,
        O::I64x2ShrS => shift(t, I64x2, Shift::RightSigned)?,
        O::I8x16ShrU => shift(t, I8x16, Shift::RightUnsigned)?,
        O::I16x8ShrU => shift(t, I16x8, Shift::RightUnsigned)?,
        O::I32x4ShrU => shift(t, I32x4, Shift::RightUnsigned)?,
        O::I64x2ShrU => shift(t, I64x2, Shift::RightUnsigned)?,
        O::I8x16Add => words2(t, |b, x, y| lane_add(b, 8, x, y))?,
        O::I16x8Add => words2(t, |b, x, y| lane_add(b, 16, x, y))?,
        O::I32x4Add => words2(t, |b, x, y| lane_add(b, 32, x, y))?,
        O::I64x2Add => words2(t, |b, x, y| b.ins().iadd(x, y))?,
        O::I8x16Sub => words2(t, |b, x, y| lane_sub(b, 8, x, y))?,
        O::I16x8Sub => words2(t, |b, x, y| lane_sub(b, 16, x, y))?,
        O::I32x4Sub => words2(t, |b, x, y| lane_sub(b, 32, x, y))?,
        O::I64x2Sub => words2(t, |b, x, y| b.ins().isub(x, y))?,
        O::I8x16AddSatS => saturating(t, I8x16, true, |b, x, y| b.ins().iadd(x, y))?,
        O::I16x8AddSatS => saturating(t, I16x8, true, |b, x, y| b.ins().iadd(x, y))?,
        O::I8x16AddSatU => saturating(t, I8x16, false, |b, x, y| b.ins().iadd(x, y))?,
        O::I16x8AddSatU => saturating(t, I16x8, false, |b, x, y| b.ins().iadd(x, y))?,
        O::I8x16SubSatS => saturating(t, I8x16, true, |b, x, y| b.ins().isub(x, y))?,
        O::I16x8SubSatS => saturating(t, I16x8, true, |b, x, y| b.ins().isub(x, y))?,
        O::I8x16SubSatU => saturating(t, I8x16, false, |b, x, y| b.ins().isub(x, y))?,
        O::I16x8SubSatU => saturating(t, I16x8, false, |b, x, y| b.ins().isub(x, y))?,
        O::I8x16AvgrU => Scalar::binary(t, I8x16, avgr_u)?,
        O::I16x8AvgrU => Scalar::binary(t, I16x8, avgr_u)?,
        O::I16x8Q15MulrSatS | O::I16x8RelaxedQ15mulrS => Scalar::binary(t, I16x8, q15mulr_sat)?,

        // ---- widening and narrowing ------------------------------------------------------
        O::I8x16NarrowI16x8S => narrow(t, I16x8, true)?,
        O::I8x16NarrowI16x8U => narrow(t, I16x8, false)?,
        O::I16x8NarrowI32x4S => narrow(t, I32x4, true)?,
        O::I16x8NarrowI32x4U => narrow(t, I32x4, false)?,
        O::I16x8ExtendLowI8x16S => extend(t, I8x16, Half::Low, true)?,
        O::I16x8ExtendHighI8x16S => extend(t, I8x16, Half::High, true)?,
        O::I16x8ExtendLowI8x16U => extend(t, I8x16, Half::Low, false)?,
        O::I16x8ExtendHighI8x16U => extend(t, I8x16, Half::High, false)?,
        O::I32x4ExtendLowI16x8S => extend(t, I16x8, Half::Low, true)?,
        O::I32x4ExtendHighI16x8S => extend(t, I16x8, Half::High, true)?,
        O::I32x4ExtendLowI16x8U => extend(t, I16x8, Half::Low, false)?,
        O::I32x4ExtendHighI16x8U => extend(t, I16x8, Half::High, false)?,
        O::I64x2ExtendLowI32x4S => extend(t, I32x4, Half::Low, true)?,
        O::I64x2ExtendHighI32x4S => extend(t, I32x4, Half::High, true)?,
        O::I64x2ExtendLowI32x4U => extend(t, I32x4, Half::Low, false)?,
        O::I64x2ExtendHighI32x4U => extend(t, I32x4, Half::High, false)?,
        O::I32x4DotI16x8S => {
            let (x, y) = t.pop2()?;
            let b = &mut t.builder;
            let v = dot_pairs(b, I16x8, x, y);
            let v = from_lanes(b, &v);
            t.push(v);
        }
        O::I16x8RelaxedDotI8x16I7x16S => {
            let (x, y) = t.pop2()?;
            let b = &mut t.builder;
            let v = dot_pairs(b, I8x16, x, y);
            let v = from_lanes(b, &v);
            t.push(v);
        }
        O::I32x4RelaxedDotI8x16I7x16AddS => {
            let acc = t.pop()?;
            let (x, y) = t.pop2()?;
            let b = &mut t.builder;
            let pairs = dot_pairs(b, I8x16, x, y);
            let acc = lanes(b, acc, I32x4);
            let sums: Vec<Value> = pairs
                .chunks(2)
                .zip(acc)
                .map(|(pair, acc)| {
                    let lo = b.ins().sextend(types::I32, pair[0]);
                    let hi = b.ins().sextend(types::I32, pair[1]);
                    let quad = b.ins().iadd(lo, hi);
                    b.ins().iadd(quad, acc)
                })
                .collect();
            let v = from_lanes(b, &sums);
            t.push(v);
        }

        // ---- float lanes -----------------------------------------------------------------
        O::F32x4Abs => words1(t, |b, x| b.ins().band_imm_u(x, !F32_SIGNS as i64))?,
        O::F64x2Abs => words1(t, |b, x| b.ins().band_imm_u(x, !F64_SIGNS as i64))?,
        O::F32x4Neg => words1(t, |b, x| b.ins().bxor_imm_u(x, F32_SIGNS as i64))?,
        O::F64x2Neg => words1(t, |b, x| b.ins().bxor_imm_u(x, F64_SIGNS as i64))?,
        // Cranelift's scalar fmin/fmax follow wasm: NaN in, NaN out; -0 < +0.
        // pmin(x, y) = y < x ? y : x; pmax(x, y) = x < y ? y : x.
        O::F32x4PMin => Scalar::binary(t, F32x4, |b, x, y| pseudo_min_max(b, x, y, true))?,
        O::F64x2PMin => Scalar::binary(t, F64x2, |b, x, y| pseudo_min_max(b, x, y, true))?,
        O::F32x4PMax => Scalar::binary(t, F32x4, |b, x, y| pseudo_min_max(b, x, y, false))?,
        O::F64x2PMax => Scalar::binary(t, F64x2, |b, x, y| pseudo_min_max(b, x, y, false))?,

        // ---- conversions -----------------------------------------------------------------
        O::I32x4TruncSatF32x4S | O::I32x4RelaxedTruncF32x4S => {
            Scalar::unary(t, F32x4, |b, x| b.ins().fcvt_to_sint_sat(types::I32, x))?
        }
        O::I32x4TruncSatF32x4U | O::I32x4RelaxedTruncF32x4U => {
            Scalar::unary(t, F32x4, |b, x| b.ins().fcvt_to_uint_sat(types::I32, x))?
        }
        O::I32x4TruncSatF64x2SZero | O::I32x4RelaxedTruncF64x2SZero => {
            low_lanes(t, F64x2, |b, x| b.ins().fcvt_to_sint_sat(types::I32, x))?
        }
        O::I32x4TruncSatF64x2UZero | O::I32x4RelaxedTruncF64x2UZero => {
            low_lanes(t, F64x2, |b, x| b.ins().fcvt_to_uint_sat(types::I32, x))?
        }
        O::F32x4DemoteF64x2Zero => low_lanes(t, F64x2, |b, x| b.ins().fdemote(types::F32, x))?,
        O::F32x4ConvertI32x4S => {
            Scalar::unary(t, I32x4, |b, x| b.ins().fcvt_from_sint(types::F32, x))?
        }
        O::F32x4ConvertI32x4U => {
            Scalar::unary(t, I32x4, |b, x| b.ins().fcvt_from_uint(types::F32, x))?
        }
        O::F64x2ConvertLowI32x4S => {
            widen_low(t, I32x4, |b, x| b.ins().fcvt_from_sint(types::F64, x))?
        }
        O::F64x2ConvertLowI32x4U => {
            widen_low(t, I32x4, |b, x| b.ins().fcvt_from_uint(types::F64, x))?
        }
        O::F64x2PromoteLowF32x4 => widen_low(t, F32x4, |b, x| b.ins().fpromote(types::F64, x))?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// The sign bits of the lanes of a 64-bit half of an `f32x4` and an `f64x2`.
const F32_SIGNS: u64 = 0x8000_0000_8000_0000;
const F64_SIGNS: u64 = 0x8000_0000_0000_0000;

// ---- taking a v128 apart and putting it together -------------------------------------------

/// The low and high 64 bits of a `v128`.
fn words(b: Builder, v: Value) -> [Value; 2] {
    let (lo, hi) = b.ins().isplit(v);
    [lo, hi]
}

fn join(b: Builder, [lo, hi]: [Value; 2]) -> Value {
    b.ins().iconcat(lo, hi)
}

/// Bits per lane of `shape`.
fn lane_bits(shape: Shape) -> u32 {
    shape.lane().bits()
}

/// The integer type as wide as a lane of `shape`.
fn lane_int(shape: Shape) -> Type {
    Type::int(lane_bits(shape) as u16).unwrap_or(types::I64)
}

/// The `bits`-wide lanes of the 64-bit `word`, lowest first, as integers of that width.
fn word_lanes(b: Builder, word: Value, bits: u32) -> Vec<Value> {
    let ty = Type::int(bits as u16).unwrap_or(types::I64);
    (0..64 / bits)
        .map(|i| {
            let lane = if i == 0 {
                word
            } else {
                b.ins().ushr_imm_u(word, i64::from(i * bits))
            };
            if bits < 64 {
                b.ins().ireduce(ty, lane)
            } else {
                lane
            }
        })
        .collect()
}

/// The lanes of `v` as values of the shape's lane type (floats reinterpreted, not converted).
fn lanes(b: Builder, v: Value, shape: Shape) -> Vec<Value> {
    let mut all = Vec::with_capacity(shape.lanes() as usize);
    for word in words(b, v) {
        all.extend(word_lanes(b, word, lane_bits(shape)));
    }
    if shape.lane().is_float() {
        for lane in &mut all {
            *lane = b.ins().bitcast(shape.lane(), MemFlagsData::new(), *lane);
        }
    }
    all
}

/// One lane of `v`, without taking apart the rest of it.
fn lane(b: Builder, v: Value, shape: Shape, index: u8) -> Result<Value> {
    let bits = lane_bits(shape);
    let per_word = 64 / bits;
    if u32::from(index) >= shape.lanes() {
        return Err(CompileError::Invalid(format!("lane {index} of {shape:?}")));
    }
    let word = words(b, v)[(u32::from(index) / per_word) as usize];
    let value = word_lanes(b, word, bits)[(u32::from(index) % per_word) as usize];
    Ok(to_lane_type(b, value, shape))
}

/// An integer of the lane's width as a lane of `shape` (a float lane is reinterpreted).
fn to_lane_type(b: Builder, value: Value, shape: Shape) -> Value {
    if shape.lane().is_float() {
        b.ins().bitcast(shape.lane(), MemFlagsData::new(), value)
    } else {
        value
    }
}

/// A lane's bits zero-extended to 64 (float lanes reinterpreted).
fn lane_word(b: Builder, lane: Value) -> Value {
    let ty = b.func.dfg.value_type(lane);
    let int = if ty.is_float() {
        b.ins().bitcast(ty.as_int(), MemFlagsData::new(), lane)
    } else {
        lane
    };
    if ty.bits() < 64 {
        b.ins().uextend(types::I64, int)
    } else {
        int
    }
}

/// The `v128` made of `lanes`, lowest first; they may be integers or floats of any one width
/// whose lanes fill 128 bits.
fn from_lanes(b: Builder, lanes: &[Value]) -> Value {
    let per_word = lanes.len().div_ceil(2).max(1);
    let halves: Vec<Value> = lanes
        .chunks(per_word)
        .map(|chunk| {
            let mut word: Option<Value> = None;
            for (i, &lane) in chunk.iter().enumerate() {
                let bits = b.func.dfg.value_type(lane).bits();
                let mut x = lane_word(b, lane);
                if i > 0 {
                    x = b.ins().ishl_imm_u(x, i64::from(i as u32 * bits));
                }
                word = Some(match word {
                    Some(w) => b.ins().bor(w, x),
                    None => x,
                });
            }
            word.unwrap_or_else(|| b.ins().iconst(types::I64, 0))
        })
        .collect();
    match halves[..] {
        [lo, hi] => join(b, [lo, hi]),
        _ => super::v128_const(b, types::I128, 0),
    }
}

/// `lane` (of the lane type's width) copied into every lane of a 64-bit word.
fn splat_word(b: Builder, lane: Value) -> Value {
    let bits = b.func.dfg.value_type(lane).bits();
    let word = lane_word(b, lane);
    match bits {
        8 => b.ins().imul_imm_u(word, 0x0101_0101_0101_0101),
        16 => b.ins().imul_imm_u(word, 0x0001_0001_0001_0001),
        32 => b.ins().imul_imm_u(word, 0x0000_0001_0000_0001),
        _ => word,
    }
}

/// A 64-bit constant with `pattern` (of `bits` bits) in every lane.
fn repeat(bits: u32, pattern: u64) -> u64 {
    let mut word = 0;
    for i in 0..64 / bits {
        word |= pattern << (i * bits);
    }
    word
}

// ---- operator families ---------------------------------------------------------------------

/// An operation on each 64-bit half.
fn words1(t: &mut FuncTranslator, mut f: impl FnMut(Builder, Value) -> Value) -> Result<()> {
    let x = t.pop()?;
    let b = &mut t.builder;
    let x = words(b, x);
    let w = x.map(|x| f(b, x));
    let v = join(b, w);
    t.push(v);
    Ok(())
}

/// An operation on each pair of corresponding 64-bit halves.
fn words2(t: &mut FuncTranslator, mut f: impl FnMut(Builder, Value, Value) -> Value) -> Result<()> {
    let (x, y) = t.pop2()?;
    let b = &mut t.builder;
    let (x, y) = (words(b, x), words(b, y));
    let w = [0, 1].map(|i| f(b, x[i], y[i]));
    let v = join(b, w);
    t.push(v);
    Ok(())
}

/// A comparison result as a lane: all ones for true, zero for false.
fn lane_mask(b: Builder, shape: Shape, condition: Value) -> Value {
    b.ins().bmask(lane_int(shape), condition)
}

/// The scalar operand of a splat or lane replacement as a lane of `shape` (i8/i16 lanes
/// take an i32 operand in wasm).
fn lane_operand(b: Builder, shape: Shape, value: Value) -> Value {
    match shape {
        I8x16 | I16x8 => b.ins().ireduce(shape.lane(), value),
        _ => value,
    }
}

/// `v` with lane `index` of `shape` replaced by `value` (a lane-typed value).
fn insert_lane(b: Builder, v: Value, shape: Shape, index: u8, value: Value) -> Result<Value> {
    let bits = lane_bits(shape);
    let per_word = 64 / bits;
    if u32::from(index) >= shape.lanes() {
        return Err(CompileError::Invalid(format!("lane {index} of {shape:?}")));
    }
    let mut w = words(b, v);
    let which = (u32::from(index) / per_word) as usize;
    let shift = (u32::from(index) % per_word) * bits;
    let new = lane_word(b, value);
    w[which] = if bits == 64 {
        new
    } else {
        let keep = !(((1u64 << bits) - 1) << shift);
        let kept = b.ins().band_imm_u(w[which], keep as i64);
        let new = if shift == 0 {
            new
        } else {
            b.ins().ishl_imm_u(new, i64::from(shift))
        };
        b.ins().bor(kept, new)
    };
    Ok(join(b, w))
}

/// `i8x16.shuffle`: every result byte is one of the 32 bytes of `x` and `y`. The bytes of a
/// result half that come from one source half at the same distance move together, with one
/// shift and one mask, so the common shuffles (interleaves, rotations, identity) stay short.
fn shuffle(b: Builder, x: Value, y: Value, selectors: &[u8; 16]) -> Result<Value> {
    let [x_lo, x_hi] = words(b, x);
    let [y_lo, y_hi] = words(b, y);
    let sources = [x_lo, x_hi, y_lo, y_hi];
    let mut result = [x_lo, x_hi];
    for (half, out) in result.iter_mut().enumerate() {
        // (source half, distance in bytes from source to result position, result bytes)
        let mut groups: Vec<(usize, i32, u64)> = Vec::new();
        for j in 0..8 {
            let selector = usize::from(selectors[half * 8 + j]);
            if selector >= 32 {
                return Err(CompileError::Invalid(format!(
                    "shuffle lane index {selector}"
                )));
            }
            let (source, byte) = (selector / 8, (selector % 8) as i32);
            let distance = byte - j as i32;
            let bytes = 0xffu64 << (8 * j);
            match groups.iter_mut().find(|g| g.0 == source && g.1 == distance) {
                Some(group) => group.2 |= bytes,
                None => groups.push((source, distance, bytes)),
            }
        }
        let mut word: Option<Value> = None;
        for (source, distance, bytes) in groups {
            let v = sources[source];
            let v = match distance {
                0 => v,
                d if d > 0 => b.ins().ushr_imm_u(v, i64::from(8 * d)),
                d => b.ins().ishl_imm_u(v, i64::from(-8 * d)),
            };
            let v = if bytes == u64::MAX {
                v
            } else {
                b.ins().band_imm_u(v, bytes as i64)
            };
            word = Some(match word {
                Some(w) => b.ins().bor(w, v),
                None => v,
            });
        }
        if let Some(word) = word {
            *out = word;
        }
    }
    Ok(join(b, result))
}

/// `i8x16.swizzle`: result byte `i` is byte `indices[i]` of `x`, or 0 if that index is 16
/// or more. Each byte is picked out of the registers holding `x` by shifting, so no index,
/// however large, reaches memory.
fn swizzle(b: Builder, x: Value, indices: Value) -> Value {
    let [lo, hi] = words(b, x);
    let zero = b.ins().iconst(types::I8, 0);
    let picked: Vec<Value> = lanes(b, indices, I8x16)
        .into_iter()
        .map(|index| {
            let index = b.ins().uextend(types::I64, index);
            let in_range = b.ins().icmp_imm_u(IntCC::UnsignedLessThan, index, 16);
            let upper = b.ins().band_imm_u(index, 8);
            let word = b.ins().select(upper, hi, lo);
            let byte = b.ins().band_imm_u(index, 7);
            let shift = b.ins().ishl_imm_u(byte, 3);
            let value = b.ins().ushr(word, shift);
            let value = b.ins().ireduce(types::I8, value);
            b.ins().select(in_range, value, zero)
        })
        .collect();
    from_lanes(b, &picked)
}

/// `bits`-wide lane-wise `x + y` in a word: the sums without each lane's top bit cannot
/// carry into the next lane, and the top bits are their sum modulo 2, xored back in.
fn lane_add(b: Builder, bits: u32, x: Value, y: Value) -> Value {
    let highs = repeat(bits, 1 << (bits - 1)) as i64;
    let xl = b.ins().band_imm_u(x, !highs);
    let yl = b.ins().band_imm_u(y, !highs);
    let low_sum = b.ins().iadd(xl, yl);
    let tops = b.ins().bxor(x, y);
    let tops = b.ins().band_imm_u(tops, highs);
    b.ins().bxor(low_sum, tops)
}

/// `bits`-wide lane-wise `x - y` in a word: with each lane's top bit of `x` set and of `y`
/// clear, no lane borrows from the next; the top bits are then fixed up as in [`lane_add`].
fn lane_sub(b: Builder, bits: u32, x: Value, y: Value) -> Value {
    let highs = repeat(bits, 1 << (bits - 1)) as i64;
    let xh = b.ins().bor_imm_u(x, highs);
    let yl = b.ins().band_imm_u(y, !highs);
    let diff = b.ins().isub(xh, yl);
    let tops = b.ins().bxor(x, y);
    let tops = b.ins().bnot(tops);
    let tops = b.ins().band_imm_u(tops, highs);
    b.ins().bxor(diff, tops)
}

/// The number of set bits of each byte of a word, by the usual halving steps (pairs, then
/// nibbles, then bytes), none of which carries across a byte.
fn byte_popcnt(b: Builder, x: Value) -> Value {
    let pairs = {
        let shifted = b.ins().ushr_imm_u(x, 1);
        let odd = b.ins().band_imm_u(shifted, 0x5555_5555_5555_5555);
        b.ins().isub(x, odd)
    };
    let nibbles = {
        let low = b.ins().band_imm_u(pairs, 0x3333_3333_3333_3333);
        let shifted = b.ins().ushr_imm_u(pairs, 2);
        let high = b.ins().band_imm_u(shifted, 0x3333_3333_3333_3333);
        b.ins().iadd(low, high)
    };
    let shifted = b.ins().ushr_imm_u(nibbles, 4);
    let sum = b.ins().iadd(nibbles, shifted);
    b.ins().band_imm_u(sum, 0x0f0f_0f0f_0f0f_0f0f)
}

#[derive(Clone, Copy)]
enum Shift {
    Left,
    RightSigned,
    RightUnsigned,
}

/// A shift of every lane by the i32 on top of the stack, modulo the lane width (as wasm
/// says, and as Cranelift's scalar shifts also do: the mask is spelled out so that no
/// backend detail matters).
fn shift(t: &mut FuncTranslator, shape: Shape, kind: Shift) -> Result<()> {
    let count = t.pop()?;
    let count = t
        .builder
        .ins()
        .band_imm_u(count, i64::from(lane_bits(shape) - 1));
    Scalar::unary(t, shape, |b, x| match kind {
        Shift::Left => b.ins().ishl(x, count),
        Shift::RightSigned => b.ins().sshr(x, count),
        Shift::RightUnsigned => b.ins().ushr(x, count),
    })
}

fn extend_to(b: Builder, ty: Type, x: Value, signed: bool) -> Value {
    if signed {
        b.ins().sextend(ty, x)
    } else {
        b.ins().uextend(ty, x)
    }
}

/// The integer type twice as wide as a lane of `shape`.
fn wide_int(shape: Shape) -> Type {
    Type::int(2 * lane_bits(shape) as u16).unwrap_or(types::I64)
}

/// Saturating i8/i16 arithmetic: `op` on the lanes widened to i32, clamped to the lane's
/// signed or unsigned range.
fn saturating(
    t: &mut FuncTranslator,
    shape: Shape,
    signed: bool,
    op: impl Fn(Builder, Value, Value) -> Value,
) -> Result<()> {
    let bits = lane_bits(shape);
    let (min, max) = if signed {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    } else {
        (0, (1i64 << bits) - 1)
    };
    Scalar::binary(t, shape, |b, x, y| {
        let x = extend_to(b, types::I32, x, signed);
        let y = extend_to(b, types::I32, y, signed);
        let v = op(b, x, y);
        let v = clamp(b, v, min, max);
        b.ins().ireduce(shape.lane(), v)
    })
}

/// `x` (an i32) limited to `min..=max`.
fn clamp(b: Builder, x: Value, min: i64, max: i64) -> Value {
    let lo = b.ins().iconst(types::I32, min);
    let hi = b.ins().iconst(types::I32, max);
    let x = b.ins().smax(x, lo);
    b.ins().smin(x, hi)
}

/// `avgr_u`: `(x + y + 1) / 2` without overflow, in i32.
fn avgr_u(b: Builder, x: Value, y: Value) -> Value {
    let ty = b.func.dfg.value_type(x);
    let x = b.ins().uextend(types::I32, x);
    let y = b.ins().uextend(types::I32, y);
    let sum = b.ins().iadd(x, y);
    let sum = b.ins().iadd_imm_u(sum, 1);
    let avg = b.ins().ushr_imm_u(sum, 1);
    b.ins().ireduce(ty, avg)
}

/// `q15mulr_sat_s`: `(x * y + 0x4000) >> 15`, saturated (only -1.0 * -1.0 overflows).
fn q15mulr_sat(b: Builder, x: Value, y: Value) -> Value {
    let x = b.ins().sextend(types::I32, x);
    let y = b.ins().sextend(types::I32, y);
    let product = b.ins().imul(x, y);
    let rounded = b.ins().iadd_imm_u(product, 0x4000);
    let v = b.ins().sshr_imm_u(rounded, 15);
    let v = clamp(b, v, -0x8000, 0x7fff);
    b.ins().ireduce(types::I16, v)
}

/// `narrow`: the lanes of both operands (of shape `from`, read as signed), saturated to
/// signed or unsigned lanes half as wide.
fn narrow(t: &mut FuncTranslator, from: Shape, signed: bool) -> Result<()> {
    let (x, y) = t.pop2()?;
    let b = &mut t.builder;
    let bits = lane_bits(from) / 2;
    let narrow_ty = Type::int(bits as u16).unwrap_or(types::I8);
    let (min, max) = if signed {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    } else {
        (0, (1i64 << bits) - 1)
    };
    let mut all = lanes(b, x, from);
    all.extend(lanes(b, y, from));
    let narrowed: Vec<Value> = all
        .into_iter()
        .map(|lane| {
            let wide = if from == I32x4 {
                lane
            } else {
                b.ins().sextend(types::I32, lane)
            };
            let v = clamp(b, wide, min, max);
            b.ins().ireduce(narrow_ty, v)
        })
        .collect();
    let v = from_lanes(b, &narrowed);
    t.push(v);
    Ok(())
}

/// The lanes of one half of `x`, of shape `shape`.
fn half_lanes(b: Builder, x: Value, shape: Shape, half: Half) -> Vec<Value> {
    let mut all = lanes(b, x, shape);
    let n = all.len() / 2;
    match half {
        Half::Low => all.truncate(n),
        Half::High => {
            all.drain(..n);
        }
    }
    all
}

/// `extend_{low,high}`: the lanes of one half of a `from` vector, widened.
fn extend(t: &mut FuncTranslator, from: Shape, half: Half, signed: bool) -> Result<()> {
    let x = t.pop()?;
    let b = &mut t.builder;
    let ty = wide_int(from);
    let wide: Vec<Value> = half_lanes(b, x, from, half)
        .into_iter()
        .map(|lane| extend_to(b, ty, lane, signed))
        .collect();
    let v = from_lanes(b, &wide);
    t.push(v);
    Ok(())
}

/// The sums of the signed products of adjacent lanes of shape `from`, in lanes twice as wide
/// (wrapping): `i32x4.dot_i16x8_s` and the deterministic `relaxed_dot_i8x16_i7x16_s`.
fn dot_pairs(b: Builder, from: Shape, x: Value, y: Value) -> Vec<Value> {
    let ty = wide_int(from);
    let xs = lanes(b, x, from);
    let ys = lanes(b, y, from);
    let products: Vec<Value> = xs
        .into_iter()
        .zip(ys)
        .map(|(x, y)| {
            let x = b.ins().sextend(ty, x);
            let y = b.ins().sextend(ty, y);
            b.ins().imul(x, y)
        })
        .collect();
    products
        .chunks(2)
        .map(|pair| b.ins().iadd(pair[0], pair[1]))
        .collect()
}

fn pseudo_min_max(b: Builder, x: Value, y: Value, min: bool) -> Value {
    let (lhs, rhs) = if min { (y, x) } else { (x, y) };
    let pick_y = b.ins().fcmp(FloatCC::LessThan, lhs, rhs);
    b.ins().select(pick_y, y, x)
}

/// An f64x2 → 32-bit-lane conversion: `f` on the two lanes, zeros in lanes 2 and 3.
fn low_lanes(
    t: &mut FuncTranslator,
    from: Shape,
    mut f: impl FnMut(Builder, Value) -> Value,
) -> Result<()> {
    let x = t.pop()?;
    let b = &mut t.builder;
    let mut results: Vec<Value> = lanes(b, x, from).into_iter().map(|x| f(b, x)).collect();
    let zero = b.ins().iconst(types::I32, 0);
    results.extend([zero, zero]);
    let v = from_lanes(b, &results);
    t.push(v);
    Ok(())
}

/// A 32-bit-lane → 64-bit-lane conversion of lanes 0 and 1.
fn widen_low(
    t: &mut FuncTranslator,
    from: Shape,
    mut f: impl FnMut(Builder, Value) -> Value,
) -> Result<()> {
    let x = t.pop()?;
    let b = &mut t.builder;
    let results: Vec<Value> = half_lanes(b, x, from, Half::Low)
        .into_iter()
        .map(|x| f(b, x))
        .collect();
    let v = from_lanes(b, &results);
    t.push(v);
    Ok(())
}

// ---- memory --------------------------------------------------------------------------------

/// `v128.store` as two 8-byte stores, the high half first: if the access runs past the end
/// of memory (guard-page mode), the high half faults before anything is written, as wasm
/// requires of a trapping store.
fn store(t: &mut FuncTranslator, memarg: &MemArg) -> Result<()> {
    let value = t.pop()?;
    let (addr, offset) = address(t, memarg, 16)?;
    let b = &mut t.builder;
    let [lo, hi] = words(b, value);
    let (addr, offset) = match offset.checked_add(8) {
        Some(_) => (addr, offset),
        None => (b.ins().iadd_imm_u(addr, i64::from(offset)), 0),
    };
    b.ins().store(heap_flags(), hi, addr, offset + 8);
    b.ins().store(heap_flags(), lo, addr, offset);
    Ok(())
}

/// `v128.load{8x8,16x4,32x2}_{s,u}`: eight bytes, each lane widened.
fn extending_load(
    t: &mut FuncTranslator,
    memarg: &MemArg,
    from: Shape,
    signed: bool,
) -> Result<()> {
    let (addr, offset) = address(t, memarg, 8)?;
    let b = &mut t.builder;
    let word = b.ins().load(types::I64, heap_flags(), addr, offset);
    let ty = wide_int(from);
    let wide: Vec<Value> = word_lanes(b, word, lane_bits(from))
        .into_iter()
        .map(|lane| extend_to(b, ty, lane, signed))
        .collect();
    let v = from_lanes(b, &wide);
    t.push(v);
    Ok(())
}

fn lane_bytes(shape: Shape) -> u64 {
    u64::from(shape.lane().bytes())
}

/// One lane's worth of memory, as an integer of the lane's width.
fn load_int_lane(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape) -> Result<Value> {
    let (addr, offset) = address(t, memarg, lane_bytes(shape))?;
    Ok(t.builder
        .ins()
        .load(lane_int(shape), heap_flags(), addr, offset))
}

/// The operators whose decoding the lowerings share (see [`super::Lanes`]).
impl Lanes for Scalar {
    fn load_splat(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape) -> Result<()> {
        let lane = load_int_lane(t, memarg, shape)?;
        let b = &mut t.builder;
        let word = splat_word(b, lane);
        let v = join(b, [word, word]);
        t.push(v);
        Ok(())
    }

    fn load_zero(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape) -> Result<()> {
        let lane = load_int_lane(t, memarg, shape)?;
        let v = t.builder.ins().uextend(types::I128, lane);
        t.push(v);
        Ok(())
    }

    fn load_lane(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape, index: u8) -> Result<()> {
        let x = t.pop()?;
        let value = load_int_lane(t, memarg, shape)?;
        let v = insert_lane(&mut t.builder, x, shape, index, value)?;
        t.push(v);
        Ok(())
    }

    fn store_lane(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape, index: u8) -> Result<()> {
        let x = t.pop()?;
        let (addr, offset) = address(t, memarg, lane_bytes(shape))?;
        let b = &mut t.builder;
        let value = lane(b, x, shape.as_int(), index)?;
        b.ins().store(heap_flags(), value, addr, offset);
        Ok(())
    }

    fn splat(t: &mut FuncTranslator, shape: Shape) -> Result<()> {
        let x = t.pop()?;
        let b = &mut t.builder;
        let lane = lane_operand(b, shape, x);
        let word = splat_word(b, lane);
        let v = join(b, [word, word]);
        t.push(v);
        Ok(())
    }

    /// `signed`: `Some` for the i8/i16 lanes that wasm widens to i32.
    fn extract_lane(
        t: &mut FuncTranslator,
        shape: Shape,
        index: u8,
        signed: Option<bool>,
    ) -> Result<()> {
        let x = t.pop()?;
        let b = &mut t.builder;
        let mut v = lane(b, x, shape, index)?;
        match signed {
            Some(true) => v = b.ins().sextend(types::I32, v),
            Some(false) => v = b.ins().uextend(types::I32, v),
            None => {}
        }
        t.push(v);
        Ok(())
    }

    fn replace_lane(t: &mut FuncTranslator, shape: Shape, index: u8) -> Result<()> {
        let value = t.pop()?;
        let x = t.pop()?;
        let b = &mut t.builder;
        let value = lane_operand(b, shape, value);
        let v = insert_lane(b, x, shape, index, value)?;
        t.push(v);
        Ok(())
    }

    fn icmp(t: &mut FuncTranslator, shape: Shape, cc: IntCC) -> Result<()> {
        Scalar::binary(t, shape, |b, x, y| {
            let c = b.ins().icmp(cc, x, y);
            lane_mask(b, shape, c)
        })
    }

    fn fcmp(t: &mut FuncTranslator, shape: Shape, cc: FloatCC) -> Result<()> {
        Scalar::binary(t, shape, |b, x, y| {
            let c = b.ins().fcmp(cc, x, y);
            lane_mask(b, shape, c)
        })
    }

    /// An operation on each lane.
    fn unary(
        t: &mut FuncTranslator,
        shape: Shape,
        mut f: impl FnMut(Builder, Value) -> Value,
    ) -> Result<()> {
        let x = t.pop()?;
        let b = &mut t.builder;
        let results: Vec<Value> = lanes(b, x, shape).into_iter().map(|x| f(b, x)).collect();
        let v = from_lanes(b, &results);
        t.push(v);
        Ok(())
    }

    /// An operation on each pair of corresponding lanes.
    fn binary(
        t: &mut FuncTranslator,
        shape: Shape,
        mut f: impl FnMut(Builder, Value, Value) -> Value,
    ) -> Result<()> {
        let (x, y) = t.pop2()?;
        let b = &mut t.builder;
        let xs = lanes(b, x, shape);
        let ys = lanes(b, y, shape);
        let results: Vec<Value> = xs.into_iter().zip(ys).map(|(x, y)| f(b, x, y)).collect();
        let v = from_lanes(b, &results);
        t.push(v);
        Ok(())
    }

    /// `all_true`: no lane is zero. A `bits`-wide lane `x` of a word is zero exactly when the
    /// lowest such lane makes `(word - 0x..01) & !word & 0x..80` non-zero, so each half needs
    /// three operations whatever the lane count.
    fn all_true(t: &mut FuncTranslator, shape: Shape) -> Result<()> {
        let x = t.pop()?;
        let b = &mut t.builder;
        let bits = lane_bits(shape);
        let zero_lanes = words(b, x).map(|w| {
            if bits == 64 {
                b.ins().icmp_imm_u(IntCC::Equal, w, 0)
            } else {
                let ones = repeat(bits, 1);
                let highs = repeat(bits, 1 << (bits - 1));
                let borrowed = b.ins().iadd_imm_u(w, ones.wrapping_neg() as i64);
                let found = b.ins().band_not(borrowed, w);
                let found = b.ins().band_imm_u(found, highs as i64);
                b.ins().icmp_imm_u(IntCC::NotEqual, found, 0)
            }
        });
        let some_zero = b.ins().bor(zero_lanes[0], zero_lanes[1]);
        let all = b.ins().bxor_imm_u(some_zero, 1);
        let v = b.ins().uextend(types::I32, all);
        t.push(v);
        Ok(())
    }

    /// `bitmask`: the lanes' top bits, lane 0 in bit 0. For bytes, one multiplication gathers the
    /// eight top bits of a half into its top byte (each lands on a distinct bit, so nothing
    /// carries); wider lanes are gathered one by one.
    fn bitmask(t: &mut FuncTranslator, shape: Shape) -> Result<()> {
        let x = t.pop()?;
        let b = &mut t.builder;
        let bits = lane_bits(shape);
        let per_word = 64 / bits;
        let parts = words(b, x).map(|w| {
            if bits == 8 {
                let tops = b.ins().band_imm_u(w, 0x8080_8080_8080_8080u64 as i64);
                let gathered = b.ins().imul_imm_u(tops, 0x0002_0408_1020_4081);
                b.ins().ushr_imm_u(gathered, 56)
            } else {
                let mut mask: Option<Value> = None;
                for i in 0..per_word {
                    let top = i * bits + bits - 1;
                    let bit = b.ins().ushr_imm_u(w, i64::from(top - i));
                    let bit = b.ins().band_imm_u(bit, 1 << i);
                    mask = Some(match mask {
                        Some(m) => b.ins().bor(m, bit),
                        None => bit,
                    });
                }
                mask.unwrap_or(w)
            }
        });
        let hi = b.ins().ishl_imm_u(parts[1], i64::from(per_word));
        let mask = b.ins().bor(parts[0], hi);
        let v = b.ins().ireduce(types::I32, mask);
        t.push(v);
        Ok(())
    }

    /// Each pair of adjacent lanes of shape `from`, widened and added.
    fn ext_add_pairwise(t: &mut FuncTranslator, from: Shape, signed: bool) -> Result<()> {
        let x = t.pop()?;
        let b = &mut t.builder;
        let ty = wide_int(from);
        let all = lanes(b, x, from);
        let sums: Vec<Value> = all
            .chunks(2)
            .map(|pair| {
                let a = extend_to(b, ty, pair[0], signed);
                let c = extend_to(b, ty, pair[1], signed);
                b.ins().iadd(a, c)
            })
            .collect();
        let v = from_lanes(b, &sums);
        t.push(v);
        Ok(())
    }

    /// The products of the widened low (or high) halves of two vectors of shape `from`.
    fn ext_mul(t: &mut FuncTranslator, from: Shape, half: Half, signed: bool) -> Result<()> {
        let (x, y) = t.pop2()?;
        let b = &mut t.builder;
        let ty = wide_int(from);
        let xs = half_lanes(b, x, from, half);
        let ys = half_lanes(b, y, from, half);
        let products: Vec<Value> = xs
            .into_iter()
            .zip(ys)
            .map(|(x, y)| {
                let x = extend_to(b, ty, x, signed);
                let y = extend_to(b, ty, y, signed);
                b.ins().imul(x, y)
            })
            .collect();
        let v = from_lanes(b, &products);
        t.push(v);
        Ok(())
    }

    /// `relaxed_madd(a, b, c) = a * b + c`; `relaxed_nmadd = -(a * b) + c`.
    fn madd(t: &mut FuncTranslator, shape: Shape, negate: bool) -> Result<()> {
        let c = t.pop()?;
        let (x, y) = t.pop2()?;
        let fused = t.isa.has_native_fma();
        let b = &mut t.builder;
        let xs = lanes(b, x, shape);
        let ys = lanes(b, y, shape);
        let cs = lanes(b, c, shape);
        let results: Vec<Value> = (0..xs.len())
            .map(|i| {
                let x = if negate { b.ins().fneg(xs[i]) } else { xs[i] };
                if fused {
                    b.ins().fma(x, ys[i], cs[i])
                } else {
                    let product = b.ins().fmul(x, ys[i]);
                    b.ins().fadd(product, cs[i])
                }
            })
            .collect();
        let v = from_lanes(b, &results);
        t.push(v);
        Ok(())
    }
}
