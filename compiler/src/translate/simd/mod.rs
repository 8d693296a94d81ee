//! Fixed-width SIMD (`v128`) and relaxed SIMD.
//!
//! Two lowerings share this module's operator decoding helpers:
//!
//! - [`vector`]: a `v128` is a Cranelift `i8x16`, bitcast to the lane shape each operator
//!   works on (x86_64 SSE2 and up, aarch64 NEON, riscv64 with V).
//! - [`scalar`]: a `v128` is an `i128` held in two integer registers, and every lane operation
//!   is spelled out on scalar lanes, for targets whose vector unit Cranelift cannot use
//!   (riscv64 without V: its backend emits vector instructions only with V).
//!
//! [`v128_type`] decides which one a target gets; everything outside this module only sees
//! the type. The relaxed-SIMD choices each lowering makes are documented at its operators.

mod scalar;
mod vector;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, ConstantData, InstBuilder, Type, Value};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::FunctionBuilder;
use target_lexicon::Architecture;
use wasmparser::{MemArg, Operator};

use super::{memory, FuncTranslator};
use crate::error::Result;

/// The Cranelift type of a `v128` on `isa`: `i8x16` where Cranelift emits vector code for
/// the target, `i128` on riscv64 without the vector extension.
pub fn v128_type(isa: &dyn TargetIsa) -> Type {
    let riscv = matches!(isa.triple().architecture, Architecture::Riscv64(_));
    let has_v = isa
        .isa_flags()
        .iter()
        .any(|f| f.name == "has_v" && f.as_bool() == Some(true));
    if riscv && !has_v {
        types::I128
    } else {
        types::I8X16
    }
}

/// A `v128` constant (`bits` little-endian: lane 0 in the low bits) of type `ty`.
pub fn v128_const(b: &mut FunctionBuilder, ty: Type, bits: u128) -> Value {
    if ty == types::I128 {
        let lo = b.ins().iconst(types::I64, bits as u64 as i64);
        let hi = b.ins().iconst(types::I64, (bits >> 64) as u64 as i64);
        b.ins().iconcat(lo, hi)
    } else {
        let handle = b
            .func
            .dfg
            .constants
            .insert(ConstantData::from(bits.to_le_bytes().as_slice()));
        b.ins().vconst(ty, handle)
    }
}

/// Returns false for operators that are not SIMD.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    if t.info.v128_type == types::I128 {
        scalar::translate(t, op)
    } else {
        vector::translate(t, op)
    }
}

/// What each lowering does for the operators whose decoding they share (memory accesses of
/// one lane, splats, lane reads and writes, comparisons); each pops its operands and pushes
/// its result.
pub(crate) trait Lanes {
    fn load_splat(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape) -> Result<()>;
    fn load_zero(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape) -> Result<()>;
    fn load_lane(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape, lane: u8) -> Result<()>;
    fn store_lane(t: &mut FuncTranslator, memarg: &MemArg, shape: Shape, lane: u8) -> Result<()>;
    fn splat(t: &mut FuncTranslator, shape: Shape) -> Result<()>;
    /// `signed`: `Some` for the i8/i16 lanes that wasm widens to i32.
    fn extract_lane(
        t: &mut FuncTranslator,
        shape: Shape,
        lane: u8,
        signed: Option<bool>,
    ) -> Result<()>;
    fn replace_lane(t: &mut FuncTranslator, shape: Shape, lane: u8) -> Result<()>;
    fn icmp(t: &mut FuncTranslator, shape: Shape, cc: IntCC) -> Result<()>;
    fn fcmp(t: &mut FuncTranslator, shape: Shape, cc: FloatCC) -> Result<()>;
    /// `f`, the Cranelift instruction of the operator, applied to each lane of shape `shape`
    /// (to the whole vector, or lane by lane).
    fn unary(
        t: &mut FuncTranslator,
        shape: Shape,
        f: impl FnMut(Builder, Value) -> Value,
    ) -> Result<()>;
    fn binary(
        t: &mut FuncTranslator,
        shape: Shape,
        f: impl FnMut(Builder, Value, Value) -> Value,
    ) -> Result<()>;
    fn all_true(t: &mut FuncTranslator, shape: Shape) -> Result<()>;
    fn bitmask(t: &mut FuncTranslator, shape: Shape) -> Result<()>;
    /// Each pair of adjacent lanes of shape `from`, widened and added.
    fn ext_add_pairwise(t: &mut FuncTranslator, from: Shape, signed: bool) -> Result<()>;
    /// The products of the widened low (or high) halves of two vectors of shape `from`.
    fn ext_mul(t: &mut FuncTranslator, from: Shape, half: Half, signed: bool) -> Result<()>;
    /// `relaxed_madd(a, b, c) = a * b + c`; `relaxed_nmadd = -(a * b) + c`.
    fn madd(t: &mut FuncTranslator, shape: Shape, negate: bool) -> Result<()>;
}

