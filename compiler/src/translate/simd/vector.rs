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

use super::Shape::{self, F32x4, F64x2, I16x8, I32x4, I64x2, I8x16};
use crate::error::Result;
use crate::translate::memory::{address, heap_flags};
use crate::translate::FuncTranslator;

/// Returns false for operators that are not SIMD.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    use Operator as O;
    match *op {
        // ---- memory ----------------------------------------------------------------------
        O::V128Load { ref memarg } => {
            let (addr, offset) = address(t, memarg, 16)?;
            let v = t
                .builder
                .ins()
                .load(types::I8X16, heap_flags(), addr, offset);
            t.push(v);
        }
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
        O::V128Load8Splat { ref memarg } => load_splat(t, memarg, I8x16)?,
        O::V128Load16Splat { ref memarg } => load_splat(t, memarg, I16x8)?,
        O::V128Load32Splat { ref memarg } => load_splat(t, memarg, I32x4)?,
        O::V128Load64Splat { ref memarg } => load_splat(t, memarg, I64x2)?,
        O::V128Load32Zero { ref memarg } => load_zero(t, memarg, I32x4)?,
        O::V128Load64Zero { ref memarg } => load_zero(t, memarg, I64x2)?,
        O::V128Load8Lane { ref memarg, lane } => load_lane(t, memarg, I8x16, lane)?,
        O::V128Load16Lane { ref memarg, lane } => load_lane(t, memarg, I16x8, lane)?,
        O::V128Load32Lane { ref memarg, lane } => load_lane(t, memarg, I32x4, lane)?,
        O::V128Load64Lane { ref memarg, lane } => load_lane(t, memarg, I64x2, lane)?,
        O::V128Store8Lane { ref memarg, lane } => store_lane(t, memarg, I8x16, lane)?,
        O::V128Store16Lane { ref memarg, lane } => store_lane(t, memarg, I16x8, lane)?,
        O::V128Store32Lane { ref memarg, lane } => store_lane(t, memarg, I32x4, lane)?,
        O::V128Store64Lane { ref memarg, lane } => store_lane(t, memarg, I64x2, lane)?,

        // ---- constants, lanes, shuffles --------------------------------------------------
        O::V128Const { ref value } => {
            let v = super::v128_const(&mut t.builder, types::I8X16, value.i128() as u128);
            t.push(v);
        }
        O::I8x16Shuffle { lanes } => {
            let (a, b) = t.pop2()?;
            let mask = t.builder.func.dfg.immediates.push(lanes.as_slice().into());
            let v = t.builder.ins().shuffle(a, b, mask);
            t.push(v);
        }
        O::I8x16Swizzle => binary(t, I8x16, |b, x, y| b.ins().swizzle(x, y))?,
        O::I8x16RelaxedSwizzle => {
            if x86_has(t, "has_ssse3") {
                binary(t, I8x16, |b, x, y| b.ins().x86_pshufb(x, y))?
            } else {
                binary(t, I8x16, |b, x, y| b.ins().swizzle(x, y))?
            }
        }
        O::I8x16Splat => splat(t, I8x16)?,
        O::I16x8Splat => splat(t, I16x8)?,
        O::I32x4Splat => splat(t, I32x4)?,
        O::I64x2Splat => splat(t, I64x2)?,
        O::F32x4Splat => splat(t, F32x4)?,
        O::F64x2Splat => splat(t, F64x2)?,
        O::I8x16ExtractLaneS { lane } => extract_lane(t, I8x16, lane, Some(true))?,
        O::I8x16ExtractLaneU { lane } => extract_lane(t, I8x16, lane, Some(false))?,
        O::I16x8ExtractLaneS { lane } => extract_lane(t, I16x8, lane, Some(true))?,
        O::I16x8ExtractLaneU { lane } => extract_lane(t, I16x8, lane, Some(false))?,
        O::I32x4ExtractLane { lane } => extract_lane(t, I32x4, lane, None)?,
        O::I64x2ExtractLane { lane } => extract_lane(t, I64x2, lane, None)?,
        O::F32x4ExtractLane { lane } => extract_lane(t, F32x4, lane, None)?,
        O::F64x2ExtractLane { lane } => extract_lane(t, F64x2, lane, None)?,
        O::I8x16ReplaceLane { lane } => replace_lane(t, I8x16, lane)?,
        O::I16x8ReplaceLane { lane } => replace_lane(t, I16x8, lane)?,
        O::I32x4ReplaceLane { lane } => replace_lane(t, I32x4, lane)?,
        O::I64x2ReplaceLane { lane } => replace_lane(t, I64x2, lane)?,
        O::F32x4ReplaceLane { lane } => replace_lane(t, F32x4, lane)?,
        O::F64x2ReplaceLane { lane } => replace_lane(t, F64x2, lane)?,

        // ---- comparisons -----------------------------------------------------------------
        O::I8x16Eq => icmp(t, I8x16, IntCC::Equal)?,
        O::I8x16Ne => icmp(t, I8x16, IntCC::NotEqual)?,
        O::I8x16LtS => icmp(t, I8x16, IntCC::SignedLessThan)?,
        O::I8x16LtU => icmp(t, I8x16, IntCC::UnsignedLessThan)?,
        O::I8x16GtS => icmp(t, I8x16, IntCC::SignedGreaterThan)?,
        O::I8x16GtU => icmp(t, I8x16, IntCC::UnsignedGreaterThan)?,
        O::I8x16LeS => icmp(t, I8x16, IntCC::SignedLessThanOrEqual)?,
        O::I8x16LeU => icmp(t, I8x16, IntCC::UnsignedLessThanOrEqual)?,
        O::I8x16GeS => icmp(t, I8x16, IntCC::SignedGreaterThanOrEqual)?,
        O::I8x16GeU => icmp(t, I8x16, IntCC::UnsignedGreaterThanOrEqual)?,
        O::I16x8Eq => icmp(t, I16x8, IntCC::Equal)?,
        O::I16x8Ne => icmp(t, I16x8, IntCC::NotEqual)?,
        O::I16x8LtS => icmp(t, I16x8, IntCC::SignedLessThan)?,
        O::I16x8LtU => icmp(t, I16x8, IntCC::UnsignedLessThan)?,
        O::I16x8GtS => icmp(t, I16x8, IntCC::SignedGreaterThan)?,
        O::I16x8GtU => icmp(t, I16x8, IntCC::UnsignedGreaterThan)?,
        O::I16x8LeS => icmp(t, I16x8, IntCC::SignedLessThanOrEqual)?,
        O::I16x8LeU => icmp(t, I16x8, IntCC::UnsignedLessThanOrEqual)?,
        O::I16x8GeS => icmp(t, I16x8, IntCC::SignedGreaterThanOrEqual)?,
        O::I16x8GeU => icmp(t, I16x8, IntCC::UnsignedGreaterThanOrEqual)?,
        O::I32x4Eq => icmp(t, I32x4, IntCC::Equal)?,
        O::I32x4Ne => icmp(t, I32x4, IntCC::NotEqual)?,
        O::I32x4LtS => icmp(t, I32x4, IntCC::SignedLessThan)?,
        O::I32x4LtU => icmp(t, I32x4, IntCC::UnsignedLessThan)?,
        O::I32x4GtS => icmp(t, I32x4, IntCC::SignedGreaterThan)?,
        O::I32x4GtU => icmp(t, I32x4, IntCC::UnsignedGreaterThan)?,
        O::I32x4LeS => icmp(t, I32x4, IntCC::SignedLessThanOrEqual)?,
        O::I32x4LeU => icmp(t, I32x4, IntCC::UnsignedLessThanOrEqual)?,
        O::I32x4GeS => icmp(t, I32x4, IntCC::SignedGreaterThanOrEqual)?,
        O::I32x4GeU => icmp(t, I32x4, IntCC::UnsignedGreaterThanOrEqual)?,
        O::I64x2Eq => icmp(t, I64x2, IntCC::Equal)?,
        O::I64x2Ne => icmp(t, I64x2, IntCC::NotEqual)?,
        O::I64x2LtS => icmp(t, I64x2, IntCC::SignedLessThan)?,
        O::I64x2GtS => icmp(t, I64x2, IntCC::SignedGreaterThan)?,
        O::I64x2LeS => icmp(t, I64x2, IntCC::SignedLessThanOrEqual)?,
        O::I64x2GeS => icmp(t, I64x2, IntCC::SignedGreaterThanOrEqual)?,
        O::F32x4Eq => fcmp(t, F32x4, FloatCC::Equal)?,
        O::F32x4Ne => fcmp(t, F32x4, FloatCC::NotEqual)?,
        O::F32x4Lt => fcmp(t, F32x4, FloatCC::LessThan)?,
        O::F32x4Gt => fcmp(t, F32x4, FloatCC::GreaterThan)?,
        O::F32x4Le => fcmp(t, F32x4, FloatCC::LessThanOrEqual)?,
        O::F32x4Ge => fcmp(t, F32x4, FloatCC::GreaterThanOrEqual)?,
        O::F64x2Eq => fcmp(t, F64x2, FloatCC::Equal)?,
        O::F64x2Ne => fcmp(t, F64x2, FloatCC::NotEqual)?,
        O::F64x2Lt => fcmp(t, F64x2, FloatCC::LessThan)?,
        O::F64x2Gt => fcmp(t, F64x2, FloatCC::GreaterThan)?,
        O::F64x2Le => fcmp(t, F64x2, FloatCC::LessThanOrEqual)?,
        O::F64x2Ge => fcmp(t, F64x2, FloatCC::GreaterThanOrEqual)?,

        // ---- bitwise ---------------------------------------------------------------------
        O::V128Not => unary(t, I8x16, |b, x| b.ins().bnot(x))?,
        O::V128And => binary(t, I8x16, |b, x, y| b.ins().band(x, y))?,
        O::V128AndNot => binary(t, I8x16, |b, x, y| b.ins().band_not(x, y))?,
        O::V128Or => binary(t, I8x16, |b, x, y| b.ins().bor(x, y))?,
        O::V128Xor => binary(t, I8x16, |b, x, y| b.ins().bxor(x, y))?,
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
        O::I8x16AllTrue => all_true(t, I8x16)?,
        O::I16x8AllTrue => all_true(t, I16x8)?,
        O::I32x4AllTrue => all_true(t, I32x4)?,
        O::I64x2AllTrue => all_true(t, I64x2)?,
        O::I8x16Bitmask => bitmask(t, I8x16)?,
        O::I16x8Bitmask => bitmask(t, I16x8)?,
        O::I32x4Bitmask => bitmask(t, I32x4)?,
        O::I64x2Bitmask => bitmask(t, I64x2)?,

        // ---- integer lanes ---------------------------------------------------------------
        O::I8x16Abs => unary(t, I8x16, |b, x| b.ins().iabs(x))?,
        O::I16x8Abs => unary(t, I16x8, |b, x| b.ins().iabs(x))?,
        O::I32x4Abs => unary(t, I32x4, |b, x| b.ins().iabs(x))?,
        O::I64x2Abs => unary(t, I64x2, |b, x| b.ins().iabs(x))?,
        O::I8x16Neg => unary(t, I8x16, |b, x| b.ins().ineg(x))?,
        O::I16x8Neg => unary(t, I16x8, |b, x| b.ins().ineg(x))?,
        O::I32x4Neg => unary(t, I32x4, |b, x| b.ins().ineg(x))?,
        O::I64x2Neg => unary(t, I64x2, |b, x| b.ins().ineg(x))?,
        O::I8x16Popcnt => unary(t, I8x16, |b, x| b.ins().popcnt(x))?,
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
        O::I8x16Add => binary(t, I8x16, |b, x, y| b.ins().iadd(x, y))?,
        O::I16x8Add => binary(t, I16x8, |b, x, y| b.ins().iadd(x, y))?,
        O::I32x4Add => binary(t, I32x4, |b, x, y| b.ins().iadd(x, y))?,
        O::I64x2Add => binary(t, I64x2, |b, x, y| b.ins().iadd(x, y))?,
        O::I8x16Sub => binary(t, I8x16, |b, x, y| b.ins().isub(x, y))?,
        O::I16x8Sub => binary(t, I16x8, |b, x, y| b.ins().isub(x, y))?,
        O::I32x4Sub => binary(t, I32x4, |b, x, y| b.ins().isub(x, y))?,
        O::I64x2Sub => binary(t, I64x2, |b, x, y| b.ins().isub(x, y))?,
        O::I16x8Mul => binary(t, I16x8, |b, x, y| b.ins().imul(x, y))?,
        O::I32x4Mul => binary(t, I32x4, |b, x, y| b.ins().imul(x, y))?,
        O::I64x2Mul => binary(t, I64x2, |b, x, y| b.ins().imul(x, y))?,
        O::I8x16AddSatS => binary(t, I8x16, |b, x, y| b.ins().sadd_sat(x, y))?,
        O::I16x8AddSatS => binary(t, I16x8, |b, x, y| b.ins().sadd_sat(x, y))?,
        O::I8x16AddSatU => binary(t, I8x16, |b, x, y| b.ins().uadd_sat(x, y))?,
        O::I16x8AddSatU => binary(t, I16x8, |b, x, y| b.ins().uadd_sat(x, y))?,
        O::I8x16SubSatS => binary(t, I8x16, |b, x, y| b.ins().ssub_sat(x, y))?,
        O::I16x8SubSatS => binary(t, I16x8, |b, x, y| b.ins().ssub_sat(x, y))?,
        O::I8x16SubSatU => binary(t, I8x16, |b, x, y| b.ins().usub_sat(x, y))?,
        O::I16x8SubSatU => binary(t, I16x8, |b, x, y| b.ins().usub_sat(x, y))?,
        O::I8x16MinS => binary(t, I8x16, |b, x, y| b.ins().smin(x, y))?,
        O::I16x8MinS => binary(t, I16x8, |b, x, y| b.ins().smin(x, y))?,
        O::I32x4MinS => binary(t, I32x4, |b, x, y| b.ins().smin(x, y))?,
        O::I8x16MinU => binary(t, I8x16, |b, x, y| b.ins().umin(x, y))?,
        O::I16x8MinU => binary(t, I16x8, |b, x, y| b.ins().umin(x, y))?,
        O::I32x4MinU => binary(t, I32x4, |b, x, y| b.ins().umin(x, y))?,
        O::I8x16MaxS => binary(t, I8x16, |b, x, y| b.ins().smax(x, y))?,
        O::I16x8MaxS => binary(t, I16x8, |b, x, y| b.ins().smax(x, y))?,
        O::I32x4MaxS => binary(t, I32x4, |b, x, y| b.ins().smax(x, y))?,
        O::I8x16MaxU => binary(t, I8x16, |b, x, y| b.ins().umax(x, y))?,
        O::I16x8MaxU => binary(t, I16x8, |b, x, y| b.ins().umax(x, y))?,
        O::I32x4MaxU => binary(t, I32x4, |b, x, y| b.ins().umax(x, y))?,
        O::I8x16AvgrU => binary(t, I8x16, |b, x, y| b.ins().avg_round(x, y))?,
        O::I16x8AvgrU => binary(t, I16x8, |b, x, y| b.ins().avg_round(x, y))?,
        O::I16x8Q15MulrSatS => binary(t, I16x8, |b, x, y| b.ins().sqmul_round_sat(x, y))?,
        O::I16x8RelaxedQ15mulrS => {
            if x86_has(t, "has_ssse3") {
                binary(t, I16x8, |b, x, y| b.ins().x86_pmulhrsw(x, y))?
            } else {
                binary(t, I16x8, |b, x, y| b.ins().sqmul_round_sat(x, y))?
            }
        }

        // ---- widening and narrowing ------------------------------------------------------
        O::I8x16NarrowI16x8S => binary(t, I16x8, |b, x, y| b.ins().snarrow(x, y))?,
        O::I8x16NarrowI16x8U => binary(t, I16x8, |b, x, y| b.ins().unarrow(x, y))?,
        O::I16x8NarrowI32x4S => binary(t, I32x4, |b, x, y| b.ins().snarrow(x, y))?,
        O::I16x8NarrowI32x4U => binary(t, I32x4, |b, x, y| b.ins().unarrow(x, y))?,
        O::I16x8ExtendLowI8x16S => unary(t, I8x16, |b, x| b.ins().swiden_low(x))?,
        O::I16x8ExtendHighI8x16S => unary(t, I8x16, |b, x| b.ins().swiden_high(x))?,
        O::I16x8ExtendLowI8x16U => unary(t, I8x16, |b, x| b.ins().uwiden_low(x))?,
        O::I16x8ExtendHighI8x16U => unary(t, I8x16, |b, x| b.ins().uwiden_high(x))?,
        O::I32x4ExtendLowI16x8S => unary(t, I16x8, |b, x| b.ins().swiden_low(x))?,
        O::I32x4ExtendHighI16x8S => unary(t, I16x8, |b, x| b.ins().swiden_high(x))?,
        O::I32x4ExtendLowI16x8U => unary(t, I16x8, |b, x| b.ins().uwiden_low(x))?,
        O::I32x4ExtendHighI16x8U => unary(t, I16x8, |b, x| b.ins().uwiden_high(x))?,
        O::I64x2ExtendLowI32x4S => unary(t, I32x4, |b, x| b.ins().swiden_low(x))?,
        O::I64x2ExtendHighI32x4S => unary(t, I32x4, |b, x| b.ins().swiden_high(x))?,
        O::I64x2ExtendLowI32x4U => unary(t, I32x4, |b, x| b.ins().uwiden_low(x))?,
        O::I64x2ExtendHighI32x4U => unary(t, I32x4, |b, x| b.ins().uwiden_high(x))?,
        O::I16x8ExtAddPairwiseI8x16S => ext_add_pairwise(t, I8x16, true)?,
        O::I16x8ExtAddPairwiseI8x16U => ext_add_pairwise(t, I8x16, false)?,
        O::I32x4ExtAddPairwiseI16x8S => ext_add_pairwise(t, I16x8, true)?,
        O::I32x4ExtAddPairwiseI16x8U => ext_add_pairwise(t, I16x8, false)?,
        O::I16x8ExtMulLowI8x16S => ext_mul(t, I8x16, Half::Low, true)?,
        O::I16x8ExtMulHighI8x16S => ext_mul(t, I8x16, Half::High, true)?,
        O::I16x8ExtMulLowI8x16U => ext_mul(t, I8x16, Half::Low, false)?,
        O::I16x8ExtMulHighI8x16U => ext_mul(t, I8x16, Half::High, false)?,
        O::I32x4ExtMulLowI16x8S => ext_mul(t, I16x8, Half::Low, true)?,
        O::I32x4ExtMulHighI16x8S => ext_mul(t, I16x8, Half::High, true)?,
        O::I32x4ExtMulLowI16x8U => ext_mul(t, I16x8, Half::Low, false)?,
        O::I32x4ExtMulHighI16x8U => ext_mul(t, I16x8, Half::High, false)?,
        O::I64x2ExtMulLowI32x4S => ext_mul(t, I32x4, Half::Low, true)?,
        O::I64x2ExtMulHighI32x4S => ext_mul(t, I32x4, Half::High, true)?,
        O::I64x2ExtMulLowI32x4U => ext_mul(t, I32x4, Half::Low, false)?,
        O::I64x2ExtMulHighI32x4U => ext_mul(t, I32x4, Half::High, false)?,
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
        O::F32x4Abs => unary(t, F32x4, |b, x| b.ins().fabs(x))?,
        O::F64x2Abs => unary(t, F64x2, |b, x| b.ins().fabs(x))?,
        O::F32x4Neg => unary(t, F32x4, |b, x| b.ins().fneg(x))?,
        O::F64x2Neg => unary(t, F64x2, |b, x| b.ins().fneg(x))?,
        O::F32x4Sqrt => unary(t, F32x4, |b, x| b.ins().sqrt(x))?,
        O::F64x2Sqrt => unary(t, F64x2, |b, x| b.ins().sqrt(x))?,
        O::F32x4Ceil => unary(t, F32x4, |b, x| b.ins().ceil(x))?,
        O::F64x2Ceil => unary(t, F64x2, |b, x| b.ins().ceil(x))?,
        O::F32x4Floor => unary(t, F32x4, |b, x| b.ins().floor(x))?,
        O::F64x2Floor => unary(t, F64x2, |b, x| b.ins().floor(x))?,
        O::F32x4Trunc => unary(t, F32x4, |b, x| b.ins().trunc(x))?,
        O::F64x2Trunc => unary(t, F64x2, |b, x| b.ins().trunc(x))?,
        O::F32x4Nearest => unary(t, F32x4, |b, x| b.ins().nearest(x))?,
        O::F64x2Nearest => unary(t, F64x2, |b, x| b.ins().nearest(x))?,
        O::F32x4Add => binary(t, F32x4, |b, x, y| b.ins().fadd(x, y))?,
        O::F64x2Add => binary(t, F64x2, |b, x, y| b.ins().fadd(x, y))?,
        O::F32x4Sub => binary(t, F32x4, |b, x, y| b.ins().fsub(x, y))?,
        O::F64x2Sub => binary(t, F64x2, |b, x, y| b.ins().fsub(x, y))?,
        O::F32x4Mul => binary(t, F32x4, |b, x, y| b.ins().fmul(x, y))?,
        O::F64x2Mul => binary(t, F64x2, |b, x, y| b.ins().fmul(x, y))?,
        O::F32x4Div => binary(t, F32x4, |b, x, y| b.ins().fdiv(x, y))?,
        O::F64x2Div => binary(t, F64x2, |b, x, y| b.ins().fdiv(x, y))?,
        // Cranelift's fmin/fmax follow wasm: NaN in, NaN out; -0 < +0.
        O::F32x4Min | O::F32x4RelaxedMin => binary(t, F32x4, |b, x, y| b.ins().fmin(x, y))?,
        O::F64x2Min | O::F64x2RelaxedMin => binary(t, F64x2, |b, x, y| b.ins().fmin(x, y))?,
        O::F32x4Max | O::F32x4RelaxedMax => binary(t, F32x4, |b, x, y| b.ins().fmax(x, y))?,
        O::F64x2Max | O::F64x2RelaxedMax => binary(t, F64x2, |b, x, y| b.ins().fmax(x, y))?,
        // pmin(x, y) = y < x ? y : x; pmax(x, y) = x < y ? y : x.
        O::F32x4PMin => pseudo_min_max(t, F32x4, true)?,
        O::F64x2PMin => pseudo_min_max(t, F64x2, true)?,
        O::F32x4PMax => pseudo_min_max(t, F32x4, false)?,
        O::F64x2PMax => pseudo_min_max(t, F64x2, false)?,
        O::F32x4RelaxedMadd => madd(t, F32x4, false)?,
        O::F64x2RelaxedMadd => madd(t, F64x2, false)?,
        O::F32x4RelaxedNmadd => madd(t, F32x4, true)?,
        O::F64x2RelaxedNmadd => madd(t, F64x2, true)?,

        // ---- conversions -----------------------------------------------------------------
        O::I32x4TruncSatF32x4S => {
            unary(t, F32x4, |b, x| b.ins().fcvt_to_sint_sat(types::I32X4, x))?
        }
        O::I32x4RelaxedTruncF32x4S => {
            if t.isa.triple().architecture == Architecture::X86_64 {
                unary(t, F32x4, |b, x| b.ins().x86_cvtt2dq(types::I32X4, x))?
            } else {
                unary(t, F32x4, |b, x| b.ins().fcvt_to_sint_sat(types::I32X4, x))?
            }
        }
        O::I32x4TruncSatF32x4U | O::I32x4RelaxedTruncF32x4U => {
            unary(t, F32x4, |b, x| b.ins().fcvt_to_uint_sat(types::I32X4, x))?
        }
        O::I32x4TruncSatF64x2SZero | O::I32x4RelaxedTruncF64x2SZero => unary(t, F64x2, |b, x| {
            let wide = b.ins().fcvt_to_sint_sat(types::I64X2, x);
            let zero = super::v128_const(b, types::I64X2, 0);
            b.ins().snarrow(wide, zero)
        })?,
        O::I32x4TruncSatF64x2UZero | O::I32x4RelaxedTruncF64x2UZero => unary(t, F64x2, |b, x| {
            let wide = b.ins().fcvt_to_uint_sat(types::I64X2, x);
            let zero = super::v128_const(b, types::I64X2, 0);
            b.ins().uunarrow(wide, zero)
        })?,
        O::F32x4ConvertI32x4S => unary(t, I32x4, |b, x| b.ins().fcvt_from_sint(types::F32X4, x))?,
        O::F32x4ConvertI32x4U => unary(t, I32x4, |b, x| b.ins().fcvt_from_uint(types::F32X4, x))?,
        O::F64x2ConvertLowI32x4S => unary(t, I32x4, |b, x| {
            let wide = b.ins().swiden_low(x);
            b.ins().fcvt_from_sint(types::F64X2, wide)
        })?,
        O::F64x2ConvertLowI32x4U => unary(t, I32x4, |b, x| {
            let wide = b.ins().uwiden_low(x);
            b.ins().fcvt_from_uint(types::F64X2, wide)
        })?,
        O::F32x4DemoteF64x2Zero => unary(t, F64x2, |b, x| b.ins().fvdemote(x))?,
        O::F64x2PromoteLowF32x4 => unary(t, F32x4, |b, x| b.ins().fvpromote_low(x))?,
        _ => return Ok(false),
    }
    Ok(true)
}

