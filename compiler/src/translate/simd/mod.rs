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

use cranelift_codegen::ir::{types, ConstantData, InstBuilder, Type, Value};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::FunctionBuilder;
use target_lexicon::Architecture;
use wasmparser::Operator;

use super::FuncTranslator;
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