pub(crate) type Builder<'b, 'a> = &'b mut FunctionBuilder<'a>;

/// Which half of a vector's lanes a widening operator reads.
#[derive(Clone, Copy)]
pub(crate) enum Half {
    Low,
    High,
}

/// Decodes the operators of [`Lanes`] and has lowering `L` translate them; false for any
/// other operator.
pub(crate) fn translate_shared<L: Lanes>(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    use Operator as O;
    use Shape::*;
    match *op {
        // A whole `v128` is one load or constant of the lowering's type.
        O::V128Load { ref memarg } => {
            let (addr, offset) = memory::address(t, memarg, 16)?;
            let ty = t.info.v128_type;
            let v = t.builder.ins().load(ty, memory::heap_flags(), addr, offset);
            t.push(v);
        }
        O::V128Const { ref value } => {
            let v = v128_const(&mut t.builder, t.info.v128_type, value.i128() as u128);
            t.push(v);
        }
        O::V128Load8Splat { ref memarg } => L::load_splat(t, memarg, I8x16)?,
        O::V128Load16Splat { ref memarg } => L::load_splat(t, memarg, I16x8)?,
        O::V128Load32Splat { ref memarg } => L::load_splat(t, memarg, I32x4)?,
        O::V128Load64Splat { ref memarg } => L::load_splat(t, memarg, I64x2)?,
        O::V128Load32Zero { ref memarg } => L::load_zero(t, memarg, I32x4)?,
        O::V128Load64Zero { ref memarg } => L::load_zero(t, memarg, I64x2)?,
        O::V128Load8Lane { ref memarg, lane } => L::load_lane(t, memarg, I8x16, lane)?,
        O::V128Load16Lane { ref memarg, lane } => L::load_lane(t, memarg, I16x8, lane)?,
        O::V128Load32Lane { ref memarg, lane } => L::load_lane(t, memarg, I32x4, lane)?,
        O::V128Load64Lane { ref memarg, lane } => L::load_lane(t, memarg, I64x2, lane)?,
        O::V128Store8Lane { ref memarg, lane } => L::store_lane(t, memarg, I8x16, lane)?,
        O::V128Store16Lane { ref memarg, lane } => L::store_lane(t, memarg, I16x8, lane)?,
        O::V128Store32Lane { ref memarg, lane } => L::store_lane(t, memarg, I32x4, lane)?,
        O::V128Store64Lane { ref memarg, lane } => L::store_lane(t, memarg, I64x2, lane)?,
        O::I8x16Splat => L::splat(t, I8x16)?,
        O::I16x8Splat => L::splat(t, I16x8)?,
        O::I32x4Splat => L::splat(t, I32x4)?,
        O::I64x2Splat => L::splat(t, I64x2)?,
        O::F32x4Splat => L::splat(t, F32x4)?,
        O::F64x2Splat => L::splat(t, F64x2)?,
        O::I8x16ExtractLaneS { lane } => L::extract_lane(t, I8x16, lane, Some(true))?,
        O::I8x16ExtractLaneU { lane } => L::extract_lane(t, I8x16, lane, Some(false))?,
        O::I16x8ExtractLaneS { lane } => L::extract_lane(t, I16x8, lane, Some(true))?,
        O::I16x8ExtractLaneU { lane } => L::extract_lane(t, I16x8, lane, Some(false))?,
        O::I32x4ExtractLane { lane } => L::extract_lane(t, I32x4, lane, None)?,
        O::I64x2ExtractLane { lane } => L::extract_lane(t, I64x2, lane, None)?,
        O::F32x4ExtractLane { lane } => L::extract_lane(t, F32x4, lane, None)?,
        O::F64x2ExtractLane { lane } => L::extract_lane(t, F64x2, lane, None)?,
        O::I8x16ReplaceLane { lane } => L::replace_lane(t, I8x16, lane)?,
        O::I16x8ReplaceLane { lane } => L::replace_lane(t, I16x8, lane)?,
        O::I32x4ReplaceLane { lane } => L::replace_lane(t, I32x4, lane)?,
        O::I64x2ReplaceLane { lane } => L::replace_lane(t, I64x2, lane)?,
        O::F32x4ReplaceLane { lane } => L::replace_lane(t, F32x4, lane)?,
        O::F64x2ReplaceLane { lane } => L::replace_lane(t, F64x2, lane)?,
        O::I8x16AllTrue => L::all_true(t, I8x16)?,
        O::I16x8AllTrue => L::all_true(t, I16x8)?,
        O::I32x4AllTrue => L::all_true(t, I32x4)?,
        O::I64x2AllTrue => L::all_true(t, I64x2)?,
        O::I8x16Bitmask => L::bitmask(t, I8x16)?,
        O::I16x8Bitmask => L::bitmask(t, I16x8)?,
        O::I32x4Bitmask => L::bitmask(t, I32x4)?,
        O::I64x2Bitmask => L::bitmask(t, I64x2)?,
        O::I8x16Abs => L::unary(t, I8x16, |b, x| b.ins().iabs(x))?,
        O::I16x8Abs => L::unary(t, I16x8, |b, x| b.ins().iabs(x))?,
        O::I32x4Abs => L::unary(t, I32x4, |b, x| b.ins().iabs(x))?,
        O::I64x2Abs => L::unary(t, I64x2, |b, x| b.ins().iabs(x))?,
        O::I8x16Neg => L::unary(t, I8x16, |b, x| b.ins().ineg(x))?,
        O::I16x8Neg => L::unary(t, I16x8, |b, x| b.ins().ineg(x))?,
        O::I32x4Neg => L::unary(t, I32x4, |b, x| b.ins().ineg(x))?,
        O::I64x2Neg => L::unary(t, I64x2, |b, x| b.ins().ineg(x))?,
        O::I16x8Mul => L::binary(t, I16x8, |b, x, y| b.ins().imul(x, y))?,
        O::I32x4Mul => L::binary(t, I32x4, |b, x, y| b.ins().imul(x, y))?,
        O::I64x2Mul => L::binary(t, I64x2, |b, x, y| b.ins().imul(x, y))?,
        O::I8x16MinS => L::binary(t, I8x16, |b, x, y| b.ins().smin(x, y))?,
        O::I16x8MinS => L::binary(t, I16x8, |b, x, y| b.ins().smin(x, y))?,
        O::I32x4MinS => L::binary(t, I32x4, |b, x, y| b.ins().smin(x, y))?,
        O::I8x16MinU => L::binary(t, I8x16, |b, x, y| b.ins().umin(x, y))?,
        O::I16x8MinU => L::binary(t, I16x8, |b, x, y| b.ins().umin(x, y))?,
        O::I32x4MinU => L::binary(t, I32x4, |b, x, y| b.ins().umin(x, y))?,
        O::I8x16MaxS => L::binary(t, I8x16, |b, x, y| b.ins().smax(x, y))?,
        O::I16x8MaxS => L::binary(t, I16x8, |b, x, y| b.ins().smax(x, y))?,
        O::I32x4MaxS => L::binary(t, I32x4, |b, x, y| b.ins().smax(x, y))?,
        O::I8x16MaxU => L::binary(t, I8x16, |b, x, y| b.ins().umax(x, y))?,
        O::I16x8MaxU => L::binary(t, I16x8, |b, x, y| b.ins().umax(x, y))?,
        O::I32x4MaxU => L::binary(t, I32x4, |b, x, y| b.ins().umax(x, y))?,
        O::I16x8ExtAddPairwiseI8x16S => L::ext_add_pairwise(t, I8x16, true)?,
        O::I16x8ExtAddPairwiseI8x16U => L::ext_add_pairwise(t, I8x16, false)?,
        O::I32x4ExtAddPairwiseI16x8S => L::ext_add_pairwise(t, I16x8, true)?,
        O::I32x4ExtAddPairwiseI16x8U => L::ext_add_pairwise(t, I16x8, false)?,
        O::I16x8ExtMulLowI8x16S => L::ext_mul(t, I8x16, Half::Low, true)?,
        O::I16x8ExtMulHighI8x16S => L::ext_mul(t, I8x16, Half::High, true)?,
        O::I16x8ExtMulLowI8x16U => L::ext_mul(t, I8x16, Half::Low, false)?,
        O::I16x8ExtMulHighI8x16U => L::ext_mul(t, I8x16, Half::High, false)?,
        O::I32x4ExtMulLowI16x8S => L::ext_mul(t, I16x8, Half::Low, true)?,
        O::I32x4ExtMulHighI16x8S => L::ext_mul(t, I16x8, Half::High, true)?,
        O::I32x4ExtMulLowI16x8U => L::ext_mul(t, I16x8, Half::Low, false)?,
        O::I32x4ExtMulHighI16x8U => L::ext_mul(t, I16x8, Half::High, false)?,
        O::I64x2ExtMulLowI32x4S => L::ext_mul(t, I32x4, Half::Low, true)?,
        O::I64x2ExtMulHighI32x4S => L::ext_mul(t, I32x4, Half::High, true)?,
        O::I64x2ExtMulLowI32x4U => L::ext_mul(t, I32x4, Half::Low, false)?,
        O::I64x2ExtMulHighI32x4U => L::ext_mul(t, I32x4, Half::High, false)?,
        O::F32x4Sqrt => L::unary(t, F32x4, |b, x| b.ins().sqrt(x))?,
        O::F64x2Sqrt => L::unary(t, F64x2, |b, x| b.ins().sqrt(x))?,
        O::F32x4Ceil => L::unary(t, F32x4, |b, x| b.ins().ceil(x))?,
        O::F64x2Ceil => L::unary(t, F64x2, |b, x| b.ins().ceil(x))?,
        O::F32x4Floor => L::unary(t, F32x4, |b, x| b.ins().floor(x))?,
        O::F64x2Floor => L::unary(t, F64x2, |b, x| b.ins().floor(x))?,
        O::F32x4Trunc => L::unary(t, F32x4, |b, x| b.ins().trunc(x))?,
        O::F64x2Trunc => L::unary(t, F64x2, |b, x| b.ins().trunc(x))?,
        O::F32x4Nearest => L::unary(t, F32x4, |b, x| b.ins().nearest(x))?,
        O::F64x2Nearest => L::unary(t, F64x2, |b, x| b.ins().nearest(x))?,
        O::F32x4Add => L::binary(t, F32x4, |b, x, y| b.ins().fadd(x, y))?,
        O::F64x2Add => L::binary(t, F64x2, |b, x, y| b.ins().fadd(x, y))?,
        O::F32x4Sub => L::binary(t, F32x4, |b, x, y| b.ins().fsub(x, y))?,
        O::F64x2Sub => L::binary(t, F64x2, |b, x, y| b.ins().fsub(x, y))?,
        O::F32x4Mul => L::binary(t, F32x4, |b, x, y| b.ins().fmul(x, y))?,
        O::F64x2Mul => L::binary(t, F64x2, |b, x, y| b.ins().fmul(x, y))?,
        O::F32x4Div => L::binary(t, F32x4, |b, x, y| b.ins().fdiv(x, y))?,
        O::F64x2Div => L::binary(t, F64x2, |b, x, y| b.ins().fdiv(x, y))?,
        O::F32x4Min | O::F32x4RelaxedMin => L::binary(t, F32x4, |b, x, y| b.ins().fmin(x, y))?,
        O::F64x2Min | O::F64x2RelaxedMin => L::binary(t, F64x2, |b, x, y| b.ins().fmin(x, y))?,
        O::F32x4Max | O::F32x4RelaxedMax => L::binary(t, F32x4, |b, x, y| b.ins().fmax(x, y))?,
        O::F64x2Max | O::F64x2RelaxedMax => L::binary(t, F64x2, |b, x, y| b.ins().fmax(x, y))?,
        O::F32x4RelaxedMadd => L::madd(t, F32x4, false)?,
        O::F64x2RelaxedMadd => L::madd(t, F64x2, false)?,
        O::F32x4RelaxedNmadd => L::madd(t, F32x4, true)?,
        O::F64x2RelaxedNmadd => L::madd(t, F64x2, true)?,
        _ => match compare(op) {
            Some((shape, Compare::Int(cc))) => L::icmp(t, shape, cc)?,
            Some((shape, Compare::Float(cc))) => L::fcmp(t, shape, cc)?,
            None => return Ok(false),
        },
    }
    Ok(true)
}