type Builder<'b, 'a> = &'b mut cranelift_frontend::FunctionBuilder<'a>;

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

fn unary(
    t: &mut FuncTranslator,
    shape: Shape,
    f: impl FnOnce(Builder, Value) -> Value,
) -> Result<()> {
    let x = pop_as(t, shape)?;
    let v = f(&mut t.builder, x);
    push_v(t, v);
    Ok(())
}

fn binary(
    t: &mut FuncTranslator,
    shape: Shape,
    f: impl FnOnce(Builder, Value, Value) -> Value,
) -> Result<()> {
    let (x, y) = pop2_as(t, shape)?;
    let v = f(&mut t.builder, x, y);
    push_v(t, v);
    Ok(())
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

fn icmp(t: &mut FuncTranslator, shape: Shape, cc: IntCC) -> Result<()> {
    binary(t, shape, |b, x, y| b.ins().icmp(cc, x, y))
}

fn fcmp(t: &mut FuncTranslator, shape: Shape, cc: FloatCC) -> Result<()> {
    binary(t, shape, |b, x, y| b.ins().fcmp(cc, x, y))
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

#[derive(Clone, Copy)]
enum Half {
    Low,
    High,
}

fn widen(b: Builder, x: Value, half: Half, signed: bool) -> Value {
    match (half, signed) {
        (Half::Low, true) => b.ins().swiden_low(x),
        (Half::High, true) => b.ins().swiden_high(x),
        (Half::Low, false) => b.ins().uwiden_low(x),
        (Half::High, false) => b.ins().uwiden_high(x),
    }
}

/// Each pair of adjacent lanes of shape `from`, widened and added.
fn ext_add_pairwise(t: &mut FuncTranslator, from: Shape, signed: bool) -> Result<()> {
    unary(t, from, |b, x| {
        let lo = widen(b, x, Half::Low, signed);
        let hi = widen(b, x, Half::High, signed);
        b.ins().iadd_pairwise(lo, hi)
    })
}

/// The product of the widened low (or high) halves of two vectors of shape `from`.
fn ext_mul(t: &mut FuncTranslator, from: Shape, half: Half, signed: bool) -> Result<()> {
    binary(t, from, |b, x, y| {
        let x = widen(b, x, half, signed);
        let y = widen(b, y, half, signed);
        b.ins().imul(x, y)
    })
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
    binary(t, shape, |b, x, y| {
        let (lhs, rhs) = if min { (y, x) } else { (x, y) };
        let pick_y = b.ins().fcmp(FloatCC::LessThan, lhs, rhs);
        let mask = cast(b, shape.vector(), pick_y);
        b.ins().bitselect(mask, y, x)
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