enum Compare {
    Int(IntCC),
    Float(FloatCC),
}

/// The shape and condition of a lane-wise comparison.
fn compare(op: &Operator) -> Option<(Shape, Compare)> {
    use Compare::{Float, Int};
    use IntCC::*;
    use Operator as O;
    use Shape::*;
    Some(match op {
        O::I8x16Eq => (I8x16, Int(Equal)),
        O::I8x16Ne => (I8x16, Int(NotEqual)),
        O::I8x16LtS => (I8x16, Int(SignedLessThan)),
        O::I8x16LtU => (I8x16, Int(UnsignedLessThan)),
        O::I8x16GtS => (I8x16, Int(SignedGreaterThan)),
        O::I8x16GtU => (I8x16, Int(UnsignedGreaterThan)),
        O::I8x16LeS => (I8x16, Int(SignedLessThanOrEqual)),
        O::I8x16LeU => (I8x16, Int(UnsignedLessThanOrEqual)),
        O::I8x16GeS => (I8x16, Int(SignedGreaterThanOrEqual)),
        O::I8x16GeU => (I8x16, Int(UnsignedGreaterThanOrEqual)),
        O::I16x8Eq => (I16x8, Int(Equal)),
        O::I16x8Ne => (I16x8, Int(NotEqual)),
        O::I16x8LtS => (I16x8, Int(SignedLessThan)),
        O::I16x8LtU => (I16x8, Int(UnsignedLessThan)),
        O::I16x8GtS => (I16x8, Int(SignedGreaterThan)),
        O::I16x8GtU => (I16x8, Int(UnsignedGreaterThan)),
        O::I16x8LeS => (I16x8, Int(SignedLessThanOrEqual)),
        O::I16x8LeU => (I16x8, Int(UnsignedLessThanOrEqual)),
        O::I16x8GeS => (I16x8, Int(SignedGreaterThanOrEqual)),
        O::I16x8GeU => (I16x8, Int(UnsignedGreaterThanOrEqual)),
        O::I32x4Eq => (I32x4, Int(Equal)),
        O::I32x4Ne => (I32x4, Int(NotEqual)),
        O::I32x4LtS => (I32x4, Int(SignedLessThan)),
        O::I32x4LtU => (I32x4, Int(UnsignedLessThan)),
        O::I32x4GtS => (I32x4, Int(SignedGreaterThan)),
        O::I32x4GtU => (I32x4, Int(UnsignedGreaterThan)),
        O::I32x4LeS => (I32x4, Int(SignedLessThanOrEqual)),
        O::I32x4LeU => (I32x4, Int(UnsignedLessThanOrEqual)),
        O::I32x4GeS => (I32x4, Int(SignedGreaterThanOrEqual)),
        O::I32x4GeU => (I32x4, Int(UnsignedGreaterThanOrEqual)),
        O::I64x2Eq => (I64x2, Int(Equal)),
        O::I64x2Ne => (I64x2, Int(NotEqual)),
        O::I64x2LtS => (I64x2, Int(SignedLessThan)),
        O::I64x2GtS => (I64x2, Int(SignedGreaterThan)),
        O::I64x2LeS => (I64x2, Int(SignedLessThanOrEqual)),
        O::I64x2GeS => (I64x2, Int(SignedGreaterThanOrEqual)),
        O::F32x4Eq => (F32x4, Float(FloatCC::Equal)),
        O::F32x4Ne => (F32x4, Float(FloatCC::NotEqual)),
        O::F32x4Lt => (F32x4, Float(FloatCC::LessThan)),
        O::F32x4Gt => (F32x4, Float(FloatCC::GreaterThan)),
        O::F32x4Le => (F32x4, Float(FloatCC::LessThanOrEqual)),
        O::F32x4Ge => (F32x4, Float(FloatCC::GreaterThanOrEqual)),
        O::F64x2Eq => (F64x2, Float(FloatCC::Equal)),
        O::F64x2Ne => (F64x2, Float(FloatCC::NotEqual)),
        O::F64x2Lt => (F64x2, Float(FloatCC::LessThan)),
        O::F64x2Gt => (F64x2, Float(FloatCC::GreaterThan)),
        O::F64x2Le => (F64x2, Float(FloatCC::LessThanOrEqual)),
        O::F64x2Ge => (F64x2, Float(FloatCC::GreaterThanOrEqual)),
        _ => return None,
    })
}

/// The lane shape an operator works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    I8x16,
    I16x8,
    I32x4,
    I64x2,
    F32x4,
    F64x2,
}

impl Shape {
    /// The Cranelift vector type of the shape.
    pub(crate) fn vector(self) -> Type {
        match self {
            Shape::I8x16 => types::I8X16,
            Shape::I16x8 => types::I16X8,
            Shape::I32x4 => types::I32X4,
            Shape::I64x2 => types::I64X2,
            Shape::F32x4 => types::F32X4,
            Shape::F64x2 => types::F64X2,
        }
    }

    /// The Cranelift type of one lane.
    pub(crate) fn lane(self) -> Type {
        self.vector().lane_type()
    }

    pub(crate) fn lanes(self) -> u32 {
        self.vector().lane_count()
    }

    /// The integer shape with lanes of the same width (comparison results, bit patterns).
    pub(crate) fn as_int(self) -> Shape {
        match self {
            Shape::F32x4 => Shape::I32x4,
            Shape::F64x2 => Shape::I64x2,
            other => other,
        }
    }
}
